"""Step kind "node": the kind node image: the Debian rootfs, kubelab's node files
(clusters/offline/<files>, where `@IMAGE:<component>@` becomes that image's pinned name), the
binaries named in `binaries`, and every image component preloaded in containerd's store.

Its result is a Docker image, not a folder: it is cached by a label carrying its key.
"""

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from kubelab.core.errors import KubelabError
from kubelab.core.paths import OFFLINE
from kubelab.cluster.offline.pins import Component, Pins
from kubelab.cluster.offline.steps import Step

KIND_VERSION = 1  # bump when this module changes what the node image holds
LABEL = "dev.kubelab.recipe"
PLACEHOLDER = re.compile(r"@IMAGE:([a-z0-9-]+)@")


def fill_in_images(text: str, pins: Pins) -> str:
    """Replace each `@IMAGE:<component>@` with the image's pinned name."""
    return PLACEHOLDER.sub(lambda m: pins.image(m.group(1)), text)


def docker(*args: str, capture: bool = True) -> str:
    result = subprocess.run(["docker", *args], capture_output=capture, text=True)
    if result.returncode != 0:
        raise KubelabError(f"docker {' '.join(args[:2])} failed: {(result.stderr or '').strip()}")
    return result.stdout if capture else ""


def image_label(image: str) -> str | None:
    result = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{ index .Config.Labels \"%s\" }}" % LABEL, image],
        capture_output=True,
        text=True,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def node_files(component: Component) -> Path:
    return OFFLINE / component.get("files", "node")


def assemble_node(
    step: Step,
    component: Component,
    pins: Pins,
    rootfs: Path,
    binaries: dict[str, dict[str, Path]],
    archives: list[Path],
    key: str,
) -> None:
    root = step.workdir / "rootfs"
    step.status = "copying the rootfs"
    step.run(["cp", "-a", "--reflink=auto", rootfs, root])
    files = node_files(component)
    shutil.copytree(
        files, root, dirs_exist_ok=True, symlinks=True, ignore=shutil.ignore_patterns("README.md")
    )
    for path in (
        root / p.relative_to(files)
        for p in files.rglob("*")
        if p.is_file() and not p.is_symlink() and p.name != "README.md"
    ):
        text = path.read_text(errors="surrogateescape")
        if "@IMAGE:" in text:
            path.write_text(fill_in_images(text, pins), errors="surrogateescape")
    # The runc shim goes in front of Debian's runc (a no-op where the capability is there).
    step.run(
        [
            "chroot",
            root,
            "dpkg-divert",
            "--local",
            "--rename",
            "--divert",
            "/usr/sbin/runc.real",
            "--add",
            "/usr/sbin/runc",
        ]
    )
    for path, ref in component.get("binaries", {}).items():
        source, _, name = ref.partition(":")
        install(binaries[source][name], root / path)
    (root / "opt/cni").mkdir(parents=True, exist_ok=True)
    (root / "opt/cni/bin").symlink_to("/usr/lib/cni")
    (root / "kind/version").write_text(pins.kubernetes + "\n")
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / "kubelet.service").unlink(missing_ok=True)
    (wants / "kubelet.service").symlink_to("/etc/systemd/system/kubelet.service")
    for unit in (
        "apt-daily.timer",
        "apt-daily-upgrade.timer",
        "getty@tty1.service",
        "console-getty.service",
        "systemd-firstboot.service",
        "e2scrub_all.timer",
        "fstrim.timer",
    ):
        mask = root / "etc/systemd/system" / unit
        mask.unlink(missing_ok=True)
        mask.symlink_to("/dev/null")
    (root / "etc/machine-id").write_text("")
    step.status = f"preloading {len(archives)} images"
    preload_images(step, root / "var/lib/containerd", archives)
    step.log("importing the rootfs into docker")
    temp_tag = f"kubelab/node-build:{key}"
    with subprocess.Popen(
        ["tar", "-C", root, "--numeric-owner", "-cf", "-", "."], stdout=subprocess.PIPE
    ) as tar:
        step.run(
            [
                "docker",
                "import",
                "--change",
                'ENTRYPOINT ["/usr/local/bin/entrypoint"]',
                "--change",
                "ENV container=docker",
                "--change",
                f"LABEL {LABEL}={key}",
                "-",
                temp_tag,
            ],
            stdin=tar.stdout,
        )
    docker("tag", temp_tag, pins.expand(component.get("name")))
    docker("rmi", temp_tag)


def install(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)
    dest.chmod(0o755)


def preload_images(step: Step, containerd_root: Path, archives: list[Path]) -> None:
    """Import every image into the node's containerd store (namespace k8s.io), unpacked lazily.

    A private containerd on this host writes straight into the node's /var/lib/containerd; the
    node's CRI unpacks an image the first time a container uses it.
    """
    if not shutil.which("containerd") or not shutil.which("ctr"):
        raise KubelabError(
            "containerd and ctr are needed to preload images", "apt-get install containerd"
        )
    state = Path(tempfile.mkdtemp(prefix="kubelab-containerd-"))
    sock = state / "containerd.sock"
    config = state / "config.toml"
    config.write_text(
        'version = 2\n'
        f'root = "{containerd_root}"\nstate = "{state / "state"}"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{sock}"\n'
    )
    log = open(step.log_path, "a")
    daemon = subprocess.Popen(["containerd", "--config", config], stdout=log, stderr=log)
    try:
        for _ in range(100):
            if (
                sock.exists()
                and subprocess.run(["ctr", "-a", sock, "version"], capture_output=True).returncode
                == 0
            ):
                break
            if daemon.poll() is not None:
                raise KubelabError("the build's private containerd exited at start")
            time.sleep(0.1)
        for archive in archives:
            step.run(
                [
                    "ctr",
                    "-a",
                    sock,
                    "-n",
                    "k8s.io",
                    "images",
                    "import",
                    "--no-unpack",
                    "--all-platforms",
                    archive,
                ]
            )
        listed = step.output(["ctr", "-a", sock, "-n", "k8s.io", "images", "ls", "-q"])
        step.log("preloaded:\n" + listed)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        log.close()
        shutil.rmtree(state, ignore_errors=True)
