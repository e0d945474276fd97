"""kubelab.helpers.disruptions.tolerates / taint_bystanders: which Pods a NoExecute taint would evict."""

from kubelab.helpers import disruptions

KEY = "kubelab.dev/evict"


def pod(namespace, name, *tolerations):
    return {
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"tolerations": list(tolerations)},
    }


def test_tolerates_follows_the_taint_rules():
    # kindnet's and kube-proxy's toleration: every taint
    assert disruptions.tolerates(pod("a", "all", {"operator": "Exists"}), KEY)
    assert disruptions.tolerates(pod("a", "k", {"key": KEY, "operator": "Exists"}), KEY)
    assert disruptions.tolerates(
        pod("a", "eq", {"key": KEY, "operator": "Equal", "value": ""}), KEY
    )
    assert disruptions.tolerates(
        pod("a", "ne", {"key": KEY, "operator": "Exists", "effect": "NoExecute"}), KEY
    )
    assert not disruptions.tolerates(pod("a", "none"), KEY)
    assert not disruptions.tolerates(pod("a", "other", {"key": "other", "operator": "Exists"}), KEY)
    assert not disruptions.tolerates(
        pod("a", "sched", {"key": KEY, "operator": "Exists", "effect": "NoSchedule"}), KEY
    )
    assert not disruptions.tolerates(
        pod("a", "value", {"key": KEY, "operator": "Equal", "value": "x"}), KEY
    )
    # the DaemonSet controller's own tolerations do not cover a taint of ours
    not_ready = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}
    assert not disruptions.tolerates(pod("a", "ds", not_ready), KEY)


class FakeLab:
    namespace = "mine"

    def __init__(self, pods):
        self.pods, self.asked = pods, None

    def list(self, kind, all_namespaces=False, field_selector=None):
        self.asked = (kind, all_namespaces, field_selector)
        return self.pods


def test_bystanders_are_other_namespaces_pods_that_do_not_tolerate():
    going = pod("kube-system", "old")
    going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    lab = FakeLab(
        [
            pod("mine", "guarded"),
            pod("kube-system", "kindnet-x", {"operator": "Exists"}),
            pod("kube-system", "kubelab-registry-1"),
            going,
        ]
    )
    assert disruptions.taint_bystanders(lab, "w2", KEY) == ["kube-system/kubelab-registry-1"]
    assert lab.asked == ("pods", True, "spec.nodeName=w2")
