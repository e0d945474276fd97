"""Kind clusters that kubelab creates, reuses and deletes: one small object, few verbs.

kubelab owns a cluster when it created it: it keeps a record (config digest, node image,
kubeconfig) under its state folder. It changes only clusters with such a record, writes each
cluster's kubeconfig to its own file there, and never reads or writes ~/.kube/config.

A kind node is a Docker container, so kubelab has node access here: `docker exec` runs commands
inside a node, `docker pause` / `docker unpause` make a node fail and come back, for real.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from kubelab.core.errors import KubelabError
from kubelab.cluster.host import require_docker
from kubelab.cluster.images import ImageChoice, choose, ensure_node_image, tool
from kubelab.core.paths import CLUSTERS, state_dir
from kubelab.cluster.backends.base import NODE_VERBS, ClusterBackend, run, say

NAME_PREFIX = "kubelab-"


def run_printing_lines(args) -> subprocess.CompletedProcess:
    """Run a command and print each line of its output (stdout and stderr) through Python's own
    sys.stdout, so that it goes wherever that is pointed (a run's log, see progress.to_run_log),
    not straight to the process's file descriptors."""
    process = subprocess.Popen(
        [str(a) for a in args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    for line in process.stdout:
        print(line, end="", flush=True)
    return subprocess.CompletedProcess(args, process.wait())


def config_path(config: str) -> Path:
    """A cluster config's file: a name in clusters/ (e.g. "default") or a path to a .yaml file."""
    path = Path(config)
    if path.suffix not in (".yaml", ".yml"):
        path = CLUSTERS / f"{config}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in CLUSTERS.glob("*.yaml")))
        raise KubelabError(
            f"no cluster config {config!r} ({path} does not exist)", f"use one of: {known}"
        )
    return path


KUBELAB_FIELDS = ("addons", "kubernetes")  # what a cluster config may add to kind's own fields


def load_config(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise KubelabError(
            f"{path} is not valid YAML: {e}", "fix the file; it is a kind Cluster config"
        ) from None
    if not isinstance(data, dict) or data.get("kind") != "Cluster":
        raise KubelabError(
            f"{path} is not a kind Cluster config (kind: Cluster missing)",
            "see https://kind.sigs.k8s.io/docs/user/configuration/",
        )
    if data.get("kubernetes") is not None:
        from kubelab.cluster.offline.pins import load as load_pins

        data["kubernetes"] = str(data["kubernetes"])
        try:
            load_pins(kubernetes=data["kubernetes"])
        except KubelabError as e:
            raise KubelabError(f"{path}: kubernetes: {e.what}", e.fix) from None
    return data


@dataclass
class Record:
    name: str
    config_digest: str
    node_image: str | None
    node_image_id: str | None  # the local image's ID: a rebuilt image makes the cluster stale
    mode: str
    created: float
    config: str = "default"  # the config's name in clusters/ (or its path)


def read_record(name: str) -> Record | None:
    """kubelab's record of a cluster it created, or None: the proof that kubelab owns it."""
    path = state_dir() / "clusters" / name / "record.json"
    if not path.exists():
        return None
    fields = json.loads(path.read_text())
    fields.setdefault("node_image_id", None)
    return Record(**fields)


def kind_clusters(kind: Path) -> list[str]:
    out = run([kind, "get", "clusters"], "listing kind clusters")
    return [line for line in out.split() if line and not line.startswith("No")]


class KindCluster(ClusterBackend):
    """A kind cluster made from a config in clusters/ (default: clusters/default.yaml)."""

    node_access = True

    def __init__(self, config: str = "default", name: str | None = None, images: str | None = None):
        self.config_file = config_path(config)
        self.config = load_config(self.config_file)
        self.name = name or NAME_PREFIX + self.config_file.stem
        self.context = None  # kind writes a kubeconfig of this cluster alone: its current context
        self._images_mode = images
        self._choice: ImageChoice | None = None
        self.dir = state_dir() / "clusters" / self.name
        self.kubeconfig = self.dir / "kubeconfig"
        self._lock_depth = 0
        self._lock_file = None

    # -- facts -------------------------------------------------------------------------------

    @property
    def choice(self) -> ImageChoice:
        if self._choice is None:
            record = self.record()
            if (
                record
                and self._images_mode is None
                and record.config_digest == self.config_digest()
            ):
                # An existing cluster keeps the images it was made with; no network probe needed.
                self._choice = ImageChoice(
                    record.mode,
                    record.node_image,
                    "the cluster was created with them",
                    self.kubernetes,
                )
            else:
                self._choice = choose(self._images_mode, self.kubernetes)
        return self._choice

    @property
    def kubernetes(self) -> str | None:
        """The Kubernetes version the config asks for (`kubernetes: v1.36`), None for the pinned default."""
        return self.config.get("kubernetes")

    def config_digest(self) -> str:
        return hashlib.sha256(json.dumps(self.config, sort_keys=True).encode()).hexdigest()[:16]

    def record(self) -> Record | None:
        return read_record(self.name)

    def exists(self) -> bool:
        return self.name in kind_clusters(self.kind)

    @property
    def kind(self) -> Path:
        return tool("kind", self.choice)

    @property
    def kubectl_binary(self) -> Path:
        return tool("kubectl", self.choice)

    def node_names(self) -> list[str]:
        # kind's list, not the API server's: a stopped node's container is still a node to restore.
        out = run(
            [self.kind, "get", "nodes", "--name", self.name],
            f"listing the nodes of cluster {self.name}",
        )
        return sorted(out.split())

    def host_cgroup_version(self) -> int | None:
        try:
            out = run(
                ["docker", "info", "-f", "{{.CgroupVersion}}"],
                "reading the Docker host's cgroup version",
                timeout=20,
            )
        except KubelabError:
            return None
        return int(out.strip()) if out.strip().isdigit() else None

    # -- the nodes: Docker containers --------------------------------------------------------

    def _own_node(self, node: str) -> str:
        # docker exec reaches any container on the host: only this cluster's nodes are ours to touch.
        if not node.startswith(self.name + "-"):
            raise KubelabError(
                f"{node!r} is not a node of cluster {self.name}",
                f"its nodes are named {self.name}-control-plane, {self.name}-worker, ...",
            )
        return node

    def node_exec(
        self, node: str, argv: list[str], input: bytes | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess:
        interactive = ["-i"] if input is not None else []
        try:
            return subprocess.run(
                ["docker", "exec", *interactive, self._own_node(node), *argv],
                capture_output=True,
                input=input,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise KubelabError(
                f"running {' '.join(argv)[:200]} on node {node} failed: not done within {timeout:.0f} s"
            ) from None

    def node_container(self, node: str, verb: str) -> None:
        # A node is stopped by freezing its container (docker pause), not by stopping it: a stopped
        # container gives up its address on the kind network, any container started meanwhile
        # (another cluster's node, say) may take it, and the node comes back under a new address
        # its kubelet and certificates do not know, lost to the cluster. Frozen, every process on
        # the node stops at once, as on a machine that hangs or drops off the network, and the
        # address stays its own. A container stopped from outside (docker stop, a host reboot) is
        # started the ordinary way.
        if verb not in NODE_VERBS:
            raise KubelabError(
                f"unknown node action {verb!r}", f"use one of: {', '.join(NODE_VERBS)}"
            )
        container = self._own_node(node)
        if verb == "stop":
            command = "pause" if self._container_state(node) == "running" else None
        elif verb == "start":
            command = {"paused": "unpause", "running": None}.get(
                self._container_state(node), "start"
            )
        else:
            command = "restart"
            if self._container_state(node) == "paused":
                run(["docker", "unpause", container], f"docker unpause of node {node}", timeout=180)
        if command == "pause":
            self._freeze(node, container)
        elif command:
            run(["docker", command, container], f"docker {command} of node {node}", timeout=180)

    def _freeze(self, node: str, container: str, attempts: int = 5) -> None:
        # On a cgroup v1 host runc freezes by writing FROZEN and re-reading the state; a node busy
        # forking (a loaded machine) may still be FREEZING when runc gives up ("unable to freeze").
        # runc thaws the container again, so another attempt starts from a running node.
        for attempt in range(1, attempts + 1):
            try:
                run(["docker", "pause", container], f"docker pause of node {node}", timeout=180)
                return
            except KubelabError as error:
                if "unable to freeze" not in str(error) or attempt == attempts:
                    raise
                time.sleep(attempt)

    def node_running(self, node: str) -> bool:
        return self._container_state(node) == "running"

    def _container_state(self, node: str) -> str:
        """running, paused, exited, ... (docker's State.Status: a paused container is also Running)."""
        return run(
            ["docker", "inspect", "-f", "{{.State.Status}}", self._own_node(node)],
            f"reading the state of node {node}'s container",
            timeout=30,
        ).strip()

    # -- verbs -------------------------------------------------------------------------------

    @contextmanager
    def locked(self, wait: bool = True):
        """One kubelab process at a time changes a cluster: a second one waits, and says so
        (or, with wait=False, gets BlockingIOError)."""
        if self._lock_depth == 0:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._lock_file = open(self.dir / ".lock", "w")
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    self._lock_file.close()
                    self._lock_file = None
                    raise
                say(f"waiting for another kubelab process to finish with cluster {self.name}")
                fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0:
                self._lock_file.close()  # releases the lock
                self._lock_file = None

    def up(
        self,
        recreate: bool = False,
        wait: float = 300,
        keep_on_failure: bool = False,
        repair: bool = True,
    ) -> "KindCluster":
        """Ensure the cluster runs: reuse a healthy one of the same config, else (re)create it.
        `repair=False` (a run or a notebook bringing its cluster up on its own) recreates only a
        missing or stale cluster, never one that merely has a problem now: other runs may be using
        it, and the problem may pass (a kube-system Pod restarting). `kubelab up` repairs."""
        with self.locked():
            return self._up(recreate, wait, keep_on_failure, repair)

    def _up(
        self, recreate: bool, wait: float, keep_on_failure: bool, repair: bool = True
    ) -> "KindCluster":
        require_docker()
        say(self.choice.describe())
        ensure_node_image(self.choice)
        record = self.record()
        if self.exists():
            if record is None:
                raise KubelabError(
                    f"a kind cluster named {self.name!r} exists, but kubelab did not create it",
                    f"kubelab leaves it alone: delete it yourself (kind delete cluster --name {self.name}), or use --name",
                )
            stale = (
                record.config_digest != self.config_digest()
                or record.node_image != self.choice.node_image
                or record.node_image_id != self.node_image_id()
            )
            problem = "" if recreate or stale else self.problem()
            if not recreate and not stale and not problem:
                say(f"reusing cluster {self.name} (healthy, same config)")
                self._contain()
                return self
            if problem and not repair and not recreate and not stale:
                say(
                    f"using cluster {self.name} as it is ({problem}); `kubelab up` would recreate it"
                )
                self._contain()
                return self
            say(
                f"recreating cluster {self.name} ({'asked to' if recreate else 'config or images changed' if stale else problem})"
            )
            self.down()
        self.create(wait, keep_on_failure)
        return self

    def _contain(self) -> None:
        """With the offline images nothing may leave this machine (kubelab.cluster.containment); stock
        images are pulled from registries, so such clusters are left alone."""
        if self.choice.mode == "offline":
            from kubelab.cluster import containment

            subnets = containment.ensure()
            say(
                f"traffic from the kind network ({', '.join(subnets)}) to anywhere else is refused (kubelab.cluster.containment)"
            )

    def create(self, wait: float, keep_on_failure: bool = False) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        rendered = self.dir / "kind-config.yaml"
        # `addons` and `kubernetes` are kubelab's, not kind's (kind refuses fields it does not know).
        kind_config = {k: v for k, v in self.config.items() if k not in KUBELAB_FIELDS}
        rendered.write_text(yaml.safe_dump(kind_config, sort_keys=False))
        args = [
            self.kind,
            "create",
            "cluster",
            "--name",
            self.name,
            "--config",
            rendered,
            "--kubeconfig",
            self.kubeconfig,
            "--wait",
            "0s",
        ] + (["--retain"] if keep_on_failure else [])
        if self.choice.node_image:
            args += ["--image", self.choice.node_image]
        # Written first: if creation is interrupted, `down` and `gc` know the half-made cluster is ours.
        self._write_record()
        say(
            f"creating cluster {self.name} from {self.config_file.relative_to(CLUSTERS.parent)} ..."
        )
        started = time.monotonic()
        try:
            result = run_printing_lines(args)
            if result.returncode != 0:
                raise KubelabError(
                    f"kind could not create cluster {self.name} (exit {result.returncode}; its output is above)",
                    "run 'kubelab doctor'; if a node image is stale, 'kubelab images build --force-node'",
                )
            self._contain()  # as soon as the nodes exist, before anything runs on them
            self.wait_ready(wait)
            for addon in self.config.get("addons") or []:
                from kubelab.cluster.addons import install

                install(self, addon)
        except BaseException:
            if keep_on_failure:
                say(
                    f"keeping the failed cluster {self.name} for inspection; 'kubelab down' deletes it"
                )
            else:
                say(f"cleaning up the half-made cluster {self.name}")
                try:
                    self.down(quiet=True)
                except KubelabError as e:  # the creation's own error matters more; say this one too
                    say(str(e))
            raise
        say(
            f"cluster {self.name} ready in {time.monotonic() - started:.0f} s; kubeconfig: {self.kubeconfig}"
        )

    def down(self, quiet: bool = False) -> None:
        with self.locked():
            self._down(quiet)

    def _down(self, quiet: bool) -> None:
        if self.record() is None:
            if self.exists():
                raise KubelabError(
                    f"kubelab did not create cluster {self.name!r}; it leaves it alone"
                )
            if not quiet:
                say(f"no cluster {self.name}")
            return
        result = subprocess.run(
            [
                str(self.kind),
                "delete",
                "cluster",
                "--name",
                self.name,
                "--kubeconfig",
                str(self.kubeconfig),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            # The record stays: it is what lets `kubelab down` and `kubelab gc` try again.
            output = (result.stderr + result.stdout).strip()
            raise KubelabError(
                f"deleting cluster {self.name} failed (kind delete cluster, exit {result.returncode}): {output}",
                f"see whether Docker answers (kubelab doctor), then run 'kubelab down --name {self.name}' again",
            )
        for f in ("record.json", "kubeconfig", "kind-config.yaml"):
            (self.dir / f).unlink(missing_ok=True)
        shutil.rmtree(self.dir / "kube-cache", ignore_errors=True)
        if not quiet:
            say(f"deleted cluster {self.name}")

    def node_image_id(self) -> str | None:
        if not self.choice.node_image:
            return None
        result = subprocess.run(
            ["docker", "image", "inspect", "-f", "{{.Id}}", self.choice.node_image],
            capture_output=True,
            text=True,
        )
        return result.stdout.strip() or None

    def _write_record(self) -> None:
        config = (
            self.config_file.stem if self.config_file.parent == CLUSTERS else str(self.config_file)
        )
        record = Record(
            self.name,
            self.config_digest(),
            self.choice.node_image,
            self.node_image_id(),
            self.choice.mode,
            time.time(),
            config,
        )
        (self.dir / "record.json").write_text(json.dumps(record.__dict__, indent=1))

    # -- health ------------------------------------------------------------------------------

    def system_pods_not_running(self) -> list[str]:
        """kube-system's Pods that do not run, less the DaemonSet Pods made for a kubelet-less
        Node another run made (they stay Pending: no kubelet will ever run them)."""
        out = self.kubectl("get", "pods", "-n", "kube-system", "-o", "json", timeout=20)
        nodes = {n["metadata"]["name"] for n in self.nodes()}
        return [
            f"{p['metadata']['name']} ({p['status'].get('phase')})"
            for p in json.loads(out)["items"]
            if p["status"].get("phase") != "Running" and pod_target(p) in (None, *nodes)
        ]

    def problem(self) -> str:
        try:
            nodes = self.nodes()
            status = self.node_status(nodes)
            expected = len(self.config.get("nodes") or [{}])
            if len(status) != expected or not all(status.values()):
                return "not every node is Ready"
            if self.system_pods_not_running():
                return "kube-system pods are not all Running"
            moved = self.moved_nodes(nodes)
            if moved:
                # Docker hands out addresses again when it restarts the node containers; the API
                # server would then reach one node's kubelet when asking for another's.
                return f"node addresses changed since the cluster was made ({', '.join(moved)}), as after a Docker restart"
            return ""
        except (KubelabError, subprocess.TimeoutExpired, ValueError, KeyError) as e:
            return f"not reachable ({str(e).splitlines()[0][:100] if str(e) else type(e).__name__})"

    def moved_nodes(self, nodes: list[dict] | None = None) -> list[str]:
        """Nodes whose registered InternalIP is no longer their container's address."""
        from kubelab.cluster.node import internal_ips

        registered = {
            n["metadata"]["name"]: set(internal_ips(n))
            for n in (self.nodes() if nodes is None else nodes)
        }
        out = run(
            [
                "docker",
                "inspect",
                "-f",
                "{{.Name}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                *registered,
            ],
            "reading the node containers' addresses",
        )
        actual = {
            name.lstrip("/"): set(addresses)
            for name, *addresses in (line.split() for line in out.splitlines())
        }
        return [
            name
            for name, addresses in registered.items()
            if not addresses <= actual.get(name, set())
        ]

    def wait_ready(self, timeout: float) -> None:
        """Wait for every node Ready and every kube-system pod Running, saying what is still missing."""
        expected = len(self.config.get("nodes") or [{}])
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            try:
                status = self.node_status()
                pending = [n for n, ok in status.items() if not ok]
                if len(status) < expected:
                    pending.append(f"{expected - len(status)} node(s) not registered")
                pods = self.system_pods_not_running() if not pending else []
                now = (
                    f"waiting for nodes: {', '.join(pending)}"
                    if pending
                    else f"waiting for kube-system pods: {', '.join(pods)}"
                    if pods
                    else ""
                )
            except (KubelabError, subprocess.TimeoutExpired) as e:
                now = f"waiting for the API server ({str(e).splitlines()[0][:100]})"
            if not now:
                return
            if now != last:
                say(now)
                last = now
            if time.monotonic() > deadline:
                raise KubelabError(
                    f"cluster {self.name} not ready after {timeout:.0f} s; last seen: {now}",
                    f"look at the nodes: docker exec {self.name}-control-plane journalctl -u kubelet",
                )
            time.sleep(2)


def pod_target(pod: dict) -> str | None:
    """The node a Pod is bound to, or (a DaemonSet's Pod) the one its affinity names; None if
    neither."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("values"):
                return field["values"][0]
    return None
