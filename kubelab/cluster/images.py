"""Which node image a cluster uses: stock kind images, or kubelab's offline build.

On a connected machine kind's own default node image is pulled as usual. Where no registry can
be reached, kubelab builds the same image names from Go modules and Debian packages
(kubelab.cluster.offline). `--images` / KUBELAB_IMAGES chooses explicitly: auto (default), stock, offline.
A cluster config may name another Kubernetes minor (`kubernetes: v1.36`): stock kind then runs
`kindest/node:<that version>`, and the offline build makes that variant of the pins.
"""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from kubelab.core.errors import KubelabError
from kubelab.cluster.host import registry_reachability
from kubelab.cluster.offline.pins import load as load_pins

MODES = ("auto", "stock", "offline")


@dataclass(frozen=True)
class ImageChoice:
    mode: str  # "stock" or "offline"
    node_image: str | None  # None: kind's own default
    reason: str
    kubernetes: str | None = None  # a variant's version ("v1.36"); None: the pinned default

    def describe(self) -> str:
        image = self.node_image or f"kind {load_pins()['kind']['version']}'s default node image"
        return f"images: {self.mode} ({image}), because {self.reason}"


def choose(mode: str | None = None, kubernetes: str | None = None) -> ImageChoice:
    """`kubernetes`: the version a cluster config names ("v1.36"), None for the pinned default."""
    mode = mode or os.environ.get("KUBELAB_IMAGES") or "auto"
    if mode not in MODES:
        raise KubelabError(
            f"unknown image mode {mode!r}",
            f"use one of: {', '.join(MODES)} (--images or KUBELAB_IMAGES)",
        )
    pins = load_pins(kubernetes=kubernetes)
    variant = pins.variant
    # stock kind: its own default image, or the same repository at the variant's version
    stock_image = f"{pins['kind']['node_image']}:{pins.kubernetes}" if variant else None
    if mode == "offline":
        return ImageChoice("offline", pins.node_image, "it was asked for", variant)
    if mode == "stock":
        return ImageChoice("stock", stock_image, "it was asked for", variant)
    reach = registry_reachability()
    if reach.reachable:
        return ImageChoice(
            "stock", stock_image, f"container registries can be reached ({reach.reason})", variant
        )
    return ImageChoice(
        "offline", pins.node_image, f"no container registry can be reached: {reach.reason}", variant
    )


def ensure_node_image(choice: ImageChoice) -> None:
    """Build the offline images if that is the choice (cached: a no-op when up to date)."""
    if choice.mode == "offline":
        from kubelab.cluster.offline.build import build

        build(kubernetes=choice.kubernetes)


def tool(name: str, choice: ImageChoice) -> Path:
    """kind or kubectl: the pinned build in offline mode, else $KUBELAB_<NAME> or PATH."""
    env = os.environ.get(f"KUBELAB_{name.upper()}")
    if env:
        return Path(env)
    if choice.mode == "offline":
        from kubelab.cluster.offline.build import built_tool

        path = built_tool(name)
        if path:
            return path
    found = shutil.which(name)
    if found:
        return Path(found)
    version = load_pins()["kind"]["version"]
    fixes = {
        "kind": f"conda install -c conda-forge kind, or: go install sigs.k8s.io/kind@{version}",
        "kubectl": "conda install -c conda-forge kubernetes-client, or see https://kubernetes.io/docs/tasks/tools/",
    }
    raise KubelabError(f"{name} is not installed (not on PATH)", fixes.get(name))


def mode_of(cluster) -> str:
    """How a cluster got its images: "offline" (built here and preloaded, kubelab's record says so)
    or "stock" (pulled as usual; also any cluster kubelab did not create)."""
    record = cluster.record() if hasattr(cluster, "record") else None
    return record.mode if record else "stock"
