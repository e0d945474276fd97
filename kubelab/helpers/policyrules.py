"""The packet-filter rules a network plugin writes on a node to enforce NetworkPolicy.

    before = policyrules.read(node)
    lab.apply(deny_policy) ...
    added = policyrules.mentioning(policyrules.read(node) - before, pod_ips)   # the lines for those Pods
    policyrules.engine(policyrules.read(node))   # which enforcement wrote them, from the names it uses

Nothing here assumes one implementation: `read` takes the node's iptables filter table and, when
the node has `nft`, its whole nftables ruleset, as lines with packet counters removed, so that
two readings differ only where rules changed. `engine` names the enforcement from what it finds:
kubelab's offline kindnetd writes iptables chains `KINDNET-NP…` and `KNP-…`
(clusters/offline/go/cmd/kindnetd/policy.go); stock kind's kindnetd (v0.24 and later) enforces
through kube-network-policies, which keeps its rules (and sets of the selected Pods' addresses,
`podips-v4`/`podips-v6`) in an nftables table: `kindnet-network-policies` as kindnetd names it,
`kube-network-policies` when the project runs on its own.
"""

from __future__ import annotations

import re

ENGINES = (
    (
        "kube-network-policies",
        re.compile(r"^table \S+ (kindnet|kube)-network-policies\b"),
        "kube-network-policies (its nftables table), as in stock kind's kindnetd",
    ),
    (
        "kubelab-kindnetd",
        re.compile(r"^:(KINDNET-NP|KNP-)"),
        "kubelab's offline kindnetd (its own iptables chains KINDNET-NP and KNP-*)",
    ),
)

READ = "iptables-save -t filter 2>/dev/null; if command -v nft >/dev/null 2>&1; then nft list ruleset 2>/dev/null; fi; true"


def lines(text: str) -> set[str]:
    """Rule text as a set of lines, without counters ([packets:bytes], `counter packets N bytes M`)
    and comments, so that readings taken at different times compare."""
    found = set()
    for line in text.splitlines():
        line = re.sub(r"\s*\[\d+:\d+\]", "", line)
        line = re.sub(r"counter packets \d+ bytes \d+", "counter", line).strip()
        if line and not line.startswith("#"):
            found.add(line)
    return found


def read(node) -> set[str]:
    """The node's filter rules now (see `lines`)."""
    return lines(node.sh(READ))


def mentioning(rule_lines, addresses) -> set[str]:
    """The lines that name one of the addresses (as a whole address, not a prefix of another)."""
    patterns = [re.compile(r"(?<![\d.:])" + re.escape(a) + r"(?![\d:]|\.\d)") for a in addresses]
    return {line for line in rule_lines if any(p.search(line) for p in patterns)}


def engine(rule_lines) -> tuple[str, str] | None:
    """(key, description) of the enforcement whose names appear in the lines, or None."""
    for key, pattern, description in ENGINES:
        if any(pattern.search(line) for line in rule_lines):
            return key, description
    return None


def expected_engine(images_mode: str) -> str:
    """The engine a kind cluster's kindnetd enforces with, by how the cluster got its images
    (`caps.images`): kubelab's offline build runs kubelab's own kindnetd ("kubelab-kindnetd");
    stock kind (v0.24 and later) runs kind's kindnetd, which embeds kube-network-policies."""
    return "kubelab-kindnetd" if images_mode == "offline" else "kube-network-policies"
