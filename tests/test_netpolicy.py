"""kubelab.helpers.netpolicy against the examples of the Kubernetes docs ("Network Policies",
kubernetes.io/docs/concepts/services-networking/network-policies/) and the API reference of
networking.k8s.io/v1 NetworkPolicy: each test is one example, with the outcome the docs state."""

import pytest
import yaml

from kubelab.helpers import netpolicy


def pod(name, namespace, ip, ports=(), **labels):
    containers = [{"name": "c", "ports": list(ports)}]
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": containers},
        "status": {"podIP": ip},
    }


def policy(text, namespace="default"):
    obj = yaml.safe_load(text)
    obj.setdefault("metadata", {}).setdefault("namespace", namespace)
    return obj


NAMESPACES = {
    "default": {"metadata": {"name": "default"}},
    "myproject": {"metadata": {"name": "myproject", "labels": {"project": "myproject"}}},
    "alice": {"metadata": {"name": "alice", "labels": {"user": "alice"}}},
    "other": {"metadata": {"name": "other"}},
}

DB = pod("db", "default", "10.244.1.2", role="db")
FRONTEND = pod("frontend", "default", "10.244.1.3", role="frontend")
STRANGER = pod("stranger", "default", "10.244.1.4", role="stranger")
IN_MYPROJECT = pod("p", "myproject", "10.244.2.2", role="anything")
FRONTEND_ELSEWHERE = pod("f2", "other", "10.244.3.2", role="frontend")

# The docs' first example, "test-network-policy", verbatim.
TEST_NETWORK_POLICY = policy("""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: test-network-policy
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
  - Ingress
  - Egress
  ingress:
  - from:
    - ipBlock:
        cidr: 172.17.0.0/16
        except:
        - 172.17.1.0/24
    - namespaceSelector:
        matchLabels:
          project: myproject
    - podSelector:
        matchLabels:
          role: frontend
    ports:
    - protocol: TCP
      port: 6379
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.0.0/24
    ports:
    - protocol: TCP
      port: 5978
""")


def allows(policies, source, destination, port=6379, protocol="TCP"):
    return netpolicy.allows(policies, source, destination, NAMESPACES, port, protocol)


def test_docs_example_ingress_sources():
    # "allows connections to all pods in the default namespace with the label role=db on TCP port
    # 6379 from: any pod in the default namespace with the label role=frontend; any pod in a
    # namespace with the label project=myproject; IP addresses in the ranges 172.17.0.0–172.17.0.255
    # and 172.17.2.0–172.17.255.255 (ie, all of 172.17.0.0/16 except 172.17.1.0/24)"
    p = [TEST_NETWORK_POLICY]
    assert allows(p, FRONTEND, DB)
    assert allows(p, IN_MYPROJECT, DB)
    assert allows(p, pod("x", "other", "172.17.0.9"), DB)
    assert allows(p, pod("x", "other", "172.17.2.1"), DB)
    assert not allows(p, pod("x", "other", "172.17.1.9"), DB)  # in the except
    assert not allows(p, STRANGER, DB)
    assert not allows(p, FRONTEND_ELSEWHERE, DB)  # a podSelector alone: the policy's namespace
    assert not allows(p, FRONTEND, DB, port=80)  # only TCP 6379
    assert not allows(p, FRONTEND, DB, port=6379, protocol="UDP")


def test_docs_example_egress_and_unselected_pods():
    # "allows connections from any pod in the default namespace with the label role=db to CIDR
    # 10.0.0.0/24 on TCP port 5978"; Pods the policy does not select are not isolated.
    p = [TEST_NETWORK_POLICY]
    assert allows(p, DB, pod("x", "other", "10.0.0.7"), port=5978)
    assert not allows(p, DB, pod("x", "other", "10.0.0.7"), port=5979)
    assert not allows(p, DB, FRONTEND, port=8080)  # db is isolated for egress
    assert allows(p, STRANGER, FRONTEND, port=8080)  # neither end selected: open


def test_both_ends_must_allow():
    # "both the egress policy on the source pod and the ingress policy on the destination pod need
    # to allow the connection"
    deny_egress = policy(
        "spec: {podSelector: {matchLabels: {role: frontend}}, policyTypes: [Egress]}"
    )
    assert not allows([TEST_NETWORK_POLICY, deny_egress], FRONTEND, DB)


def test_and_versus_or():
    # One element: "Pods with the label role=client in namespaces with the label user=alice".
    # Two elements: "Pods in the local Namespace with the label role=client, or ... any Pod in any
    # namespace with the label user=alice".
    target = pod("t", "default", "10.244.1.9", app="t")
    one = policy("""
spec:
  podSelector: {matchLabels: {app: t}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {user: alice}}
      podSelector: {matchLabels: {role: client}}
""")
    two = policy("""
spec:
  podSelector: {matchLabels: {app: t}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {user: alice}}
    - podSelector: {matchLabels: {role: client}}
""")
    alice_client = pod("a", "alice", "10.244.4.1", role="client")
    alice_other = pod("b", "alice", "10.244.4.2", role="server")
    local_client = pod("c", "default", "10.244.1.8", role="client")
    assert [allows([one], s, target) for s in (alice_client, alice_other, local_client)] == [
        True,
        False,
        False,
    ]
    assert [allows([two], s, target) for s in (alice_client, alice_other, local_client)] == [
        True,
        True,
        True,
    ]


