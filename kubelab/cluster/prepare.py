"""Everything a run will need, built before it starts (`kubelab prepare`, `kubelab run`, `kubelab
test`, `make test`): the node image of every cluster config it will bring up and the images and
files of every add-on it will install. A notebook declares both in its metadata, so nothing has to
execute to know them:

    "cluster": "default", "extra_clusters": ["dualstack"], "addons": ["traefik"]

and the tests declare theirs in tests/needs.toml. A build that happened inside a notebook would
eat its time budget (Traefik alone compiles for a quarter of an hour on two cores); here it happens
once, with its progress shown, before any budget starts. With stock images nothing is built but
the files add-ons take from Go modules (the Gateway API's CRDs).
"""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from kubelab.core.errors import KubelabError
from kubelab.core.paths import REPO

TEST_NEEDS = REPO / "tests" / "needs.toml"


@dataclass
class Needs:
    configs: set[str] = field(default_factory=set)  # cluster configs (clusters/<name>.yaml)
    addons: set[str] = field(default_factory=set)  # add-ons, with the ones they require

    def __or__(self, other: "Needs") -> "Needs":
        return Needs(self.configs | other.configs, self.addons | other.addons)

    def describe(self) -> str:
        return (
            f"clusters {', '.join(sorted(self.configs)) or '-'}; "
            f"add-ons {', '.join(sorted(self.addons)) or '-'}"
        )


def with_requirements(addons) -> set[str]:
    """The add-ons and, recursively, those they require (addon.toml `requires`)."""
    from kubelab.cluster import addons as addon_registry

    found: set[str] = set()

    def visit(name: str) -> None:
        if name in found:
            return
        found.add(name)
        for required in addon_registry.load(name).spec.get("requires", []):
            visit(required)

    for name in addons:
        visit(name)
    return found


def of_configs(configs) -> Needs:
    """The configs and the add-ons they list (a config's `addons:` are installed as it comes up)."""
    from kubelab.cluster import config_path, load_config

    addons = {
        a for config in configs for a in (load_config(config_path(config)).get("addons") or [])
    }
    return Needs(set(configs), with_requirements(addons))


def of_notebooks(notebooks) -> Needs:
    needs = Needs()
    for nb in notebooks:
        needs = (
            needs
            | of_configs({nb.cluster, *nb.extra_clusters})
            | Needs(addons=with_requirements(nb.addons))
        )
    return needs


def of_tests(path: Path = TEST_NEEDS) -> Needs:
    """What the test suite itself brings up and installs (tests/needs.toml)."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return Needs()
    except tomllib.TOMLDecodeError as e:
        raise KubelabError(
            f"{path} is not valid TOML: {e}",
            "fix the file: `clusters = [...]` and `addons = [...]`",
        ) from None
    return of_configs(set(data.get("clusters", []))) | Needs(
        addons=with_requirements(data.get("addons", []))
    )


def build(needs: Needs, images: str | None = None, echo=print) -> dict[str, float]:
    """Build (or find cached) everything `needs` names, with the build's own progress lines;
    returns the seconds each part took. `images`: auto (default), stock or offline, as for `up`."""
    from kubelab.cluster import images as image_modes
    from kubelab.cluster import config_path, load_config
    from kubelab.cluster.offline.build import addon_files, build as build_node_image, build_addon

    started = time.monotonic()
    timings: dict[str, float] = {}
    say, echo = echo, _QuietWhenCached(echo)
    say(f"kubelab: preparing what the run needs: {needs.describe()}")
    offline_versions: set[str | None] = set()
    offline = False
    for config in sorted(needs.configs):
        version = load_config(config_path(config)).get("kubernetes")
        choice = image_modes.choose(images, kubernetes=version)
        offline = offline or choice.mode == "offline"
        if choice.mode == "offline" and version not in offline_versions:
            offline_versions.add(version)
            part = time.monotonic()
            build_node_image(kubernetes=version, echo=echo)
            timings[f"node image {version or 'default'}"] = time.monotonic() - part
    if not needs.configs:
        offline = image_modes.choose(images).mode == "offline"
    for addon in sorted(needs.addons):
        part = time.monotonic()
        addon_files(addon, echo=echo)  # in both modes: e.g. CRDs come from a Go module either way
        if offline:
            build_addon(addon, echo=echo)
        timings[f"add-on {addon}"] = time.monotonic() - part
    timings["total"] = time.monotonic() - started
    say(f"kubelab: prepared in {timings['total']:.0f} s ({echo.cached} results found cached)")
    return timings


class _QuietWhenCached:
    """The build's lines, less the one per result found cached (a warm run would print dozens):
    those are counted instead. A heading ("add-on traefik: <image>") is shown only before a line
    of real work under it."""

    def __init__(self, echo):
        self.echo, self.cached, self.heading = echo, 0, None

    def __call__(self, line: str) -> None:
        if line.rstrip().endswith(": cached") or ": cached (" in line:
            self.cached += 1
        elif line.startswith(("offline build for ", "add-on ")):
            self.heading = line
        else:
            if self.heading:
                self.echo(self.heading)
                self.heading = None
            self.echo(line)
