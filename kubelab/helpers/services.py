"""Services as notebook 05 reads them: a Service's EndpointSlices and the addresses they list,
what a client Pod gets from a URL, Pods one per node, topology hints and the Events that withdraw
them, and the small judgements the notebook makes about each.

    slices = services.slices_of(lab, "web")            # by the label kubernetes.io/service-name
    services.addresses(slices)                          # every endpoint's addresses, sorted
    services.managed_by(slices[0])                      # "endpointslice-controller.k8s.io"
    services.ask(lab, "client-a", "http://web/hostname")   # what curl got ("" when nothing did)
    services.ask_many(lab, "client-a", "http://named/hostname", 40)   # a Counter of the answers
    services.one_per_node(lab, "app=web", nodes)       # {node: Pod} once one is ready on each
    services.hints(lab, "zoned")                       # {address: (zone, [zones hinted])}
    services.rules_on(lab, nodes, "zoned")             # {node: kube-proxy's endpoints there}
"""

from __future__ import annotations

import json
import time
from collections import Counter

from kubelab.core.readiness import is_ready
from kubelab.helpers import dataplane, dns, wire

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
MIRROR = "kubernetes.io/config.mirror"


# -- EndpointSlices ------------------------------------------------------------------------------


def slices_of(lab, service: str, namespace: str | None = None) -> list[dict]:
    """A Service's EndpointSlices, found by their label kubernetes.io/service-name."""
    return lab.list("endpointslices", selector=f"{SERVICE_NAME}={service}", namespace=namespace)


def addresses(slices: list[dict]) -> list[str]:
    """Every address of every endpoint in the slices, sorted."""
    return sorted(a for s in slices for e in s.get("endpoints") or [] for a in e["addresses"])


def endpoint_count(slices: list[dict], ready: bool = False) -> int:
    """How many endpoints the slices hold (with ready=True: those whose condition ready is true)."""
    return sum(
        1
        for s in slices
        for e in s.get("endpoints") or []
        if not ready or (e.get("conditions") or {}).get("ready")
    )


def managed_by(slice_: dict) -> str | None:
    """The slice's endpointslice.kubernetes.io/managed-by label: who writes it."""
    return (slice_["metadata"].get("labels") or {}).get(MANAGED_BY)


def target_ports(slices: list[dict]) -> dict[str, int]:
    """Each endpoint's Pod name -> the port number of its slice (a named targetPort, resolved)."""
    return {
        e["targetRef"]["name"]: s["ports"][0]["port"]
        for s in slices
        for e in s.get("endpoints") or []
    }


def by_manager(slices: list[dict]) -> dict[str, list[tuple]]:
    """The slices by manager: managed-by -> [(name, resourceVersion, addresses, ports)]."""
    found: dict[str, list[tuple]] = {}
    for s in slices:
        row = (
            s["metadata"]["name"],
            s["metadata"]["resourceVersion"],
            addresses([s]),
            s.get("ports"),
        )
        found.setdefault(managed_by(s), []).append(row)
    return found


def legacy_ips(kubectl_json: str) -> list[str]:
    """The addresses in `kubectl get endpoints NAME -o json`'s output, sorted."""
    subsets = json.loads(kubectl_json).get("subsets") or []
    return sorted(a["ip"] for subset in subsets for a in subset.get("addresses") or [])


# -- clients and servers -------------------------------------------------------------------------


def ask(lab, client: str, url: str, seconds: float = 2) -> str:
    """What the client Pod got from the URL with curl ("" when nothing answered)."""
    out = lab.exec(client, f"curl -s -g --max-time {seconds} {url}", check=False)
    return out.strip() if out.ok else ""


def ask_many(lab, client: str, url: str, times: int) -> Counter:
    """The answers of `times` requests from the client Pod to the URL, counted."""
    loop = f"for i in $(seq {times}); do curl -s --max-time 2 {url}; echo; done"
    return Counter(lab.exec(client, loop).split())


def one_per_node(lab, selector: str, nodes) -> dict[str, dict] | None:
    """The live Pods of the selector by node name, once exactly one is ready on each of the nodes
    (names or Node handles) and no other is alive; else None."""
    names = {getattr(n, "name", n) for n in nodes}
    pods = lab.list("pods", selector=selector)
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    by_node = {p["spec"]["nodeName"]: p for p in live if is_ready(p)}
    return by_node if len(live) == len(names) and set(by_node) == names else None


def wait_one_per_node(lab, selector: str, nodes, what: str, timeout: float = 60) -> dict:
    """Wait for one_per_node: `what`, one ready on each node and no other alive; returns them."""
    return lab.wait_for(
        f"{what}, one per node",
        lambda: one_per_node(lab, selector, nodes),
        timeout=timeout,
        status=pod_names,
    )