def test_default_deny_and_allow_all():
    deny_in = policy("spec: {podSelector: {}, policyTypes: [Ingress]}")
    allow_in = policy("spec: {podSelector: {}, ingress: [{}], policyTypes: [Ingress]}")
    deny_out = policy("spec: {podSelector: {}, policyTypes: [Egress]}")
    allow_out = policy("spec: {podSelector: {}, egress: [{}], policyTypes: [Egress]}")
    both = policy("spec: {podSelector: {}, policyTypes: [Ingress, Egress]}")
    assert not allows([deny_in], STRANGER, DB)  # even Pods no other policy selects
    assert allows([deny_in], DB, FRONTEND_ELSEWHERE)  # "does not affect isolation for egress"
    # "no additional policy or policies can cause any incoming connection to those pods to be
    # denied"
    assert allows([deny_in, allow_in], FRONTEND_ELSEWHERE, DB, port=1)
    assert allows([allow_in, deny_in], FRONTEND_ELSEWHERE, DB, port=1)  # order is irrelevant
    assert not allows([deny_out], DB, FRONTEND_ELSEWHERE)
    assert allows([deny_out], FRONTEND_ELSEWHERE, DB)  # ingress untouched
    assert allows([deny_out, allow_out], DB, FRONTEND_ELSEWHERE)
    assert not allows([both], STRANGER, DB) and not allows([both], DB, FRONTEND_ELSEWHERE)


def test_policy_types_default():
    # "policies that contain an egress section are assumed to affect egress, and all policies
    # (whether or not they contain an ingress section) are assumed to affect ingress"
    assert netpolicy.policy_types(policy("spec: {podSelector: {}}")) == ["Ingress"]
    assert netpolicy.policy_types(policy("spec: {podSelector: {}, ingress: [{}]}")) == ["Ingress"]
    egress_only = policy("spec: {podSelector: {}, egress: [{}]}")
    assert netpolicy.policy_types(egress_only) == ["Ingress", "Egress"]
    assert not allows([egress_only], STRANGER, DB)  # isolated for ingress, no ingress rule


def test_end_port_range():
    # "to any IP within the range 10.0.0.0/24 over TCP, provided that the target port is between
    # the range 32000 and 32768"
    p = policy("""
spec:
  podSelector: {matchLabels: {role: db}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/24}}]
    ports: [{protocol: TCP, port: 32000, endPort: 32768}]
""")
    out = pod("x", "other", "10.0.0.3")
    assert [allows([p], DB, out, port=n) for n in (31999, 32000, 32768, 32769)] == [
        False,
        True,
        True,
        False,
    ]


def test_namespace_by_name_and_named_port():
    # "Targeting a Namespace by its name": the immutable label kubernetes.io/metadata.name.
    p = policy("""
spec:
  podSelector: {matchLabels: {role: db}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: other}}}]
    ports: [{port: http}]
""")
    named = pod("db", "default", "10.244.1.2", ports=[{"name": "http", "containerPort": 8080}])
    named["metadata"]["labels"] = {"role": "db"}
    assert allows([p], FRONTEND_ELSEWHERE, named, port=8080)
    assert not allows([p], FRONTEND_ELSEWHERE, named, port=8081)
    assert not allows([p], FRONTEND, named, port=8080)  # default is not "other"
    assert not allows([p], FRONTEND_ELSEWHERE, DB, port=8080)  # DB names no port "http"


def test_protocols_are_distinct():
    p = policy(
        "spec: {podSelector: {matchLabels: {role: db}}, ingress: [{ports: [{protocol: SCTP, port: 8080}]}]}"
    )
    assert allows([p], FRONTEND, DB, port=8080, protocol="SCTP")
    assert not allows([p], FRONTEND, DB, port=8080, protocol="TCP")


def test_policies_apply_only_in_their_namespace():
    deny_other = policy("spec: {podSelector: {}, policyTypes: [Ingress]}", namespace="other")
    assert allows([deny_other], STRANGER, DB)
    assert not allows([deny_other], STRANGER, FRONTEND_ELSEWHERE)


@pytest.mark.parametrize(
    "expression, labels, selected",
    [
        ({"key": "tier", "operator": "In", "values": ["a", "b"]}, {"tier": "a"}, True),
        ({"key": "tier", "operator": "In", "values": ["a"]}, {}, False),
        ({"key": "tier", "operator": "NotIn", "values": ["a"]}, {}, True),
        ({"key": "tier", "operator": "NotIn", "values": ["a"]}, {"tier": "a"}, False),
        ({"key": "tier", "operator": "Exists"}, {"tier": ""}, True),
        ({"key": "tier", "operator": "DoesNotExist"}, {"tier": "x"}, False),
    ],
)
def test_match_expressions(expression, labels, selected):
    assert netpolicy.selects({"matchExpressions": [expression]}, labels) is selected
    assert netpolicy.selects({}, labels) is True
    assert netpolicy.selects(None, labels) is False


def test_predict_and_differences():
    deny_in = policy("spec: {podSelector: {}, policyTypes: [Ingress]}")
    pods = {"db": DB, "f2": FRONTEND_ELSEWHERE}
    predicted = netpolicy.predict([deny_in], pods, NAMESPACES)
    assert predicted == {
        ("db", "db"): True,
        ("db", "f2"): True,
        ("f2", "db"): False,
        ("f2", "f2"): True,
    }
    observed = {**predicted, ("f2", "db"): True}
    assert netpolicy.differences(observed, predicted) == [
        "f2 -> db: observed open, the API says blocked"
    ]


def test_in_force_names():
    deny_in = policy("metadata: {name: deny}\nspec: {podSelector: {}}")
    assert netpolicy.in_force([deny_in]) == "default/deny"
    assert netpolicy.in_force([]) == "no policy"
