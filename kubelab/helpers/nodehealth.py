"""A node's health as the control plane records it, and a node that dies (notebook 01): short
forms of a Node's taints, a Pod's fate, the node's heartbeat Lease, and one sample of a failure
for a timeline to record and plot. The judgements read objects as `lab.get` returns them.

    nodehealth.taints(node)       # ["unreachable:NoExecute", "unreachable:NoSchedule"]
    nodehealth.untainted(node)    # no taint at all (a predicate for lab.wait_until)
    nodehealth.as_found(node)     # Ready, schedulable, no taint but the control plane's own
    nodehealth.fate(pod)          # "evicted" (gone or being deleted) or "running"
    nodehealth.lease(lab, name)   # the node's Lease in kube-node-lease
    lab.sample_in_background("...", lambda: nodehealth.failure_state(lab, worker2, worker, pods))
    timeline.plot({"worker2 taints": nodehealth.shown("worker2 taints"), ...})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubelab.core.readiness import condition, is_ready

NODE_LEASES = "kube-node-lease"
CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"


def _taints(node: dict | None) -> list[dict]:
    return ((node or {}).get("spec") or {}).get("taints") or []


def taints(node: dict | None) -> list[str]:
    """A Node's taints, short and sorted: the key's last part and the effect,
    "unreachable:NoExecute" for node.kubernetes.io/unreachable with effect NoExecute."""
    return sorted(f"{t['key'].split('/')[-1]}:{t['effect']}" for t in _taints(node))


def untainted(node: dict | None) -> bool:
    """Whether a Node carries no taint at all."""
    return not _taints(node)


def as_found(node: dict | None) -> bool:
    """Ready, schedulable, and no taint but the control plane's own: a node as a run found it."""
    return (
        is_ready(node)
        and not node["spec"].get("unschedulable")
        and not [t for t in _taints(node) if t["key"] != CONTROL_PLANE_TAINT]
    )


def failure_times(node: dict | None) -> dict[str, str | None]:
    """When the API says a node went silent, in its own timestamps: "unknown since" (the Ready
    condition's lastTransitionTime while it is Unknown) and "tainted since" (the timeAdded of the
    unreachable NoExecute taint); None where that has not happened."""
    ready = condition(node, "Ready")
    unknown = (
        ready.get("lastTransitionTime") if ready and ready.get("status") == "Unknown" else None
    )
    tainted = next(
        (
            t.get("timeAdded")
            for t in _taints(node)
            if t["key"].endswith("/unreachable") and t["effect"] == "NoExecute"
        ),
        None,
    )
    return {"unknown since": unknown, "tainted since": tainted}


def fate(pod: dict | None) -> str:
    """The Pod's fate in a failure: "evicted" once it is gone or being deleted (its
    deletionTimestamp is set), else "running"."""
    return "evicted" if pod is None or pod["metadata"].get("deletionTimestamp") else "running"


def lease(lab, node: str) -> dict | None:
    """A node's heartbeat: the Lease its kubelet renews, named after the node, in
    kube-node-lease."""
    return lab.get("lease", node, namespace=NODE_LEASES)


def short_name(node) -> str:
    """A node handle's name without its cluster's prefix: "worker2"."""
    return node.name.removeprefix(f"{node.cluster.name}-")


def failure_state(lab, stopped, healthy, pods: dict[str, dict]) -> dict[str, Any]:
    """One sample of a node failure. `stopped` and `healthy` are node handles (lab.node(...)),
    `pods` the pods to follow by a label of ours ({"short": pod, ...}). Keys, for worker2 stopped:
    "worker2 ready" (the Ready condition's status), "worker2 taints" (short, as taints()),
    "worker2 times" (failure_times()), "worker ready", "worker taints", "<label> pod" (fate()),
    and "<full node name> lease" (each node's Lease renewTime)."""
    nodes = {n["metadata"]["name"]: n for n in lab.nodes()}
    down, up = nodes[stopped.name], nodes[healthy.name]
    now = {label: lab.get("pod", pod["metadata"]["name"]) for label, pod in pods.items()}
    return {
        f"{short_name(stopped)} ready": condition(down, "Ready")["status"],
        f"{short_name(stopped)} taints": taints(down),
        f"{short_name(stopped)} times": failure_times(down),
        f"{short_name(healthy)} ready": condition(up, "Ready")["status"],
        f"{short_name(healthy)} taints": taints(up),
        **{f"{label} pod": fate(pod) for label, pod in now.items()},
        **{f"{n.name} lease": lease(lab, n.name)["spec"]["renewTime"] for n in (healthy, stopped)},
    }


def shown(key: str) -> Callable[[dict], Any]:
    """A row for Timeline.plot: the sample's value at `key`; a list (of taints) is joined with
    commas, or "none" when empty."""

    def read(sample: dict) -> Any:
        value = sample[key]
        if isinstance(value, list):
            return ", ".join(value) or "none"
        return value

    return read