def received(lab, client: str, server: str, url: str, parse, namespace: str | None = None):
    """What wire's recorder in the Pod `server` read from one request of the client Pod to the
    URL, parsed (wire.http_host, wire.tls_server_name)."""
    wire.clear(lab, server, namespace=namespace)
    lab.exec(client, f"curl -sk --max-time 2 {url}", check=False)
    return lab.wait_for(
        f"the server's record of {url}",
        lambda: [parse(c) for c in wire.captures(lab, server, namespace=namespace)],
        done=lambda got: len(got) == 1 and got[0],
        timeout=15,
    )[0]


def pod_names(by_node: dict[str, dict] | None) -> str:
    """The Pods of one_per_node, for a wait's progress line."""
    return "not yet" if not by_node else ", ".join(p["metadata"]["name"] for p in by_node.values())


def seconds_until_resolves(lab, client: str, service: str, manifest: str) -> float:
    """Apply the Service's manifest, then ask the client Pod's dig for its name every 0.1 s:
    the seconds from the apply until it resolves."""
    started = time.monotonic()
    lab.apply(manifest, quiet=True, name=service)
    fqdn = f"{service}.{lab.namespace}.svc.cluster.local"
    lab.wait_for(
        f"{service} to resolve",
        lambda: lab.exec(client, f"dig +short {fqdn}").split(),
        interval=0.1,
        timeout=60,
    )
    return round(time.monotonic() - started, 2)


def dig(lab, client: str, query: str, server: str | None = None) -> list[dns.Record]:
    """The records of `dig +noall +answer QUERY` in the client Pod (asking `server` if given)."""
    at = f"@{server} " if server else ""
    return dns.answers(lab.exec(client, f"dig {at}+noall +answer {query}"))


def client_ip_seen(node, base_url: str, seconds: float = 3) -> str:
    """The caller's address as netexec's /clientip under base_url saw it, asked with curl on the
    node ("no-answer" when nothing answered)."""
    url = f"{base_url}/clientip"
    answer = node.sh(f"curl -s --max-time {seconds} {url} || echo no-answer").strip()
    return answer.rsplit(":", 1)[0]


def nameservers(resolv_conf: str) -> list[str]:
    """The nameserver lines of a resolv.conf, in order."""
    return [line.split()[1] for line in resolv_conf.splitlines() if line.startswith("nameserver")]


def dual_stack_view(lab, server: str, client: str) -> dict:
    """In a dual-stack cluster, what each layer made of the Pod `server` behind the Service of the
    same name, as the client Pod sees it: addresses, ranges, ClusterIPs, an answer on each, the
    node's ip6tables rules, and the client's address as the server saw it over IPv6."""
    two, asking = lab.wait_ready("pod", server), lab.wait_ready("pod", client)
    service, node = lab.get("service", server), lab.nodes()[0]
    cluster_ips = service["spec"]["clusterIPs"]

    def url(ip: str, path: str) -> str:
        return f"http://{'[' + ip + ']' if ':' in ip else ip}{path}"

    answers = {
        ip: lab.wait_for(
            f"an answer on {ip}",
            lambda ip=ip: ask(lab, client, url(ip, "/hostname")),
            done=lambda out: out == server,
            timeout=30,
        )
        for ip in cluster_ips
    }
    seen_v6 = ask(lab, client, url(cluster_ips[1], "/clientip")).rsplit(":", 1)[0].strip("[]")
    saved = lab.node(node["metadata"]["name"]).sh("ip6tables-save -t nat")
    ip6_path = dataplane.parse(saved, lab.namespace, server).get("", dataplane.Path(""))
    addresses = node["status"]["addresses"]
    return {
        "podIPs": [p["ip"] for p in two["status"]["podIPs"]],
        "podCIDRs": node["spec"]["podCIDRs"],
        "clusterIPs": cluster_ips,
        "ipFamilies": service["spec"]["ipFamilies"],
        "answers": answers,
        "node InternalIPs": [a["address"] for a in addresses if a["type"] == "InternalIP"],
        "ip6tables": {"cluster IP": ip6_path.cluster_ip, "endpoints": ip6_path.addresses},
        "server saw": seen_v6,
        "client IPv6": next(p["ip"] for p in asking["status"]["podIPs"] if ":" in p["ip"]),
        "serviceCIDRs": lab.get("servicecidr", "kubernetes")["spec"]["cidrs"],
    }


# -- the node agents -----------------------------------------------------------------------------


