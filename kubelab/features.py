"""Feature gates as a component reports them, and what a gate decides for an experiment.

    gates = features.gates(lab.kubectl("get --raw /metrics", quiet=True))   # the API server's
    gates["SomeGate"]         # -> Gate(enabled=True, stage="BETA"); a gate it does not know is absent
    features.sleep_zero(gates, "v1.37.2")   # whether a 0 s preStop sleep is accepted, and why

Every component publishes `kubernetes_feature_enabled{name=..., stage=...} 0|1` on /metrics. A gate
that graduated and was then removed is absent: its behaviour is simply on. A gate not yet added is
absent too, so absence is read together with the version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import KubelabError

_LINE = re.compile(r'^kubernetes_feature_enabled\{([^}]*)\}\s+([0-9.eE+-]+)\s*$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Gate:
    enabled: bool
    stage: str        # "ALPHA", "BETA", "DEPRECATED", or "" for a graduated (GA) gate


def gates(metrics: str) -> dict[str, Gate]:
    """The feature gates in a /metrics text: {name: Gate}."""
    found = {}
    for line in metrics.splitlines():
        if m := _LINE.match(line.strip()):
            labels = dict(_LABEL.findall(m[1]))
            if "name" in labels:
                found[labels["name"]] = Gate(float(m[2]) == 1, labels.get("stage", ""))
    return found


def _minor(version: str) -> int:
    return int(version.lstrip("v").split(".")[1])


SLEEP_ZERO = "PodLifecycleSleepActionAllowZero"   # alpha v1.32, beta (on) v1.33, GA v1.34, then removed


def sleep_zero(found: dict[str, Gate], version: str) -> tuple[bool, str]:
    """Whether this API server accepts `preStop: {sleep: {seconds: 0}}`, and the reason, from the
    gate it reports (or its absence, read with the version)."""
    if not found:
        raise KubelabError("no feature gates in the component's /metrics: the absence of a gate would mean nothing",
                           "read the metrics with a user allowed to (get --raw /metrics)")
    if SLEEP_ZERO in found:
        gate = found[SLEEP_ZERO]
        return gate.enabled, f"gate {SLEEP_ZERO} is {'on' if gate.enabled else 'off'} ({gate.stage or 'GA'})"
    if _minor(version) >= 34:
        return True, f"no gate {SLEEP_ZERO} any more: it graduated in v1.34 and was removed, zero is always allowed"
    return False, f"no gate {SLEEP_ZERO} yet (it came in v1.32): zero is refused"
