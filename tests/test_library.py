"""The notebook library's parts that need no cluster: manifests, checks, readiness, notebooks."""

import time

import pytest

from kubelab import checks, notebooks
from kubelab.errors import KubelabError
from kubelab.lab import is_ready, new_namespace_name, parse_manifest, readiness
from kubelab.recorder import Event, Recorder


def test_manifests_parse_and_bad_yaml_says_where():
    docs = parse_manifest("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n")
    assert [d["kind"] for d in docs] == ["ConfigMap", "Secret"]
    with pytest.raises(KubelabError, match="not valid YAML at line 4"):
        parse_manifest("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\n  x: [\n")
    with pytest.raises(KubelabError, match="lacks apiVersion or kind"):
        parse_manifest("metadata: {name: a}\n")


def test_field_paths_and_expectations_show_the_object(capsys):
    node = {"metadata": {"name": "n", "labels": {"kubernetes.io/hostname": "n"}}, "status": {"phase": "Running"}}
    assert checks.field(node, "metadata.labels.[kubernetes.io/hostname]") == "n"
    assert checks.field({"a": [{"b": 1}]}, "a.0.b") == 1
    checks.expect(node, "status.phase", "Running")
    assert "✓ status.phase == 'Running'" in capsys.readouterr().out
    with pytest.raises(AssertionError) as failure:
        checks.expect(node, "status.phase", "Pending")
    assert "expected: status.phase == 'Pending'" in str(failure.value) and "observed: status.phase = 'Running'" in str(failure.value)
    assert "name: n" in str(failure.value)
    with pytest.raises(AssertionError, match="no such field"):
        checks.field(node, "spec.nodeName")
    with pytest.raises(AssertionError, match="expected: the pod runs"):
        checks.check(False, "the pod runs", node)


def test_expect_error_needs_the_error_and_its_words():
    with checks.expect_error("AlreadyExists") as seen:
        raise RuntimeError('configmaps "x" already exists: AlreadyExists')
    assert "already exists" in seen["message"]
    with pytest.raises(AssertionError, match="no error at all"):
        with checks.expect_error("AlreadyExists"):
            pass
    with pytest.raises(AssertionError, match="without"):
        with checks.expect_error("Forbidden"):
            raise RuntimeError("NotFound")


def test_readiness_of_common_kinds():
    pod = {"kind": "Pod", "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    assert is_ready(pod) and readiness(pod) == "phase Running, ready"
    waiting = {"kind": "Pod", "status": {"phase": "Pending", "containerStatuses": [{"state": {"waiting": {"reason": "ErrImagePull"}}}]}}
    assert not is_ready(waiting) and "ErrImagePull" in readiness(waiting)
    deploy = {"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 3},
              "status": {"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3}}
    assert is_ready(deploy)
    assert not is_ready({**deploy, "status": {**deploy["status"], "observedGeneration": 1}})
    assert readiness(None) == "not found"


def test_namespace_names_are_valid_and_fresh():
    a, b = new_namespace_name("00-tour_Reconcile"), new_namespace_name("00-tour_Reconcile")
    assert a != b and a.startswith("00-tour-reconcile-") and len(a) <= 63


def test_recorder_table_and_queries(capsys):
    rec = Recorder(lab=None, kinds=())
    rec.started, rec.stopped = time.monotonic() - 3, time.monotonic()
    rec.events = [Event(0.0, "EXISTING", "Pod", "a", "phase Running, ready"), Event(0.5, "MODIFIED", "Pod", "a", "terminating"),
                  Event(0.6, "ADDED", "Pod", "b", "phase Pending"), Event(1.2, "MODIFIED", "Pod", "b", "phase Running, ready"),
                  Event(2.0, "DELETED", "Pod", "a", "deleted")]
    assert rec.added() == ["b"] and rec.deleted() == ["a"] and rec.first("b", "ready").t == 1.2
    table = rec.table()
    assert "pod/b" in table and "DELETED" in table
    fig = rec.plot("test")
    assert fig.axes[0].get_title() == "test"


def test_unknown_notebook_and_parameter_give_a_fix():
    with pytest.raises(KubelabError, match="no notebook 'nope'") as failure:
        notebooks.find("nope")
    assert "00-tour-reconcile-and-objects" in failure.value.fix
    nb = notebooks.find("00")
    with pytest.raises(KubelabError, match="has no parameter 'speed'"):
        notebooks.parse_parameters(nb, [("speed", "3")])
    with pytest.raises(KubelabError, match="must be a number"):
        notebooks.parse_parameters(nb, [("replicas", "many")])
    assert notebooks.parse_parameters(nb, [("replicas", "4")]) == {"replicas": 4}


def test_someone_elses_cluster_needs_an_explicit_yes(tmp_path):
    import kubelab
    config = tmp_path / "config"
    config.write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(KubelabError, match="only runs notebooks on clusters it created") as failure:
        kubelab.connect(kubeconfig=str(config), context="production")
    assert "existing_cluster=True" in failure.value.fix
