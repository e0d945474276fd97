"""The components of the offline build (clusters/offline/pins.toml), read once and checked.

Each block is a component of one step kind ("go", "debian", "image", "node", "files"); see the
file's header for what each kind's fields mean.

A second Kubernetes minor is a variant (`[variants."v1.36".<component>]`): it changes only the
fields it names, so every other component -- and its cached result -- is shared with the default.
`load(kubernetes="v1.36")` gives the pins of that variant.
"""

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from kubelab.core.errors import KubelabError
from kubelab.core.paths import OFFLINE

KINDS = ("go", "debian", "image", "node", "files")


@dataclass(frozen=True)
class Component:
    name: str
    kind: str
    block: dict  # the block as written (its cache key's own inputs)

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
    """The "component:file" references of a block (its `files` and `binaries` maps)."""
    return [
        ref
        for field in ("files", "binaries")
        if isinstance(block.get(field), dict)
        for ref in block[field].values()
    ]


@dataclass(frozen=True)
class Pins:
    raw: dict
    path: Path
    variant: str | None = None  # None: the default Kubernetes version
    variants: tuple[str, ...] = ()  # every variant the file declares

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
        return {
            c.name: self.expand(c.block["name"])
            for c in self.of_kind("image")
            if addons or not c.get("addon")
        }

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
    needs = {
        "go": ("packages",),
        "debian": ("suite", "packages"),
        "image": ("name",),
        "node": ("name", "rootfs"),
        "files": ("module", "version", "paths"),
    }
    for name, block in raw.items():
        kind = block.get("kind") if isinstance(block, dict) else None
        if kind not in KINDS:
            raise KubelabError(
                f"{path}: [{name}] has kind {kind!r}", f"use one of: {', '.join(KINDS)}"
            )
        missing = [f for f in needs[kind] if f not in block]
        if missing:
            raise KubelabError(f"{path}: [{name}] (kind {kind}) lacks {', '.join(missing)}")
        if kind == "go" and not (
            block.get("wrapper") or (block.get("module") and block.get("version"))
        ):
            raise KubelabError(
                f"{path}: [{name}] needs a wrapper module, or a module and its version"
            )
        if kind in ("image", "node") and "latest" in block["name"].rsplit(":", 1)[-1]:
            raise KubelabError(f"{path}: [{name}] uses the tag 'latest'", "pin an exact tag")
        for ref in references(block):
            source = ref.split(":", 1)[0]
            if raw.get(source, {}).get("kind") not in ("go", "files"):
                raise KubelabError(
                    f"{path}: [{name}] takes {ref!r} from {source!r}, which is neither a go nor a files component"
                )


def merged(raw: dict, overrides: dict, path: Path, variant: str) -> dict:
    """The default's components with a variant's fields put over them."""
    unknown = sorted(set(overrides) - set(raw))
    if unknown:
        raise KubelabError(
            f"{path}: variant {variant} changes components that do not exist: {', '.join(unknown)}"
        )
    return {name: {**block, **overrides.get(name, {})} for name, block in raw.items()}


def read(path: Path) -> tuple[dict, dict]:
    """(the default components, {variant: its overrides}), both checked."""
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise KubelabError(f"{path} is not valid TOML: {e}") from None
    variants = raw.pop("variants", {})
    check(raw, path)
    for name, overrides in variants.items():
        if "version" not in overrides.get("kubernetes", {}):
            raise KubelabError(
                f"{path}: variant {name} does not set [variants.\"{name}\".kubernetes] version"
            )
        check(merged(raw, overrides, path, name), path)
    return raw, variants


def minor(version: str) -> str:
    """ "v1.36.5", "1.36" -> "v1.36"."""
    parts = version.strip().lstrip("v").split(".")
    return "v" + ".".join(parts[:2])


@cache
def load(path: Path = OFFLINE / "pins.toml", kubernetes: str | None = None) -> Pins:
    """The pins, of the default Kubernetes version or of the variant `kubernetes` names
    ("v1.36", "1.36" or its exact "v1.36.5"; the default's own version gives the default)."""
    raw, variants = read(path)
    names = tuple(variants)
    if kubernetes is None or minor(kubernetes) == minor(raw["kubernetes"]["version"]):
        chosen = None
    else:
        matches = [n for n in names if minor(n) == minor(kubernetes)]
        if not matches:
            known = ", ".join(
                [
                    f"{raw['kubernetes']['version']} (default)",
                    *(variants[n]["kubernetes"]["version"] for n in names),
                ]
            )
            raise KubelabError(
                f"the offline build has no Kubernetes {kubernetes}",
                f"use one of: {known}, or add a variant to {path}",
            )
        chosen = matches[0]
    pins = Pins(merged(raw, variants[chosen], path, chosen) if chosen else raw, path, chosen, names)
    if (
        kubernetes
        and kubernetes.count(".") == 2
        and kubernetes.lstrip("v") != pins.kubernetes.lstrip("v")
    ):
        raise KubelabError(
            f"the offline build pins Kubernetes {pins.kubernetes}, not {kubernetes}",
            f"ask for {minor(kubernetes)} or {pins.kubernetes}",
        )
    return pins


def every_version(path: Path = OFFLINE / "pins.toml") -> list[Pins]:
    """The default's pins and every variant's."""
    default = load(path)
    return [default, *(load(path, name) for name in default.variants)]
