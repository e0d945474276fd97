"""A NetworkPolicy experiment's observations next to the API's semantics: each connectivity
matrix (and each DNS lookup) a notebook observes is compared with what kubelab.helpers.netpolicy
predicts for the NetworkPolicies stored at that moment, read back from the API server.

    agreement = policyagreement.Agreement(lab, pods, namespaces, sources, targets)
    matrix = agreement.settled(expected_pairs)    # probe until the policy took effect, compare
    agreement.compare_lookup("b-other", answer, dns_pods)
    agreement.rows   # [(the policies in force, [where the cluster and the semantics disagree])]
"""

from __future__ import annotations

import ipaddress

from kubelab.helpers import connectivity, netpolicy


def is_address(text: str) -> bool:
    """Whether the text is one IP address (a DNS lookup that got its answer)."""
    try:
        return bool(ipaddress.ip_address(text))
    except ValueError:
        return False


def abbreviate(text: str, short: dict[str, str]) -> str:
    """Each namespace name in the text replaced by its short name, in the dict's order (put a
    name before any name it contains)."""
    for name, short_name in short.items():
        text = text.replace(name, short_name)
    return text


class Agreement:
    """pods: {name: Pod}; namespaces: {name: Namespace} (every namespace whose policies count);
    sources, targets: as connectivity.probe takes them; short: {namespace: short name}."""

    def __init__(self, lab, pods, namespaces, sources, targets, short=None):
        self.lab, self.pods, self.namespaces = lab, pods, namespaces
        self.sources, self.targets, self.short = sources, targets, short or {}
        self.rows: list[tuple[str, list[str]]] = []

    def stored(self) -> list[dict]:
        """Every NetworkPolicy of the namespaces, as the API server holds them."""
        return [p for ns in self.namespaces for p in self.lab.list("networkpolicies", namespace=ns)]

    def compare(self, observed: dict, port: int = 8080, protocol: str = "TCP") -> dict:
        """Record an observed matrix against netpolicy's prediction; returns the matrix."""
        stored = self.stored()
        predicted = netpolicy.predict(stored, self.pods, self.namespaces, port, protocol)
        in_force = abbreviate(netpolicy.in_force(stored), self.short)
        label = f"{in_force}: {sum(observed.values())} of {len(observed)} open"
        self.rows.append((label, netpolicy.differences(observed, predicted)))
        return observed

    def settled(self, expected_reached: set, timeout: float = 30) -> dict:
        """Probe until the reached pairs are the expected ones (policies take effect a moment
        after they are written), then compare that matrix; returns it."""
        observed = self.lab.wait_for(
            "the policy to take effect",
            lambda: connectivity.probe(self.lab, self.sources, self.targets),
            done=lambda m: connectivity.reached(m) == expected_reached,
            timeout=timeout,
            status=lambda m: f"{len(connectivity.reached(m))} of {len(m)} connections",
        )
        return self.compare(observed)

    def compare_lookup(self, source: str, answer: str, dns_pods: list[dict]) -> None:
        """Record a DNS lookup's outcome (an address or not) against netpolicy's verdict for UDP
        port 53 from the Pod `source` to any of the DNS Pods."""
        stored = self.stored()
        says = any(
            netpolicy.allows(stored, self.pods[source], dns, self.namespaces, 53, "UDP")
            for dns in dns_pods
        )
        wrong = [] if says == is_address(answer) else [f"DNS {answer!r}, the API says open: {says}"]
        in_force = abbreviate(netpolicy.in_force(stored), self.short)
        self.rows.append((f"{source}'s DNS lookup under {in_force}", wrong))
