"""The clusters kubelab runs notebooks on: one interface (`ClusterBackend`), one module per backend.

KindCluster("default")              # a kind cluster kubelab creates; node access
ExistingCluster("~/.kube/config")   # someone else's cluster, through its kubeconfig; no node access
"""

from kubelab.cluster.backends.base import ClusterBackend, NodeAccessUnavailable, say
from kubelab.cluster.backends.existing import ExistingCluster
from kubelab.cluster.backends.kind import (
    KindCluster,
    Record,
    config_path,
    kind_clusters,
    load_config,
    read_record,
)

__all__ = [
    "ClusterBackend",
    "NodeAccessUnavailable",
    "KindCluster",
    "ExistingCluster",
    "Record",
    "config_path",
    "load_config",
    "read_record",
    "kind_clusters",
    "say",
]
