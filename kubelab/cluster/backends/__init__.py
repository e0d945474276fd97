"""The clusters kubelab runs notebooks on: one interface (`ClusterBackend`, base.py), one module
per backend.

KindCluster("default")              # a kind cluster kubelab creates (kind.py); node access
ExistingCluster("~/.kube/config")   # someone else's cluster, through its kubeconfig (existing.py)

Import them from kubelab.cluster (`from kubelab.cluster import KindCluster`), which exports them
lazily; this package's modules are imported only by their own names.
"""
