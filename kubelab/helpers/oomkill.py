"""What the kernel kills when a container goes over its memory limit, and the OOM score the
kubelet gives each QoS class.

A container's memory limit is the limit of its cgroup, and the kernel's OOM killer acts inside
that cgroup only. What it kills depends on the cgroup version:

- cgroup v1: one victim, the largest process of the cgroup. If that is a child of the
  container's main process, the child dies and the container lives on (not restarted).
- cgroup v2: the kubelet writes memory.oom.group=1 for every container (pkg/kubelet/kuberuntime,
  unless the kubelet's configuration says singleProcessOOMKill: true), and the kernel then kills
  every process of the cgroup together: the container ends, OOMKilled, and is restarted.

    expected = oomkill.expected_scope(caps.cgroup_version, worker.kubelet_config())   # "process" or "container"
    group = oomkill.oom_group(worker, container_id, caps.cgroup_version)            # "1"/"0" on v2, None on v1
    kill = lab.wait_for("the OOM kill", lambda: oomkill.observe(lab, "leaky-child", "family", MARKER))
    kill.scope == expected

The OOM score: `runtime_oom_score_adj(node, id)` reads what the kubelet asked the runtime for (the
container's OCI spec, from `crictl inspect`), which a host's runc shim may clamp before the kernel
sees it (/proc/<pid>/oom_score_adj).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

# What the parent shell of the two-process container prints when its child ends: "<marker> <status>".
MARKER = "child-ended-with"


def expected_scope(cgroup_version: int | None, kubelet_config: dict) -> str:
    """ "container" where the kernel kills the whole container (cgroup v2, unless the kubelet's
    singleProcessOOMKill is true), "process" where it kills the largest process only (cgroup v1)."""
    if cgroup_version == 2 and not kubelet_config.get("singleProcessOOMKill", False):
        return "container"
    return "process"


def oom_group(node, container_id: str, cgroup_version: int | None) -> str | None:
    """memory.oom.group of a running container's cgroup ("1": kill all together), as the node
    shows it; None on cgroup v1, whose memory controller has no such file."""
    if cgroup_version != 2:
        return None
    return node.sh(f"cat {node.container_cgroup(container_id, '')}/memory.oom.group").strip()


def v1_oom_kills(node, container_id: str) -> int:
    """How many processes the kernel's OOM killer killed in a container's memory cgroup (cgroup v1:
    the oom_kill line of memory.oom_control)."""
    return parse_oom_control(node.cgroup_file(container_id, "memory", "memory.oom_control"))


def parse_oom_control(text: str) -> int:
    fields = dict(line.split() for line in text.strip().splitlines() if len(line.split()) == 2)
    return int(fields.get("oom_kill", 0))


@dataclass(frozen=True)
class Kill:
    scope: str  # "process": the parent lived on; "container": all of it died and restarted
    restarts: int
    reason: str | None  # lastState.terminated.reason of the container, if it ended
    parent_saw: str | None  # the line the parent printed when its child was killed (process scope)


def judge(container_status: dict, log: str, marker: str = MARKER) -> Kill | None:
    """What an OOM kill did to a two-process container (a shell that runs a memory-hungry child,
    then prints "<marker> <exit status>" and lives on), from its status and log; None while
    neither has happened."""
    restarts = container_status.get("restartCount", 0)
    ended = (container_status.get("lastState") or {}).get("terminated") or {}
    if restarts >= 1 and ended.get("reason") == "OOMKilled":
        return Kill("container", restarts, "OOMKilled", None)
    line = next(
        (line.strip() for line in (log or "").splitlines() if line.startswith(marker)), None
    )
    if line and restarts == 0 and "running" in (container_status.get("state") or {}):
        return Kill("process", 0, None, line)
    return None


def observe(lab, pod: str, container: str, marker: str = MARKER) -> Kill | None:
    """judge() on the Pod as it is now (the log is read only while the container was not restarted)."""
    obj = lab.get("pod", pod)
    status = next(
        (
            c
            for c in ((obj or {}).get("status") or {}).get("containerStatuses") or []
            if c["name"] == container
        ),
        None,
    )
    if status is None:
        return None
    log = ""
    if status.get("restartCount", 0) == 0 and "running" in (status.get("state") or {}):
        log = lab.logs(pod, container=container, quiet=True)
    return judge(status, log, marker)


def runtime_oom_score_adj(node, container_id: str) -> int:
    """The oom_score_adj the kubelet asked the runtime for: process.oomScoreAdj of the container's
    OCI spec as the runtime keeps it (`crictl inspect`: info.runtimeSpec)."""
    info = json.loads(node.sh(f"crictl inspect {shlex.quote(container_id.split('://')[-1])}"))[
        "info"
    ]
    return spec_oom_score_adj(info)


def spec_oom_score_adj(info: dict) -> int:
    return int(((info.get("runtimeSpec") or {}).get("process") or {}).get("oomScoreAdj", 0))
