"""The components of the offline build (clusters/offline/pins.toml), read once and checked.

Each block is a component of one step kind ("go", "debian", "image", "node"); see the file's
header for what each kind's fields mean.
"""

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import KubelabError
from ..paths import OFFLINE

KINDS = ("go", "debian", "image", "node", "files")


@dataclass(frozen=True)
class Component:
    name: str
    kind: str
    block: dict          # the block as written (its cache key's own inputs)

    def get(self, field: str, default=None):
        return self.block.get(field, default)

    @property
    def version(self) -> str:
        return self.block.get("version", "")

    def sources(self) -> list[str]:
        """Components it takes files from ("kubernetes" in "kubernetes:kube-apiserver")."""
        names = {ref.split(":", 1)[0] for ref in references(self.block)}
        if self.kind == "node":
            names.add(self.block["rootfs"])
        return sorted(names)


def references(block: dict) -> list[str]:
    """The "component:binary" references of a block (its `files` and `binaries` maps)."""
    return [ref for field in ("files", "binaries") if isinstance(block.get(field), dict) for ref in block[field].values()]


@dataclass(frozen=True)
class Pins:
    raw: dict
    path: Path

    def __getitem__(self, section: str) -> dict:
        return self.raw[section]

    @property
    def components(self) -> dict[str, Component]:
        return {name: Component(name, block["kind"], block) for name, block in self.raw.items()}

    def of_kind(self, kind: str) -> list[Component]:
        return [c for c in self.components.values() if c.kind == kind]

    @property
    def kubernetes(self) -> str:
        return self.raw["kubernetes"]["version"]

    def expand(self, text: str) -> str:
        return text.replace("{kubernetes}", self.kubernetes)

    def image(self, component: str) -> str:
        """The reference an image component is published under, e.g. image("pause")."""
        block = self.raw.get(component)
        if not block or block["kind"] not in ("image", "node"):
            raise KubelabError(f"no image component {component!r} in {self.path}")
        return self.expand(block["name"])

    def images(self, addons: bool = True) -> dict[str, str]:
        """{component: reference} of every image component (without add-ons': the ones the node preloads)."""
        return {c.name: self.expand(c.block["name"]) for c in self.of_kind("image") if addons or not c.get("addon")}

    @property
    def node_image(self) -> str:
        """The node image tag, the same repository stock kind pulls from."""
        return self.image("node")

    @property
    def staging_version(self) -> str:
        """k8s.io/<staging module> versions go with Kubernetes v1.X.Y as v0.X.Y."""
        return "v0." + self.kubernetes.split(".", 1)[1]


def check(raw: dict, path: Path) -> None:
    """Every block names a known kind and has what its kind needs; references resolve."""
    needs = {"go": ("packages",), "debian": ("suite", "packages"), "image": ("name",), "node": ("name", "rootfs"),
             "files": ("module", "version", "paths")}
    for name, block in raw.items():
        kind = block.get("kind") if isinstance(block, dict) else None
        if kind not in KINDS:
            raise KubelabError(f"{path}: [{name}] has kind {kind!r}", f"use one of: {', '.join(KINDS)}")
        missing = [f for f in needs[kind] if f not in block]
        if missing:
            raise KubelabError(f"{path}: [{name}] (kind {kind}) lacks {', '.join(missing)}")
        if kind == "go" and not (block.get("wrapper") or (block.get("module") and block.get("version"))):
            raise KubelabError(f"{path}: [{name}] needs a wrapper module, or a module and its version")
        if kind in ("image", "node") and "latest" in block["name"].rsplit(":", 1)[-1]:
            raise KubelabError(f"{path}: [{name}] uses the tag 'latest'", "pin an exact tag")
        for ref in references(block):
            source = ref.split(":", 1)[0]
            if raw.get(source, {}).get("kind") != "go":
                raise KubelabError(f"{path}: [{name}] takes {ref!r} from {source!r}, which is not a go component")


@cache
def load(path: Path = OFFLINE / "pins.toml") -> Pins:
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    check(raw, path)
    return Pins(raw, path)
