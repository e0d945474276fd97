"""A node of the cluster: what only the node shows (iptables, crictl, files, the kubelet's
journal) and the changes an experiment makes to a node, every one of them undone by `restore()`.

    worker = lab.node("worker")
    worker.sh("crictl ps")                             # look inside
    worker.cordon(); worker.taint("dedicated", "ml")   # scheduling
    worker.stop_service("kubelet")                     # a systemd unit inside the node
    worker.stop(); worker.start()                      # the node's machine fails and comes back
    worker.save_images()                               # before anything may delete images
    worker.reconfigure_kubelet(imageMaximumGCAge="3m") # restarts the kubelet
    worker.add_runtime_handler("kubelab-runc")         # a second containerd handler, for RuntimeClass
    worker.add_static_pod(manifest)                    # a static pod the kubelet runs from a file
    ...
    worker.restore()                                   # all of it is back as it was

What was changed is written down where a later process finds it, so a run that died half-way is
still undone: on the node under /var/lib/kubelab (kubelet configuration, images, stopped units),
on the Node object in the annotation kubelab.dev/saved-spec (whether it was schedulable, its
taints), and a stopped node is its own record. `lab.close()`, `kubelab run` after a failure or
Ctrl-C, and `kubelab gc` all call `restore_nodes(cluster)`.

Everything inside a node goes through the cluster backend (`cluster.node_exec`); a backend
without node access (a cluster reached through a kubeconfig only) raises NodeAccessUnavailable.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import yaml

from kubelab.core.errors import KubelabError
from kubelab.core.progress import Progress

KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
SAVED = "/var/lib/kubelab"                       # on the node: what restore() puts back
SAVED_KUBELET_CONFIG = f"{SAVED}/kubelet-config.yaml"
SAVED_IMAGES = f"{SAVED}/images.tar"
SAVED_IMAGE_NAMES = f"{SAVED}/images.txt"
ADDED_IMAGES = f"{SAVED}/added-images.txt"
STOPPED_UNITS = f"{SAVED}/stopped-units.txt"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
SAVED_CONTAINERD_CONFIG = f"{SAVED}/containerd-config.toml"
STATIC_PODS = f"{SAVED}/static-pods.txt"           # manifests add_static_pod wrote
MANIFESTS = "/etc/kubernetes/manifests"            # where kubeadm's kubelet reads static pods
# containerd's CRI plugin, by config version: 2 (containerd 1.x), 3 (containerd 2.x)
CRI_RUNTIME_PLUGIN = {2: "io.containerd.grpc.v1.cri", 3: "io.containerd.cri.v1.runtime"}
SAVED_SPEC = "kubelab.dev/saved-spec"            # annotation on the Node: its spec before a run changed it

# Taints the node lifecycle controller adds and removes itself, following the node's conditions
# and spec.unschedulable: restore() leaves them to it instead of freezing a passing state.
CONTROLLER_TAINTS = {f"node.kubernetes.io/{name}" for name in
                     ("not-ready", "unreachable", "unschedulable", "memory-pressure", "disk-pressure",
                      "pid-pressure", "network-unavailable")}

# What changed() calls each kind of change (gc prints these).
STOPPED_NODE = "stopped node"
SCHEDULING = "scheduling (cordon, taints)"
ON_NODE = {"stopped-units.txt": "stopped services", "kubelet-config.yaml": "kubelet configuration",
           "images.tar": "images", "added-images.txt": "added images", "containerd-config.toml": "runtime handlers",
           "static-pods.txt": "static pods"}
# What a run leaves on a node besides (kubelab.cluster.leftovers reads and writes these records).
PULLED_IMAGES = f"{SAVED}/pulled-images.txt"       # repositories the kubelet may pull here, and what to keep
REGISTRY_PUSHES = f"{SAVED}/registry-pushes.txt"   # manifests pushed to the registry add-on through this node
RUNTIME_LOGS = f"{SAVED}/runtime-logs.txt"         # files a runtime handler added by a run writes
ON_NODE.update({"pulled-images.txt": "pulled images", "registry-pushes.txt": "registry tags",
                "runtime-logs.txt": "runtime handler logs"})


def internal_ips(node: dict) -> list[str]:
    """The InternalIP addresses a Node object (as the API gives it) reports in status.addresses."""
    return [a["address"] for a in (node.get("status") or {}).get("addresses") or [] if a.get("type") == "InternalIP"]


class Node:
    """One node of a cluster, by its full name (e.g. kubelab-default-worker).

    Commands inside it go through the cluster backend (`cluster.node_exec`: `docker exec` on kind);
    scheduling changes go through the API server. Every change is recorded before it is made, so
    `restore()` (or `restore_nodes`, in a later process) can undo it.
    """

    def __init__(self, cluster, name: str):
        self.cluster, self.name = cluster, name

    def __repr__(self) -> str:
        return f"Node({self.name})"

    # -- looking -----------------------------------------------------------------------------

    def sh(self, command: str, check: bool = True, quiet: bool = True, input: bytes | None = None) -> str:
        """Run a shell command in the node; returns its output (printed too unless quiet)."""
        result = self.cluster.node_exec(self.name, ["sh", "-c", command], input=input, timeout=300)
        stdout, stderr = result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")
        if check and result.returncode != 0:
            raise KubelabError(f"on {self.name}: `{command}` failed (exit {result.returncode}): {stderr.strip()[:500]}")
        if not quiet:
            print(stdout.rstrip())
        return stdout

    def process_cgroup(self, pid: int, controller: str) -> str:
        """The cgroup folder (as the node sees /sys/fs/cgroup) of a process of the node: for a v1
        controller ("memory", "cpu"), or "" for the one cgroup v2 hierarchy."""
        for line in self.sh(f"cat /proc/{int(pid)}/cgroup").splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(",") or (controller == "" and controllers == ""):
                return f"/sys/fs/cgroup/{controllers or 'unified'}{path}" if controller else f"/sys/fs/cgroup{path}"
        raise KubelabError(f"no {controller or 'cgroup v2'} cgroup for process {pid} on {self.name}")

    def process_cgroup_file(self, pid: int, controller: str, name: str) -> str:
        """A cgroup file of a process (e.g. one started behind the kubelet's back with `ctr run`)."""
        return self.sh(f"cat {self.process_cgroup(pid, controller)}/{name}").strip()

    def container_pid(self, container_id: str) -> int:
        """The node's PID of a CRI container's main process; `container_id` with or without its
        "containerd://" prefix."""
        container_id = container_id.split("://")[-1]
        return int(json.loads(self.sh(f"crictl inspect {shlex.quote(container_id)}"))["info"]["pid"])

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
            raise KubelabError(f"freezing for {seconds} s: at most 60 s", "a frozen daemon misses every change meanwhile")
        self.sh(f"kill -STOP {pid} && setsid sh -c 'sleep {seconds}; kill -CONT {pid}' >/dev/null 2>&1 < /dev/null &")

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
        usage, _, stat = self.sh(f"cat {folder}/{'memory.current' if v2 else 'memory.usage_in_bytes'}; "
                                 f"echo ---; cat {folder}/memory.stat").partition("---")
        return {"usage": int(usage), **{key: int(value) for key, value in (line.split() for line in stat.strip().splitlines())}}

    def _image_listing(self) -> list[dict]:
        return json.loads(self.sh("crictl images -o json"))["images"]

    def images(self) -> dict[str, str]:
        """The runtime's images on this node, as {reference: image ID}."""
        return {tag: image["id"] for image in self._image_listing() for tag in image.get("repoTags") or [image["id"]]}

    def pinned_images(self) -> set[str]:
        """Image IDs the runtime pins (e.g. the sandbox image on containerd 1.7+): the kubelet never removes them."""
        return {image["id"] for image in self._image_listing() if image.get("pinned")}

    def images_in_use(self) -> set[str]:
        """Image IDs of every container on the node, running or exited: what the kubelet counts as used."""
        containers = json.loads(self.sh("crictl ps -a -o json"))["containers"]
        return {c["imageRef"] for c in containers}

    def unused_images(self) -> dict[str, str]:
        """{reference: image ID} of the images the kubelet's GC may remove: no container uses them
        and the runtime does not pin them."""
        spared = self.images_in_use() | self.pinned_images()
        return {name: image for name, image in self.images().items() if image not in spared}

    def container_proc_file(self, container_id: str, name: str) -> str:
        """A /proc file of a CRI container's main process as the node sees it (e.g. "oom_score_adj",
        "uid_map", "status"); `container_id` with or without its "containerd://" prefix."""
        return self.sh(f"cat /proc/{self.container_pid(container_id)}/{shlex.quote(name)}").strip()

    def free_cpu_millicores(self) -> int:
        """CPU the scheduler can still give out on this node: allocatable minus the requests of the
        pods bound to it that have not ended."""
        from kubelab.core.units import millicores
        node = self._node_object()
        pods = json.loads(self.cluster.kubectl("get", "pods", "-A", "-o", "json", "--field-selector",
                                               f"spec.nodeName={self.name}", timeout=30))["items"]
        requested = sum(millicores(c.get("resources", {}).get("requests", {}).get("cpu", "0"))
                        for p in pods if p["status"].get("phase") not in ("Succeeded", "Failed")
                        for c in p["spec"]["containers"])
        return millicores(node["status"]["allocatable"]["cpu"]) - requested

    def pod_sandbox(self, namespace: str, pod: str) -> dict:
        """The runtime's own view of a pod's sandbox on this node (`crictl inspectp`)."""
        ids = self.sh(f"crictl pods --namespace {shlex.quote(namespace)} --name {shlex.quote('^' + pod + '$')} -q").split()
        if not ids:
            raise KubelabError(f"no sandbox of pod {namespace}/{pod} on {self.name}", "is the pod scheduled to this node?")
        return json.loads(self.sh(f"crictl inspectp {ids[0]}"))

    def pod_runtime(self, namespace: str, pod: str) -> tuple[str, str]:
        """(runtime handler, runtime type) that run a pod here: ("", "io.containerd.runc.v2") for
        the default handler. containerd 1.x reports them under `info`, 2.x under `status` too."""
        sandbox = self.pod_sandbox(namespace, pod)
        info, status = sandbox.get("info") or {}, sandbox.get("status") or {}
        return (status.get("runtimeHandler") or info.get("runtimeHandler") or "",
                info.get("runtimeType") or (info.get("runtimeSpec") or {}).get("runtimeType") or "")

    def default_runtime_handler(self) -> str:
        """The handler containerd uses for pods that name none (its default_runtime_name)."""
        config = json.loads(self.sh("crictl info"))
        return ((config.get("config") or {}).get("containerd") or {}).get("defaultRuntimeName", "")

    def journal(self, unit: str, since: float, grep: str = "") -> list[tuple[float, str]]:
        """Lines a systemd unit (e.g. 'kubelet') logged since a Unix time, as (Unix time, text)."""
        since_text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(since))
        out = self.sh(f"TZ=UTC journalctl -u {unit} --since '{since_text}' -o short-unix --no-pager")
        lines = []
        for line in out.splitlines():
            stamp, _, text = line.partition(" ")
            try:
                lines.append((float(stamp), text))
            except ValueError:
                continue
        return [(t, text) for t, text in lines if grep in text]

    # -- changing, always undoably -----------------------------------------------------------

    # The node's machine (its container, on kind). A stopped node is its own record: restore()
    # and restore_nodes() start every stopped node of the cluster.

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
        self.cluster.wait_node_ready(self.name, timeout, Progress(f"{self.name} to be Ready after its start"))

    def restart(self, timeout: float = 180) -> None:
        """Restart the node's machine, and wait until the node is Ready again."""
        self.cluster.node_container(self.name, "restart")
        self.cluster.wait_node_ready(self.name, timeout, Progress(f"{self.name} to be Ready after its restart"))

    def docker(self, verb: str) -> None:
        """stop, start or restart the node's container: the older name of stop() / start() / restart()."""
        actions = {"stop": self.stop, "start": self.start, "restart": self.restart}
        if verb not in actions:
            raise KubelabError(f"unknown node action {verb!r}", "use stop, start or restart")
        actions[verb]()

    # systemd units inside the node (containerd, kubelet): stopped ones are listed in STOPPED_UNITS.

    def stop_service(self, unit: str) -> None:
        """Stop a systemd unit inside the node (e.g. "kubelet" or "containerd"); restore() starts it again."""
        unit = _unit_name(unit)
        # Written down before stopping: an interruption right after still leaves the record.
        self.sh(f"mkdir -p {SAVED} && (grep -qxF {unit} {STOPPED_UNITS} 2>/dev/null || echo {unit} >> {STOPPED_UNITS})")
        self.sh(f"systemctl stop {unit}")
        print(f"{self.name}: stopped {unit}")

    def start_service(self, unit: str, timeout: float = 120) -> None:
        """Start a unit stop_service() stopped, and wait until the node is Ready again."""
        unit = _unit_name(unit)
        self.sh(f"systemctl start {unit}")
        self.sh(f"if [ -e {STOPPED_UNITS} ]; then grep -vxF {unit} {STOPPED_UNITS} > {STOPPED_UNITS}.new || true; "
                f"mv {STOPPED_UNITS}.new {STOPPED_UNITS}; [ -s {STOPPED_UNITS} ] || rm {STOPPED_UNITS}; fi")
        self.cluster.wait_node_ready(self.name, timeout, Progress(f"{self.name} to be Ready after starting {unit}"))

    def stopped_services(self) -> list[str]:
        """Units stopped with stop_service() and not started since."""
        return self.sh(f"cat {STOPPED_UNITS} 2>/dev/null || true").split()

    # Scheduling, through the API server. The Node's spec before the first change is kept in its
    # annotation SAVED_SPEC; later changes never overwrite it.

    def cordon(self) -> None:
        """Mark the node unschedulable: no new pod is placed here (DaemonSet pods still are)."""
        self._change_spec("cordoned", lambda spec: {"unschedulable": True})

    def uncordon(self) -> None:
        """Mark the node schedulable again."""
        self._change_spec("uncordoned", lambda spec: {"unschedulable": None})

    def taint(self, key: str, value: str | None = None, effect: str = "NoSchedule") -> None:
        """Add (or replace) a taint: effect NoSchedule, PreferNoSchedule or NoExecute (which
        evicts running pods that do not tolerate it)."""
        if effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise KubelabError(f"tainting {self.name} failed: unknown effect {effect!r}",
                               "use NoSchedule, PreferNoSchedule or NoExecute")
        new = {"key": key, "effect": effect, **({"value": value} if value is not None else {})}

        def with_taint(spec: dict) -> dict:
            others = [t for t in spec.get("taints") or [] if (t["key"], t["effect"]) != (key, effect)]
            return {"taints": [*others, new]}
        self._change_spec(f"tainted {key}{'=' + value if value is not None else ''}:{effect}", with_taint)

    def untaint(self, key: str) -> None:
        """Remove every taint with this key (whatever its effect)."""
        self._change_spec(f"removed taint {key}",
                          lambda spec: {"taints": [t for t in spec.get("taints") or [] if t["key"] != key] or None})

    def _node_object(self) -> dict:
        return json.loads(self.cluster.kubectl("get", "node", self.name, "-o", "json", timeout=30))

    def _patch_node(self, doing: str, patch_of: Callable[[dict], dict | None]) -> dict:
        """Merge-patch the Node, computed from its current state, retrying when someone (the node
        controller, usually) changed it in between: resourceVersion makes the patch conditional."""
        for _ in range(10):
            node = self._node_object()
            patch = patch_of(node)
            if patch is None:
                return node
            patch.setdefault("metadata", {})["resourceVersion"] = node["metadata"]["resourceVersion"]
            result = subprocess.run(self.cluster.kubectl_command("patch", "node", self.name, "--type", "merge",
                                                                 "-p", json.dumps(patch), "-o", "json"),
                                    capture_output=True, text=True, timeout=60)
            if result.returncode == 0:
                return json.loads(result.stdout)
            if "the object has been modified" not in result.stderr:
                raise KubelabError(f"{doing} on {self.name} failed: {result.stderr.strip()}")
            time.sleep(0.2)
        raise KubelabError(f"{doing} on {self.name} failed: the Node kept changing under us (10 conflicts)")

    def _change_spec(self, done: str, spec_change: Callable[[dict], dict]) -> None:
        if not self.cluster.node_access:
            # Only an API call, but on a cluster kubelab does not own: nothing would ever undo it.
            raise self.cluster.no_node_access(f"changing the scheduling of node {self.name}")

        def save(node):
            if SAVED_SPEC in (node["metadata"].get("annotations") or {}):
                return None   # saved by an earlier change of this (or an unfinished) run: that is the original
            spec = node.get("spec", {})
            saved = {"unschedulable": bool(spec.get("unschedulable")),
                     "taints": [t for t in spec.get("taints") or [] if t["key"] not in CONTROLLER_TAINTS]}
            return {"metadata": {"annotations": {SAVED_SPEC: json.dumps(saved)}}}
        self._patch_node("saving the node's spec", save)
        self._patch_node(done, lambda node: {"spec": spec_change(node.get("spec", {}))})
        print(f"{self.name}: {done}")

    def _restore_spec(self) -> None:
        """Put back spec.unschedulable and the taints saved before the first change, and forget them."""
        def restore(node):
            saved = (node["metadata"].get("annotations") or {}).get(SAVED_SPEC)
            if saved is None:
                return None
            saved = json.loads(saved)
            managed = [t for t in node.get("spec", {}).get("taints") or [] if t["key"] in CONTROLLER_TAINTS]
            return {"metadata": {"annotations": {SAVED_SPEC: None}},
                    "spec": {"unschedulable": True if saved.get("unschedulable") else None,
                             "taints": [*saved.get("taints", []), *managed] or None}}
        self._patch_node("restoring the node's scheduling", restore)

    def add_image(self, reference: str, archive: Path | None = None) -> str:
        """Side-load an image into the node's runtime, as `kind load` does: the OCI archive given
        (e.g. from kubelab.helpers.runimages), or a new, tiny image that nothing uses (one file, unique
        content). restore() removes it. Returns its image ID."""
        from kubelab.cluster.offline.oci import Image, write_archive
        with tempfile.TemporaryDirectory() as tmp:
            if archive is None:
                marker = Path(tmp, "marker")
                marker.write_text(f"{reference} {uuid.uuid4()}\n")
                archive = Path(tmp, "image.tar")
                write_archive(Image(reference, files={"marker": marker}), archive)
            self.sh(f"mkdir -p {SAVED} && echo {shlex.quote(reference)} >> {ADDED_IMAGES}")
            self.sh("ctr -n k8s.io images import --no-unpack -", input=Path(archive).read_bytes())
        image_id = self.images().get(reference)
        if not image_id:
            raise KubelabError(f"on {self.name}: imported {reference}, but the runtime does not list it")
        print(f"{self.name}: added image {reference} ({image_id[:19]})")
        return image_id

    def add_runtime_handler(self, handler: str) -> str:
        """Give the node's containerd another runtime handler (what a RuntimeClass's `handler`
        names): runc again, with the default runtime's options, but through a wrapper that logs
        every call, so an experiment sees which handler ran which container. Restarts containerd
        (running containers keep running); restore() takes the handler away. Returns the log's
        path on the node: one line per runc call, "<unix time> <runc's arguments>"."""
        import tomllib
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", handler):
            raise KubelabError(f"{handler!r} is not a valid runtime handler name", "use a DNS label, e.g. kubelab-runc")
        config = tomllib.loads(self.sh(f"cat {CONTAINERD_CONFIG}"))
        plugin = CRI_RUNTIME_PLUGIN.get(config.get("version", 1))
        if plugin is None:
            raise KubelabError(f"{self.name}: containerd config version {config.get('version', 1)} is not one kubelab knows",
                               f"versions {sorted(CRI_RUNTIME_PLUGIN)} are")
        cri = config.get("plugins", {}).get(plugin, {}).get("containerd", {})
        default = cri.get("runtimes", {}).get(cri.get("default_runtime_name", "runc"), {})
        options = dict(default.get("options") or {})
        runc = options.get("BinaryName") or self.sh("command -v runc").strip()
        wrapper, log = f"/usr/local/bin/kubelab-{handler}", f"/var/log/kubelab-{handler}.log"
        options["BinaryName"] = wrapper
        self.sh(f"mkdir -p {SAVED} && (grep -qxF {log} {RUNTIME_LOGS} 2>/dev/null || echo {log} >> {RUNTIME_LOGS})")
        table = f'plugins."{plugin}".containerd.runtimes.{handler}'
        added = "\n".join([f"\n# added by kubelab (undone by its restore)\n[{table}]",
                           f'runtime_type = {json.dumps(default.get("runtime_type", "io.containerd.runc.v2"))}',
                           f"[{table}.options]", *(f"{k} = {json.dumps(v)}" for k, v in options.items()), ""])
        # Saved before anything changes: an interruption right after still leaves the record.
        self.sh(f"mkdir -p {SAVED} && (test -e {SAVED_CONTAINERD_CONFIG} || cp {CONTAINERD_CONFIG} {SAVED_CONTAINERD_CONFIG})")
        self.sh(f"cat > {wrapper} && chmod 755 {wrapper}",
                input=f'#!/bin/sh\necho "$(date +%s) $*" >> {log}\nexec {runc} "$@"\n'.encode())
        self.sh(f"cat >> {CONTAINERD_CONFIG}", input=added.encode())
        self._restart_containerd()
        print(f"{self.name}: containerd has a runtime handler {handler!r} (runc through {wrapper}, logging to {log})")
        return log

    def will_pull(self, repository: str) -> None:
        """Record, before a pod pulls it, that images of `repository` (e.g. a run's push to the
        registry add-on) may come onto this node: restore() removes those that were not here
        before. runimages.push records its repository on every node."""
        from kubelab.cluster.leftovers import pull_record
        record = pull_record(repository, self._image_listing())
        self.sh(f"mkdir -p {SAVED} && cat >> {PULLED_IMAGES}", input=record.encode())

    def record_push(self, registry: str, repository: str, digest: str) -> None:
        """Record, before pushing it, a manifest pushed to the registry at `registry` through this
        node: restore() deletes it from the registry again (and with it the tags naming it)."""
        from kubelab.cluster.leftovers import push_line
        self.sh(f"mkdir -p {SAVED} && cat >> {REGISTRY_PUSHES}", input=push_line(registry, repository, digest).encode())

    def add_static_pod(self, manifest: str) -> str:
        """Write a Pod manifest (YAML text) where the node's kubelet reads static pods; the kubelet
        runs it without the API server and publishes a mirror pod `<name>-<node>`. restore()
        removes the file (and so the pod). Returns the file's path on the node."""
        pod = yaml.safe_load(manifest)
        name = (pod or {}).get("metadata", {}).get("name", "")
        if (pod or {}).get("kind") != "Pod" or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name):
            raise KubelabError("a static pod manifest must be one Pod with a valid name", "kind: Pod, metadata.name: my-pod")
        folder = self.kubelet_config().get("staticPodPath") or MANIFESTS
        path = f"{folder}/kubelab-{name}.yaml"
        # Written down before anything changes: an interruption right after still leaves the record.
        # A folder we create (a worker may have none) is recorded too, and removed again.
        created = "" if self.sh(f"test -d {shlex.quote(folder)} && echo yes || true").strip() else f"echo dir:{folder} >> {STATIC_PODS}; "
        self.sh(f"mkdir -p {SAVED} && {created}(grep -qxF {path} {STATIC_PODS} 2>/dev/null || echo {path} >> {STATIC_PODS})"
                f" && mkdir -p {shlex.quote(folder)}")
        # Written beside, then renamed: the kubelet must never read half a manifest.
        self.sh(f"cat > {SAVED}/.static.tmp && mv {SAVED}/.static.tmp {path}", input=manifest.encode())
        print(f"{self.name}: static pod {name} written to {path}")
        return path

    def _restart_containerd(self, timeout: float = 120) -> None:
        self.sh("systemctl restart containerd")
        progress = Progress(f"containerd on {self.name} to answer after its restart")
        deadline = time.monotonic() + timeout
        while self.sh("crictl info >/dev/null 2>&1 && echo up || true").strip() != "up":
            if time.monotonic() > deadline:
                raise KubelabError(f"containerd on {self.name} did not come back within {timeout:.0f} s",
                                   f"docker exec {self.name} journalctl -u containerd -n 50")
            progress.update("restarting")
            time.sleep(0.5)
        progress.done("up")
        self.cluster.wait_node_ready(self.name, timeout, Progress(f"{self.name} to be Ready after containerd's restart"))

    def save_images(self) -> None:
        """Keep a copy of every image on the node, for restore(): an experiment may make the
        kubelet delete them, and with no registry they could not be pulled again."""
        if self.sh(f"test -e {SAVED_IMAGES} && echo saved || true").strip():
            return   # an earlier, unfinished run saved them already: that copy is the original
        names = sorted(name for name in self.images() if not name.startswith("sha256:"))
        machine = self.sh("uname -m").strip()
        platform = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
        self.sh(f"mkdir -p {SAVED} && cat > {SAVED_IMAGE_NAMES}", input="\n".join(names).encode() + b"\n")
        self.sh(f"ctr -n k8s.io images export --platform linux/{platform} {SAVED_IMAGES}.part "
                + " ".join(map(shlex.quote, names)) + f" && mv {SAVED_IMAGES}.part {SAVED_IMAGES}")
        print(f"{self.name}: saved {len(names)} images for restore()")

    def reconfigure_kubelet(self, **fields) -> float:
        """Change fields of the kubelet's configuration file and restart the kubelet; returns the
        Unix time of the restart. The original file is kept for restore()."""
        config = yaml.safe_load(self.sh(f"cat {KUBELET_CONFIG}"))
        self.sh(f"mkdir -p {SAVED} && (test -e {SAVED_KUBELET_CONFIG} || cp {KUBELET_CONFIG} {SAVED_KUBELET_CONFIG})")
        config.update(fields)
        self.sh(f"cat > {KUBELET_CONFIG}", input=yaml.safe_dump(config).encode())
        try:
            restarted = self.restart_kubelet()
        except KubelabError as e:
            self._restore_kubelet_config()
            raise KubelabError(f"the kubelet on {self.name} did not start with {fields}: {e.what}",
                               "change those fields; the kubelet runs again with its original configuration") from None
        print(f"{self.name}: kubelet restarted with " + ", ".join(f"{k}={v}" for k, v in fields.items()))
        return restarted

    def restart_kubelet(self, timeout: float = 90) -> float:
        """Restart the kubelet and wait until it serves its configuration again."""
        restarted = time.time()
        cursor = self.sh("journalctl -u kubelet -n 0 --show-cursor --no-pager").strip().rpartition("cursor: ")[2]
        self.sh("systemctl restart kubelet")
        progress = Progress(f"the kubelet on {self.name} to answer after its restart")
        deadline = time.monotonic() + timeout
        answered_at = None
        while True:
            try:
                self.kubelet_config()
                # Up means up twice, 2 s apart: a kubelet can answer once and then exit (a CI run
                # saw the restored kubelet refuse connections right after its first answer).
                if answered_at is not None and time.monotonic() - answered_at >= 2:
                    progress.done("up")
                    return restarted
                answered_at = answered_at or time.monotonic()
                progress.update("answered; checking that it stays up")
                time.sleep(1)
                continue
            except (KubelabError, subprocess.TimeoutExpired, ValueError) as e:
                answered_at = None
                after = f"--after-cursor '{cursor}'" if cursor else ""
                failures = [line.partition('err="')[2].rstrip('"') or line for line in self.sh(
                    f"journalctl -u kubelet {after} -o cat --no-pager | grep 'command failed' || true").strip().splitlines()]
                # A configuration the kubelet refuses fails every start the same way (systemd restarts
                # it each second); one failure alone may be a start that was cut short (seen in CI:
                # "get remote runtime typed version failed: ... context canceled"), so wait for a repeat.
                if len(failures) >= 2 and failures[-1] == failures[-2]:
                    raise KubelabError(failures[-1]) from None
                if time.monotonic() > deadline:
                    raise KubelabError(f"the kubelet on {self.name} did not come back within {timeout:.0f} s: "
                                       f"{failures[-1] if failures else e}",
                                       f"docker exec {self.name} journalctl -u kubelet -n 50") from None
                progress.update("restarting")
                time.sleep(1)

    def kubelet_config(self) -> dict:
        """The kubelet's live configuration (/configz, through the API server)."""
        out = self.cluster.kubectl("get", "--raw", f"/api/v1/nodes/{self.name}/proxy/configz", timeout=10)
        return json.loads(out)["kubeletconfig"]

    def changed(self) -> list[str]:
        """What restore() would put back on this node (how `kubelab gc` finds leftovers)."""
        if not self.running():
            return [STOPPED_NODE]   # nothing else can be read until it runs again
        out = self.sh(f"ls {SAVED} 2>/dev/null || true").split()
        changes = [ON_NODE[name] for name in ON_NODE if name in out]
        if SAVED_SPEC in (self._node_object()["metadata"].get("annotations") or {}):
            changes.append(SCHEDULING)
        return changes

    def _restore_kubelet_config(self) -> None:
        self.sh(f"cp {SAVED_KUBELET_CONFIG} {KUBELET_CONFIG} && rm {SAVED_KUBELET_CONFIG}")
        self.restart_kubelet()

    def restore(self) -> list[str]:
        """Undo every change to this node, in the order that lets each step work: start the node if
        it is stopped, start the units that were stopped, remove images it added, put back the
        kubelet's original configuration (and restart it), re-import saved images the runtime lost,
        then the scheduling (unschedulable, taints). Returns what was restored."""
        restored = []
        if not self.running():
            self.start()
            restored.append(STOPPED_NODE)
        changed = self.changed()
        if "stopped services" in changed:
            for unit in self.stopped_services():
                self.sh(f"systemctl start {_unit_name(unit)}")
            self.sh(f"rm -f {STOPPED_UNITS}")
            self.cluster.wait_node_ready(self.name, 120, Progress(f"{self.name} to be Ready after starting its services"))
        added = set(self.sh(f"cat {ADDED_IMAGES} 2>/dev/null || true").split())
        if added:
            present = self.images()
            for name in added & set(present):
                self.sh(f"crictl rmi {shlex.quote(name)}")
            self.sh(f"rm {ADDED_IMAGES}")
        if "pulled images" in changed:
            from kubelab.cluster.leftovers import removable_images
            for image_id in removable_images(self._image_listing(), self.sh(f"cat {PULLED_IMAGES}")):
                self.sh(f"crictl rmi {shlex.quote(image_id)}")
            self.sh(f"rm {PULLED_IMAGES}")
        if "registry tags" in changed:
            self._delete_pushes()
        if "static pods" in changed:
            entries = self.sh(f"cat {STATIC_PODS}").split()
            for path in (e for e in entries if not e.startswith("dir:")):
                self.sh(f"rm -f {shlex.quote(path)}")
            for folder in (e[4:] for e in entries if e.startswith("dir:")):
                self.sh(f"rmdir {shlex.quote(folder)} 2>/dev/null || true")
            self.sh(f"rm {STATIC_PODS}")
        if "runtime handlers" in changed:
            self.sh(f"cp {SAVED_CONTAINERD_CONFIG} {CONTAINERD_CONFIG} && rm -f /usr/local/bin/kubelab-* "
                    f"&& rm {SAVED_CONTAINERD_CONFIG}")
            self._restart_containerd()
        # after the handler is gone: its wrapper writes no more
        if "runtime handler logs" in changed:
            for path in self.sh(f"cat {RUNTIME_LOGS}").split():
                self.sh(f"rm -f {shlex.quote(path)}")
            self.sh(f"rm {RUNTIME_LOGS}")
        if "kubelet configuration" in changed:
            self._restore_kubelet_config()
        if "images" in changed:
            wanted = self.sh(f"cat {SAVED_IMAGE_NAMES} 2>/dev/null || true").split()
            present = self.images()
            missing = [name for name in wanted if name not in present and name not in added]
            if missing:
                self.sh(f"ctr -n k8s.io images import {SAVED_IMAGES}")
                still = [name for name in missing if name not in self.images()]
                if still:
                    raise KubelabError(f"on {self.name}: could not restore images {', '.join(still)}",
                                       f"the saved copy stays in {SAVED_IMAGES} on the node; recreate the cluster with `kubelab down && kubelab up`")
            self.sh(f"rm -f {SAVED_IMAGES} {SAVED_IMAGE_NAMES}")
            if missing:
                print(f"{self.name}: restored {len(missing)} images: {', '.join(missing)}")
        if SCHEDULING in changed:
            self._restore_spec()
        if any(change in ON_NODE.values() for change in changed):
            self.sh(f"rmdir {SAVED} 2>/dev/null || true")
        restored += changed
        if restored:
            print(f"{self.name}: undone: " + ", ".join(restored))
        return restored

    def _delete_pushes(self) -> None:
        """Delete from the registry the manifests pushed through this node. A registry that no
        longer answers took its images with it (the add-on keeps them in an emptyDir)."""
        from kubelab.cluster import registry
        from kubelab.cluster.leftovers import parse_pushes
        for address, repository, digest in parse_pushes(self.sh(f"cat {REGISTRY_PUSHES}")):
            try:
                registry.delete(address, repository, digest)
            except KubelabError as e:
                print(f"{self.name}: could not delete {repository}@{digest[:19]} from {address} ({e.what}); "
                      "a registry that is gone took it with it")
        self.sh(f"rm {REGISTRY_PUSHES}")


