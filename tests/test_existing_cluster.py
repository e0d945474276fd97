"""A cluster kubelab did not create, reached through an ordinary kubeconfig: everything goes
through that kubeconfig (never written), nothing reaches into nodes, and every notebook either
passes there or stops saying what the cluster lacks (node access, or nodes).

The "existing" cluster is a one-node kind cluster (clusters/solo.yaml) brought up for this module,
reached only through a copy of its kubeconfig; it is deleted afterwards unless
KUBELAB_KEEP_CLUSTERS=1.
"""

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import pytest

from kubelab.lab import probes
from kubelab.cluster import ExistingCluster, KindCluster, NodeAccessUnavailable
from kubelab.lab.lab import Lab, close_run
from kubelab.cluster.node import Node, restore_nodes

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def solo(tmp_path_factory):
    from kubelab.core.errors import KubelabError

    try:
        kind_cluster = KindCluster("solo").up()
    except KubelabError:  # kubeadm init once failed while the notebooks loaded the machine
        kind_cluster = KindCluster("solo").up()
    if kind_cluster.choice.mode == "offline":
        # A connected cluster pulls the add-ons' images; this one reaches no registry, and kubelab
        # has no node access to it as an existing cluster: load them now, as the owner.
        from kubelab.cluster import addons
        from kubelab.runner import notebooks

        for name in sorted({a for nb in notebooks.discover() for a in nb.addons}):
            addons.load_images(kind_cluster, addons.load(name))
    kubeconfig = tmp_path_factory.mktemp("existing") / "kubeconfig"
    shutil.copy(kind_cluster.kubeconfig, kubeconfig)
    yield ExistingCluster(kubeconfig)
    if os.environ.get("KUBELAB_KEEP_CLUSTERS") != "1":
        kind_cluster.down()


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def namespaces(cluster) -> set[str]:
    return set(cluster.kubectl("get", "namespaces", "-o", "name").split())


def test_an_existing_cluster_is_used_through_its_kubeconfig_only(solo):
    kubeconfig_before = digest(solo.kubeconfig)
    assert solo.up() is solo and solo.problem() == ""
    node = solo.node_names()[0]
    assert node.endswith("-control-plane") and solo.node_status() == {node: True}
    # kubectl works (Node.kubelet_config reads /configz through the API server, no node access needed)
    assert Node(solo, node).kubelet_config()["cgroupDriver"] == "systemd"
    with pytest.raises(NodeAccessUnavailable, match="has no node access"):
        Node(solo, node).sh("true")
    with pytest.raises(NodeAccessUnavailable):
        Node(solo, node).cordon()
    assert restore_nodes(solo) == {}

    namespace = f"t-{uuid.uuid4().hex[:8]}"
    lab = Lab(solo, namespace, notebook="pytest")
    lab.create_namespace()
    try:
        caps = probes.probe(lab)
        assert caps.node_access is False and caps.nodes == 1 and caps.workers == 0
        assert (
            caps.cgroup_version is None
            and caps.swap_bytes is None
            and caps.oom_score_adj_clamped is None
        )
        assert caps.runtime.startswith("containerd://")
        with pytest.raises(probes.RequirementNotMet, match="node access"):
            probes.requires(lab, node_access=True)
        lab.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "here"},
                "data": {"a": "b"},
            }
        )
        assert lab.get("configmap", "here")["data"] == {"a": "b"}
    finally:
        close_run(lab, namespace, timeout=60)
    assert f"namespace/{namespace}" not in namespaces(solo)
    assert digest(solo.kubeconfig) == kubeconfig_before  # read, never written
    assert (
        solo.dir / "kube-cache"
    ).exists()  # kubectl's discovery cache: in kubelab's folder, not ~/.kube


def sectioned(nb) -> bool:
    """The notebook declares its needs per section (lab.section), not once at the top."""
    return "lab.section(" in nb.path.read_text(encoding="utf-8")


# The share of the sectioned notebooks' IDs that must be proven on the one-node cluster, per
# credentials: measured (see the note of issue 19), less a margin. Fewer means a notebook declared
# needs it does not have, or lost an experiment.
FLOOR = {"admin": 0.45, "namespace": 0.28}  # measured 2026-12-08: 49% and 31% (131, 83 of 269)


def run_all_through(kubeconfig, out, namespace=None) -> dict[str, dict]:
    """`kubelab run` of every notebook in turn through `kubeconfig` (in `namespace`, if given),
    recording in `out`; each notebook's run record, by name."""
    import subprocess
    import sys

    from kubelab.runner import notebooks

    records = {}
    for nb in notebooks.discover():
        argv = [str(Path(sys.executable).parent / "kubelab"), "run", nb.name]
        argv += ["--kubeconfig", str(kubeconfig), "--existing-cluster"]
        argv += ["--namespace", namespace] if namespace else []
        log = out / f"{nb.name}.console.log"
        with open(log, "w") as f:
            subprocess.run(
                argv,
                env={**os.environ, "KUBELAB_OUT": str(out)},
                stdout=f,
                stderr=subprocess.STDOUT,
            )
        record = out / f"{nb.name}.run.json"
        assert record.exists(), f"{nb.name}: no run record; see {log}:\n{log.read_text()[-2000:]}"
        records[nb.name] = json.loads(record.read_text())
    return records


