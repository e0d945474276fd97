"""What kube-proxy made of a Service on one node: its iptables NAT rules, parsed.

In iptables mode kube-proxy writes, for each Service port, a chain of jumps in the `nat` table:

    KUBE-SERVICES  -d <clusterIP> --dport <port>  -> KUBE-SVC-<hash>   (KUBE-SVL-<hash> when only
                                                                         node-local endpoints count)
    KUBE-NODEPORTS --dport <nodePort>              -> KUBE-EXT-<hash>   -> KUBE-SVC/SVL-<hash>
    KUBE-SVC-<hash> -m statistic --probability p   -> KUBE-SEP-<hash>   (one per endpoint)
    KUBE-SEP-<hash> -j DNAT --to-destination <podIP:port>

`read(node, namespace, service)` reads `iptables-save -t nat` in the node and returns one `Path` per
Service port: where traffic enters (cluster IP, external IPs, node port) and the endpoints it is
DNATed to, each with the chance iptables picks it. `parse` does the same from saved text (of
ip6tables-save too), and `plot` draws a Path as a picture. `mentions`/`mentions_on` find every rule
of a Service in any table (the filter table's DROP and REJECT rules among them); `read_between`
reads the paths between two looks at a process's state (was kube-proxy stopped while we read?).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

ENTRY_CHAINS = ("KUBE-SERVICES", "KUBE-NODEPORTS")


@dataclass(frozen=True)
class Rule:
    chain: str
    jump: str  # the -j target: a chain name, DNAT, MARK, ...
    options: dict[str, str]  # -d, -s, --dport, --comment, --probability, --to-destination, ...


@dataclass(frozen=True)
class Endpoint:
    address: str  # podIP:port, the DNAT destination
    chain: str  # its KUBE-SEP-<hash> chain
    probability: float  # the chance a new connection that reaches this rule's chain picks it


@dataclass
class Path:
    port: str  # the Service port's name ("" if unnamed)
    chain: str = ""  # KUBE-SVC-… or KUBE-SVL-…
    cluster_ip: str = ""  # "10.96.3.4:80"
    external_ips: list[str] = field(default_factory=list)  # "192.0.2.50:80"
    node_port: str = ""  # "30080"
    endpoints: list[Endpoint] = field(default_factory=list)

    @property
    def addresses(self) -> list[str]:
        return sorted(e.address for e in self.endpoints)

    def shares(self) -> dict[str, float]:
        """The overall share of new connections each endpoint gets: iptables tries the rules in
        order, the first with probability 1/n, the next 1/(n-1) of the rest, and so on."""
        left, shares = 1.0, {}
        for endpoint in self.endpoints:
            shares[endpoint.address] = round(left * endpoint.probability, 6)
            left -= shares[endpoint.address]
        return shares


def rules(saved: str) -> list[Rule]:
    """Every `-A CHAIN ...` line of iptables-save output, as a Rule."""
    parsed = []
    for line in saved.splitlines():
        if not line.startswith("-A "):
            continue
        words = shlex.split(line)
        chain, options, jump, i = words[1], {}, "", 2
        while i < len(words):
            word = words[i]
            negated = word == "!"
            if negated:
                i += 1
                word = words[i]
            if word in ("-j", "--jump"):
                jump = words[i + 1]
                i += 2
            elif word.startswith("-") and i + 1 < len(words) and not words[i + 1].startswith("-"):
                options[("!" if negated else "") + word] = words[i + 1]
                i += 2
            else:
                i += 1  # a flag without a value (e.g. -m's module name was consumed above)
        parsed.append(Rule(chain, jump, options))
    return parsed


def parse(saved: str, namespace: str, service: str) -> dict[str, Path]:
    """The Service's paths in iptables-save text, by port name ({} if kube-proxy made no rule for it)."""
    by_chain: dict[str, list[Rule]] = {}
    for rule in rules(saved):
        by_chain.setdefault(rule.chain, []).append(rule)
    comment = re.compile(
        rf"^{re.escape(namespace)}/{re.escape(service)}(?::(\S+))?(?: (cluster IP|external IP|loadbalancer IP))?$"
    )
    paths: dict[str, Path] = {}
    for entry in ENTRY_CHAINS:
        for rule in by_chain.get(entry, []):
            found = comment.match(rule.options.get("--comment", ""))
            if not found:
                continue
            port = found.group(1) or ""
            path = paths.setdefault(port, Path(port))
            address = (
                rule.options.get('-d', '').removesuffix('/32').removesuffix('/128')
            )  # IPv4 or IPv6 (ip6tables-save)
            destination = f"{address}:{rule.options.get('--dport', '')}"
            if entry == "KUBE-NODEPORTS":
                path.node_port = rule.options.get("--dport", "")
            elif found.group(2) == "cluster IP":
                path.cluster_ip = destination
            elif found.group(2) == "external IP":
                path.external_ips.append(destination)
            _follow(by_chain, rule.jump, path)
    return paths


