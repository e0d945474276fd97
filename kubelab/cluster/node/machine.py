"""The node's machine (its container, on kind) and its systemd units: stopped ones are recorded, and restore() starts them."""

from __future__ import annotations


from kubelab.core.errors import KubelabError
from kubelab.core.progress import Progress

from kubelab.cluster.node.records import SAVED, STOPPED_UNITS, unit_name


class NodeMachine:
    """The node's machine (its container, on kind) and its systemd units (a part of Node)."""

    def running(self) -> bool:
        """Whether the node's machine runs (a stopped node is down for the cluster, for real)."""
        return self.cluster.node_running(self.name)

    def stop(self) -> None:
        """Stop the node's machine: a node failure, for real. On kind its container is frozen
        (docker pause): every process on the node, the kubelet and the pods' included, stops at
        once, so its Lease is no longer renewed, the node controller marks it Unknown, then taints
        it unreachable. start() thaws it; the node keeps its address throughout."""
        self.cluster.node_container(self.name, "stop")
        print(f"{self.name}: stopped (its container is frozen)")

    def start(self, timeout: float = 180) -> None:
        """Start the node's machine again, and wait until the API server reports the node Ready."""
        self.cluster.node_container(self.name, "start")
        self.cluster.wait_node_ready(
            self.name, timeout, Progress(f"{self.name} to be Ready after its start")
        )

    def restart(self, timeout: float = 180) -> None:
        """Restart the node's machine, and wait until the node is Ready again."""
        self.cluster.node_container(self.name, "restart")
        self.cluster.wait_node_ready(
            self.name, timeout, Progress(f"{self.name} to be Ready after its restart")
        )

    def docker(self, verb: str) -> None:
        """stop, start or restart the node's container: the older name of stop() / start() / restart()."""
        actions = {"stop": self.stop, "start": self.start, "restart": self.restart}
        if verb not in actions:
            raise KubelabError(f"unknown node action {verb!r}", "use stop, start or restart")
        actions[verb]()

    def stop_service(self, unit: str) -> None:
        """Stop a systemd unit inside the node (e.g. "kubelet" or "containerd"); restore() starts it again."""
        unit = unit_name(unit)
        # Written down before stopping: an interruption right after still leaves the record.
        self.sh(
            f"mkdir -p {SAVED} && (grep -qxF {unit} {STOPPED_UNITS} 2>/dev/null || echo {unit} >> {STOPPED_UNITS})"
        )
        self.sh(f"systemctl stop {unit}")
        print(f"{self.name}: stopped {unit}")

    def start_service(self, unit: str, timeout: float = 120) -> None:
        """Start a unit stop_service() stopped, and wait until the node is Ready again."""
        unit = unit_name(unit)
        self.sh(f"systemctl start {unit}")
        self.sh(
            f"if [ -e {STOPPED_UNITS} ]; then grep -vxF {unit} {STOPPED_UNITS} > {STOPPED_UNITS}.new || true; "
            f"mv {STOPPED_UNITS}.new {STOPPED_UNITS}; [ -s {STOPPED_UNITS} ] || rm {STOPPED_UNITS}; fi"
        )
        self.cluster.wait_node_ready(
            self.name, timeout, Progress(f"{self.name} to be Ready after starting {unit}")
        )

    def stopped_services(self) -> list[str]:
        """Units stopped with stop_service() and not started since."""
        return self.sh(f"cat {STOPPED_UNITS} 2>/dev/null || true").split()
