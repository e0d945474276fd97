"""What a run changes, a run's end undoes: node changes (stopped nodes and services, kubelet
configuration, images, cordons and taints), cluster-scoped objects, and namespaces held by
finalizers, including objects the library never saw being made."""

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from kubelab.cli import gc
from kubelab.core.errors import KubelabError
from kubelab.lab.lab import Lab, close_run
from kubelab.cluster.node import CONTROLLER_TAINTS, Node

from kube_helpers import wait_for

TEST_NOTEBOOKS = Path(__file__).parent / "notebooks"

pytestmark = pytest.mark.cluster


@pytest.mark.disturbs
def test_node_changes_are_undone_by_gc_after_the_run_is_gone(cluster):
    node = Node(cluster, f"{cluster.name}-worker2")
    images_before = node.images()
    assert node.kubelet_config()["imageMaximumGCAge"] == "0s"

    node.save_images()
    node.add_image("kubelab.dev/test/unused:1")
    node.reconfigure_kubelet(imageMaximumGCAge="3m")
    assert node.kubelet_config()["imageMaximumGCAge"] == "3m0s"
    config_before = node.sh("cat /etc/containerd/config.toml")
    node.add_runtime_handler("kubelab-test")
    assert "runtimes.kubelab-test]" in node.sh("cat /etc/containerd/config.toml")
    # What the kubelet's age limit would do to an unused preloaded image:
    unused = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
    if images_before.get(unused) not in node.images_in_use():
        node.sh(f"crictl rmi {unused}")
        assert unused not in node.images()
    assert sorted(gc.changed_nodes(cluster)[node.name]) == [
        "added images",
        "images",
        "kubelet configuration",
        "runtime handler logs",
        "runtime handlers",
    ]

    # The process that made the changes is gone: gc puts it all back once no run is alive. (Other
    # tests' namespaces, deleted without waiting, may still be going: gc rightly waits for them.)
    wait_for(
        "no live run namespace",
        lambda: not any(gc.run_namespaces(cluster).values()),
        timeout=120,
        interval=2,
    )
    removed = gc.collect()
    assert node.name in removed["nodes"]
    assert node.images() == images_before
    assert node.kubelet_config()["imageMaximumGCAge"] == "0s"
    assert node.sh("cat /etc/containerd/config.toml") == config_before and not node.sh(
        "ls /usr/local/bin/ | grep kubelab- || true"
    )
    assert not node.sh("ls /var/log/ | grep kubelab- || true")  # the handler's log went with it
    assert gc.changed_nodes(cluster) == {}


def test_closing_a_run_releases_finalizers_of_objects_made_behind_the_library(cluster):
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    lab = Lab(cluster, namespace, notebook="pytest")
    lab.create_namespace()
    held = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "held",
            "namespace": namespace,
            "finalizers": ["kubelab.dev/never-removed"],
        },
    }
    # Made with kubectl, so the lab has no record of it.
    subprocess.run(
        cluster.kubectl_command("create", "-f", "-"),
        input=json.dumps(held),
        text=True,
        check=True,
        capture_output=True,
    )
    close_run(lab, namespace, timeout=60)
    assert lab.get("v1/Namespace", namespace) is None


@pytest.mark.disturbs
def test_a_kubelet_configuration_the_kubelet_rejects_is_rolled_back(cluster):
    node = Node(cluster, f"{cluster.name}-worker")
    with pytest.raises(
        KubelabError, match="imageMaximumGCAge 1m0s must be greater than imageMinimumGCAge"
    ):
        node.reconfigure_kubelet(imageMaximumGCAge="1m")  # below the default minimum age of 2 min
    assert node.changed() == []
    assert node.kubelet_config()["imageMaximumGCAge"] == "0s"


def scheduling(cluster) -> dict[str, tuple]:
    """Each node's schedulability and taints (those the node controller manages aside)."""
    return {
        n["metadata"]["name"]: (
            bool(n["spec"].get("unschedulable")),
            sorted(
                (t["key"], t.get("value"), t["effect"])
                for t in n["spec"].get("taints") or []
                if t["key"] not in CONTROLLER_TAINTS
            ),
        )
        for n in cluster.nodes()
    }


@pytest.mark.disturbs
def test_a_notebook_that_fails_after_changing_nodes_leaves_nothing_behind(
    cluster, tmp_path, monkeypatch
):
    from kubelab.runner import notebooks

    monkeypatch.setenv("KUBELAB_OUT", str(tmp_path))
    worker2 = Node(cluster, f"{cluster.name}-worker2")
    scheduling_before, images_before = scheduling(cluster), worker2.images()
    max_age_before = worker2.kubelet_config()["imageMaximumGCAge"]

    path = TEST_NOTEBOOKS / "changes-then-fails.ipynb"
    result = notebooks.run(
        notebooks.Notebook(path, json.loads(path.read_text())["metadata"]["kubelab"]),
        cluster=cluster,
    )
    assert result.status == "failed" and "fails on purpose" in result.message, result.message

    # It did get as far as stopping worker2 (the last change before it fails):
    assert "worker2: stopped" in (tmp_path / "changes-then-fails.ipynb").read_text()
    assert all(cluster.node_status().values()), cluster.node_status()
    # The node controller lifts its own taints (unschedulable, not-ready) a moment after the spec is back.
    deadline = time.monotonic() + 60
    while scheduling(cluster) != scheduling_before and time.monotonic() < deadline:
        time.sleep(2)
    assert scheduling(cluster) == scheduling_before
    assert not any(n["spec"].get("unschedulable") for n in cluster.nodes())
    assert worker2.kubelet_config()["imageMaximumGCAge"] == max_age_before
    assert worker2.images() == images_before
    left = cluster.kubectl(
        "get", "clusterroles", "-l", "kubelab.dev/run-namespace", "-o", "name"
    ).split()
    assert not [name for name in left if "/changes-then-fails-" in name]
    assert (
        cluster.kubectl(
            "get", "namespaces", "-l", "kubelab.dev/notebook=changes-then-fails", "-o", "name"
        ).split()
        == []
    )
    assert gc.changed_nodes(cluster) == {}
    assert "changes-then-fails" not in worker2.sh("ls /var/lib/kubelab-scratch 2>/dev/null || true")
