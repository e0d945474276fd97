"""Step kind "image": one OCI image archive, named as upstream names it, made of files from Go
steps (`files`: path in the image -> "component:binary"), Debian's programs with the libraries
they load (`debian_files`: paths in the rootfs, e.g. "/usr/bin/dig"; give /usr paths, not the
merged-/usr /bin ones, so they do not shadow a base's /bin), extra `links` (path -> target),
over an optional base taken from the Debian rootfs (`base`: "busybox" or "network-tools"), with
its entrypoint or cmd."""

from pathlib import Path

from kubelab.core.errors import KubelabError
from kubelab.cluster.offline import oci
from kubelab.cluster.offline.debian import BASES, Rootfs
from kubelab.cluster.offline.pins import Component, Pins
from kubelab.cluster.offline.steps import Step

KIND_VERSION = 1  # bump when this module changes what an image step produces
ARCHIVE = "image.tar"


def build(
    step: Step,
    component: Component,
    pins: Pins,
    binaries: dict[str, dict[str, Path]],
    rootfs: Path | None,
    architecture: str = "",
) -> None:
    """`binaries`: {go component: {binary name: path}} of the finished Go steps."""
    files = {}
    for path, ref in (component.get("files") or {}).items():
        source, _, name = ref.partition(":")
        if name not in binaries.get(source, {}):
            raise KubelabError(
                f"image {component.name}: {source} built no binary {name!r}",
                f"its binaries are: {', '.join(sorted(binaries.get(source, {}))) or 'none'}",
            )
        files[path] = binaries[source][name]
    base_name = component.get("base")
    base = oci.Image("")
    if base_name:
        if base_name not in BASES:
            raise KubelabError(
                f"image {component.name}: unknown base {base_name!r}",
                f"use one of: {', '.join(BASES)}",
            )
        base = BASES[base_name](Rootfs(step, rootfs))
    debian_files, debian_links = (
        Rootfs(step, rootfs).collect(component.get("debian_files"))
        if component.get("debian_files")
        else ({}, {})
    )
    symlinks = {**base.symlinks, **debian_links, **(component.get("links") or {})}
    image = oci.Image(
        pins.expand(component.get("name")),
        files={**base.files, **debian_files, **files},
        symlinks={
            path: target
            for path, target in symlinks.items()
            if path not in files and path not in debian_files
        },
        trees=dict(base.trees),
        architecture=architecture,
        **config(component),
    )
    step.status = f"writing {image.name}"
    oci.write_archive(image, step.workdir / ARCHIVE)


def config(component: Component) -> dict:
    return {k: component.get(k) for k in ("entrypoint", "cmd", "labels") if component.get(k)}
