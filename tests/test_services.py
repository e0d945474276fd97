"""kubelab.helpers.services: notebook 05's readings of EndpointSlices, clients, node agents and
topology hints, on objects as the API returns them (no cluster)."""

import json
from types import SimpleNamespace

from kubelab.helpers import services


def endpoint(address, ready=True, zone=None, hints=None, pod=None):
    found = {"addresses": [address], "conditions": {"ready": ready}}
    if zone:
        found["zone"] = zone
    if hints is not None:
        found["hints"] = {"forZones": [{"name": z} for z in hints]}
    if pod:
        found["targetRef"] = {"kind": "Pod", "name": pod}
    return found


def slice_(name, endpoints, manager="endpointslice-controller.k8s.io", port=8080, rv="1"):
    return {
        "metadata": {
            "name": name,
            "resourceVersion": rv,
            "labels": {services.SERVICE_NAME: "web", services.MANAGED_BY: manager},
        },
        "endpoints": endpoints,
        "ports": [{"port": port}] if port else None,
    }


class FakeLab:
    """The few Lab methods the helpers call, answering from fixed objects."""

    namespace = "ns"

    def __init__(self, objects=None, exec_out=None):
        self.objects, self.exec_out, self.calls = objects or {}, exec_out or {}, []

    def list(self, kind, selector=None, namespace=None, field_selector=None):
        self.calls.append((kind, selector or field_selector))
        return self.objects.get(kind, [])

    def exec(self, pod, command, check=True):
        self.calls.append((pod, command))
        out = SimpleNamespace(ok=True)
        text = self.exec_out.get(pod, "")

        class Out(str):
            pass

        result = Out(text)
        result.ok = out.ok if text != "FAIL" else False
        return result

    def wait_for(self, description, observe, done=bool, status=None, timeout=0, interval=0):
        value = observe()
        assert done(value), description
        return value


def test_slices_addresses_counts_and_managers():
    slices = [
        slice_("web-a", [endpoint("10.0.0.9", pod="web-1"), endpoint("10.0.0.10", False)]),
        slice_("web-b", None, manager="kubelab.dev", port=None, rv="7"),
    ]
    lab = FakeLab({"endpointslices": slices})
    assert services.slices_of(lab, "web") == slices
    assert lab.calls == [("endpointslices", "kubernetes.io/service-name=web")]
    assert services.addresses(slices) == ["10.0.0.10", "10.0.0.9"]
    assert services.endpoint_count(slices) == 2
    assert services.endpoint_count(slices, ready=True) == 1
    assert [services.managed_by(s) for s in slices] == [
        "endpointslice-controller.k8s.io",
        "kubelab.dev",
    ]
    assert services.by_manager(slices) == {
        "endpointslice-controller.k8s.io": [
            ("web-a", "1", ["10.0.0.10", "10.0.0.9"], [{"port": 8080}])
        ],
        "kubelab.dev": [("web-b", "7", [], None)],
    }


def test_target_ports_name_each_pod_with_its_slice_port():
    slices = [
        slice_("a", [endpoint("10.0.0.1", pod="named-8080")], port=8080),
        slice_("b", [endpoint("10.0.0.2", pod="named-9090")], port=9090),
    ]
    assert services.target_ports(slices) == {"named-8080": 8080, "named-9090": 9090}


def test_legacy_ips_and_nameservers_parse_what_commands_print():
    kubectl_json = json.dumps(
        {"subsets": [{"addresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.1"}]}, {"ports": []}]}
    )
    assert services.legacy_ips(kubectl_json) == ["10.0.0.1", "10.0.0.2"]
    assert services.legacy_ips("{}") == []
    resolv = (
        "search ns.svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\nnameserver 1.1.1.1"
    )
    assert services.nameservers(resolv) == ["10.96.0.10", "1.1.1.1"]


def test_ask_returns_the_answer_or_nothing():
    lab = FakeLab(exec_out={"client-a": "web-1\n", "client-b": "FAIL"})
    assert services.ask(lab, "client-a", "http://web/hostname") == "web-1"
    assert services.ask(lab, "client-b", "http://web/hostname") == ""
    assert lab.calls[0] == ("client-a", "curl -s -g --max-time 2 http://web/hostname")
    lab = FakeLab(exec_out={"client-a": "web-1\nweb-2\nweb-1\n"})
    assert services.ask_many(lab, "client-a", "http://web/hostname", 3) == {"web-1": 2, "web-2": 1}


