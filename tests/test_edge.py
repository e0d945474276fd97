"""Notebook 06's helpers: requests through an ingress controller (kubelab.helpers.edge), the
agreement of observed connectivity with the API's semantics (policyagreement), and small verbs
of connectivity and gatewayapi."""

from kubelab import manifest
from kubelab.helpers import connectivity, edge, gatewayapi, policyagreement
from kubelab.lab.objects import parse_manifest


class FakeLab:
    def __init__(self, output="", policies=None):
        self.output, self.policies, self.commands = output, policies or {}, []

    def exec(self, pod, command, namespace=None, check=True):
        self.commands.append((pod, command))
        return self.output

    def list(self, kind, namespace=None):
        return self.policies.get(namespace, [])


def test_answer_splits_curls_status_code_from_the_body():
    assert edge.answer("app-a\n200\n") == ("200", "app-a")
    assert edge.answer("000") == ("000", "")
    assert edge.answer("line one\nline two\n404") == ("404", "line one\nline two")


def test_ask_sends_the_host_header_or_resolves_the_name_for_https():
    lab = FakeLab("app-a\n200")
    ask = edge.Asker(lab, "client", "10.96.0.10")
    assert ask("shop.example", "/a") == ("200", "app-a")
    assert lab.commands[-1] == (
        "client",
        "curl -s --max-time 3 -w '\\n%{http_code}' http://10.96.0.10/a -H 'Host: shop.example'",
    )
    ask("secure.example", https=True)
    assert "https://secure.example/ --cacert /trust/ca.pem" in lab.commands[-1][1]
    assert "--resolve secure.example:443:10.96.0.10" in lab.commands[-1][1]
    lab.output = "app-a\n"
    assert ask.https_at("secure.example", "172.18.0.3", 30443) == "app-a"
    assert lab.commands[-1][1] == (
        "curl -s --max-time 3 --cacert /trust/ca.pem --resolve secure.example:30443:172.18.0.3"
        " https://secure.example:30443/"
    )


def test_judgements_of_an_answer():
    assert edge.by_route(("200", "app-a")) and not edge.by_route(("200", "fallback"))
    assert not edge.by_route(("404", "")) and edge.ok(("200", "fallback"))
    assert edge.routed(("200", "app-a")) == ("200", "app-a") and edge.routed(("404", "")) is None
    assert edge.from_echo(("200", "NOW: 2026-12-07")) and not edge.from_echo(("200", "echo"))


def test_addresses_of_an_ingress():
    assert edge.addresses(None) == [] and edge.addresses({"status": None}) == []
    assert edge.addresses({"status": {"loadBalancer": {}}}) == []
    served = {"status": {"loadBalancer": {"ingress": [{"ip": "10.96.0.10"}]}}}
    assert edge.addresses(served) == [{"ip": "10.96.0.10"}]


def test_reaching_and_granted():
    matrix = {("a", "b"): True, ("b", "b"): True, ("c", "b"): False, ("b", "a"): True}
    assert connectivity.reaching(matrix, "b") == ["a"]
    conditions = {"Accepted": ("True", "Accepted"), "Programmed": ("Unknown", "Pending")}
    assert gatewayapi.granted(conditions) == {"Accepted": ("True", "Accepted")}


def test_is_address_and_abbreviate():
    assert policyagreement.is_address("10.96.0.1") and not policyagreement.is_address("")
    assert not policyagreement.is_address(";; connection timed out; no servers could be reached")
    short = {"lab-1-other": "B", "lab-1": "A"}
    assert policyagreement.abbreviate("lab-1/deny, lab-1-other/x", short) == "A/deny, B/x"


def pod(name, namespace, labels):
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels}}


def test_agreement_records_each_observation_next_to_the_prediction():
    namespaces = {"a": {"metadata": {"name": "a", "labels": {}}}}
    pods = {"web": pod("web", "a", {"role": "web"}), "db": pod("db", "a", {"role": "db"})}
    deny = {
        "metadata": {"name": "deny", "namespace": "a"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    lab = FakeLab(policies={"a": [deny]})
    agreement = policyagreement.Agreement(lab, pods, namespaces, {}, {}, short={"a": "A"})
    observed = {("web", "db"): False, ("db", "web"): False, ("web", "web"): True}
    assert agreement.compare(observed) is observed
    label, wrong = agreement.rows[-1]
    assert wrong == [] and label.endswith(": 1 of 3 open") and "A" in label
    agreement.compare({("web", "db"): True, ("db", "web"): False, ("web", "web"): True})
    assert agreement.rows[-1][1], "an open connection the deny forbids is a difference"


def test_the_notebooks_templates_render_to_the_objects_it_meant():
    policy = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: who-reaches-a-web
spec:
  podSelector:
    matchLabels: {role: web}
  ingress:
  - from: {{ peers }}
"""
    in_b = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "b"}}}
    web = {"podSelector": {"matchLabels": {"role": "web"}}}
    (both,) = parse_manifest(policy, peers=[in_b | web])
    (either,) = parse_manifest(policy, peers=[in_b, web])
    assert len(both["spec"]["ingress"][0]["from"]) == 1
    assert either["spec"]["ingress"][0]["from"] == [in_b, web]
    text = manifest("data: {{ trust }}\n", trust={"ca.pem": "-----BEGIN\nabc\n-----END\n"})
    assert parse_manifest("apiVersion: v1\nkind: ConfigMap\n" + text)[0]["data"] == {
        "ca.pem": "-----BEGIN\nabc\n-----END\n"
    }
