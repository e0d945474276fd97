"""Looking inside a node: its shell, processes, cgroups and journal."""

from __future__ import annotations

import json
import shlex
import time


from kubelab.core.errors import KubelabError


class NodeShell:
    """Looking inside a node (a part of Node)."""

    def __init__(self, cluster, name: str):
        self.cluster, self.name = cluster, name

    def __repr__(self) -> str:
        return f"Node({self.name})"

    def sh(
        self, command: str, check: bool = True, quiet: bool = True, input: bytes | None = None
    ) -> str:
        """Run a shell command in the node; returns its output (printed too unless quiet)."""
        result = self.cluster.node_exec(self.name, ["sh", "-c", command], input=input, timeout=300)
        stdout, stderr = (
            result.stdout.decode(errors="replace"),
            result.stderr.decode(errors="replace"),
        )
        if check and result.returncode != 0:
            raise KubelabError(
                f"on {self.name}: `{command}` failed (exit {result.returncode}): {stderr.strip()[:500]}"
            )
        if not quiet:
            print(stdout.rstrip())
        return stdout

    def process_cgroup(self, pid: int, controller: str) -> str:
        """The cgroup folder (as the node sees /sys/fs/cgroup) of a process of the node: for a v1
        controller ("memory", "cpu"), or "" for the one cgroup v2 hierarchy."""
        for line in self.sh(f"cat /proc/{int(pid)}/cgroup").splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(",") or (controller == "" and controllers == ""):
                return (
                    f"/sys/fs/cgroup/{controllers or 'unified'}{path}"
                    if controller
                    else f"/sys/fs/cgroup{path}"
                )
        raise KubelabError(
            f"no {controller or 'cgroup v2'} cgroup for process {pid} on {self.name}"
        )

    def process_cgroup_file(self, pid: int, controller: str, name: str) -> str:
        """A cgroup file of a process (e.g. one started behind the kubelet's back with `ctr run`)."""
        return self.sh(f"cat {self.process_cgroup(pid, controller)}/{name}").strip()

    def container_pid(self, container_id: str) -> int:
        """The node's PID of a CRI container's main process; `container_id` with or without its
        "containerd://" prefix."""
        container_id = container_id.split("://")[-1]
        return int(
            json.loads(self.sh(f"crictl inspect {shlex.quote(container_id)}"))["info"]["pid"]
        )

    def container_cgroup(self, container_id: str, controller: str) -> str:
        """The cgroup folder of a CRI container's main process (see process_cgroup)."""
        return self.process_cgroup(self.container_pid(container_id), controller)

    def cgroup_file(self, container_id: str, controller: str, name: str) -> str:
        """A cgroup file of a CRI container, e.g. cgroup_file(id, "memory", "memory.limit_in_bytes")."""
        return self.sh(f"cat {self.container_cgroup(container_id, controller)}/{name}").strip()

    def freeze_process(self, pid: int, seconds: float) -> None:
        """Stop a process of the node (SIGSTOP) for `seconds`; the node itself sends SIGCONT when
        they have passed, so the process resumes even if the notebook dies meanwhile. For a
        moment without a daemon (kube-proxy, say) that must not be restarted to be gone."""
        pid, seconds = int(pid), float(seconds)
        if not 0 < seconds <= 60:
            raise KubelabError(
                f"freezing for {seconds} s: at most 60 s",
                "a frozen daemon misses every change meanwhile",
            )
        self.sh(
            f"kill -STOP {pid} && setsid sh -c 'sleep {seconds}; kill -CONT {pid}' >/dev/null 2>&1 < /dev/null &"
        )

    def cgroup_version(self) -> int:
        """1 or 2: the cgroup version this node runs (its host's; probed, never assumed)."""
        from kubelab.core.units import version_of

        return version_of(self.sh("stat -fc %T /sys/fs/cgroup"))

    def container_memory(self, container_id: str) -> dict[str, int]:
        """The memory charged to a CRI container's cgroup, in bytes, on either cgroup version:
        "usage" (memory.current on v2, memory.usage_in_bytes on v1) and every memory.stat field,
        among them "shmem" (tmpfs pages it wrote, which cannot be reclaimed while the files exist)."""
        v2 = self.cgroup_version() == 2
        folder = self.container_cgroup(container_id, "" if v2 else "memory")
        usage, _, stat = self.sh(
            f"cat {folder}/{'memory.current' if v2 else 'memory.usage_in_bytes'}; "
            f"echo ---; cat {folder}/memory.stat"
        ).partition("---")
        return {
            "usage": int(usage),
            **{
                key: int(value)
                for key, value in (line.split() for line in stat.strip().splitlines())
            },
        }

    def container_proc_file(self, container_id: str, name: str) -> str:
        """A /proc file of a CRI container's main process as the node sees it (e.g. "oom_score_adj",
        "uid_map", "status"); `container_id` with or without its "containerd://" prefix."""
        return self.sh(f"cat /proc/{self.container_pid(container_id)}/{shlex.quote(name)}").strip()

    def journal(self, unit: str, since: float, grep: str = "") -> list[tuple[float, str]]:
        """Lines a systemd unit (e.g. 'kubelet') logged since a Unix time, as (Unix time, text)."""
        since_text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(since))
        out = self.sh(
            f"TZ=UTC journalctl -u {unit} --since '{since_text}' -o short-unix --no-pager"
        )
        lines = []
        for line in out.splitlines():
            stamp, _, text = line.partition(" ")
            try:
                lines.append((float(stamp), text))
            except ValueError:
                continue
        return [(t, text) for t, text in lines if grep in text]
