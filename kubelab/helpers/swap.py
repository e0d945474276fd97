"""Swap on a node: what the machine has, what the kubelet reports, and what happens when the
kubelet is told to let pods swap (`memorySwap.swapBehavior: LimitedSwap`).

Whether LimitedSwap is accepted depends on the machine, so a notebook probes and follows:

    found = swap.device_bytes(node.sh("cat /proc/swaps"))           # 0 on a host without swap
    trial = swap.try_limited_swap(node)                              # restarts the kubelet, then undoes it
    trial.outcome == swap.expected_outcome(cgroup_version)           # "accepted" on v2, "refused" on v1

The kubelet refuses LimitedSwap on cgroup v1 at start-up ("...only supported with cgroupv2",
cmd/kubelet/app/server.go); on cgroup v2 it starts and serves the setting at /configz.
"""

from dataclasses import dataclass

from kubelab.core.errors import KubelabError

REFUSAL_ON_CGROUP_V1 = "only supported with cgroupv2"


def device_bytes(proc_swaps: str) -> int:
    """Total swap of the machine from /proc/swaps (sizes in KiB; the first line is a header)."""
    total = 0
    for line in proc_swaps.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3:
            total += int(fields[2]) * 1024
    return total


def expected_outcome(cgroup_version: int) -> str:
    return "accepted" if cgroup_version == 2 else "refused"


@dataclass(frozen=True)
class Trial:
    outcome: str  # "accepted" or "refused"
    swap_behavior: str | None  # memorySwap.swapBehavior read back from /configz while it applied
    message: str  # the kubelet's own refusal, if it refused


def try_limited_swap(node) -> Trial:
    """Restart the node's kubelet with failSwapOn: false and swapBehavior LimitedSwap, read the
    setting back from /configz, then put the original configuration back (also on refusal)."""
    try:
        node.reconfigure_kubelet(failSwapOn=False, memorySwap={"swapBehavior": "LimitedSwap"})
    except KubelabError as refusal:
        return Trial(
            "refused",
            (node.kubelet_config().get("memorySwap") or {}).get("swapBehavior"),
            refusal.what,
        )
    try:
        behavior = (node.kubelet_config().get("memorySwap") or {}).get("swapBehavior")
    finally:
        node.restore()
    return Trial("accepted", behavior, "")
