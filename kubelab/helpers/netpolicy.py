"""What the NetworkPolicy API says a connection may do: an evaluator of the API's semantics.

    policies = lab.list("networkpolicies", namespace=a) + lab.list("networkpolicies", namespace=b)
    namespaces = {ns: lab.get("namespace", ns) for ns in (a, b)}
    netpolicy.predict(policies, pods, namespaces)          # {(source, target): allowed}
    netpolicy.allows(policies, src_pod, dst_pod, namespaces, port=53, protocol="UDP")

It is written from the API reference (`networking.k8s.io/v1` NetworkPolicy) and the concepts page
"Network Policies" of kubernetes.io, not from any enforcer, so that a cluster's observed
connectivity can be compared with what the API means, and not only with an enforcer's reading of
it (kubelab's offline build enforces with kubelab's own kindnetd). The rules it implements:

- A Pod is isolated for ingress (egress) when at least one policy in its own namespace selects it
  (`spec.podSelector`, empty selects all) and lists `Ingress` (`Egress`) in `policyTypes`. Absent
  `policyTypes` means `Ingress`, plus `Egress` when the policy has `egress` rules.
- A connection needs both ends to allow it: egress from the source and ingress to the
  destination. A side that is not isolated allows everything; an isolated side allows what the
  union of the rules of the policies selecting it allows (policies only add; order is irrelevant).
- A rule with no `from`/`to` (or an empty list) matches every peer; with no `ports`, every port.
- A peer is an `ipBlock` (the address is in `cidr` and in none of `except`), or selectors: a
  `podSelector` alone picks Pods of the policy's namespace, a `namespaceSelector` alone every Pod
  of the namespaces it picks, and both in one element the Pods matching the podSelector in those
  namespaces (AND); separate elements are OR.
- A port entry matches its `protocol` (default TCP) and `port` (a number, or a name resolved
  against the destination Pod's container ports; absent: every port), up to `endPort` if set.
- Traffic of a Pod to itself never leaves it, and no policy applies (`predict` reports it as
  allowed).

Pods and namespaces are the API's objects (dicts as `lab.get` returns them): a Pod's namespace,
labels and `status.podIP`, a namespace's labels are all that is read.
"""

from __future__ import annotations

import ipaddress


def selects(selector: dict | None, labels: dict | None) -> bool:
    """Whether a LabelSelector (matchLabels and matchExpressions) selects these labels; an empty
    selector selects everything, an absent one (None) nothing."""
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {operator!r}")
    return True


def policy_types(policy: dict) -> list[str]:
    """The directions a policy isolates: its `policyTypes`, or the API's default when absent."""
    spec = policy.get("spec") or {}
    if spec.get("policyTypes"):
        return list(spec["policyTypes"])
    return ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _namespace_labels(namespaces: dict, name: str) -> dict:
    namespace = namespaces.get(name) or {}
    labels = dict(_meta(namespace).get("labels") or {})
    labels.setdefault("kubernetes.io/metadata.name", name)  # set on every namespace since v1.22
    return labels


def _peer_matches(peer: dict, policy_namespace: str, other: dict, namespaces: dict) -> bool:
    block = peer.get("ipBlock")
    if block is not None:
        address = ipaddress.ip_address((other.get("status") or {}).get("podIP", ""))
        inside = address in ipaddress.ip_network(block["cidr"], strict=False)
        holes = [ipaddress.ip_network(e, strict=False) for e in block.get("except") or []]
        return inside and not any(address in hole for hole in holes)
    pod_selector, ns_selector = peer.get("podSelector"), peer.get("namespaceSelector")
    other_namespace = _meta(other).get("namespace")
    if ns_selector is None:
        in_namespaces = other_namespace == policy_namespace
    else:
        in_namespaces = selects(ns_selector, _namespace_labels(namespaces, other_namespace))
    if pod_selector is None:
        return in_namespaces and ns_selector is not None
    return in_namespaces and selects(pod_selector, _meta(other).get("labels"))


def _named_port(pod: dict, name: str, protocol: str) -> int | None:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for entry in container.get("ports") or []:
            if entry.get("name") == name and entry.get("protocol", "TCP") == protocol:
                return entry.get("containerPort")
    return None


def _port_matches(entry: dict, port: int, protocol: str, destination: dict) -> bool:
    if entry.get("protocol", "TCP") != protocol:
        return False
    wanted = entry.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str) and not wanted.isdigit():
        wanted = _named_port(destination, wanted, protocol)
        if wanted is None:
            return False
    wanted = int(wanted)
    end = entry.get("endPort")
    return wanted <= port <= int(end) if end is not None else port == wanted


def _rule_matches(rule, direction, policy_ns, peer_pod, destination, port, protocol, namespaces):
    peers = rule.get("from" if direction == "Ingress" else "to") or []
    ports = rule.get("ports") or []
    peer_ok = not peers or any(_peer_matches(p, policy_ns, peer_pod, namespaces) for p in peers)
    port_ok = not ports or any(_port_matches(e, port, protocol, destination) for e in ports)
    return peer_ok and port_ok


def _side_allows(policies, direction, pod, peer, destination, port, protocol, namespaces):
    """Whether `pod`'s policies allow the connection in `direction` (to or from `peer`)."""
    namespace = _meta(pod).get("namespace")
    selecting = [
        p
        for p in policies
        if _meta(p).get("namespace") == namespace
        and direction in policy_types(p)
        and selects((p.get("spec") or {}).get("podSelector", {}), _meta(pod).get("labels"))
    ]
    if not selecting:
        return True  # not isolated in this direction
    key = "ingress" if direction == "Ingress" else "egress"
    return any(
        _rule_matches(rule, direction, namespace, peer, destination, port, protocol, namespaces)
        for p in selecting
        for rule in (p.get("spec") or {}).get(key) or []
    )


def allows(
    policies: list[dict],
    source: dict,
    destination: dict,
    namespaces: dict,
    port: int = 8080,
    protocol: str = "TCP",
) -> bool:
    """Whether the API's semantics allow a new connection from Pod `source` to Pod `destination`
    on `port`/`protocol`, under `policies` (every NetworkPolicy of both Pods' namespaces)."""
    egress = _side_allows(
        policies, "Egress", source, destination, destination, port, protocol, namespaces
    )
    ingress = _side_allows(
        policies, "Ingress", destination, source, destination, port, protocol, namespaces
    )
    return egress and ingress


def predict(
    policies: list[dict],
    pods: dict[str, dict],
    namespaces: dict,
    port: int = 8080,
    protocol: str = "TCP",
) -> dict[tuple[str, str], bool]:
    """{(source, target): allowed} for every pair of the named Pods, as `connectivity.probe`
    reports a matrix (a Pod always reaches itself)."""
    return {
        (s, t): s == t or allows(policies, pods[s], pods[t], namespaces, port, protocol)
        for s in pods
        for t in pods
    }


def in_force(policies: list[dict]) -> str:
    """The names of the policies, as "ns/name, ..." (or "no policy"), to label a comparison."""
    names = sorted(f"{_meta(p).get('namespace')}/{_meta(p).get('name')}" for p in policies)
    return ", ".join(names) or "no policy"


def differences(observed: dict, predicted: dict) -> list[str]:
    """The pairs of an observed matrix where the prediction disagrees, as readable lines (only
    the pairs observed are compared)."""
    return [
        f"{s} -> {t}: observed {'open' if seen else 'blocked'},"
        f" the API says {'open' if predicted[(s, t)] else 'blocked'}"
        for (s, t), seen in sorted(observed.items())
        if bool(seen) != predicted[(s, t)]
    ]
