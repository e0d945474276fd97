"""The kubelet's own account of a node's resources: its summary API (`/stats/summary`, read through
the API server's node proxy), which is what its eviction manager computes its signals from.

    view = nodestats.memory_view(lab, worker.name, "near-limit", "c")
    view.node_available        # memory.available, the node-pressure signal: the whole node's
    view.node_working_set      # the working set of the whole node (its root cgroup)
    view.container_available   # the container's own headroom: its limit minus its working set
    view.taken_after(moment)   # both samples (node and container) taken after that moment
    nodestats.memory_capacity(lab.get("node", worker.name))   # status.capacity.memory, in bytes

The kubelet's documentation gives the node signal as `memory.available := capacity - workingSet`
of the node; a container's limit is a separate bound, its own `availableBytes`, which no eviction
signal reads. The stats are refreshed by the kubelet's housekeeping (about every 10 s), each
sample with its own time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from kubelab.core.units import bytes_of
from kubelab.helpers import times


def summary(lab, node: str) -> dict:
    """The kubelet's summary API of a node, through the API server (`kubectl get --raw`)."""
    raw = lab.kubectl(["get", "--raw", f"/api/v1/nodes/{node}/proxy/stats/summary"], quiet=True)
    return json.loads(raw)


def memory_capacity(node: dict) -> int:
    """A Node's status.capacity.memory in bytes (the kubelet's basis for memory.available)."""
    return bytes_of(node["status"]["capacity"]["memory"])


@dataclass(frozen=True)
class MemoryView:
    """One reading of the summary API: the node's memory and one container's."""

    node_time: datetime
    node_available: int
    node_working_set: int
    container_time: datetime | None = None
    container_working_set: int | None = None
    container_available: int | None = None  # None when the container has no memory limit

    def taken_after(self, moment: datetime) -> bool:
        """Whether the node's sample and the container's were both taken after `moment`."""
        return (
            self.container_time is not None
            and self.node_time > moment
            and self.container_time > moment
        )

    def __str__(self) -> str:
        mib = 2**20
        mine = (
            "container not in the stats yet"
            if self.container_working_set is None
            else f"container working set {self.container_working_set / mib:.1f} MiB, "
            f"headroom {(self.container_available or 0) / mib:.1f} MiB"
        )
        return (
            f"node memory.available {self.node_available / mib:.0f} MiB, "
            f"working set {self.node_working_set / mib:.1f} MiB; {mine}"
        )


def read_memory(stats: dict, namespace: str, pod: str, container: str) -> MemoryView:
    """The node's memory and one container's, from a summary (`summary(...)`)."""
    node = stats["node"]["memory"]
    mine = next(
        (
            c.get("memory") or {}
            for p in stats.get("pods") or []
            if p["podRef"]["namespace"] == namespace and p["podRef"]["name"] == pod
            for c in p.get("containers") or []
            if c["name"] == container
        ),
        {},
    )
    return MemoryView(
        node_time=times.parse(node["time"]),
        node_available=node["availableBytes"],
        node_working_set=node["workingSetBytes"],
        container_time=times.parse(mine["time"]) if "time" in mine else None,
        container_working_set=mine.get("workingSetBytes"),
        container_available=mine.get("availableBytes"),
    )


def memory_view(lab, node: str, pod: str, container: str) -> MemoryView:
    """The node's memory and one container's (of a Pod in the lab's namespace), read now."""
    return read_memory(summary(lab, node), lab.namespace, pod, container)