def _unit_name(unit: str) -> str:
    """A systemd unit name, checked: it goes into a shell command inside the node."""
    if not re.fullmatch(r"[A-Za-z0-9@._:-]+", unit):
        raise KubelabError(f"{unit!r} is not a systemd unit name", "e.g. kubelet, containerd, containerd.service")
    return unit


def restore_nodes(cluster) -> dict[str, list[str]]:
    """Undo what runs changed on the cluster's nodes, even runs that died half-way; returns what
    was restored, per node. Stopped nodes are started first (the control plane among them, so
    the API server answers for the rest), then each node is restored. A cluster without node
    access has nothing kubelab could have changed: {}.

    One node that cannot be restored does not keep the others from being restored; the error
    comes at the end, naming every node that failed.
    """
    if not getattr(cluster, "node_access", False):
        return {}
    restored: dict[str, list[str]] = {}
    names = cluster.node_names()
    stopped = [name for name in names if not cluster.node_running(name)]
    for name in stopped:   # all at once: they become Ready together
        cluster.node_container(name, "start")
        restored[name] = [STOPPED_NODE]
    for name in stopped:
        cluster.wait_node_ready(name, 180, Progress(f"{name} (stopped by a run) to be Ready again"))
    failures = []
    for name in names:
        try:
            changed = Node(cluster, name).restore()
        except KubelabError as e:
            failures.append(f"{name}: {e.what}")
            continue
        if changed:
            restored[name] = [*restored.get(name, []), *changed]
    if failures:
        raise KubelabError("restoring the nodes failed on " + "; ".join(failures),
                           "run 'kubelab gc' to try again; if that fails too, recreate the cluster: kubelab up --recreate")
    return restored
