"""kubelab: learn Kubernetes by experiment, on throwaway kind clusters.

A notebook needs three names:

    import kubelab
    lab = kubelab.connect(notebook="00-tour")     # cluster + fresh namespace
    kubelab.requires(lab, nodes=3, zones=2)        # stop early if the cluster lacks something
    kubelab.check(cond, "what should hold", obj)   # and expect(obj, "status.phase", "Running")

Everything else is a method of the lab: apply, get, list, delete, patch, logs, wait_*, kubectl,
node(...).sh, record. Also here: the pinned images every cluster has (kubelab.AGNHOST, BUSYBOX,
PAUSE, DNSUTILS, KUBERNETES_VERSION), judging objects (is_ready, readiness, terminal_state), and the
closing table of a notebook (summary_table).
Imports are lazy so `import kubelab` stays fast.
"""

__version__ = "0.1.0"

__all__ = ["connect", "extra_cluster", "check", "expect", "expect_error", "expect_absent", "skipped", "requires", "probe", "KubelabError", "WaitTimeout",
           "is_ready", "readiness", "terminal_state", "AGNHOST", "BUSYBOX", "PAUSE", "DNSUTILS", "KUBERNETES_VERSION",
           "summary_table", "Summary"]

# name -> the module (relative to kubelab) that defines it; imported on first use.
_LAZY = {
    "connect": "lab", "extra_cluster": "lab",
    "check": "checks", "expect": "checks", "expect_error": "checks", "expect_absent": "checks", "skipped": "checks", "field": "checks",
    "requires": "probes", "probe": "probes",
    "KubelabError": "errors",
    "WaitTimeout": "waits",
    "is_ready": "readiness", "readiness": "readiness", "terminal_state": "readiness",
    "AGNHOST": "pinned", "BUSYBOX": "pinned", "PAUSE": "pinned", "DNSUTILS": "pinned", "KUBERNETES_VERSION": "pinned",
    "summary_table": "report", "Summary": "report",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'kubelab' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
