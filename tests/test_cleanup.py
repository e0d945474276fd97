"""What a run changes, a run's end undoes: node changes (kubelet configuration, images) and
namespaces held by finalizers, including objects the library never saw being made."""

import json
import subprocess
import uuid

import pytest

from kubelab import gc
from kubelab.errors import KubelabError
from kubelab.lab import Lab, close_run
from kubelab.node import Node

pytestmark = pytest.mark.cluster


def test_node_changes_are_undone_by_gc_after_the_run_is_gone(cluster):
    node = Node(cluster, f"{cluster.name}-worker2")
    images_before = node.images()
    assert node.kubelet_config()["imageMaximumGCAge"] == "0s"

    node.save_images()
    node.add_image("kubelab.dev/test/unused:1")
    node.reconfigure_kubelet(imageMaximumGCAge="3m")
    assert node.kubelet_config()["imageMaximumGCAge"] == "3m0s"
    # What the kubelet's age limit would do to an unused preloaded image:
    unused = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
    if images_before.get(unused) not in node.images_in_use():
        node.sh(f"crictl rmi {unused}")
        assert unused not in node.images()
    assert sorted(gc.changed_nodes(cluster)[node.name]) == ["added images", "images", "kubelet configuration"]

    # The process that made the changes is gone (no run namespace is alive): gc puts it all back.
    removed = gc.collect()
    assert node.name in removed["nodes"]
    assert node.images() == images_before
    assert node.kubelet_config()["imageMaximumGCAge"] == "0s"
    assert gc.changed_nodes(cluster) == {}


def test_closing_a_run_releases_finalizers_of_objects_made_behind_the_library(cluster):
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    lab = Lab(cluster, namespace, notebook="pytest")
    lab.create_namespace()
    held = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "held", "namespace": namespace, "finalizers": ["kubelab.dev/never-removed"]}}
    # Made with kubectl, so the lab has no record of it.
    subprocess.run(cluster.kubectl_command("create", "-f", "-"), input=json.dumps(held), text=True, check=True,
                   capture_output=True)
    close_run(lab, namespace, timeout=60)
    assert lab.get("v1/Namespace", namespace) is None


def test_a_kubelet_configuration_the_kubelet_rejects_is_rolled_back(cluster):
    node = Node(cluster, f"{cluster.name}-worker")
    with pytest.raises(KubelabError, match="imageMaximumGCAge 1m0s must be greater than imageMinimumGCAge"):
        node.reconfigure_kubelet(imageMaximumGCAge="1m")   # below the default minimum age of 2 min
    assert node.changed() == []
    assert node.kubelet_config()["imageMaximumGCAge"] == "0s"
