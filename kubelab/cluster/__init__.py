"""The cluster machinery: what brings clusters up and reaches into them. Notebook authors never
import it directly (the lab does). Layer: may import kubelab.core only.

backends/ (kind clusters kubelab creates, existing clusters behind a kubeconfig), node/ (one node:
shell, runtime, kubelet, scheduling, every change undone), addons, images and pinned (what a
cluster runs), offline/ (building it all from Go modules and Debian packages), prepare (building
before a run), containment, host, registry, leftovers.

`from kubelab.cluster import KindCluster` (and the other backend names below) keeps working.
"""

__all__ = [
    "ClusterBackend",
    "NodeAccessUnavailable",
    "KindCluster",
    "ExistingCluster",
    "Record",
    "NAME_PREFIX",
    "config_path",
    "load_config",
    "read_record",
    "kind_clusters",
    "run",
    "say",
]

_LAZY = {
    "ClusterBackend": "base",
    "NodeAccessUnavailable": "base",
    "run": "base",
    "say": "base",
    "ExistingCluster": "existing",
    **{
        name: "kind"
        for name in (
            "NAME_PREFIX",
            "KindCluster",
            "Record",
            "config_path",
            "kind_clusters",
            "load_config",
            "read_record",
        )
    },
}


def __getattr__(name):
    # lazy: importing kubelab.cluster.node or .offline.pins must not load every backend
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"kubelab.cluster.backends.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'kubelab.cluster' has no attribute {name!r}")