def test_every_notebook_runs_what_the_cluster_can_show(solo, tmp_path):
    """Each notebook on a one-node cluster reached through a kubeconfig, with the admin's
    credentials and, at the same time, with an attendee's (role edit in one namespace). A
    notebook with per-section needs passes, skipping only sections whose needs are missing (each
    recorded with its reason); one without them stops at its requires(), saying what the
    cluster lacks. Both runs side by side: the one-node cluster is mostly waited on."""
    from concurrent.futures import ThreadPoolExecutor

    from kubelab.cluster import credentials as creds
    from kubelab.core import spec

    admin_kubeconfig = tmp_path / "admin.kubeconfig"
    shutil.copy(solo.kubeconfig, admin_kubeconfig)
    attendee = creds.namespace_kubeconfig(solo, "attendee", tmp_path / "attendee.kubeconfig")
    before = namespaces(solo)
    outs = {mode: tmp_path / mode for mode in FLOOR}
    for out in outs.values():
        out.mkdir()
    with ThreadPoolExecutor(2) as pool:
        admin = pool.submit(run_all_through, admin_kubeconfig, outs["admin"])
        namespace = pool.submit(run_all_through, attendee, outs["namespace"], "attendee")
        records = {"admin": admin.result(), "namespace": namespace.result()}
    shares = {}
    for mode, by_name in records.items():
        proven, owed = 0, 0
        for name, record in by_name.items():
            nb = next(n for n in notebooks_found() if n.name == name)
            if not sectioned(nb):
                assert record["status"] == "not-run", f"{mode}: {name}: {record['status']}"
                continue
            assert record["status"] == "passed", f"{mode}: {name}: {record.get('message')}"
            assert not [c for c in record["checks"] if c["passed"] is False]
            assert all(c["skipped"].strip() for c in record["checks"] if c.get("skipped"))
            ids = {i for c in record["checks"] if c["passed"] for i in c["proves"]}
            proven, owed = proven + len(ids), owed + len(spec.load().for_notebook(name))
            print(f"{mode}: {name}: {len(ids)} proven in {record['seconds']:.0f} s")
        shares[mode] = proven / max(owed, 1)
    assert all(shares[mode] >= FLOOR[mode] for mode in FLOOR), shares
    assert namespaces(solo) == before


def notebooks_found():
    from kubelab.runner import notebooks

    return notebooks.discover()


def test_a_namespace_given_with_namespace_bound_credentials(solo, tmp_path):
    """A workshop attendee's kubeconfig (role edit in one namespace, nothing cluster-scoped): the
    run works in that namespace without creating it, sees it cannot read nodes or write
    cluster-scoped objects, skips what needs them, and removes only what it made."""
    from kubelab.cluster import credentials
    from kubelab.lab import sections
    from kubelab.core.errors import KubelabError

    kubeconfig = credentials.namespace_kubeconfig(solo, "attendee-1", tmp_path / "attendee")
    attendee = ExistingCluster(kubeconfig)
    solo.kubectl("create", "configmap", "theirs", "-n", "attendee-1", check=False)
    lab = Lab(attendee, "attendee-1", "03-pods", given_namespace=True, run_id="03-pods-t1")
    lab.create_namespace()
    try:
        caps = probes.probe(lab)
        assert (caps.cluster_read, caps.cluster_admin, caps.nodes) == (False, False, 0)
        assert sections.start(lab, 14, state=sections.Skipping())
        with pytest.raises(probes.RequirementNotMet, match="cluster-scoped permissions"):
            sections.start(lab, 18, state=sections.Skipping(), cluster_admin=True)
        lab.apply(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mine"}, "data": {}}
        )
        assert lab.get("configmap", "mine")["metadata"]["labels"] == {
            "kubelab.dev/run-namespace": "03-pods-t1"
        }
    finally:
        close_run(lab, "attendee-1", timeout=60)
    left = set(solo.kubectl("get", "configmaps", "-n", "attendee-1", "-o", "name").split())
    assert "configmap/theirs" in left and "configmap/mine" not in left
    for who, where, why in (
        (solo, "nowhere", "nowhere on cluster .* does not exist"),
        (attendee, "nowhere", "cannot create objects in namespace nowhere .*or it does not exist"),
        (attendee, "default", "cannot create objects in namespace default"),
    ):
        with pytest.raises(KubelabError, match=why):
            Lab(who, where, given_namespace=True, run_id="x").create_namespace()
