from kubelab.helpers import dns

KIND = """.:53 {
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    forward . /etc/resolv.conf
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
}
"""


def test_cluster_names_not_cached_but_reverse_names_are():
    assert not dns.cache_covers(KIND, "web.ns.svc.cluster.local.")
    assert not dns.cache_covers(KIND, "web.ns.svc.cluster.local", "denial")
    assert dns.cache_covers(KIND, "222.103.96.10.in-addr.arpa.")


def test_no_cache_plugin_caches_nothing():
    assert not dns.cache_covers(
        KIND.replace("cache 30 {", "nocache {"), "222.103.96.10.in-addr.arpa."
    )


def test_disable_lists_several_zones():
    corefile = "cache 30 {\n  disable success cluster.local in-addr.arpa\n}\n"
    assert not dns.cache_covers(corefile, "1.0.96.10.in-addr.arpa")
    assert dns.cache_covers(corefile, "example.com")