def is_static(pod: dict) -> bool:
    """A mirror of a Pod the kubelet runs from a file on its node."""
    return MIRROR in (pod["metadata"].get("annotations") or {})


def nodes_running(pods: list[dict], daemonset: str) -> list[str]:
    """The nodes with a ready Pod owned by the DaemonSet alone, not a static one, sorted."""
    return sorted(
        p["spec"]["nodeName"]
        for p in pods
        if is_ready(p)
        and not is_static(p)
        and [(o["kind"], o["name"]) for o in p["metadata"].get("ownerReferences") or []]
        == [("DaemonSet", daemonset)]
    )


def comment(rule) -> str:
    """An iptables rule's --comment ("" without one)."""
    return rule.options.get("--comment", "")


def rules_on(lab, nodes, service: str, port: str = "") -> dict:
    """Each node's kube-proxy endpoints for the Service's port (iptables-save, read)."""
    return {n.name: dataplane.path(n, lab.namespace, service, port).addresses for n in nodes}


class ReadsBetween:
    """A node's rules for some Services, read again on each call of read(), each time between two
    looks at a process's state (dataplane.read_between): the last read's states and paths kept."""

    def __init__(self, lab, node, pid: int, names: tuple[str, ...]):
        self.lab, self.node, self.pid, self.names = lab, node, pid, names
        self.states: list[str] = []
        self.paths: dict = {}

    def read(self, name: str):
        """Read the rules again; those of the Service `name` (empty when it has none)."""
        self.states, self.paths = dataplane.read_between(
            self.node, self.pid, self.lab.namespace, self.names
        )
        return self.paths[name]


# -- topology hints ------------------------------------------------------------------------------


def hints(lab, service: str) -> dict[str, tuple]:
    """Each endpoint's first address -> (its zone, the zones its hints name)."""
    return {
        e["addresses"][0]: (
            e.get("zone"),
            [z["name"] for z in (e.get("hints") or {}).get("forZones", [])],
        )
        for s in slices_of(lab, service)
        for e in s.get("endpoints") or []
    }


def all_hinted(hinted: dict, count: int) -> bool:
    """count endpoints, each with a hint."""
    return len(hinted) == count and all(z for _, z in hinted.values())


def none_hinted(hinted: dict, count: int) -> bool:
    """count endpoints, none with a hint."""
    return len(hinted) == count and not any(z for _, z in hinted.values())


def own_zone(hinted: dict) -> bool:
    """Every endpoint hinted for its own zone, and only for it."""
    return all(z == [zone] for zone, z in hinted.values())


def wait_hints(
    lab, service: str, count: int, what: str, hinted: bool = True, timeout: float = 60
) -> dict:
    """Wait until the Service's `count` endpoints each carry a hint (hinted=False: none does);
    returns their hints()."""
    judge = all_hinted if hinted else none_hinted
    return lab.wait_for(
        what, lambda: hints(lab, service), done=lambda h: judge(h, count), timeout=timeout
    )


def wait_rules(lab, nodes, service: str, done, what: str, timeout: float = 30) -> dict:
    """Wait until done(rules_on(lab, nodes, service)); returns those rules."""
    return lab.wait_for(
        what,
        lambda: rules_on(lab, nodes, service),
        done=done,
        timeout=timeout,
        status=lambda r: ", ".join(
            f"{n.rsplit('-', 1)[-1]}: {len(a)} endpoints" for n, a in r.items()
        ),
    )


def hint_zones(hinted: dict) -> list[str]:
    """The zone each endpoint is hinted for ("none" without a hint), sorted."""
    return sorted(z[0] if z else "none" for _, z in hinted.values())


def zone_endpoints(hinted: dict, zones: dict, nodes, port: int) -> dict[str, list[str]]:
    """For each node, the endpoints (address:port) in its zone, sorted."""
    return {
        n: sorted(f"{ip}:{port}" for ip, (zone, _) in hinted.items() if zone == zones[n])
        for n in nodes
    }


def disabled_events(lab, service: str) -> dict[str, tuple[int, str]]:
    """The controller's TopologyAwareHintsDisabled Events on the Service: name -> (count, message)."""
    about = f"involvedObject.name={service},involvedObject.kind=Service"
    return {
        e["metadata"]["name"]: (e.get("count") or 1, e["message"])
        for e in lab.list("events", field_selector=about)
        if e["reason"] == "TopologyAwareHintsDisabled"
    }


def new_events(lab, service: str, earlier: dict) -> list[str]:
    """Messages of the Service's disabled_events new since `earlier`, or repeated since."""
    return [
        message
        for name, (count, message) in disabled_events(lab, service).items()
        if count > earlier.get(name, (0,))[0]
    ]
