"""kubelab.helpers.fakenode.ready_node: the Node it writes and that it is deleted however the block ends."""

import pytest

from kubelab.helpers import fakenode


class FakeLab:
    def __init__(self):
        self.nodes, self.deleted = {}, []

    def create(self, obj, quiet=False):
        self.nodes[obj["metadata"]["name"]] = obj
        return obj

    def get(self, kind, name):
        return self.nodes.get(name)

    def delete(self, kind, name, wait=False, timeout=None):
        self.deleted.append(name)
        self.nodes.pop(name, None)


def test_a_ready_node_with_cpu_and_only_the_labels_given():
    lab = FakeLab()
    with fakenode.ready_node(
        lab, "bare", cpu="0", labels={"topology.kubernetes.io/zone": "zone-a"}
    ) as node:
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert [c["status"] for c in ready] == ["True"]
        assert (
            node["status"]["allocatable"]["cpu"] == "0"
            and node["status"]["allocatable"]["pods"] == "0"
        )
        assert node["metadata"]["labels"] == {"topology.kubernetes.io/zone": "zone-a"}
        assert node["spec"]["unschedulable"] is True
        assert {"key": "kubelab.dev/nowhere", "effect": "NoExecute"} in node["spec"]["taints"]
    assert lab.deleted == ["bare"] and not lab.nodes


def test_no_zone_label_unless_given_and_deleted_when_the_block_fails():
    lab = FakeLab()
    with pytest.raises(RuntimeError):
        with fakenode.ready_node(lab, "zoneless") as node:
            assert "topology.kubernetes.io/zone" not in node["metadata"]["labels"]
            assert node["status"]["allocatable"]["cpu"] == "2"
            raise RuntimeError("a check failed inside")
    assert lab.deleted == ["zoneless"]
