"""The offline build: a generic driver over the components in clusters/offline/pins.toml.

Each component is a step of one kind (kubelab.cluster.offline.gobuild, debian, imagebuild, nodeimage).
A step's cache key is made of its own block, the keys of the steps it takes files from, and the
version of its step kind (plus, for Go, the wrapper module's files, the Go version and the target
architecture) -- never the driver's own code -- so editing one block rebuilds that step and what
depends on it, nothing else. Results live in the cache (`kubelab images build --list` shows
which are there); a second build does nothing. Run it with `kubelab images build`; `kubelab up`
runs it when the offline images are chosen and missing. A variant (another Kubernetes minor,
`kubelab images build --kubernetes v1.36`) shares every result whose inputs it does not change,
and the cache keeps the results of every version the pins declare.
"""

import json
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from kubelab.core.errors import KubelabError
from kubelab.core.paths import cache_dir
from kubelab.cluster.offline import debian, gobuild, imagebuild, modulefiles, nodeimage
from kubelab.cluster.offline.nodeimage import image_label
from kubelab.cluster.offline.pins import Component, Pins, every_version, load
from kubelab.cluster.offline.steps import StepRunner, digest_files, key_of, stale_results

KIND_VERSIONS = {
    "go": gobuild.KIND_VERSION,
    "debian": debian.KIND_VERSION,
    "image": imagebuild.KIND_VERSION,
    "node": nodeimage.KIND_VERSION,
    "files": modulefiles.KIND_VERSION,
}


@dataclass(frozen=True)
class Planned:
    component: Component
    key: str


def plan(pins: Pins | None = None, goarch: str | None = None) -> dict[str, Planned]:
    """Every component with its cache key, computed from inputs alone (nothing is built)."""
    pins = pins or load()
    goarch = goarch or gobuild.host_arch()
    keys: dict[str, str] = {}
    components = pins.components

    def key(name: str) -> str:
        if name in keys:
            return keys[name]
        c = components[name]
        parts: list = [c.kind, KIND_VERSIONS[c.kind], c.block, {s: key(s) for s in c.sources()}]
        if c.kind == "go":
            parts += gobuild.key_inputs(c, goarch)
            if c.get("version_ldflags"):
                parts.append(pins.kubernetes)
        elif c.kind == "debian":
            parts += debian.key_inputs(c)
        elif c.kind == "image":
            parts.append(pins.kubernetes if "{kubernetes}" in c.get("name") else "")
            if c.get("base") or c.get("debian_files"):
                parts.append(key(rootfs_of(pins)))
        elif c.kind == "node":
            parts += [
                pins.kubernetes,
                {i.name: key(i.name) for i in pins.of_kind("image") if not i.get("addon")},
                digest_files([nodeimage.node_files(c)]),
            ]
        keys[name] = key_of(*parts)
        return keys[name]

    return {name: Planned(components[name], key(name)) for name in components}


def rootfs_of(pins: Pins) -> str:
    (rootfs,) = [c.name for c in pins.of_kind("debian")]
    return rootfs


class Builder:
    """Runs the steps a result needs, each once: `result(name)` builds (or finds cached) a go,
    debian or image component and, first, the components it takes files from."""

    def __init__(self, pins: Pins, runner: StepRunner, goarch: str):
        self.pins, self.runner, self.goarch = pins, runner, goarch
        self.steps = plan(pins, goarch)
        self._results: dict[str, Path] = {}

    def result(self, name: str) -> Path:
        if name in self._results:
            return self._results[name]
        planned = self.steps[name]
        c = planned.component
        if c.kind == "go":
            build_step = lambda step: gobuild.build(step, c, self.pins, self.goarch)  # noqa: E731
        elif c.kind == "debian":
            build_step = lambda step: debian.build(step, c)  # noqa: E731
        elif c.kind == "files":
            build_step = lambda step: modulefiles.build(step, c)  # noqa: E731
        elif c.kind == "image":
            binaries = {source: self.outputs(source) for source in c.sources()}
            rootfs = (
                self.result(rootfs_of(self.pins)) / "rootfs"
                if c.get("base") or c.get("debian_files")
                else None
            )
            build_step = lambda step: imagebuild.build(
                step, c, self.pins, binaries, rootfs, self.goarch
            )  # noqa: E731
        else:
            raise KubelabError(f"component {name} is a {c.kind}: not a cached folder")
        self._results[name] = self.runner.run(name, planned.key, build_step)
        return self._results[name]

    def outputs(self, name: str) -> dict[str, Path]:
        """What images can take from a step: a go step's binaries by name, a files step's files
        by their path in the module."""
        result = self.result(name)
        if self.steps[name].component.kind == "files":
            return modulefiles.files(result)
        return gobuild.binaries(result)

    def binaries(self, names) -> dict[str, dict[str, Path]]:
        return {name: gobuild.binaries(self.result(name)) for name in names}


def planned_results(goarch: str) -> frozenset[str]:
    """The cache folders (`<component>-<key>`) of every version the pins declare: what the cache keeps."""
    return frozenset(
        f"{name}-{p.key}" for pins in every_version() for name, p in plan(pins, goarch).items()
    )


def builder(echo=None, kubernetes: str | None = None) -> Builder:
    pins = load(kubernetes=kubernetes)
    goarch = gobuild.host_arch()
    runner = StepRunner(
        cache_dir(), keep=planned_results(goarch), **({"echo": echo} if echo else {})
    )
    for tool in ("go", "docker"):
        if not shutil.which(tool):
            raise KubelabError(
                f"the offline build needs '{tool}' on PATH",
                "run scripts/prepare-host.sh (it installs Docker); Go >= 1.26 from your OS or go.dev",
            )
    return Builder(pins, runner, goarch)


