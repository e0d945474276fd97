"""What a feature gate decides for an experiment here; the gates themselves, as a component
reports them on /metrics, are kubelab.helpers.featuregates'.

    gates = featuregates.read(lab.kubectl("get --raw /metrics", quiet=True))   # the API server's
    features.sleep_zero(gates, "v1.37.2")   # whether a 0 s preStop sleep is accepted, and why
"""

from __future__ import annotations

from kubelab.helpers import featuregates

SLEEP_ZERO = "PodLifecycleSleepActionAllowZero"   # alpha v1.32, beta (on) v1.33, GA v1.34, then removed


def _minor(version: str) -> int:
    return int(version.lstrip("v").split(".")[1])


def sleep_zero(gates: dict[str, featuregates.Gate], version: str) -> tuple[bool, str]:
    """Whether this API server accepts `preStop: {sleep: {seconds: 0}}`, and the reason, from the
    gate it reports (or its absence, read with the version; featuregates.state refuses metrics
    that list no gate at all)."""
    return featuregates.state(gates, SLEEP_ZERO, minor=_minor(version), alpha=32, beta=33, ga=34)
