"""Timestamps as Kubernetes writes them (RFC 3339), and the time between them.

from kubelab import times
times.parse(pod["status"]["startTime"])              # an aware datetime, UTC
times.parse("2026-01-02T03:04:05.123456789Z")         # any number of fractional digits
times.now_rfc3339()                                  # "2026-01-02T03:04:05.123456Z"
times.intervals([lease_a, lease_b, lease_c])         # [seconds a->b, seconds b->c]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

_RFC3339 = re.compile(
    r"(?P<base>\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2})$"
)


def parse(text: str) -> datetime:
    """An RFC 3339 time ("...Z" or "...+02:00", with or without fractional seconds of any
    length: Kubernetes writes seconds, microseconds or nanoseconds) as an aware datetime in UTC."""
    match = _RFC3339.match(text.strip())
    if not match:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    # datetime keeps microseconds: nanoseconds are cut, shorter fractions padded.
    fraction = (match["fraction"] or "0")[:6].ljust(6, "0")
    zone = match["zone"]
    if zone in ("Z", "z"):
        offset = timezone.utc
    else:
        sign = -1 if zone[0] == "-" else 1
        hours, minutes = int(zone[1:3]), int(zone[-2:])
        offset = timezone(sign * timedelta(hours=hours, minutes=minutes))
    base = datetime.strptime(match["base"].replace("t", "T").replace(" ", "T"), "%Y-%m-%dT%H:%M:%S")
    return base.replace(microsecond=int(fraction), tzinfo=offset).astimezone(timezone.utc)


def now_rfc3339() -> str:
    """The current time as Kubernetes' MicroTime writes it: UTC, microseconds, Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _seconds(value: str | datetime | float | int) -> float:
    if isinstance(value, str):
        value = parse(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value} has no time zone: give aware datetimes or RFC 3339 text")
        return value.timestamp()
    return float(value)


def intervals(times: Iterable[str | datetime | float | int]) -> list[float]:
    """Seconds between consecutive times (RFC 3339 text, aware datetimes or seconds), in the
    order given: n times give n - 1 intervals."""
    seconds = [_seconds(t) for t in times]
    return [round(b - a, 6) for a, b in zip(seconds, seconds[1:])]
