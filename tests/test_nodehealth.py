"""kubelab.helpers.nodehealth: a node's taints, a pod's fate, one sample of a node failure."""

from types import SimpleNamespace

from kubelab.helpers import nodehealth

CLUSTER = SimpleNamespace(name="kubelab-default")


def node(name, ready="True", taints=(), unschedulable=False, since="2026-01-01T00:00:00Z"):
    return {
        "kind": "Node",
        "metadata": {"name": f"kubelab-default-{name}"},
        "spec": {"taints": list(taints), **({"unschedulable": True} if unschedulable else {})},
        "status": {"conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": since}]},
    }


UNREACHABLE = [
    {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
    {
        "key": "node.kubernetes.io/unreachable",
        "effect": "NoExecute",
        "timeAdded": "2026-01-01T00:00:01Z",
    },
]


def test_taints_are_short_and_sorted_and_untainted_means_none_at_all():
    silent = node("worker2", "Unknown", UNREACHABLE)
    assert nodehealth.taints(silent) == ["unreachable:NoExecute", "unreachable:NoSchedule"]
    assert nodehealth.taints(node("worker")) == []
    assert nodehealth.untainted(node("worker")) and not nodehealth.untainted(silent)
    assert nodehealth.untainted({"spec": {}})


def test_a_node_as_found_is_ready_schedulable_and_tainted_only_as_a_control_plane():
    role = [{"key": nodehealth.CONTROL_PLANE_TAINT, "effect": "NoSchedule"}]
    assert nodehealth.as_found(node("control-plane", taints=role))
    assert not nodehealth.as_found(node("worker", unschedulable=True))
    assert not nodehealth.as_found(node("worker", ready="False"))
    assert not nodehealth.as_found(node("worker2", taints=UNREACHABLE))


def test_failure_times_come_from_the_nodes_own_timestamps():
    assert nodehealth.failure_times(node("worker2", "Unknown", UNREACHABLE)) == {
        "unknown since": "2026-01-01T00:00:00Z",
        "tainted since": "2026-01-01T00:00:01Z",
    }
    assert nodehealth.failure_times(node("worker")) == {
        "unknown since": None,
        "tainted since": None,
    }


def test_a_pod_is_evicted_once_gone_or_being_deleted():
    assert nodehealth.fate(None) == "evicted"
    assert nodehealth.fate({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}) == "evicted"
    assert nodehealth.fate({"metadata": {}}) == "running"


class FakeLab:
    def __init__(self, nodes, objects):
        self._nodes, self.objects = nodes, objects

    def nodes(self):
        return self._nodes

    def get(self, kind, name, namespace=None):
        return self.objects.get((kind, name, namespace))


def test_one_sample_of_a_failure_names_its_parts_as_the_notebook_reads_them():
    worker = SimpleNamespace(name="kubelab-default-worker", cluster=CLUSTER)
    worker2 = SimpleNamespace(name="kubelab-default-worker2", cluster=CLUSTER)
    lease = {"spec": {"renewTime": "2026-01-01T00:00:00.000000Z"}}
    lab = FakeLab(
        [node("worker"), node("worker2", "Unknown", UNREACHABLE)],
        {
            ("pod", "short-1", None): {"metadata": {"deletionTimestamp": "2026-01-01T00:00:40Z"}},
            ("pod", "default-1", None): {"metadata": {}},
            ("lease", worker.name, "kube-node-lease"): lease,
            ("lease", worker2.name, "kube-node-lease"): lease,
        },
    )
    pods = {
        "short": {"metadata": {"name": "short-1"}},
        "default": {"metadata": {"name": "default-1"}},
    }
    state = nodehealth.failure_state(lab, stopped=worker2, healthy=worker, pods=pods)
    assert list(state) == [
        "worker2 ready",
        "worker2 taints",
        "worker2 times",
        "worker ready",
        "worker taints",
        "short pod",
        "default pod",
        "kubelab-default-worker lease",
        "kubelab-default-worker2 lease",
    ]
    assert state["worker2 ready"] == "Unknown" and state["worker ready"] == "True"
    assert (state["short pod"], state["default pod"]) == ("evicted", "running")
    assert (
        nodehealth.shown("worker2 taints")(state) == "unreachable:NoExecute, unreachable:NoSchedule"
    )
    assert nodehealth.shown("worker taints")(state) == "none"
    assert nodehealth.shown("worker2 ready")(state) == "Unknown"
