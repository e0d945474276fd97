"""kubelab.helpers.dataplane: iptables-save text as kube-proxy writes it, parsed into each Service's path."""

from kubelab.helpers import dataplane

SAVED = """\
*nat
:KUBE-SERVICES - [0:0]
-A KUBE-SERVICES -d 10.96.7.7/32 -p tcp -m comment --comment "lab/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-AAA
-A KUBE-SERVICES -d 192.0.2.50/32 -p tcp -m comment --comment "lab/web:http external IP" -m tcp --dport 80 -j KUBE-EXT-AAA
-A KUBE-SERVICES -d 10.96.8.8/32 -p tcp -m comment --comment "lab/local cluster IP" -m tcp --dport 80 -j KUBE-SVL-BBB
-A KUBE-SERVICES -d 10.96.9.9/32 -p tcp -m comment --comment "lab/web-other:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-CCC
-A KUBE-NODEPORTS -p tcp -m comment --comment "lab/web:http" -m tcp --dport 30080 -j KUBE-EXT-AAA
-A KUBE-EXT-AAA -m comment --comment "masquerade traffic for lab/web:http external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-AAA -j KUBE-SVC-AAA
-A KUBE-SVC-AAA ! -s 10.244.0.0/16 -d 10.96.7.7/32 -p tcp -m comment --comment "lab/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-AAA -m comment --comment "lab/web:http -> 10.244.1.5:8080" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-1
-A KUBE-SVC-AAA -m comment --comment "lab/web:http -> 10.244.1.6:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-2
-A KUBE-SVC-AAA -m comment --comment "lab/web:http -> 10.244.2.7:8080" -j KUBE-SEP-3
-A KUBE-SEP-1 -s 10.244.1.5/32 -m comment --comment "lab/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-1 -p tcp -m comment --comment "lab/web:http" -m tcp -j DNAT --to-destination 10.244.1.5:8080
-A KUBE-SEP-2 -p tcp -m comment --comment "lab/web:http" -m tcp -j DNAT --to-destination 10.244.1.6:8080
-A KUBE-SEP-3 -p tcp -m comment --comment "lab/web:http" -m tcp -j DNAT --to-destination 10.244.2.7:8080
-A KUBE-SVL-BBB -m comment --comment "lab/local -> 10.244.1.9:80" -j KUBE-SEP-4
-A KUBE-SEP-4 -p tcp -m comment --comment "lab/local" -m tcp -j DNAT --to-destination 10.244.1.9:80
COMMIT
"""


def test_a_service_path_from_its_addresses_to_its_endpoints():
    web = dataplane.parse(SAVED, "lab", "web")
    assert list(web) == ["http"]  # web-other is another Service
    path = web["http"]
    assert (path.cluster_ip, path.external_ips, path.node_port, path.chain) == (
        "10.96.7.7:80",
        ["192.0.2.50:80"],
        "30080",
        "KUBE-SVC-AAA",
    )
    assert path.addresses == ["10.244.1.5:8080", "10.244.1.6:8080", "10.244.2.7:8080"]
    assert [e.chain for e in path.endpoints] == ["KUBE-SEP-1", "KUBE-SEP-2", "KUBE-SEP-3"]
    assert all(abs(share - 1 / 3) < 1e-6 for share in path.shares().values())


def test_a_node_local_path_and_a_service_without_rules():
    local = dataplane.parse(SAVED, "lab", "local")[""]
    assert local.chain == "KUBE-SVL-BBB" and local.addresses == ["10.244.1.9:80"]
    assert dataplane.parse(SAVED, "lab", "external-name") == {}
    assert dataplane.parse(SAVED, "other", "web") == {}


def test_one_ports_path_on_a_node_is_empty_until_kube_proxy_writes_it():
    class Saved:  # a node whose iptables-save gives SAVED
        def sh(self, command):
            return SAVED

    assert dataplane.path(Saved(), "lab", "web", "http").addresses == [
        "10.244.1.5:8080",
        "10.244.1.6:8080",
        "10.244.2.7:8080",
    ]
    assert dataplane.path(Saved(), "lab", "local").chain == "KUBE-SVL-BBB"
    missing = dataplane.path(Saved(), "lab", "late", "http")
    assert (missing.port, missing.chain, missing.endpoints, missing.external_ips) == (
        "http",
        "",
        [],
        [],
    )
