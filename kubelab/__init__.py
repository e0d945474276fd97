"""kubelab: learn Kubernetes by experiment, on throwaway kind clusters.

A notebook needs three names:

    import kubelab
    lab = kubelab.connect(notebook="00-tour")     # cluster + fresh namespace
    kubelab.requires(lab, nodes=3, zones=2)        # stop early if the cluster lacks something
    kubelab.check(cond, "what should hold", obj)   # and expect(obj, "status.phase", "Running")

Everything else is a method of the lab: apply, get, list, delete, patch, wait_*, kubectl,
node(...).sh, record. Imports are lazy so `import kubelab` stays fast.
"""

__version__ = "0.1.0"

__all__ = ["connect", "check", "expect", "expect_error", "requires", "probe", "KubelabError"]


def __getattr__(name):
    if name == "connect":
        from .lab import connect
        return connect
    if name in ("check", "expect", "expect_error", "field"):
        from . import checks
        return getattr(checks, name)
    if name in ("requires", "probe"):
        from . import probes
        return getattr(probes, name)
    if name == "KubelabError":
        from .errors import KubelabError
        return KubelabError
    raise AttributeError(f"module 'kubelab' has no attribute {name!r}")
