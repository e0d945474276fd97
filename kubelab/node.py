"""A kind node's container: what only the node shows (iptables, crictl, files, the kubelet's
journal) and the few changes an experiment makes to a node, each one undone by `restore()`.

    cp = lab.node("control-plane")
    cp.sh("crictl ps")
    cp.save_images()                                   # before anything may delete images
    cp.reconfigure_kubelet(imageMaximumGCAge="1m")     # restarts the kubelet
    ...
    cp.restore()                                       # the kubelet's config and the images are back

What was changed is written down on the node itself (under /var/lib/kubelab), so a run that
died half-way is still undone: `lab.close()`, `kubelab run` after a failure or Ctrl-C, and
`kubelab gc` all call `restore()` on every node.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import yaml

from .errors import KubelabError
from .progress import Progress

KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
SAVED = "/var/lib/kubelab"                       # on the node: what restore() puts back
SAVED_KUBELET_CONFIG = f"{SAVED}/kubelet-config.yaml"
SAVED_IMAGES = f"{SAVED}/images.tar"
SAVED_IMAGE_NAMES = f"{SAVED}/images.txt"
ADDED_IMAGES = f"{SAVED}/added-images.txt"


class Node:
    """One node of a kubelab cluster, reached with `docker exec`."""

    def __init__(self, cluster, name: str):
        self.cluster, self.name = cluster, name

    def __repr__(self) -> str:
        return f"Node({self.name})"

    # -- looking -----------------------------------------------------------------------------

    def sh(self, command: str, check: bool = True, quiet: bool = True, input: bytes | None = None) -> str:
        """Run a shell command in the node; returns its output (printed too unless quiet)."""
        interactive = ["-i"] if input is not None else []
        result = subprocess.run(["docker", "exec", *interactive, self.name, "sh", "-c", command],
                                capture_output=True, input=input, timeout=300)
        stdout, stderr = result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")
        if check and result.returncode != 0:
            raise KubelabError(f"on {self.name}: `{command}` failed (exit {result.returncode}): {stderr.strip()[:500]}")
        if not quiet:
            print(stdout.rstrip())
        return stdout

    def container_cgroup(self, container_id: str, controller: str) -> str:
        """The cgroup folder (as the node sees /sys/fs/cgroup) of a container's main process."""
        pid = json.loads(self.sh(f"crictl inspect {container_id}"))["info"]["pid"]
        for line in self.sh(f"cat /proc/{pid}/cgroup").splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(",") or (controller == "" and controllers == ""):
                return f"/sys/fs/cgroup/{controllers or 'unified'}{path}" if controller else f"/sys/fs/cgroup{path}"
        raise KubelabError(f"no {controller or 'cgroup v2'} cgroup for container {container_id} on {self.name}")

    def cgroup_file(self, container_id: str, controller: str, name: str) -> str:
        return self.sh(f"cat {self.container_cgroup(container_id, controller)}/{name}").strip()

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

    def docker(self, verb: str) -> None:
        """stop, start or restart the node's container (a node failure, for real)."""
        if verb not in ("stop", "start", "restart"):
            raise KubelabError(f"unknown node action {verb!r}", "use stop, start or restart")
        subprocess.run(["docker", verb, self.name], check=True, capture_output=True, timeout=180)
        print(f"docker {verb} {self.name}")

    # -- changing, always undoably -----------------------------------------------------------

    def add_image(self, reference: str) -> str:
        """Import a new, tiny image that nothing uses (one file, unique content); returns its ID."""
        from .offline.oci import Image, write_archive
        with tempfile.TemporaryDirectory() as tmp:
            marker = Path(tmp, "marker")
            marker.write_text(f"{reference} {uuid.uuid4()}\n")
            archive = Path(tmp, "image.tar")
            write_archive(Image(reference, files={"marker": marker}), archive)
            self.sh(f"mkdir -p {SAVED} && echo {shlex.quote(reference)} >> {ADDED_IMAGES}")
            self.sh("ctr -n k8s.io images import --no-unpack -", input=archive.read_bytes())
        image_id = self.images().get(reference)
        if not image_id:
            raise KubelabError(f"on {self.name}: imported {reference}, but the runtime does not list it")
        print(f"{self.name}: added image {reference} ({image_id[:19]})")
        return image_id

    def save_images(self) -> None:
        """Keep a copy of every image on the node, for restore(): an experiment may make the
        kubelet delete them, and with no registry they could not be pulled again."""
        if self.sh(f"test -e {SAVED_IMAGES} && echo saved || true").strip():
            return   # an earlier, unfinished run saved them already: that copy is the original
        names = sorted(name for name in self.images() if not name.startswith("sha256:"))
        platform = self.sh("uname -m").strip().replace("x86_64", "amd64").replace("aarch64", "arm64")
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
        while True:
            try:
                self.kubelet_config()
                progress.done("up")
                return restarted
            except (KubelabError, subprocess.TimeoutExpired, ValueError) as e:
                after = f"--after-cursor '{cursor}'" if cursor else ""
                failed = self.sh(f"journalctl -u kubelet {after} -o cat --no-pager | grep 'command failed' || true").strip()
                if failed:
                    line = failed.splitlines()[-1]
                    raise KubelabError(line.partition('err="')[2].rstrip('"') or line) from None
                if time.monotonic() > deadline:
                    raise KubelabError(f"the kubelet on {self.name} did not come back within {timeout:.0f} s: {e}",
                                       f"docker exec {self.name} journalctl -u kubelet -n 50") from None
                progress.update("restarting")
                time.sleep(1)

    def kubelet_config(self) -> dict:
        """The kubelet's live configuration (/configz, through the API server)."""
        out = self.cluster.kubectl("get", "--raw", f"/api/v1/nodes/{self.name}/proxy/configz", timeout=10)
        return json.loads(out)["kubeletconfig"]

    def changed(self) -> list[str]:
        """What restore() would put back on this node."""
        out = self.sh(f"ls {SAVED} 2>/dev/null || true")
        names = {"kubelet-config.yaml": "kubelet configuration", "images.tar": "images", "added-images.txt": "added images"}
        return [names[name] for name in out.split() if name in names]

    def _restore_kubelet_config(self) -> None:
        self.sh(f"cp {SAVED_KUBELET_CONFIG} {KUBELET_CONFIG} && rm {SAVED_KUBELET_CONFIG}")
        self.restart_kubelet()

    def restore(self) -> list[str]:
        """Undo this node's changes: the kubelet's original configuration (and a restart), then any
        saved image the runtime no longer has; images it added go. Returns what was restored."""
        changed = self.changed()
        added = set(self.sh(f"cat {ADDED_IMAGES} 2>/dev/null || true").split())
        if added:
            present = self.images()
            for name in added & set(present):
                self.sh(f"crictl rmi {name}")
            self.sh(f"rm {ADDED_IMAGES}")
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
        if changed:
            self.sh(f"rmdir {SAVED} 2>/dev/null || true")
            print(f"{self.name}: undid the changes to its " + ", ".join(changed))
        return changed
