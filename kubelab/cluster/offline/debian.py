"""Step kind "debian": a Debian rootfs made with debootstrap, and the files images take from it.

Images get Debian's binaries with the libraries they load (`Rootfs.collect`), and two named
sets of files (`BASES`): "busybox" (the static busybox and a link per applet) and
"network-tools" (iptables with its nft backend and extensions, conntrack, ip).
"""

import os
import shutil
from pathlib import Path

from kubelab.core.errors import KubelabError
from kubelab.cluster.offline import oci
from kubelab.cluster.offline.pins import Component
from kubelab.cluster.offline.steps import Step

KIND_VERSION = 1  # bump when this module changes what a debian step produces
DEBIAN_MIRROR = os.environ.get("KUBELAB_DEBIAN_MIRROR", "http://deb.debian.org/debian")


def key_inputs(component: Component) -> list:
    return [DEBIAN_MIRROR]


def build(step: Step, component: Component) -> None:
    if os.geteuid() != 0:
        raise KubelabError(
            "debootstrap needs root", "run the offline build as root (sudo make test)"
        )
    install_debian_package(step, "debootstrap", "debootstrap")
    rootfs = step.workdir / "rootfs"
    step.run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=" + ",".join(component.get("packages")),
            component.get("suite"),
            rootfs,
            DEBIAN_MIRROR,
        ]
    )
    unpack = component.get("unpack")
    if unpack:
        unpack_packages(step, unpack["suite"], unpack["packages"], rootfs)
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for f in (rootfs / junk).glob("*"):
            if f.is_file():
                f.unlink()


def unpack_packages(step: Step, suite: str, packages: list[str], root: Path) -> None:
    """Unpack (not install) packages of another suite over `root`: their files, checked against the
    suite's package index, without their scripts or dependencies (for static binaries)."""
    import hashlib
    import lzma
    import urllib.request

    arch = oci.host_arch()
    index_url = f"{DEBIAN_MIRROR}/dists/{suite}/main/binary-{arch}/Packages.xz"
    step.status = f"reading {index_url}"
    with urllib.request.urlopen(index_url, timeout=120) as response:
        index = lzma.decompress(response.read()).decode()
    entries = {}
    for paragraph in index.split("\n\n"):
        fields = dict(
            line.split(": ", 1)
            for line in paragraph.splitlines()
            if ": " in line and not line.startswith(" ")
        )
        if fields.get("Package") in packages:
            entries[fields["Package"]] = fields
    missing = sorted(set(packages) - set(entries))
    if missing:
        raise KubelabError(f"Debian {suite} ({arch}) has no package {', '.join(missing)}")
    for name in packages:
        fields = entries[name]
        step.status = f"unpacking {name} {fields['Version']} from {suite}"
        with urllib.request.urlopen(
            f"{DEBIAN_MIRROR}/{fields['Filename']}", timeout=300
        ) as response:
            data = response.read()
        if hashlib.sha256(data).hexdigest() != fields["SHA256"]:
            raise KubelabError(
                f"{fields['Filename']} does not match the SHA256 in {suite}'s package index"
            )
        deb = step.workdir / f"{name}.deb"
        deb.write_bytes(data)
        step.run(["dpkg-deb", "-x", deb, root])
        deb.unlink()
        step.log(f"unpacked {name} {fields['Version']} from {suite}")


def install_debian_package(step: Step, command: str, package: str) -> None:
    """Install a build tool from Debian's packages when it is missing (the build runs as root)."""
    if shutil.which(command):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise KubelabError(f"'{command}' is not installed", f"apt-get install {package}")
    step.log(f"installing {package}")
    step.run(["apt-get", "update"])
    step.run(
        ["apt-get", "install", "-y", "--no-install-recommends", package],
        env={"DEBIAN_FRONTEND": "noninteractive"},
    )


class Rootfs:
    """Take files out of the Debian rootfs: binaries with the libraries they load, and the
    symlinks on their way (bookworm's /lib -> usr/lib and the loader's own links)."""

    def __init__(self, step: Step, root: Path):
        self.step, self.root = step, root

    def collect(self, paths: list[str]) -> tuple[dict[str, Path], dict[str, str]]:
        files: dict[str, Path] = {}
        links: dict[str, str] = {}
        for path in paths:
            for p in [path, *self._libraries(path)]:
                self._follow(p, files, links)
        return files, links

    def _follow(self, path: str, files: dict, links: dict) -> None:
        """Walk `path` inside the rootfs, recording each symlink met, and add the file it names."""
        pending = path.strip("/").split("/")
        done: list[str] = []
        for _ in range(64):
            if not pending:
                files["/".join(done)] = self.root.joinpath(*done)
                return
            here = "/".join(done + [pending[0]])
            if (self.root / here).is_symlink():
                target = os.readlink(self.root / here)
                links[here] = target
                base = [] if target.startswith("/") else done
                pending = (
                    os.path.normpath("/".join(base + [target.strip("/")])).strip("/").split("/")
                    + pending[1:]
                )
                done = []
            else:
                done.append(pending.pop(0))
        raise KubelabError(f"too many symlinks under {path} in the rootfs")

    def _libraries(self, binary: str) -> list[str]:
        out = self.step.output(["chroot", self.root, "ldd", binary])
        libs = []
        for line in out.splitlines():
            parts = line.split()
            if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
                libs.append(parts[2])
            elif parts and parts[0].startswith("/"):
                libs.append(parts[0])  # the dynamic loader
        return libs


def network_tools(fs: Rootfs) -> oci.Image:
    """iptables (nft backend, as the node uses), conntrack and ip, for kube-proxy and kindnetd."""
    # The match and target extensions are loaded at run time, with libraries of their own (libm).
    extensions = sorted(
        f"/{p.relative_to(fs.root)}" for p in fs.root.glob("usr/lib/*-linux-gnu/xtables/*.so")
    )
    files, links = fs.collect(
        ["/usr/sbin/xtables-nft-multi", "/usr/sbin/conntrack", "/sbin/ip", *extensions]
    )
    for tool in (
        "iptables",
        "iptables-save",
        "iptables-restore",
        "ip6tables",
        "ip6tables-save",
        "ip6tables-restore",
    ):
        links[f"usr/sbin/{tool}"] = "xtables-nft-multi"
    return oci.Image("", files=files, symlinks=links)


def busybox(fs: Rootfs) -> oci.Image:
    """Debian's static busybox with a link for every applet."""
    applets = fs.step.output(["chroot", fs.root, "/bin/busybox", "--list-full"]).split()
    return oci.Image(
        "",
        files={"bin/busybox": fs.root / "bin/busybox"},
        symlinks={a: "/bin/busybox" for a in applets if a != "bin/busybox"},
    )


BASES = {"busybox": busybox, "network-tools": network_tools}
