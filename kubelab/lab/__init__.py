"""The notebook's handle on a cluster: `connect()` gives a Lab (apply, get, list, wait_*, record,
kubectl, node), and the checks that prove spec IDs (check, expect, the ledger they write, the
closing Summary), waits that watch, recorders, sampling, probes (requires). Layer: may import
kubelab.cluster and kubelab.core; never the helpers, the runner, the site or the CLI.

`from kubelab.lab import Lab, connect` keeps working.
"""

_NAMES = (
    "Lab",
    "connect",
    "extra_cluster",
    "parse_manifest",
    "delete_namespace",
    "refuse_undeclared",
    "Observed",
    "Applied",
    "KubectlOutput",
    "MANAGED_BY",
    "RUN_NAMESPACE",
)


def __getattr__(name):
    if name in _NAMES:
        import importlib

        return getattr(importlib.import_module("kubelab.lab.lab"), name)
    raise AttributeError(f"module 'kubelab.lab' has no attribute {name!r}")
