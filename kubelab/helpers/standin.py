"""A stand-in for kube-proxy on one node: NAT rules derived from a Service and its EndpointSlices,
as the API serves them, installed in a chain of the node's own and removed again.

kube-proxy ignores a Service labelled `service.kubernetes.io/service-proxy-name` (the label exists
so that another proxy can implement that Service); `dnat_rules` derives what such a proxy would
write for one of its ports: for each ready endpoint a DNAT rule, picked like kube-proxy picks
(the first with probability 1/n, the next 1/(n-1) of the rest, ...). `installed(node, rules,
seconds)` puts them in the nat table's PREROUTING (traffic from the node's Pods) for the length of
a with-block; the node itself removes them after `seconds` too, even if the notebook dies.
"""

from __future__ import annotations

import shlex
from contextlib import contextmanager

CHAIN = "KUBELAB-STANDIN"


def dnat_rules(service: dict, slices: list[dict], port_name: str = "") -> list[str]:
    """iptables rule specs (without the chain) sending the Service's IPv4 ClusterIP and port
    `port_name` to the ready endpoints its EndpointSlices list for that port."""
    spec = service["spec"]
    port = next(p for p in spec["ports"] if p.get("name", "") == port_name)
    protocol = port.get("protocol", "TCP").lower()
    targets = []
    for piece in slices:
        if piece.get("addressType") != "IPv4":
            continue
        number = next(
            (p["port"] for p in piece.get("ports") or [] if p.get("name", "") == port_name), None
        )
        if number is None:
            continue
        for endpoint in piece.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready", True) is False:
                continue
            targets += [f"{address}:{number}" for address in endpoint["addresses"]]
    targets = sorted(set(targets))
    match = f"-d {spec['clusterIP']}/32 -p {protocol} -m {protocol} --dport {port['port']}"
    rules = []
    for i, target in enumerate(targets):
        left = len(targets) - i
        pick = f" -m statistic --mode random --probability {1 / left:.5f}" if left > 1 else ""
        rules.append(f"{match}{pick} -j DNAT --to-destination {target}")
    return rules


def _removal() -> str:
    return (
        f"iptables -t nat -D PREROUTING -j {CHAIN} 2>/dev/null; "
        f"iptables -t nat -F {CHAIN} 2>/dev/null; iptables -t nat -X {CHAIN} 2>/dev/null; true"
    )


@contextmanager
def installed(node, rules: list[str], seconds: float = 60):
    """The rules in the node's nat table (chain KUBELAB-STANDIN, jumped to first from PREROUTING)
    for the block; removed at its end, and by the node itself after `seconds` at the latest.
    Yields the chain as iptables-save prints it."""
    if not rules or not 0 < seconds <= 300:
        raise ValueError("rules to install, for at most 300 s")
    removal = _removal()
    adds = "; ".join(f"iptables -t nat -A {CHAIN} {rule}" for rule in rules)
    node.sh(
        f"{removal}; iptables -t nat -N {CHAIN} && {adds} && "
        f"iptables -t nat -I PREROUTING 1 -j {CHAIN} && "
        f"(setsid sh -c {shlex.quote(f'sleep {float(seconds)}; {removal}')} "
        ">/dev/null 2>&1 < /dev/null &)"
    )
    try:
        yield [
            line
            for line in node.sh("iptables-save -t nat").splitlines()
            if CHAIN in line and not line.startswith(":")
        ]
    finally:
        node.sh(removal)


def present(node) -> bool:
    """Whether the node's nat table still has the stand-in's chain."""
    return CHAIN in node.sh("iptables-save -t nat")
