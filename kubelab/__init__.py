"""kubelab: learn Kubernetes by experiment, on throwaway kind clusters.

A notebook needs three names:

    import kubelab
    lab = kubelab.connect(notebook="00-tour")     # cluster + fresh namespace
    kubelab.requires(lab, nodes=3, zones=2)        # stop early if the cluster lacks something
    kubelab.check(cond, "what should hold", obj)   # and expect(obj, "status.phase", "Running")

Everything else is a method of the lab: apply, get, list, delete, patch, logs, wait_*, kubectl,
node(...).sh, record. Also here: the pinned images every cluster has (kubelab.AGNHOST, BUSYBOX,
PAUSE, DNSUTILS, KUBERNETES_VERSION), judging objects (is_ready, readiness, terminal_state,
condition, has_condition, restarts, restarted, has_taint: predicates for wait_until), and the
closing table of a notebook (summary_table), and manifests with values: block YAML with
`{{ name }}` placeholders, `lab.apply(text, image=kubelab.AGNHOST)` (manifest renders one).
Imports are lazy so `import kubelab` stays fast.

The package's folders are its layers, each importing only the ones below it (checked by
import-linter in `make test`; see [tool.importlinter] in pyproject.toml):

    kubelab.cli       the kubelab command (and demo, doctor, gc)
    kubelab.site      the website built from executed notebooks
    kubelab.runner    running notebooks as tests: lanes, stable outputs, coverage, provenance
    kubelab.helpers   what notebooks import to observe and analyse (spans, times, dns, certs, ...)
    kubelab.lab       the notebook's handle (Lab), checks and their ledger, waits, recorders
    kubelab.cluster   backends, nodes, add-ons, images and the offline build
    kubelab.core      errors, paths, progress, the spec, readiness, quantities
"""

__version__ = "0.1.0"

__all__ = [
    "connect",
    "extra_cluster",
    "check",
    "expect",
    "expect_error",
    "expect_absent",
    "skipped",
    "field",
    "requires",
    "probe",
    "manifest",
    "KubelabError",
    "WaitTimeout",
    "is_ready",
    "readiness",
    "terminal_state",
    "condition",
    "has_condition",
    "restarts",
    "restarted",
    "has_taint",
    "AGNHOST",
    "BUSYBOX",
    "PAUSE",
    "DNSUTILS",
    "KUBERNETES_VERSION",
    "summary_table",
    "Summary",
]

# name -> the module (relative to kubelab) that defines it; imported on first use.
_LAZY = {
    "connect": "lab.lab",
    "extra_cluster": "lab.lab",
    "check": "lab.checks",
    "expect": "lab.checks",
    "expect_error": "lab.checks",
    "expect_absent": "lab.checks",
    "skipped": "lab.checks",
    "field": "lab.checks",
    "requires": "lab.probes",
    "probe": "lab.probes",
    "manifest": "lab.templates",
    "KubelabError": "core.errors",
    "WaitTimeout": "lab.waits",
    "is_ready": "core.readiness",
    "readiness": "core.readiness",
    "terminal_state": "core.readiness",
    "condition": "core.readiness",
    "has_condition": "core.readiness",
    "restarts": "core.readiness",
    "restarted": "core.readiness",
    "has_taint": "core.readiness",
    "AGNHOST": "cluster.pinned",
    "BUSYBOX": "cluster.pinned",
    "PAUSE": "cluster.pinned",
    "DNSUTILS": "cluster.pinned",
    "KUBERNETES_VERSION": "cluster.pinned",
    "summary_table": "lab.report",
    "Summary": "lab.report",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'kubelab' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
