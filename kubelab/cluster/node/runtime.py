"""The container runtime of a node: its images, sandboxes and runtime handlers, and the images and registry tags a run brings, each recorded so restore() removes them."""

from __future__ import annotations

import json
import re
import shlex
import tempfile
import time
import uuid
from pathlib import Path


from kubelab.core.errors import KubelabError
from kubelab.core.progress import Progress

from kubelab.cluster.node.records import (
    ADDED_IMAGES,
    CONTAINERD_CONFIG,
    CRI_RUNTIME_PLUGIN,
    PULLED_IMAGES,
    REGISTRY_PUSHES,
    RUNTIME_LOGS,
    SAVED,
    SAVED_CONTAINERD_CONFIG,
    SAVED_IMAGES,
    SAVED_IMAGE_NAMES,
)


class NodeRuntime:
    """The container runtime of a node (a part of Node)."""

    def _image_listing(self) -> list[dict]:
        return json.loads(self.sh("crictl images -o json"))["images"]

    def images(self) -> dict[str, str]:
        """The runtime's images on this node, as {reference: image ID}."""
        return {
            tag: image["id"]
            for image in self._image_listing()
            for tag in image.get("repoTags") or [image["id"]]
        }

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

    def pod_sandbox(self, namespace: str, pod: str) -> dict:
        """The runtime's own view of a pod's sandbox on this node (`crictl inspectp`)."""
        ids = self.sh(
            f"crictl pods --namespace {shlex.quote(namespace)} --name {shlex.quote('^' + pod + '$')} -q"
        ).split()
        if not ids:
            raise KubelabError(
                f"no sandbox of pod {namespace}/{pod} on {self.name}",
                "is the pod scheduled to this node?",
            )
        return json.loads(self.sh(f"crictl inspectp {ids[0]}"))

    def pod_runtime(self, namespace: str, pod: str) -> tuple[str, str]:
        """(runtime handler, runtime type) that run a pod here: ("", "io.containerd.runc.v2") for
        the default handler. containerd 1.x reports them under `info`, 2.x under `status` too."""
        sandbox = self.pod_sandbox(namespace, pod)
        info, status = sandbox.get("info") or {}, sandbox.get("status") or {}
        return (
            status.get("runtimeHandler") or info.get("runtimeHandler") or "",
            info.get("runtimeType") or (info.get("runtimeSpec") or {}).get("runtimeType") or "",
        )

    def default_runtime_handler(self) -> str:
        """The handler containerd uses for pods that name none (its default_runtime_name)."""
        config = json.loads(self.sh("crictl info"))
        return ((config.get("config") or {}).get("containerd") or {}).get("defaultRuntimeName", "")

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
            raise KubelabError(
                f"on {self.name}: imported {reference}, but the runtime does not list it"
            )
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
            raise KubelabError(
                f"{handler!r} is not a valid runtime handler name",
                "use a DNS label, e.g. kubelab-runc",
            )
        config = tomllib.loads(self.sh(f"cat {CONTAINERD_CONFIG}"))
        plugin = CRI_RUNTIME_PLUGIN.get(config.get("version", 1))
        if plugin is None:
            raise KubelabError(
                f"{self.name}: containerd config version {config.get('version', 1)} is not one kubelab knows",
                f"versions {sorted(CRI_RUNTIME_PLUGIN)} are",
            )
        cri = config.get("plugins", {}).get(plugin, {}).get("containerd", {})
        default = cri.get("runtimes", {}).get(cri.get("default_runtime_name", "runc"), {})
        options = dict(default.get("options") or {})
        runc = options.get("BinaryName") or self.sh("command -v runc").strip()
        wrapper, log = f"/usr/local/bin/kubelab-{handler}", f"/var/log/kubelab-{handler}.log"
        options["BinaryName"] = wrapper
        self.sh(
            f"mkdir -p {SAVED} && (grep -qxF {log} {RUNTIME_LOGS} 2>/dev/null || echo {log} >> {RUNTIME_LOGS})"
        )
        table = f'plugins."{plugin}".containerd.runtimes.{handler}'
        added = "\n".join(
            [
                f"\n# added by kubelab (undone by its restore)\n[{table}]",
                f'runtime_type = {json.dumps(default.get("runtime_type", "io.containerd.runc.v2"))}',
                f"[{table}.options]",
                *(f"{k} = {json.dumps(v)}" for k, v in options.items()),
                "",
            ]
        )
        # Saved before anything changes: an interruption right after still leaves the record.
        self.sh(
            f"mkdir -p {SAVED} && (test -e {SAVED_CONTAINERD_CONFIG} || cp {CONTAINERD_CONFIG} {SAVED_CONTAINERD_CONFIG})"
        )
        self.sh(
            f"cat > {wrapper} && chmod 755 {wrapper}",
            input=f'#!/bin/sh\necho "$(date +%s) $*" >> {log}\nexec {runc} "$@"\n'.encode(),
        )
        self.sh(f"cat >> {CONTAINERD_CONFIG}", input=added.encode())
        self._restart_containerd()
        print(
            f"{self.name}: containerd has a runtime handler {handler!r} (runc through {wrapper}, logging to {log})"
        )
        return log

    def _restart_containerd(self, timeout: float = 120) -> None:
        self.sh("systemctl restart containerd")
        progress = Progress(f"containerd on {self.name} to answer after its restart")
        deadline = time.monotonic() + timeout
        while self.sh("crictl info >/dev/null 2>&1 && echo up || true").strip() != "up":
            if time.monotonic() > deadline:
                raise KubelabError(
                    f"containerd on {self.name} did not come back within {timeout:.0f} s",
                    f"docker exec {self.name} journalctl -u containerd -n 50",
                )
            progress.update("restarting")
            time.sleep(0.5)
        progress.done("up")
        self.cluster.wait_node_ready(
            self.name, timeout, Progress(f"{self.name} to be Ready after containerd's restart")
        )

    def save_images(self) -> None:
        """Keep a copy of every image on the node, for restore(): an experiment may make the
        kubelet delete them, and with no registry they could not be pulled again."""
        if self.sh(f"test -e {SAVED_IMAGES} && echo saved || true").strip():
            return  # an earlier, unfinished run saved them already: that copy is the original
        names = sorted(name for name in self.images() if not name.startswith("sha256:"))
        machine = self.sh("uname -m").strip()
        platform = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
        self.sh(
            f"mkdir -p {SAVED} && cat > {SAVED_IMAGE_NAMES}",
            input="\n".join(names).encode() + b"\n",
        )
        self.sh(
            f"ctr -n k8s.io images export --platform linux/{platform} {SAVED_IMAGES}.part "
            + " ".join(map(shlex.quote, names))
            + f" && mv {SAVED_IMAGES}.part {SAVED_IMAGES}"
        )
        print(f"{self.name}: saved {len(names)} images for restore()")

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

        self.sh(
            f"mkdir -p {SAVED} && cat >> {REGISTRY_PUSHES}",
            input=push_line(registry, repository, digest).encode(),
        )

    def _delete_pushes(self) -> None:
        """Delete from the registry the manifests pushed through this node. A registry that no
        longer answers took its images with it (the add-on keeps them in an emptyDir)."""
        from kubelab.cluster import registry
        from kubelab.cluster.leftovers import parse_pushes

        for address, repository, digest in parse_pushes(self.sh(f"cat {REGISTRY_PUSHES}")):
            try:
                registry.delete(address, repository, digest)
            except KubelabError as e:
                print(
                    f"{self.name}: could not delete {repository}@{digest[:19]} from {address} ({e.what}); "
                    "a registry that is gone took it with it"
                )
        self.sh(f"rm {REGISTRY_PUSHES}")
