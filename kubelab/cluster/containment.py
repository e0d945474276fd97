"""Nothing a cluster sends leaves this machine (clusters with kubelab's offline images).

A Pod's packet to an address no rule on its node claims (a ClusterIP kube-proxy has not synced
yet, or while a notebook freezes kube-proxy) is routed by the node to its default gateway, the
host, which forwards it and Docker masquerades it out of the machine. With the offline images a
cluster has nothing to fetch from anywhere, so kubelab adds one rule per address family to
Docker's DOCKER-USER chain (the chain Docker keeps for its users' rules and jumps to first):

    -i <kind bridge> ! -o <kind bridge> -j REJECT    (comment: kubelab-containment)

A packet the host would route from the kind network to any other interface is refused at once.
Traffic between nodes is bridged, not routed, and stays allowed whatever its addresses (a node
sends Pod-range packets to another node: they cross the bridge too); what the clusters send to
this host's own addresses is not forwarded, so this rule does not see it.

Name lookups need an answer, not a refusal: Docker's DNS inside each node forwards names it does
not know (anything outside the cluster and the kind network) to this machine's resolvers, from the
node, and when that fails it does not answer at all, so every lookup of an outside name would hang
for its whole timeout. So DNS queries from the kind network to those resolvers are redirected (a
DNAT rule in the nat table's PREROUTING) to a responder on this host, on the network's gateway
address: CoreDNS from the offline build, in a container `kubelab-dns` (host network, restarted
with Docker), that answers every name NXDOMAIN, as the internet does for a name that does not
exist. Nothing leaves, and a lookup fails at once.

kubelab inserts what is missing and removes nothing: not a user's rules, and not its own (they
last until the host's firewall is reset; `containment.remove()` takes them out). Clusters with
stock images (a connected laptop) are left alone: their nodes pull images from registries.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
from dataclasses import dataclass

from kubelab.core.errors import KubelabError

CHAIN = "DOCKER-USER"
COMMENT = "kubelab-containment"


def network() -> str:
    """The Docker network kind puts every cluster's nodes on."""
    return os.environ.get("KIND_EXPERIMENTAL_DOCKER_NETWORK") or "kind"


