"""Which feature gates an API server runs with, read from its own metrics, and what a gate that
is no longer listed means for the version at hand.

    status, text = lab.http_get("/metrics")
    gates = featuregates.read(text)                    # {"RecoverVolumeExpansionFailure": Gate(True, "")}
    on, how = featuregates.state(gates, "RecoverVolumeExpansionFailure", minor=caps.minor(),
                                 alpha=23, beta=32, ga=34)

Since v1.26 every component exports `kubernetes_feature_enabled{name, stage}` (1 or 0; stage
ALPHA, BETA, or empty once GA). A gate disappears a few releases after it went GA, when its
feature is simply always on; before it existed, the feature is off. So the version fills in what
the metric no longer says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubelab.core.errors import KubelabError

LINE = re.compile(
    r'^kubernetes_feature_enabled\{(?P<labels>[^}]*)\}\s+(?P<value>[0-9.eE+-]+)\s*$', re.MULTILINE
)
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Gate:
    enabled: bool
    stage: str  # "ALPHA", "BETA", "DEPRECATED", or "" (GA)

    def describe(self) -> str:
        return f"{'on' if self.enabled else 'off'}, {self.stage.lower() if self.stage else 'GA'}"


def read(metrics_text: str) -> dict[str, Gate]:
    """The feature gates a component's /metrics lists, by name."""
    gates = {}
    for match in LINE.finditer(metrics_text):
        labels = dict(LABEL.findall(match["labels"]))
        if "name" in labels:
            gates[labels["name"]] = Gate(float(match["value"]) == 1, labels.get("stage", ""))
    return gates


def state(
    gates: dict[str, Gate], name: str, minor: int, alpha: int, beta: int | None, ga: int | None
) -> tuple[bool, str]:
    """(is the feature on, how we know) for Kubernetes v1.<minor>: the gate as the component
    reports it when it lists it; otherwise from the feature's history (alpha, beta and GA
    releases): off before it existed, on once GA (its gate since removed). Metrics that list no
    gate at all say nothing about a missing one, so they are refused."""
    if not gates:
        raise KubelabError(
            "no feature gates in the component's /metrics: the absence of a gate would mean nothing",
            "read the metrics with a user allowed to (get --raw /metrics)",
        )
    if name in gates:
        return gates[
            name
        ].enabled, f"feature gate {name} {gates[name].describe()} on this API server"
    if ga is not None and minor >= ga:
        return True, f"{name} is GA since v1.{ga} (no gate listed any more: always on)"
    if minor < alpha:
        return False, f"{name} does not exist before v1.{alpha}"
    default_on = beta is not None and minor >= beta
    return default_on, (
        f"{name} not listed by this API server; {'beta, on' if default_on else 'alpha, off'} "
        f"by default in v1.{minor}"
    )


# What a gate decides for an experiment here.

SLEEP_ZERO = (
    "PodLifecycleSleepActionAllowZero"  # alpha v1.32, beta (on) v1.33, GA v1.34, then removed
)


def _minor(version: str) -> int:
    return int(version.lstrip("v").split(".")[1])


def sleep_zero(gates: dict[str, Gate], version: str) -> tuple[bool, str]:
    """Whether this API server accepts `preStop: {sleep: {seconds: 0}}`, and the reason, from the
    gate it reports (or its absence, read with the version; featuregates.state refuses metrics
    that list no gate at all)."""
    return state(gates, SLEEP_ZERO, minor=_minor(version), alpha=32, beta=33, ga=34)
