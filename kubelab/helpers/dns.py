"""Cluster DNS as a notebook reads it: `dig` answers and the CoreDNS Corefile, parsed.

records = dns.answers(lab.exec("dns", "dig +noall +answer web.ns.svc.cluster.local"))
[(r.name, r.ttl, r.type, r.data) for r in records]   # [("web.ns.svc.cluster.local.", 30, "A", "10.96.3.4")]
dns.kubernetes_settings(corefile)                     # {"ttl": 30, "pods": "insecure", "cache_disabled": [...]}
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Record:
    name: str
    ttl: int
    type: str  # A, AAAA, CNAME, SRV, ...
    data: str  # the address, the target name, or "priority weight port target" for SRV


def answers(dig_output: str) -> list[Record]:
    """The answer records of `dig +noall +answer` output (comments and blank lines skipped)."""
    records = []
    for line in dig_output.splitlines():
        parts = line.split(None, 4)
        if len(parts) == 5 and not line.startswith(";") and parts[1].isdigit() and parts[2] == "IN":
            records.append(Record(parts[0], int(parts[1]), parts[3], parts[4].strip()))
    return records


def kubernetes_settings(corefile: str) -> dict:
    """What the Corefile says about cluster names: the kubernetes plugin's `ttl` (5, its default,
    when unset) and `pods` mode, and which cache kinds are disabled for cluster.local."""
    block = re.search(r"kubernetes\s+cluster\.local[^{]*\{(.*?)\}", corefile, re.S)
    body = block.group(1) if block else ""
    ttl = re.search(r"^\s*ttl\s+(\d+)", body, re.M)
    pods = re.search(r"^\s*pods\s+(\S+)", body, re.M)
    disabled = re.findall(r"^\s*disable\s+(success|denial)\s+[^\n]*cluster\.local", corefile, re.M)
    cache = re.search(r"^\s*cache\s+(\d+)", corefile, re.M)
    return {
        "ttl": int(ttl.group(1)) if ttl else 5,
        "pods": pods.group(1) if pods else "disabled",
        "cache_seconds": int(cache.group(1)) if cache else 0,
        "cache_disabled": sorted(disabled),
    }


def caching(settings: dict) -> str:
    """What a Corefile's settings (kubernetes_settings) mean for cached answers to cluster names,
    in one sentence: the notebook's answer follows the Corefile it read, not what Corefiles usually say."""
    ttl = settings["ttl"]
    if settings["cache_disabled"] == ["denial", "success"]:
        return (
            f"CoreDNS does not cache cluster names (its cache is disabled for cluster.local): every answer "
            f"comes fresh from its watch, with a TTL of {ttl} s for caches downstream"
        )
    if settings["cache_seconds"]:
        kept = [kind for kind in ("success", "denial") if kind not in settings["cache_disabled"]]
        return (
            f"CoreDNS caches {' and '.join(kept)} answers for cluster names for up to {settings['cache_seconds']} s, "
            f"and hands them out with a TTL of at most {ttl} s"
        )
    return f"CoreDNS has no cache plugin: every answer comes fresh from its watch, with a TTL of {ttl} s"


def cache_covers(corefile: str, name: str, kind: str = "success") -> bool:
    """Whether CoreDNS's `cache` plugin keeps `kind` (success or denial) answers for `name`: the
    Corefile has a cache plugin, and no `disable <kind> <zones...>` line lists a zone the name lies in.
    A PTR name such as 222.103.96.10.in-addr.arpa. is outside `disable ... cluster.local`."""
    if not re.search(r"^\s*cache(\s|$)", corefile, re.M):
        return False
    fqdn = name.rstrip(".").lower()
    for zones in re.findall(rf"^\s*disable\s+{kind}\s+([^\n]*)", corefile, re.M):
        for zone in zones.split():
            zone = zone.rstrip(".").lower()
            if fqdn == zone or fqdn.endswith("." + zone):
                return False
    return True
