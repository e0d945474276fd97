"""Write single-layer container images as OCI archives, with no container engine involved.

The archive is an OCI image layout (index.json naming the image, as `ctr images import`
reads it) that also carries a Docker `manifest.json`, so `docker load` accepts it too.
"""

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

# Every image gets these, so programs find /tmp, a root user and name resolution order.
BASE_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/nsswitch.conf": "hosts: files dns\n",
}
BASE_DIRS = {"tmp": 0o1777, "root": 0o700, "etc": 0o755}


@dataclass
class Image:
    name: str  # full reference, e.g. registry.k8s.io/pause:3.10.2
    files: dict[str, Path] = field(default_factory=dict)  # path in image -> file on disk
    symlinks: dict[str, str] = field(default_factory=dict)  # path in image -> link target
    trees: dict[str, Path] = field(
        default_factory=dict
    )  # path in image -> folder on disk (copied whole)
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: list[str] = field(
        default_factory=lambda: [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        ]
    )
    workdir: str = "/"
    user: str = ""
    architecture: str = ""  # GOARCH of the binaries inside; "" = this machine's
    labels: dict[str, str] = field(default_factory=dict)


def _info(name: str, mode: int, kind=tarfile.REGTYPE, size=0, linkname="") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.size, ti.linkname = kind, mode, size, linkname
    ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = 0, 0, 0, "", ""
    return ti


def _layer(image: Image) -> bytes:
    """The image's one layer as an uncompressed, reproducible tar."""
    entries: dict[str, tuple] = {}

    def add_parents(path: str) -> None:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            entries.setdefault(d, ("dir", BASE_DIRS.get(d, 0o755)))

    for d, mode in BASE_DIRS.items():
        entries[d] = ("dir", mode)
    for path, text in BASE_FILES.items():
        entries[path] = ("bytes", 0o644, text.encode())
    for path, src in image.files.items():
        path = path.strip("/")
        add_parents(path)
        entries[path] = ("file", src)
    for root, src_dir in image.trees.items():
        root = root.strip("/")
        add_parents(root + "/x")
        for dirpath, dirnames, filenames in os.walk(src_dir):
            rel = os.path.relpath(dirpath, src_dir)
            base = root if rel == "." else f"{root}/{rel}"
            entries[base] = ("dir", 0o755)
            for n in dirnames + filenames:
                full = os.path.join(dirpath, n)
                if os.path.islink(full):
                    entries[f"{base}/{n}"] = ("link", os.readlink(full))
                elif n in filenames:
                    entries[f"{base}/{n}"] = ("file", Path(full))
    for path, target in image.symlinks.items():
        path = path.strip("/")
        add_parents(path)
        entries[path] = ("link", target)

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(entries):
            kind, *rest = entries[path]
            if kind == "dir":
                tar.addfile(_info(path, rest[0], tarfile.DIRTYPE))
            elif kind == "link":
                tar.addfile(_info(path, 0o777, tarfile.SYMTYPE, linkname=rest[0]))
            elif kind == "bytes":
                tar.addfile(_info(path, rest[0], size=len(rest[1])), io.BytesIO(rest[1]))
            else:
                src: Path = rest[0]
                st = src.stat()
                mode = stat.S_IMODE(st.st_mode) | (0o755 if st.st_mode & 0o111 else 0o644)
                with open(src, "rb") as f:
                    tar.addfile(_info(path, mode, size=st.st_size), f)
    return buf.getvalue()


def _blob(tar: tarfile.TarFile, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    tar.addfile(_info(f"blobs/sha256/{digest}", 0o644, size=len(data)), io.BytesIO(data))
    return digest


def host_arch() -> str:
    """This machine's architecture as OCI and Go name it (amd64, arm64)."""
    import platform

    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def write_archive(image: Image, out: Path) -> None:
    layer = _layer(image)
    diff_id = hashlib.sha256(layer).hexdigest()
    compressed = gzip.compress(layer, compresslevel=1, mtime=0)
    architecture = image.architecture or host_arch()
    config = {
        "architecture": architecture,
        "os": "linux",
        "config": {
            k: v
            for k, v in {
                "Entrypoint": image.entrypoint,
                "Cmd": image.cmd,
                "Env": image.env,
                "WorkingDir": image.workdir,
                "User": image.user or None,
                **({"Labels": image.labels} if image.labels else {}),
            }.items()
            if v is not None
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created_by": "kubelab offline build"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    repo_tag = image.name
    with tarfile.open(out, "w") as tar:
        layer_digest = _blob(tar, compressed)
        config_digest = _blob(tar, config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": f"sha256:{config_digest}",
                "size": len(config_bytes),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": f"sha256:{layer_digest}",
                    "size": len(compressed),
                }
            ],
        }
        manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
        manifest_digest = _blob(tar, manifest_bytes)
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": f"sha256:{manifest_digest}",
                    "size": len(manifest_bytes),
                    "platform": {"architecture": architecture, "os": "linux"},
                    "annotations": {
                        "io.containerd.image.name": repo_tag,
                        "org.opencontainers.image.ref.name": repo_tag.rsplit(":", 1)[-1],
                    },
                }
            ],
        }
        for name, data in (
            ("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
            ("index.json", json.dumps(index, sort_keys=True).encode()),
            (
                "manifest.json",
                json.dumps(
                    [
                        {
                            "Config": f"blobs/sha256/{config_digest}",
                            "RepoTags": [docker_tag(repo_tag)],
                            "Layers": [f"blobs/sha256/{layer_digest}"],
                        }
                    ]
                ).encode(),
            ),
        ):
            tar.addfile(_info(name, 0o644, size=len(data)), io.BytesIO(data))


def docker_tag(reference: str) -> str:
    """Docker's short form of a reference (docker.io/library/busybox:1 -> busybox:1)."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if reference.startswith(prefix):
            return reference[len(prefix) :]
    return reference
