"""What kubelab needs of a cluster, whoever made it: one interface, one module per backend.

- `kind.KindCluster`: a kind cluster kubelab creates, reuses and deletes; its nodes are Docker
  containers, so kubelab can run commands inside them, stop them and reconfigure them.
- `existing.ExistingCluster`: any cluster reached through a kubeconfig kubelab did not write;
  kubelab only talks to its API server there.

Reaching into nodes is a capability (`node_access`), not an assumption: on a backend without
it, every node method raises `NodeAccessUnavailable`, saying which backend and how to get it.
Every error says what kubelab was doing when it failed, like kind's own errors.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path

from kubelab.core.errors import KubelabError

NODE_VERBS = ("stop", "start", "restart")

# On cluster-scoped objects a run makes: the namespace of that run (kubelab.lab.namespaces uses it).
RUN_NAMESPACE_LABEL = "kubelab.dev/run-namespace"


class NodeAccessUnavailable(KubelabError):
    """The cluster's nodes cannot be reached from here (no shell in them, no way to stop them)."""


def say(message: str) -> None:
    """A line about what kubelab is doing, on stderr (stdout stays for results)."""
    print(f"kubelab: {message}", file=sys.stderr, flush=True)


def run(argv: list, doing: str, timeout: float | None = None) -> str:
    """Run a command; return its stdout, or raise saying what failed (`doing`) and its stderr."""
    try:
        result = subprocess.run(
            [str(a) for a in argv], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise KubelabError(
            f"{doing} failed: no answer within {timeout:.0f} s ({Path(str(argv[0])).name} {' '.join(map(str, argv[1:3]))} ...)"
        ) from None
    except FileNotFoundError:
        raise KubelabError(f"{doing} failed: {argv[0]} is not installed") from None
    if result.returncode != 0:
        raise KubelabError(f"{doing} failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout


class ClusterBackend(ABC):
    """A cluster kubelab runs notebooks on.

    Every backend has a `name`, a `kubeconfig` (and optionally a `context` in it) that kubectl and
    the Python client use, and a state folder `dir` where kubelab keeps what it needs for this
    cluster (kubectl's discovery cache, a lock, a record). `node_access` says whether kubelab can
    reach inside the nodes (`node_exec`) and stop or start them (`node_container`).
    """

    name: str
    kubeconfig: Path
    context: str | None = None
    dir: Path
    node_access: bool = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"

    # -- the API server ----------------------------------------------------------------------

    @property
    @abstractmethod
    def kubectl_binary(self) -> Path:
        """The kubectl this backend runs."""

    def kubectl_command(self, *args: str) -> list[str]:
        """The argv of kubectl against this cluster: its own kubeconfig (and context), and a
        discovery cache in kubelab's state folder rather than in ~/.kube."""
        context = ["--context", self.context] if self.context else []
        return [
            str(self.kubectl_binary),
            "--kubeconfig",
            str(self.kubeconfig),
            *context,
            "--cache-dir",
            str(self.dir / "kube-cache"),
            *args,
        ]

    def kubectl(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        """kubectl against this cluster; returns stdout. With check, a failure raises with kubectl's stderr."""
        try:
            result = subprocess.run(
                self.kubectl_command(*args), capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise KubelabError(
                f"kubectl {' '.join(args)} on cluster {self.name} failed: no answer within {timeout:.0f} s",
                "is the API server up? kubelab doctor, or kubelab up",
            ) from None
        if check and result.returncode != 0:
            raise KubelabError(
                f"kubectl {' '.join(args)} on cluster {self.name} failed: {result.stderr.strip()}"
            )
        return result.stdout

    def nodes(self) -> list[dict]:
        """The cluster's Node objects, as the API server has them, less the Node objects a run made
        for an experiment (no kubelet behind them; labelled RUN_NAMESPACE_LABEL): they are not
        machines of the cluster, so its health, node names and restore never count them."""
        items = json.loads(self.kubectl("get", "nodes", "-o", "json", timeout=20))["items"]
        return [
            n
            for n in items
            if RUN_NAMESPACE_LABEL not in ((n.get("metadata") or {}).get("labels") or {})
        ]

    def node_status(self, nodes: list[dict] | None = None) -> dict[str, bool]:
        """Each node's name, and whether it is Ready."""
        return {
            node["metadata"]["name"]: node_ready(node)
            for node in (self.nodes() if nodes is None else nodes)
        }

    # -- the cluster as a whole --------------------------------------------------------------

    @abstractmethod
    def problem(self) -> str:
        """Why the cluster cannot be used as it is, or "" when it can."""

    def healthy(self) -> bool:
        return not self.problem()

    @abstractmethod
    def up(self, *args, **kwargs) -> "ClusterBackend":
        """Make sure the cluster can be used (a backend that owns the cluster may create it)."""

    @abstractmethod
    def record(self):
        """kubelab's record of having created this cluster, or None when it did not."""

    def host_cgroup_version(self) -> int | None:
        """The cgroup version of the machine the nodes run on, when this backend can tell."""
        return None

    # -- the nodes: a capability -------------------------------------------------------------

    def node_names(self) -> list[str]:
        """The nodes' names (as Node objects and node containers are named)."""
        return sorted(self.node_status())

    def node_exec(
        self, node: str, argv: list[str], input: bytes | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess:
        """Run argv inside a node; the result's stdout and stderr are bytes. Needs node access."""
        raise self.no_node_access(f"running {' '.join(argv[:3])} on node {node}")

    def node_container(self, node: str, verb: str) -> None:
        """stop, start or restart a node's machine (for kind: its container). Needs node access."""
        raise self.no_node_access(f"{verb} node {node}")

    def node_running(self, node: str) -> bool:
        """Whether a node's machine runs. Needs node access."""
        raise self.no_node_access(f"checking whether node {node} runs")

    def no_node_access(self, doing: str) -> NodeAccessUnavailable:
        return NodeAccessUnavailable(
            f"{doing} failed: cluster {self.name} ({type(self).__name__}) has no node access: kubelab reaches it "
            "through a kubeconfig only, so it cannot run commands inside its nodes, stop or reconfigure them",
            "run this on a cluster kubelab created (kubelab up; kubelab run NOTEBOOK), where nodes are containers it can reach",
        )

    def wait_node_ready(self, node: str, timeout: float = 180, progress=None) -> None:
        """Wait until the API server reports the node Ready (e.g. after its machine started)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                ready = node_ready(
                    json.loads(self.kubectl("get", "node", node, "-o", "json", timeout=20))
                )
                status = "not Ready yet"
            except KubelabError as e:
                ready, status = (
                    False,
                    f"the API server does not answer yet ({str(e).splitlines()[0][-80:]})",
                )
            if ready:
                if progress:
                    progress.done("Ready")
                return
            if time.monotonic() > deadline:
                raise KubelabError(
                    f"waiting for node {node} to be Ready failed: still {status} after {timeout:.0f} s",
                    f"look at its kubelet: kubectl describe node {node}",
                )
            if progress:
                progress.update(status)
            time.sleep(2)


def node_ready(node: dict) -> bool:
    """Whether a Node object's Ready condition is True (readiness lives in kubelab.core.readiness)."""
    from kubelab.core.readiness import is_ready

    return is_ready(node)
