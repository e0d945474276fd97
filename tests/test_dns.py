"""kubelab.helpers.dns: dig answers and the Corefile, parsed."""

from kubelab.helpers import dns

DIG = """\
; <<>> DiG 9.18 <<>> +noall +answer database.lab.svc.cluster.local
database.lab.svc.cluster.local. 30 IN	CNAME	primary.other.svc.cluster.local.
primary.other.svc.cluster.local. 30 IN	A	10.96.44.5
_http._tcp.web.lab.svc.cluster.local. 30 IN SRV	0 100 80 web.lab.svc.cluster.local.
"""

COREFILE = """\
.:53 {
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
}
"""


def test_dig_answers_become_records():
    records = dns.answers(DIG)
    assert [(r.type, r.data) for r in records] == [
        ("CNAME", "primary.other.svc.cluster.local."),
        ("A", "10.96.44.5"),
        ("SRV", "0 100 80 web.lab.svc.cluster.local."),
    ]
    assert records[0].ttl == 30 and records[0].name == "database.lab.svc.cluster.local."


def test_the_corefile_settings_for_cluster_names():
    assert dns.kubernetes_settings(COREFILE) == {
        "ttl": 30,
        "pods": "insecure",
        "cache_seconds": 30,
        "cache_disabled": ["denial", "success"],
    }
    assert dns.kubernetes_settings(".:53 {\n kubernetes cluster.local {\n }\n cache 30\n}") == {
        "ttl": 5,
        "pods": "disabled",
        "cache_seconds": 30,
        "cache_disabled": [],
    }