def pod(name, node, ready=True, deleting=False, owner=None, mirror=False):
    metadata = {"name": name}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if owner:
        metadata["ownerReferences"] = [{"kind": "DaemonSet", "name": owner}]
    if mirror:
        metadata["annotations"] = {services.MIRROR: "x"}
    status = {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    return {"kind": "Pod", "metadata": metadata, "spec": {"nodeName": node}, "status": status}


def test_one_per_node_waits_for_exactly_one_ready_pod_on_each_node():
    nodes = ("w1", SimpleNamespace(name="w2"))
    both = [pod("a", "w1"), pod("b", "w2")]
    assert services.one_per_node(FakeLab({"pods": both}), "app=web", nodes) == {
        "w1": both[0],
        "w2": both[1],
    }
    not_ready = [pod("a", "w1"), pod("b", "w2", ready=False)]
    assert services.one_per_node(FakeLab({"pods": not_ready}), "app=web", nodes) is None
    old_one_going = [*both, pod("c", "w1", deleting=True)]
    assert services.one_per_node(FakeLab({"pods": old_one_going}), "app=web", nodes)
    one_too_many = [*both, pod("c", "w1", ready=False)]
    assert services.one_per_node(FakeLab({"pods": one_too_many}), "app=web", nodes) is None
    assert services.pod_names(None) == "not yet"
    assert services.pod_names({"w1": both[0]}) == "a"


def test_nodes_running_counts_ready_daemonset_pods_not_static_ones():
    pods = [
        pod("kube-proxy-1", "n1", owner="kube-proxy"),
        pod("kube-proxy-2", "n2", owner="kube-proxy", ready=False),
        pod("kube-apiserver-n1", "n1", mirror=True),
        pod("kindnet-1", "n1", owner="kindnet"),
    ]
    assert services.nodes_running(pods, "kube-proxy") == ["n1"]
    assert services.is_static(pods[2]) and not services.is_static(pods[0])


def test_hints_and_their_judgements():
    slices = [
        slice_(
            "z",
            [
                endpoint("10.0.0.1", zone="a", hints=["a"]),
                endpoint("10.0.0.2", zone="b", hints=["b"]),
                endpoint("10.0.0.3", zone="b", hints=[]),
            ],
        )
    ]
    hinted = services.hints(FakeLab({"endpointslices": slices}), "zoned")
    assert hinted == {"10.0.0.1": ("a", ["a"]), "10.0.0.2": ("b", ["b"]), "10.0.0.3": ("b", [])}
    assert not services.all_hinted(hinted, 3) and not services.none_hinted(hinted, 3)
    two = {k: v for k, v in hinted.items() if v[1]}
    assert services.all_hinted(two, 2) and not services.all_hinted(two, 3)
    assert services.own_zone(two) and not services.own_zone({"x": ("a", ["b"])})
    assert services.none_hinted({"x": ("a", [])}, 1)
    assert services.hint_zones(hinted) == ["a", "b", "none"]
    zones = {"w1": "a", "w2": "b"}
    assert services.zone_endpoints(hinted, zones, ("w1", "w2"), 8080) == {
        "w1": ["10.0.0.1:8080"],
        "w2": ["10.0.0.2:8080", "10.0.0.3:8080"],
    }


def test_disabled_events_and_the_new_ones():
    def event(name, reason, count, message):
        return {"metadata": {"name": name}, "reason": reason, "count": count, "message": message}

    lab = FakeLab(
        {
            "events": [
                event("e1", "TopologyAwareHintsDisabled", 2, "Insufficient Node information"),
                event("e2", "TopologyAwareHintsEnabled", 1, "enabled"),
                event("e3", "TopologyAwareHintsDisabled", None, "overload threshold"),
            ]
        }
    )
    found = services.disabled_events(lab, "zoned")
    assert found == {"e1": (2, "Insufficient Node information"), "e3": (1, "overload threshold")}
    assert services.new_events(lab, "zoned", {"e1": (2, "x")}) == ["overload threshold"]
    assert services.new_events(lab, "zoned", {"e1": (1, "x"), "e3": (1, "y")}) == [
        "Insufficient Node information"
    ]
    assert ("events", "involvedObject.name=zoned,involvedObject.kind=Service") in lab.calls


def test_comment_reads_a_rules_comment():
    assert services.comment(SimpleNamespace(options={"--comment": "ns/web has no endpoints"}))
    assert services.comment(SimpleNamespace(options={})) == ""