def _ipam(name: str | None) -> list[dict]:
    """The network's address configuration: one entry per subnet, with its gateway where it has one."""
    name = name or network()
    result = subprocess.run(
        ["docker", "network", "inspect", name, "-f", "{{json .IPAM.Config}}"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise KubelabError(
            f"reading Docker network {name!r} failed: {result.stderr.strip()}",
            "bring a cluster up first (kind creates the network)",
        )
    return json.loads(result.stdout or "[]") or []


def subnets(name: str | None = None) -> list[str]:
    """The network's subnets (IPv4 and, where Docker gave it one, IPv6)."""
    return [entry["Subnet"] for entry in _ipam(name) if entry.get("Subnet")]


def _tools(subnets: list[str]) -> list[str]:
    """The firewall tools of the address families these subnets are in."""
    return sorted({_tool(subnet) for subnet in subnets})


def _tool(subnet: str) -> str:
    return "ip6tables" if ipaddress.ip_network(subnet).version == 6 else "iptables"


def _chain(tool: str) -> str:
    """DOCKER-USER where Docker manages this family's firewall; else FORWARD (Docker without
    ip6tables management leaves IPv6 forwarding to the host's own chain)."""
    has_user_chain = (
        subprocess.run([tool, "-w", "-n", "-L", CHAIN], capture_output=True).returncode == 0
    )
    return CHAIN if has_user_chain else "FORWARD"


def bridge(name: str | None = None) -> str:
    """The network's bridge interface on this host (Docker names it br-<the network's ID>)."""
    name = name or network()
    out = subprocess.run(
        [
            "docker",
            "network",
            "inspect",
            name,
            "-f",
            '{{.Id}} {{index .Options "com.docker.network.bridge.name"}}',
        ],
        capture_output=True,
        text=True,
    ).stdout.split()
    if not out:
        raise KubelabError(
            f"Docker network {name!r} not found",
            "bring a cluster up first (kind creates the network)",
        )
    return out[1] if len(out) > 1 and out[1] != "<no" else f"br-{out[0][:12]}"


def _rule(interface: str) -> list[str]:
    return [
        "-i",
        interface,
        "!",
        "-o",
        interface,
        "-m",
        "comment",
        "--comment",
        COMMENT,
        "-j",
        "REJECT",
    ]


def resolvers() -> list[str]:
    """The IPv4 resolvers Docker's DNS forwards to: this host's, or Docker's fallback when it has
    only loopback ones (a loopback resolver cannot be reached from a container)."""
    found = []
    try:
        for line in open("/etc/resolv.conf"):
            fields = line.split()
            if len(fields) >= 2 and fields[0] == "nameserver":
                address = ipaddress.ip_address(fields[1].split("%")[0])
                if address.version == 4 and not address.is_loopback:
                    found.append(str(address))
    except OSError:
        pass
    return found or ["8.8.8.8", "8.8.4.4"]


def _dns_rules(interface: str, gateway: str) -> list[list[str]]:
    return [
        [
            "-i",
            interface,
            "-d",
            resolver,
            "-p",
            proto,
            "--dport",
            "53",
            "-m",
            "comment",
            "--comment",
            COMMENT,
            "-j",
            "DNAT",
            "--to-destination",
            f"{gateway}:53",
        ]
        for resolver in resolvers()
        for proto in ("udp", "tcp")
    ]


def _insert(tool: str, table: str, chain: str, rule: list[str]) -> None:
    if (
        subprocess.run(
            [tool, "-w", "-t", table, "-C", chain, *rule], capture_output=True
        ).returncode
        == 0
    ):
        return
    result = subprocess.run(
        [tool, "-w", "-t", table, "-I", chain, "1", *rule], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise KubelabError(
            f"adding a rule that keeps cluster traffic on this machine failed: {tool}: {result.stderr.strip()}",
            "it needs root (the offline build does too); run kubelab as root, or use stock images",
        )


def ensure(name: str | None = None) -> list[str]:
    """Insert the rules for each of the network's subnets unless they are there, and start the DNS
    responder unless it runs; return the subnets."""
    ipam, interface = _ipam(name), bridge(name)
    found = [entry["Subnet"] for entry in ipam if entry.get("Subnet")]
    for tool in _tools(found):
        if not shutil.which(tool):
            raise KubelabError(
                f"{tool} is missing: kubelab cannot keep cluster traffic on this machine",
                "install iptables (it comes with Docker Engine), or use stock images (--images stock)",
            )
        _insert(tool, "filter", _chain(tool), _rule(interface))
    gateway = _gateway_v4(ipam)
    if gateway:
        ensure_responder(gateway)
        for rule in _dns_rules(interface, gateway):
            _insert("iptables", "nat", "PREROUTING", rule)
    return found


def remove(name: str | None = None) -> None:
    """Take kubelab's rules and its DNS responder out again (every copy of them), nothing else."""
    ipam, interface = _ipam(name), bridge(name)
    gateway = _gateway_v4(ipam)
    for tool in _tools([entry["Subnet"] for entry in ipam if entry.get("Subnet")]):
        rules = [("filter", _chain(tool), _rule(interface))]
        if tool == "iptables" and gateway:
            rules += [("nat", "PREROUTING", rule) for rule in _dns_rules(interface, gateway)]
        for table, chain, rule in rules:
            while (
                subprocess.run(
                    [tool, "-w", "-t", table, "-D", chain, *rule], capture_output=True
                ).returncode
                == 0
            ):
                pass
    subprocess.run(["docker", "rm", "-f", RESPONDER], capture_output=True)


def _gateway_v4(ipam: list[dict]) -> str | None:
    """The network's IPv4 gateway: this host's address on it."""
    return next(
        (
            entry["Gateway"]
            for entry in ipam
            if entry.get("Gateway") and ipaddress.ip_address(entry["Gateway"]).version == 4
        ),
        None,
    )


RESPONDER = "kubelab-dns"
# Every name: no such name. (CoreDNS's template plugin; `bind` keeps it off this host's other addresses.)
COREFILE = """.:53 {{
    bind {gateway}
    template ANY ANY {{
        rcode NXDOMAIN
    }}
}}
"""


def ensure_responder(gateway: str) -> None:
    """The DNS responder on `gateway`:53 (see the module's docstring), started unless it runs there."""
    from kubelab.cluster.offline.build import builder
    from kubelab.cluster.offline.imagebuild import ARCHIVE
    from kubelab.core.paths import state_dir

    state = subprocess.run(
        [
            "docker",
            "inspect",
            "-f",
            "{{.State.Running}} {{index .Config.Labels \"kubelab.gateway\"}}",
            RESPONDER,
        ],
        capture_output=True,
        text=True,
    ).stdout.split()
    if state == ["true", gateway]:
        return
    subprocess.run(["docker", "rm", "-f", RESPONDER], capture_output=True)
    b = builder(echo=lambda line: None)
    image = b.pins.image("coredns-image")
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode != 0:
        _docker(
            ["load", "-i", str(b.result("coredns-image") / ARCHIVE)],
            "loading the CoreDNS image into Docker",
        )
    corefile = state_dir() / "dns" / "Corefile"
    corefile.parent.mkdir(parents=True, exist_ok=True)
    corefile.write_text(COREFILE.format(gateway=gateway))
    _docker(
        [
            "run",
            "-d",
            "--name",
            RESPONDER,
            "--restart",
            "always",
            "--network",
            "host",
            "--label",
            f"kubelab.gateway={gateway}",
            "-v",
            f"{corefile}:/Corefile:ro",
            image,
            "-conf",
            "/Corefile",
        ],
        "starting the DNS responder for the kind network",
    )


def _docker(args: list[str], doing: str) -> None:
    result = subprocess.run(["docker", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise KubelabError(
            f"{doing} failed: {result.stderr.strip()[-400:]}", "run 'kubelab doctor'"
        )


@dataclass(frozen=True)
class Rule:
    tool: str  # iptables or ip6tables
    chain: str
    packets: int


def rules(name: str | None = None, table: str = "filter") -> list[Rule]:
    """kubelab's rules in a table as the firewall has them, with their packet counters: the REJECT
    rules (filter, one per address family of the network), or the DNS redirections (nat)."""
    found, interface = [], bridge(name)
    for tool in _tools(subnets(name)):
        if table == "nat" and tool != "iptables":
            continue
        chain = _chain(tool) if table == "filter" else "PREROUTING"
        out = subprocess.run(
            [tool, "-w", "-t", table, "-n", "-v", "-x", "-L", chain], capture_output=True, text=True
        ).stdout
        for line in out.splitlines():
            fields = line.split()
            if COMMENT in line and ("REJECT" in fields or "DNAT" in fields) and interface in fields:
                found.append(Rule(tool, chain, int(fields[0])))
    return found
