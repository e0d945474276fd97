"""Small images a run makes itself: the pinned busybox plus files of the run's own, to side-load
into a node (`Node.add_image(reference, archive)`) or push to the registry add-on (`push`).

    archive = runimages.busybox_image(lab, "registry.kubelab.local:5000/greeting:latest",
                                      {"greeting": "one\\n"}, command=["sh", "-c", "cat /greeting; sleep 3600"])
    digest = runimages.push(lab, archive, "greeting", "latest")   # what containerStatuses[].imageID names

The busybox binary is copied out of a pod running the pinned BUSYBOX image, so the same code works
with stock images and offline ones. Each call gives different content (a unique marker file), so
a re-push under the same tag is a new image.
"""

from __future__ import annotations

import subprocess
import tempfile
import uuid
from pathlib import Path

from kubelab.core.errors import KubelabError

SOURCE_POD = "kubelab-busybox-source"
REGISTRY_NODE_PORT = 30500  # clusters/addons/registry: the registry's NodePort on every node
REGISTRY_NAME = "registry.kubelab.local:5000"  # and the name pods pull its images by


def busybox_binary(lab) -> Path:
    """The pinned busybox image's /bin/busybox, copied out of a pod once per run."""
    cached = getattr(lab, "_busybox_binary", None)
    if cached and cached.exists():
        return cached
    from kubelab.cluster.pinned import BUSYBOX

    lab.apply(
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: {SOURCE_POD}}}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{{name: c, image: "{BUSYBOX}", command: [sleep, "3600"]}}]
""",
        quiet=True,
    )
    lab.wait_ready("pod", SOURCE_POD)
    result = subprocess.run(
        lab.cluster.kubectl_command(
            "exec", "-n", lab.namespace, SOURCE_POD, "--", "cat", "/bin/busybox"
        ),
        capture_output=True,
        timeout=120,
    )
    if result.returncode != 0 or not result.stdout.startswith(b"\x7fELF"):
        raise KubelabError(
            f"copying /bin/busybox out of {BUSYBOX} failed: {result.stderr.decode(errors='replace')[:300]}"
        )
    if b"/ld-linux" in result.stdout[:4096] or b"ld-musl" in result.stdout[:4096]:
        raise KubelabError(
            f"{BUSYBOX}'s busybox is dynamically linked: an image of it alone would not run",
            "use a busybox image whose binary is static (Debian's busybox-static, or upstream's)",
        )
    folder = Path(tempfile.mkdtemp(prefix="kubelab-busybox-"))
    path = folder / "busybox"
    path.write_bytes(result.stdout)
    path.chmod(0o755)
    lab._busybox_binary = path
    return path


def busybox_image(
    lab, reference: str, files: dict[str, str], command: list[str] | None = None
) -> Path:
    """An OCI archive of `reference`: busybox (sh, cat, sleep, ... as links), the given files
    (path in the image -> text) and a unique marker; `command` is its CMD. Returns the archive."""
    from kubelab.cluster.offline.oci import Image, write_archive

    busybox = busybox_binary(lab)
    folder = Path(tempfile.mkdtemp(prefix="kubelab-image-"))
    contents = {}
    for path, text in {**files, "kubelab-marker": f"{reference} {uuid.uuid4()}\n"}.items():
        local = folder / "files" / path.strip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(text)
        contents[path] = local
    applets = ("sh", "cat", "sleep", "echo", "ls", "date", "wget")
    image = Image(
        reference,
        files={"bin/busybox": busybox, **contents},
        symlinks={f"bin/{a}": "/bin/busybox" for a in applets},
        cmd=command or ["sh"],
    )
    archive = folder / "image.tar"
    write_archive(image, archive)
    return archive


def push(lab, archive: Path, repository: str, tag: str, node: str | None = None) -> str:
    """Push an archive to the registry add-on (installing it if needed) through a node's NodePort;
    returns the manifest digest. Pods name it registry.kubelab.local:5000/<repository>:<tag>.

    Both are undone at the run's end (Node.restore): the push is recorded on the node it went
    through, and deleted from the registry again; the repository is recorded on every node, whose
    images of it that a pod pulls are removed again."""
    from kubelab.cluster import registry

    lab.addon("registry")
    names = sorted(n["metadata"]["name"] for n in lab.nodes())
    node = node or names[-1]
    address = f"{lab.internal_ip(node)}:{REGISTRY_NODE_PORT}"
    if not getattr(lab, "_recorded_pulls", set()) >= {repository}:  # once per repository and run
        for name in names:
            lab.node(name).will_pull(f"{REGISTRY_NAME}/{repository}")
        lab._recorded_pulls = {*getattr(lab, "_recorded_pulls", set()), repository}
    lab.node(node).record_push(address, repository, registry.manifest_digest(archive))
    return registry.push(archive, address, repository, tag)
