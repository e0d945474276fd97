"""kubelab.helpers.standin: DNAT rules derived from a Service and its EndpointSlices."""

import pytest

from kubelab.helpers import standin

SERVICE = {"spec": {"clusterIP": "10.96.0.50", "ports": [{"port": 80, "targetPort": 8080}]}}


def slice_(addresses, ready=True, family="IPv4", port=8080):
    return {
        "addressType": family,
        "ports": [{"name": "", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [a], "conditions": {"ready": ready}} for a in addresses],
    }


def test_rules_pick_like_kube_proxy():
    rules = standin.dnat_rules(SERVICE, [slice_(["10.244.2.3", "10.244.1.7"])])
    assert rules == [
        "-d 10.96.0.50/32 -p tcp -m tcp --dport 80 -m statistic --mode random "
        "--probability 0.50000 -j DNAT --to-destination 10.244.1.7:8080",
        "-d 10.96.0.50/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.244.2.3:8080",
    ]


def test_unready_and_ipv6_endpoints_are_left_out():
    rules = standin.dnat_rules(
        SERVICE,
        [
            slice_(["10.244.1.7"]),
            slice_(["10.244.2.9"], ready=False),
            slice_(["fd00::1"], family="IPv6"),
        ],
    )
    assert rules == [
        "-d 10.96.0.50/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.244.1.7:8080"
    ]


class FakeNode:
    def __init__(self):
        self.commands = []

    def sh(self, command):
        self.commands.append(command)
        if command.startswith("iptables-save"):
            return ":KUBELAB-STANDIN - [0:0]\n-A PREROUTING -j KUBELAB-STANDIN\n-A OTHER -j X\n"
        return ""


def test_installed_removes_its_chain_at_the_end_and_schedules_removal():
    node = FakeNode()
    with standin.installed(
        node, ["-d 10.96.0.50/32 -j DNAT --to-destination 1.2.3.4:80"], 30
    ) as chain:
        assert chain == ["-A PREROUTING -j KUBELAB-STANDIN"]
    install, _, removal = node.commands
    assert "iptables -t nat -I PREROUTING 1 -j KUBELAB-STANDIN" in install
    assert "sleep 30.0" in install and "setsid" in install
    assert removal.startswith("iptables -t nat -D PREROUTING -j KUBELAB-STANDIN")


def test_installed_refuses_nothing_or_too_long():
    with pytest.raises(ValueError):
        with standin.installed(FakeNode(), [], 30):
            pass
    with pytest.raises(ValueError):
        with standin.installed(FakeNode(), ["-j ACCEPT"], 3600):
            pass