def _follow(by_chain: dict[str, list[Rule]], chain: str, path: Path) -> None:
    """From a KUBE-EXT/SVC/SVL chain down to the DNAT rules of its endpoints."""
    if chain.startswith("KUBE-EXT-"):
        for rule in by_chain.get(chain, []):
            if rule.jump.startswith(("KUBE-SVC-", "KUBE-SVL-")):
                _follow(by_chain, rule.jump, path)
        return
    if not chain.startswith(("KUBE-SVC-", "KUBE-SVL-")) or path.chain == chain:
        return
    path.chain = chain
    for rule in by_chain.get(chain, []):
        if not rule.jump.startswith("KUBE-SEP-"):
            continue
        dnat = next((r for r in by_chain.get(rule.jump, []) if r.jump == "DNAT"), None)
        if dnat is not None:
            path.endpoints.append(
                Endpoint(
                    dnat.options["--to-destination"],
                    rule.jump,
                    float(rule.options.get("--probability", "1")),
                )
            )


def read(node, namespace: str, service: str) -> dict[str, Path]:
    """The Service's paths as kube-proxy programmed them on `node` (a kubelab Node)."""
    return parse(node.sh("iptables-save -t nat"), namespace, service)


def path(node, namespace: str, service: str, port: str = "") -> Path:
    """One port's path on `node` (`port`: the Service port's name, "" if unnamed); an empty Path
    (no chain, no endpoints) while kube-proxy has written none for it."""
    return read(node, namespace, service).get(port, Path(port))


def mentions(saved: str, namespace: str, service: str) -> list[Rule]:
    """Every rule, in any table of iptables-save text, whose comment names the Service (kube-proxy
    comments each rule it writes with "<namespace>/<service>[:<port>] ..."): its NAT path, and the
    filter table's DROP/REJECT rules for a Service without (local) endpoints."""
    comment = re.compile(rf"^{re.escape(namespace)}/{re.escape(service)}(?=[: ]|$)")
    return [rule for rule in rules(saved) if comment.match(rule.options.get("--comment", ""))]


def mentions_on(node, namespace: str, service: str) -> list[Rule]:
    """`mentions` in a node's whole ruleset (`iptables-save`, every table)."""
    return mentions(node.sh("iptables-save"), namespace, service)


def process_state(node, pid: int) -> str:
    """A process's state on the node, from /proc/<pid>/status: "S (sleeping)", "T (stopped)", ..."""
    return node.sh(f"sed -n 's/^State:[[:space:]]*//p' /proc/{int(pid)}/status").strip()


_BETWEEN = "----kubelab-dataplane----"


def read_between(
    node, pid: int, namespace: str, services
) -> tuple[list[str], dict[str, dict[str, Path]]]:
    """The Services' paths on `node`, read in one shell between two looks at process `pid`'s state
    (kube-proxy's, say): ([state before, state after], {service: {port: Path}}). Both states "T
    (stopped)" mean the reading was made while that process was stopped."""
    state = f"sed -n 's/^State:[[:space:]]*//p' /proc/{int(pid)}/status"
    before, saved, after = node.sh(
        f"{state}; echo {_BETWEEN}; iptables-save -t nat; echo {_BETWEEN}; {state}"
    ).split(_BETWEEN)
    return [before.strip(), after.strip()], {
        service: parse(saved, namespace, service) for service in services
    }


def plot(path: Path, title: str, ax=None):
    """The path as a picture: entry addresses -> the service chain -> endpoint chains -> pod
    addresses, each endpoint arrow labelled with its share of new connections."""
    import matplotlib.pyplot as plt

    entries = [f"ClusterIP {path.cluster_ip}"] if path.cluster_ip else []
    entries += [f"external IP {a}" for a in path.external_ips] + (
        [f"NodePort {path.node_port}"] if path.node_port else []
    )
    shares = path.shares()
    rows = max(len(entries), len(path.endpoints), 1)
    if ax is None:
        _, ax = plt.subplots(figsize=(12, 0.9 + 0.6 * rows))
    ax.set_xlim(0, 4.4)
    ax.set_ylim(-0.5, rows - 0.5)
    ax.axis("off")
    box = {"boxstyle": "round,pad=0.3", "facecolor": "#eef3fb", "edgecolor": "#4a6fa5"}
    middle = (rows - 1) / 2
    arrow = {"arrowstyle": "->", "color": "#555"}

    def y(i, n):
        return middle + (n - 1) / 2 - i

    for i, text in enumerate(entries):
        ax.annotate("", xy=(1.08, middle), xytext=(0.95, y(i, len(entries))), arrowprops=arrow)
        ax.text(0.5, y(i, len(entries)), text, ha="center", va="center", fontsize=9, bbox=box)
    ax.text(1.6, middle, path.chain or "(no chain)", ha="center", va="center", fontsize=9, bbox=box)
    for i, endpoint in enumerate(path.endpoints):
        row = y(i, len(path.endpoints))
        ax.annotate("", xy=(2.27, row), xytext=(2.12, middle), arrowprops=arrow)
        ax.text(
            2.2,
            row + 0.18,
            f"{shares[endpoint.address]:.0%}",
            fontsize=8,
            ha="center",
            color="#444",
        )
        ax.text(2.75, row, endpoint.chain, ha="center", va="center", fontsize=8, bbox=box)
        ax.annotate("", xy=(3.42, row), xytext=(3.24, row), arrowprops=arrow)
        ax.text(3.33, row + 0.18, "DNAT", fontsize=7, ha="center", color="#444")
        ax.text(
            3.85,
            row,
            endpoint.address,
            ha="center",
            va="center",
            fontsize=9,
            bbox={**box, "facecolor": "#eaf7ea"},
        )
    ax.set_title(title, fontsize=10)
    return ax
