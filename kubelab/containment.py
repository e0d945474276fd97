"""Nothing a cluster sends leaves this machine (clusters with kubelab's offline images).

A Pod's packet to an address no rule on its node claims (a ClusterIP kube-proxy has not synced
yet, or while a notebook freezes kube-proxy) is routed by the node to its default gateway, the
host, which forwards it and Docker masquerades it out of the machine. With the offline images a
cluster has nothing to fetch from anywhere, so kubelab adds one rule per address family to
Docker's DOCKER-USER chain (the chain Docker keeps for its users' rules and jumps to first):

    -s <kind network> ! -d <kind network> -j REJECT    (comment: kubelab-containment)

Connections from the clusters to anywhere but the kind network itself are refused at once; what
they send to this host's own addresses is not forwarded, so this rule does not see it. kubelab
inserts the rule when it is missing and removes nothing: not a user's rules, and not its own (it
lasts until the host's firewall is reset; `containment.remove()` takes it out). Clusters with
stock images (a connected laptop) are left alone: their nodes pull images from registries.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
from dataclasses import dataclass

from .errors import KubelabError

CHAIN = "DOCKER-USER"
COMMENT = "kubelab-containment"


def network() -> str:
    """The Docker network kind puts every cluster's nodes on."""
    return os.environ.get("KIND_EXPERIMENTAL_DOCKER_NETWORK") or "kind"


def subnets(name: str | None = None) -> list[str]:
    """The network's subnets (IPv4 and, where Docker gave it one, IPv6)."""
    name = name or network()
    result = subprocess.run(["docker", "network", "inspect", name, "-f", "{{json .IPAM.Config}}"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise KubelabError(f"reading Docker network {name!r} failed: {result.stderr.strip()}",
                           "bring a cluster up first (kind creates the network)")
    return [entry["Subnet"] for entry in json.loads(result.stdout or "[]") or [] if entry.get("Subnet")]


def _tool(subnet: str) -> str:
    return "ip6tables" if ipaddress.ip_network(subnet).version == 6 else "iptables"


def _chain(tool: str) -> str:
    """DOCKER-USER where Docker manages this family's firewall; else FORWARD (Docker without
    ip6tables management leaves IPv6 forwarding to the host's own chain)."""
    has_user_chain = subprocess.run([tool, "-w", "-n", "-L", CHAIN], capture_output=True).returncode == 0
    return CHAIN if has_user_chain else "FORWARD"


def _rule(subnet: str) -> list[str]:
    return ["-s", subnet, "!", "-d", subnet, "-m", "comment", "--comment", COMMENT, "-j", "REJECT"]


def ensure(name: str | None = None) -> list[str]:
    """Insert the rule for each of the network's subnets unless it is there; return the subnets."""
    found = subnets(name)
    for subnet in found:
        tool = _tool(subnet)
        if not shutil.which(tool):
            raise KubelabError(f"{tool} is missing: kubelab cannot keep cluster traffic on this machine",
                               "install iptables (it comes with Docker Engine), or use stock images (--images stock)")
        chain = _chain(tool)
        if subprocess.run([tool, "-w", "-C", chain, *_rule(subnet)], capture_output=True).returncode == 0:
            continue
        result = subprocess.run([tool, "-w", "-I", chain, "1", *_rule(subnet)], capture_output=True, text=True)
        if result.returncode != 0:
            raise KubelabError(f"adding the rule that keeps cluster traffic on this machine failed: {tool}: {result.stderr.strip()}",
                               "it needs root (the offline build does too); run kubelab as root, or use stock images")
    return found


def remove(name: str | None = None) -> None:
    """Take kubelab's rule out again (every copy of it), nothing else."""
    for subnet in subnets(name):
        tool = _tool(subnet)
        chain = _chain(tool)
        while subprocess.run([tool, "-w", "-D", chain, *_rule(subnet)], capture_output=True).returncode == 0:
            pass


@dataclass(frozen=True)
class Rule:
    subnet: str
    chain: str
    packets: int


def rules(name: str | None = None) -> list[Rule]:
    """kubelab's rules as the firewall has them, with their packet counters (none: not present)."""
    found = []
    for subnet in subnets(name):
        tool = _tool(subnet)
        chain = _chain(tool)
        out = subprocess.run([tool, "-w", "-n", "-v", "-x", "-L", chain], capture_output=True, text=True).stdout
        for line in out.splitlines():
            fields = line.split()
            if COMMENT in line and "REJECT" in fields and subnet in fields:
                found.append(Rule(subnet, chain, int(fields[0])))
    return found