def build(force_node: bool = False, echo=None, kubernetes: str | None = None) -> str:
    """Build (or reuse) everything a cluster needs (add-ons aside); return the node image reference.
    `kubernetes`: a variant's version ("v1.36"); the default's when None."""
    b = builder(echo, kubernetes)
    pins, runner = b.pins, b.runner
    runner.echo(
        f"offline build for Kubernetes {pins.kubernetes}, kind {pins['kind']['version']}, {b.goarch} "
        f"(cache: {runner.root})"
    )
    started = time.monotonic()
    core = [p for p in b.steps.values() if not p.component.get("addon")]
    # debootstrap waits on the network and dpkg while Go keeps both cores busy.
    with ThreadPoolExecutor(max_workers=1) as pool:
        rootfs_future = pool.submit(b.result, rootfs_of(pins))
        for planned in core:
            if planned.component.kind == "go":
                b.result(planned.component.name)
        rootfs = rootfs_future.result() / "rootfs"
    check_kubeadm_images(b.binaries(["kubernetes"])["kubernetes"]["kubeadm"], pins)
    archives = [
        b.result(p.component.name) / imagebuild.ARCHIVE for p in core if p.component.kind == "image"
    ]

    (node,) = [p for p in core if p.component.kind == "node"]
    reference = pins.expand(node.component.get("name"))
    if not force_node and image_label(reference) == node.key:
        runner.echo(f"  node: cached ({reference})")
        runner.timings["node"] = 0.0
    else:
        binaries = b.binaries(
            n for n in node.component.sources() if b.steps[n].component.kind == "go"
        )
        work = Path(tempfile.mkdtemp(prefix="node-image-", dir=runner.root))
        try:
            runner.attempt(
                "node",
                node.key,
                work,
                lambda step: nodeimage.assemble_node(
                    step, node.component, pins, rootfs, binaries, archives, node.key
                ),
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
    runner.timings["total"] = time.monotonic() - started
    remove_unplanned_results(runner.root, runner.keep)
    (runner.root / "last-build.json").write_text(
        json.dumps({"node_image": reference, "timings": runner.timings}, indent=1)
    )
    return reference


def build_addon(addon: str, echo=None) -> dict[str, Path]:
    """Build (or reuse) an add-on's images; returns {image reference: its archive}."""
    b = builder(echo)
    images = [
        p.component
        for p in b.steps.values()
        if p.component.get("addon") == addon and p.component.kind == "image"
    ]
    if images:
        b.runner.echo(f"add-on {addon}: {', '.join(b.pins.expand(c.get('name')) for c in images)}")
    return {b.pins.expand(c.get("name")): b.result(c.name) / imagebuild.ARCHIVE for c in images}


def addon_files(addon: str, echo=None) -> list[Path]:
    """The files (e.g. CRDs) an add-on takes from Go modules, fetched (or reused) now."""
    b = builder(echo)
    parts = [
        p.component
        for p in b.steps.values()
        if p.component.get("addon") == addon and p.component.kind == "files"
    ]
    return sorted(f for c in parts for f in (b.result(c.name) / "files").rglob("*") if f.is_file())


def remove_unplanned_results(root: Path, keep: frozenset[str]) -> None:
    """Results no version of the pins plans any more (older pins, removed blocks, another Go):
    the cache would only grow with them."""
    for result in stale_results(root, keep):
        shutil.rmtree(result, ignore_errors=True)


def check_kubeadm_images(kubeadm: Path, pins: Pins) -> None:
    """Every image kubeadm will run must be an image component: kind skips kubeadm's preflight, so
    a missing one would show up only as a control-plane timeout."""
    try:
        out = subprocess.run(
            [kubeadm, "config", "images", "list", "--kubernetes-version", pins.kubernetes],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise KubelabError(
            f"asking kubeadm which images it needs failed: {getattr(e, 'stderr', '') or e}"
        ) from None
    missing = sorted(set(out.split()) - set(pins.images(addons=False).values()))
    if missing:
        raise KubelabError(
            f"kubeadm {pins.kubernetes} needs images that are not components: {', '.join(missing)}",
            f"add an image block for each to {pins.path}",
        )


def listing(kubernetes: str | None = None) -> list[tuple[str, str, str, str]]:
    """(component, kind, what it is, cached?) for `kubelab images build --list`."""
    pins = load(kubernetes=kubernetes)
    runner = StepRunner(cache_dir(), echo=lambda s: None)
    rows = []
    for name, planned in plan(pins).items():
        c = planned.component
        what = (
            pins.expand(c.get("name"))
            if c.kind in ("image", "node")
            else f"{c.get('module', 'clusters/offline/' + str(c.get('wrapper')))} {c.version}".strip()
            if c.kind in ("go", "files")
            else f"Debian {c.get('suite')}, {len(c.get('packages'))} packages"
        )
        if c.kind == "node":
            cached = image_label(what) == planned.key
        else:
            cached = runner.result_dir(name, planned.key).is_dir()
        kind = f"{c.kind} (add-on {c.get('addon')})" if c.get("addon") else c.kind
        rows.append(
            (
                name,
                kind,
                what,
                "cached"
                if cached
                else "to build"
                if not c.get("addon")
                else "built when asked for",
            )
        )
    return rows


def built_binary(component: str, binary: str) -> Path | None:
    """A binary from a finished Go step (e.g. built_binary("etcd", "etcd")), or None."""
    planned = plan()[component]
    path = (
        StepRunner(cache_dir(), echo=lambda s: None).result_dir(component, planned.key)
        / "bin"
        / binary
    )
    return path if path.exists() else None


def built_tool(name: str) -> Path | None:
    """kind or kubectl from a finished build, if there is one."""
    return built_binary({"kind": "kind", "kubectl": "kubernetes"}[name], name)
