"""The pinned versions of the offline build (clusters/offline/pins.toml), read once."""

import tomllib
from dataclasses import dataclass
from functools import cache

from ..paths import OFFLINE


@dataclass(frozen=True)
class Pins:
    raw: dict

    def __getitem__(self, section: str) -> dict:
        return self.raw[section]

    @property
    def kubernetes(self) -> str:
        return self.raw["kubernetes"]["version"]

    @property
    def node_image(self) -> str:
        """The node image tag, the same repository stock kind pulls from."""
        return f"{self.raw['kind']['node_image']}:{self.kubernetes}"

    @property
    def staging_version(self) -> str:
        """k8s.io/<staging module> versions go with Kubernetes v1.X.Y as v0.X.Y."""
        return "v0." + self.kubernetes.split(".", 1)[1]


@cache
def load() -> Pins:
    with open(OFFLINE / "pins.toml", "rb") as f:
        return Pins(tomllib.load(f))
