"""kubelab.helpers.endpoints (an EndpointSlice walked field by field, endpoint conditions from a watch, Pods
at addresses of our choosing) and what notebook 05 added to kubelab.helpers.dataplane and kubelab.helpers.dns."""

import time

from kubelab.helpers import dataplane, dns, endpoints

SERVICE = {
    "metadata": {"name": "web", "uid": "svc-uid"},
    "spec": {
        "ipFamilies": ["IPv4"],
        "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
    },
}
POD = {
    "metadata": {"name": "web-a", "uid": "pod-uid"},
    "spec": {
        "nodeName": "kind-worker",
        "containers": [{"name": "web", "ports": [{"name": "http", "containerPort": 8080}]}],
    },
    "status": {
        "podIPs": [{"ip": "10.244.1.5"}],
        "conditions": [{"type": "Ready", "status": "True"}],
    },
}
NODE = {"metadata": {"name": "kind-worker", "labels": {"topology.kubernetes.io/zone": "zone-a"}}}
SLICE = {
    "addressType": "IPv4",
    "metadata": {
        "name": "web-abcde",
        "labels": {
            "kubernetes.io/service-name": "web",
            "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        },
        "ownerReferences": [
            {"kind": "Service", "name": "web", "uid": "svc-uid", "controller": True}
        ],
    },
    "endpoints": [
        {
            "addresses": ["10.244.1.5"],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "nodeName": "kind-worker",
            "zone": "zone-a",
            "targetRef": {"kind": "Pod", "name": "web-a", "uid": "pod-uid"},
        }
    ],
    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
}


def test_a_slice_walked_field_by_field_agrees_with_its_sources():
    rows = endpoints.walk(SLICE, SERVICE, [POD], [NODE])
    assert [r.path for r in rows] == [
        "addressType",
        "metadata.labels[kubernetes.io/service-name]",
        "metadata.labels[endpointslice.kubernetes.io/managed-by]",
        "metadata.ownerReferences",
        "endpoints[0].targetRef",
        "endpoints[0].addresses",
        "endpoints[0].conditions",
        "endpoints[0].nodeName",
        "endpoints[0].zone",
        "ports",
    ]
    assert all(r.agrees for r in rows), [r for r in rows if not r.agrees]
    assert "endpoints[0].zone" in endpoints.show(rows)


def test_a_walk_shows_where_a_slice_and_its_sources_disagree():
    terminating = {
        **POD,
        "metadata": {**POD["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"},
    }
    rows = {r.path: r for r in endpoints.walk(SLICE, SERVICE, [terminating], [NODE])}
    assert not rows["endpoints[0].conditions"].agrees
    assert rows["endpoints[0].conditions"].expected == {
        "ready": False,
        "serving": True,
        "terminating": True,
    }
    rows = {
        r.path: r
        for r in endpoints.walk(
            {**SLICE, "ports": [{"name": "http", "port": 9090, "protocol": "TCP"}]},
            SERVICE,
            [POD],
            [NODE],
        )
    }
    assert not rows["ports"].agrees and rows["ports"].expected == [("http", 8080, "TCP")]
    rows = {r.path: r for r in endpoints.walk(SLICE, SERVICE, [], [NODE])}
    assert (
        rows["endpoints[0].targetRef"].expected == "no such Pod"
        and "endpoints[0].nodeName" not in rows
    )


def test_conditions_as_one_line_and_back():
    assert endpoints.conditions_of(SLICE) == "ready True, serving True, terminating False"
    assert (
        endpoints.conditions_of({"endpoints": None})
        == endpoints.conditions_of(None)
        == "no endpoint"
    )
    assert endpoints.parse_conditions("ready False, serving True, terminating True") == {
        "ready": "False",
        "serving": "True",
        "terminating": "True",
    }
    assert endpoints.parse_conditions("no endpoint") == {}


def test_the_conditions_recorder_keeps_each_change_once():
    rec = endpoints.ConditionsRecorder(None, "flip")
    rec.started = time.monotonic()
    unready = {
        **SLICE,
        "endpoints": [
            {
                **SLICE["endpoints"][0],
                "conditions": {"ready": False, "serving": False, "terminating": False},
            }
        ],
    }
    for type_, obj in (
        ("EXISTING", unready),
        ("MODIFIED", unready),
        ("MODIFIED", SLICE),
        ("MODIFIED", {**SLICE, "endpoints": []}),
    ):
        rec._note(type_, {"kind": "EndpointSlice", **obj})
    assert [s for _, s in rec.states()] == [
        "ready False, serving False, terminating False",
        "ready True, serving True, terminating False",
        "no endpoint",
    ]
    assert rec.current() == "no endpoint"
    assert (
        rec.wait_until(lambda s: s == "no endpoint", "the endpoint gone", timeout=1)
        == "no endpoint"
    )


def test_addressed_pods_are_bound_to_the_node_and_given_their_address():
    calls = []

    class Lab:
        def resource(self, kind):
            return kind

        def create(self, obj, quiet=False):
            calls.append(
                (
                    "create",
                    obj["metadata"]["name"],
                    obj["spec"]["nodeName"],
                    obj["spec"]["tolerations"],
                )
            )

        def patch(self, kind, name, patch, subresource=None):
            calls.append(("patch", name, patch["status"]["podIPs"], subresource))

    names = endpoints.addressed_pods(
        Lab(),
        "many",
        ["10.250.0.1", "10.250.0.2"],
        {"app": "many"},
        "nowhere",
        image="pause",
        workers=2,
    )
    assert names == ["many-0000", "many-0001"]
    assert ("create", "many-0001", "nowhere", [{"operator": "Exists"}]) in calls
    assert ("patch", "many-0000", [{"ip": "10.250.0.1"}], "status") in calls


SAVED_ALL = """\
*filter
-A KUBE-SERVICES -d 10.96.5.5/32 -p tcp -m comment --comment "lab/local-solo has no local endpoints" -m tcp --dport 80 -j DROP
-A KUBE-SERVICES -d 10.96.6.6/32 -p tcp -m comment --comment "lab/local-solo-2 has no endpoints" -m tcp --dport 80 -j REJECT
COMMIT
*nat
-A KUBE-SERVICES -d 10.96.5.5/32 -p tcp -m comment --comment "lab/local-solo cluster IP" -m tcp --dport 80 -j KUBE-SVL-AAA
COMMIT
"""


def test_every_rule_that_names_a_service():
    found = dataplane.mentions(SAVED_ALL, "lab", "local-solo")
    assert [(r.chain, r.jump) for r in found] == [
        ("KUBE-SERVICES", "DROP"),
        ("KUBE-SERVICES", "KUBE-SVL-AAA"),
    ]
    assert (
        dataplane.mentions(SAVED_ALL, "lab", "local") == []
        and dataplane.mentions(SAVED_ALL, "other", "local-solo") == []
    )


def test_rules_read_between_two_looks_at_a_process():
    class Node:
        def sh(self, command):
            assert command.count("/proc/42/status") == 2 and "iptables-save -t nat" in command
            return (
                "T (stopped)\n----kubelab-dataplane----\n*nat\n"
                '-A KUBE-SERVICES -d 10.96.5.5/32 -p tcp -m comment --comment "lab/web cluster IP" -m tcp --dport 80 -j KUBE-SVC-A\n'
                "-A KUBE-SVC-A -j KUBE-SEP-A\n-A KUBE-SEP-A -p tcp -m tcp -j DNAT --to-destination 10.244.1.5:8080\n"
                "COMMIT\n----kubelab-dataplane----\nT (stopped)\n"
            )

    states, paths = dataplane.read_between(Node(), 42, "lab", ("web", "late"))
    assert states == ["T (stopped)", "T (stopped)"]
    assert paths["web"][""].addresses == ["10.244.1.5:8080"] and paths["late"] == {}


def test_an_ipv6_cluster_ip_from_ip6tables_save():
    saved = (
        '-A KUBE-SERVICES -d fd00:10:96::ceba/128 -p tcp -m comment --comment "lab/two cluster IP" -m tcp --dport 80 -j KUBE-SVC-B\n'
        "-A KUBE-SVC-B -j KUBE-SEP-B\n-A KUBE-SEP-B -p tcp -m tcp -j DNAT --to-destination [fd00:10:244::5]:8080\n"
    )
    path = dataplane.parse(saved, "lab", "two")[""]
    assert path.cluster_ip == "fd00:10:96::ceba:80" and path.addresses == ["[fd00:10:244::5]:8080"]


def test_what_a_corefile_says_about_caching_cluster_names():
    settings = {
        "ttl": 30,
        "pods": "insecure",
        "cache_seconds": 30,
        "cache_disabled": ["denial", "success"],
    }
    assert dns.caching(settings).startswith(
        "CoreDNS does not cache cluster names"
    ) and "30 s" in dns.caching(settings)
    assert "caches success and denial answers for cluster names for up to 30 s" in dns.caching(
        {**settings, "cache_disabled": []}
    )
    assert "caches success answers" in dns.caching({**settings, "cache_disabled": ["denial"]})
    assert "no cache plugin" in dns.caching({**settings, "cache_seconds": 0, "cache_disabled": []})


def test_the_addresses_a_legacy_endpoints_object_lists():
    assert endpoints.legacy_count(None) == 0
    assert (
        endpoints.legacy_count(
            {
                "subsets": [
                    {"addresses": [{"ip": "a"}, {"ip": "b"}], "notReadyAddresses": [{"ip": "c"}]},
                    {"addresses": [{"ip": "d"}]},
                ]
            }
        )
        == 4
    )


def test_pods_are_removed_in_one_request_without_grace():
    calls = []

    class Dynamic:
        def delete(self, resource, namespace=None, label_selector=None, body=None):
            calls.append((resource, namespace, label_selector, body))
            return {"items": [{}, {}]}

    class Lab:
        namespace = "lab"
        dynamic = Dynamic()

        def resource(self, kind):
            return kind

    assert endpoints.remove_pods(Lab(), "app=many") == 2
    assert calls == [("pods", "lab", "app=many", {"gracePeriodSeconds": 0})]
