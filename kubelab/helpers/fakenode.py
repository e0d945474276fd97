"""A Node object with no kubelet behind it, for placement experiments (which DaemonSets make a Pod
for a node that is not Ready). Nothing runs there: a Pod made for it stays Pending. The Node is
deleted when the block ends, also when it fails; it also carries the run's label, so closing the
run (or `kubelab gc`) deletes it if the process dies inside the block.

    from kubelab import fakenode
    with fakenode.node_without_kubelet(lab, "kubelab-no-kubelet") as node:
        print(fakenode.not_ready_taints(node))          # [("node.kubernetes.io/not-ready", "NoSchedule")]
        [p for p in lab.list("pods") if fakenode.daemon_pod_target(p) == node["metadata"]["name"]]
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone

NOT_READY_KEYS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def not_ready_taints(node: dict | None) -> list[tuple[str, str]]:
    """The node's not-ready / unreachable taints that keep Pods off it (NoSchedule or NoExecute)."""
    if not node:
        return []
    return [
        (t["key"], t["effect"])
        for t in (node.get("spec") or {}).get("taints") or []
        if t.get("key") in NOT_READY_KEYS and t.get("effect") in ("NoSchedule", "NoExecute")
    ]


def daemon_pod_target(pod: dict) -> str | None:
    """The node a DaemonSet Pod was made for: the DaemonSet controller writes it as a required node
    affinity on metadata.name (the Pod may not be bound yet: spec.nodeName stays empty while Pending)."""
    terms = (((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution", {}
    ).get("nodeSelectorTerms") or []
    for term in terms:
        for field in term.get("matchFields") or []:
            if (
                field.get("key") == "metadata.name"
                and field.get("operator") == "In"
                and len(field.get("values") or []) == 1
            ):
                return field["values"][0]
    return None


@contextmanager
def node_without_kubelet(lab, name: str, timeout: float = 90):
    """Create Node `name` as a kubelet registers a node whose network plugin is not running yet:
    with a Ready=False condition (no kubelet will ever post its status again). Created without
    it, the node lifecycle controller would remove the not-ready taint at once (no Ready condition
    maps to no taint) and add unreachable only after its startup grace period. Waits until the
    stored Node carries a not-ready or unreachable NoSchedule taint (the NodeTaint admission plugin
    adds not-ready at creation; the node lifecycle controller keeps it for Ready=False, and swaps
    it for unreachable once the heartbeat is too old), and yields it as stored. The Node is
    deleted, and its deletion waited for, when the block ends."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    lab.create(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name},
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False",
                        "reason": "KubeletNotReady",
                        "lastHeartbeatTime": now,
                        "lastTransitionTime": now,
                        "message": "container runtime network not ready: NetworkReady=false (no network plugin yet)",
                    }
                ]
            },
        }
    )
    try:
        yield lab.wait_for(
            f"Node {name} to carry a not-ready/unreachable NoSchedule taint",
            lambda: (
                lambda n: n if ("NoSchedule" in {e for _, e in not_ready_taints(n)}) else None
            )(lab.get("node", name)),
            timeout=timeout,
        )
    finally:
        if lab.get("node", name) is not None:
            lab.delete("node", name, wait=True, timeout=60)


@contextmanager
def ready_node(lab, name: str, cpu: str = "2", labels: dict | None = None):
    """Create Node `name` as a kubelet registers a Ready node, with `cpu` allocatable and only the
    given labels (no zone unless given), for what the control plane reads from Nodes alone: the
    EndpointSlice controller's topology hints count every Ready node that is not a control-plane
    node. Nothing runs there: it is unschedulable, allows no Pods, and carries a NoExecute taint
    (kubelab.dev/nowhere) that no DaemonSet tolerates unless it tolerates everything. No kubelet
    renews its lease, so the node lifecycle controller marks it NotReady after its grace period
    (some 40 s): use it at once. Yields it as stored; deleted (and waited for) when the block
    ends, also when it fails, and it carries the run's label for `kubelab gc`."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    resources = {"cpu": cpu, "memory": "1Gi", "pods": "0"}
    lab.create(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": dict(labels or {})},
            "spec": {
                "unschedulable": True,
                "taints": [{"key": "kubelab.dev/nowhere", "effect": "NoExecute"}],
            },
            "status": {
                "capacity": resources,
                "allocatable": resources,
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "lastHeartbeatTime": now,
                        "lastTransitionTime": now,
                        "message": "kubelab: a Node object, no kubelet behind it",
                    }
                ],
            },
        },
        quiet=True,
    )
    try:
        yield lab.get("node", name)
    finally:
        if lab.get("node", name) is not None:
            lab.delete("node", name, wait=True, timeout=60)
