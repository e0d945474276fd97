"""The clusters kubelab uses; kept so `from kubelab.cluster import KindCluster` goes on working.

The code lives in kubelab.backends: `base` (what every cluster offers), `kind` (clusters kubelab
creates) and `existing` (a cluster reached through someone else's kubeconfig).
"""

from .backends.base import ClusterBackend, NodeAccessUnavailable, run, say
from .backends.existing import ExistingCluster
from .backends.kind import NAME_PREFIX, KindCluster, Record, config_path, kind_clusters, load_config, read_record

__all__ = ["ClusterBackend", "NodeAccessUnavailable", "KindCluster", "ExistingCluster", "Record", "NAME_PREFIX",
           "config_path", "load_config", "read_record", "kind_clusters", "run", "say"]
