"""The notebook library's parts that need no cluster: manifests, checks, readiness, notebooks."""

import time

import pytest

from kubelab.lab import checks
from kubelab.runner import notebooks
from kubelab.core.errors import KubelabError
from kubelab.lab.lab import is_ready, new_namespace_name, parse_manifest, readiness
from kubelab.lab.recorder import Event, Recorder


def test_manifests_parse_and_bad_yaml_says_where():
    docs = parse_manifest(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n"
    )
    assert [d["kind"] for d in docs] == ["ConfigMap", "Secret"]
    with pytest.raises(KubelabError, match="not valid YAML at line 4"):
        parse_manifest("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\n  x: [\n")
    with pytest.raises(KubelabError, match="lacks apiVersion or kind"):
        parse_manifest("metadata: {name: a}\n")


def test_field_paths_and_expectations_show_the_object(capsys):
    node = {
        "metadata": {"name": "n", "labels": {"kubernetes.io/hostname": "n"}},
        "status": {"phase": "Running"},
    }
    assert checks.field(node, "metadata.labels.[kubernetes.io/hostname]") == "n"
    assert checks.field({"a": [{"b": 1}]}, "a.0.b") == 1
    checks.expect(node, "status.phase", "Running")
    assert "✓ status.phase == 'Running'" in capsys.readouterr().out
    with pytest.raises(AssertionError) as failure:
        checks.expect(node, "status.phase", "Pending")
    assert "expected: status.phase == 'Pending'" in str(
        failure.value
    ) and "observed: status.phase = 'Running'" in str(failure.value)
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
    pod = {
        "kind": "Pod",
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    assert is_ready(pod) and readiness(pod) == "phase Running, ready"
    waiting = {
        "kind": "Pod",
        "status": {
            "phase": "Pending",
            "containerStatuses": [{"state": {"waiting": {"reason": "ErrImagePull"}}}],
        },
    }
    assert not is_ready(waiting) and "ErrImagePull" in readiness(waiting)
    deploy = {
        "kind": "Deployment",
        "metadata": {"generation": 2},
        "spec": {"replicas": 3},
        "status": {
            "observedGeneration": 2,
            "replicas": 3,
            "readyReplicas": 3,
            "updatedReplicas": 3,
        },
    }
    assert is_ready(deploy)
    assert not is_ready({**deploy, "status": {**deploy["status"], "observedGeneration": 1}})
    assert readiness(None) == "not found"


def test_namespace_names_are_valid_and_fresh():
    a, b = new_namespace_name("00-tour_Reconcile"), new_namespace_name("00-tour_Reconcile")
    assert a != b and a.startswith("00-tour-reconcile-") and len(a) <= 63


def test_recorder_table_and_queries(capsys):
    rec = Recorder(lab=None, kinds=())
    rec.started, rec.stopped = time.monotonic() - 3, time.monotonic()
    rec.events = [
        Event(0.0, "EXISTING", "Pod", "a", "phase Running, ready"),
        Event(0.5, "MODIFIED", "Pod", "a", "terminating"),
        Event(0.6, "ADDED", "Pod", "b", "phase Pending"),
        Event(1.2, "MODIFIED", "Pod", "b", "phase Running, ready"),
        Event(2.0, "DELETED", "Pod", "a", "deleted"),
    ]
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


# -- facts a notebook must probe, with the branches tested on recorded probe results ------------


def test_cgroup_version_and_the_files_each_version_has():
    from kubelab.helpers import cgroups

    assert cgroups.version_of("cgroup2fs\n") == 2 and cgroups.version_of("tmpfs") == 1
    with pytest.raises(ValueError, match="neither"):
        cgroups.version_of("ext4")
    # what a v1 node (this project's CI hosts) and a v2 node (most laptops) show for one container
    recorded_v1 = {
        ("memory", "memory.limit_in_bytes"): "134217728",
        ("cpu", "cpu.cfs_quota_us"): "50000",
        ("cpu", "cpu.cfs_period_us"): "100000",
        ("cpu", "cpu.shares"): "256",
    }
    recorded_v2_old_runc = {
        ("", "memory.max"): "134217728",
        ("", "cpu.max"): "50000 100000",
        ("", "cpu.weight"): "10",
    }
    recorded_v2_new_runc = {**recorded_v2_old_runc, ("", "cpu.weight"): "35"}
    for version, recorded in (
        (1, recorded_v1),
        (2, recorded_v2_old_runc),
        (2, recorded_v2_new_runc),
    ):
        wanted = cgroups.expected_files(
            version, cpu_request="250m", cpu_limit="500m", memory_limit="128Mi"
        )
        assert set(wanted) == set(recorded)
        assert all(recorded[key] in acceptable for key, acceptable in wanted.items()), (
            version,
            recorded,
        )
    assert cgroups.weights(1024) == {"39", "100"}  # 1 CPU: the old and the new conversion


def test_allocated_resources_are_read_from_describe_node():
    from kubelab.helpers import describe

    text = """Non-terminated Pods:          (3 in total)
Allocated resources:
  (Total limits may be over 100 percent, i.e., overcommitted.)
  Resource           Requests    Limits
  --------           --------    ------
  cpu                350m (17%)  600m (30%)
  memory             114Mi (0%)  454Mi (1%)
  ephemeral-storage  0 (0%)      0 (0%)
  hugepages-2Mi      0 (0%)      0 (0%)
Events:              <none>
"""
    table = describe.allocated(text)
    assert table["cpu"] == describe.Allocation("350m", "600m") and table["memory"].limits == "454Mi"
    assert set(table) == {"cpu", "memory", "ephemeral-storage", "hugepages-2Mi"}
    with pytest.raises(ValueError, match="Allocated resources"):
        describe.allocated("Name: x\n")


def test_a_background_timeline_samples_and_surfaces_the_notebooks_own_errors():
    import itertools

    from kubelab.lab.sampling import Timeline

    counter = itertools.count()
    with Timeline("a counter", lambda: next(counter), interval=0.05) as timeline:
        t, value = timeline.wait_until(lambda v: v >= 3, "the counter to reach 3", timeout=5)
    assert value == 3 and timeline.first(lambda v: v >= 2) <= t
    fig = timeline.plot({"parity": lambda v: "even" if v % 2 == 0 else "odd"}, marks={"start": 0})
    assert fig.axes[0].get_yticklabels()[0].get_text() == "parity"

    def broken():
        raise KeyError("a bug in the notebook's own code")

    with Timeline("a broken observer", broken, interval=0.05) as timeline:
        with pytest.raises(KeyError):
            timeline.wait_until(lambda v: True, "anything", timeout=5)


def test_the_summary_table_needs_measured_rows(capsys, monkeypatch):
    from kubelab.lab import ledger
    from kubelab.lab.report import Summary, UnmeasuredRow, build_table, expand_ids, summary_table

    table = build_table([("Q-ARCH-4", "50 s, then 300 s", "Unknown after 46 s")])
    assert table.rows[0][0].startswith("Q-ARCH-4 What is the real timeline")
    assert "| Q-ARCH-4" in table._repr_markdown_()
    with pytest.raises(ValueError, match="non-empty"):
        build_table([("Q-ARCH-4", "", "x")])
    assert expand_ids("C-RTC-1..3, Q-RTC-1") == ["C-RTC-1", "C-RTC-2", "C-RTC-3", "Q-RTC-1"]
    summary = Summary()
    with pytest.raises(UnmeasuredRow, match="no measured value"):
        summary.row("Q-GC-2", "no container uses it", "3 in-use images kept")  # a literal sentence
    with pytest.raises(UnmeasuredRow, match="not shown"):
        summary.row("Q-GC-2", "no container uses it", "{kept} in-use images kept", kept=3, other=1)
    with pytest.raises(UnmeasuredRow, match="nothing was measured"):
        summary.row("Q-GC-2", "no container uses it", "{kept} in-use images kept", kept=None)
    summary.row("Q-GC-2, C-GC-1..2", "no container uses it", "{kept} in-use images kept", kept=3)
    with pytest.raises(UnmeasuredRow, match="literal rows"):
        summary_table([("Q-GC-2", "no container uses it", "3 in-use images kept")])
    monkeypatch.setattr(
        ledger,
        "_in_memory",
        [
            {"what": "kept", "proves": ["Q-GC-2", "C-GC-1"], "passed": True},
            {"what": "failed", "proves": ["C-GC-2"], "passed": False},
        ],
    )
    with pytest.raises(
        UnmeasuredRow, match="C-GC-2"
    ):  # named by the row, never proven by a passing check
        summary_table(summary)
    ledger._in_memory.append({"what": "later", "proves": ["C-GC-2"], "passed": True})
    summary_table(summary)
    assert "3 in-use images kept" in capsys.readouterr().out


def test_swap_follows_what_the_machine_has():
    from kubelab.helpers import swap

    assert (
        swap.device_bytes("Filename\tType\tSize\tUsed\tPriority\n") == 0
    )  # this project's CI hosts
    laptop = "Filename\tType\tSize\tUsed\tPriority\n/swapfile file 2097148 0 -2\n/dev/zram0 partition 1048572 0 100\n"
    assert swap.device_bytes(laptop) == (2097148 + 1048572) * 1024
    assert swap.expected_outcome(1) == "refused" and swap.expected_outcome(2) == "accepted"


class RecordedNode:
    """A node whose kubelet answers as recorded on a cgroup v1 host (refuses) or a v2 host (accepts)."""

    def __init__(self, accepts: bool):
        self.accepts, self.config, self.restored = accepts, {"failSwapOn": False}, False

    def reconfigure_kubelet(self, **fields):
        from kubelab.core.errors import KubelabError

        if not self.accepts:
            raise KubelabError(
                "the kubelet on w did not start with {...}: swap feature is enabled and LimitedSwap "
                "but it is only supported with cgroupv2"
            )
        self.config = {**self.config, **fields}

    def kubelet_config(self):
        return self.config

    def restore(self):
        self.restored = True


def test_limited_swap_trial_on_recorded_kubelets():
    from kubelab.helpers import swap

    refused = swap.try_limited_swap(RecordedNode(accepts=False))
    assert (
        refused.outcome == swap.expected_outcome(1) and swap.REFUSAL_ON_CGROUP_V1 in refused.message
    )
    node = RecordedNode(accepts=True)
    accepted = swap.try_limited_swap(node)
    assert (
        accepted.outcome == swap.expected_outcome(2)
        and accepted.swap_behavior == "LimitedSwap"
        and node.restored
    )


def test_a_negative_check_first_sees_the_positive_case():
    from kubelab.lab.checks import ExpectationFailed, expect_absent

    shown, found = expect_absent(
        "no rule for b",
        lambda: [],
        control=lambda: ["rule for a"],
        control_what="a's rule",
        timeout=1,
    )
    assert shown == ["rule for a"] and found == []
    with pytest.raises(
        ExpectationFailed, match="the positive case"
    ):  # the system never acted: no verdict
        expect_absent(
            "no rule for b",
            lambda: [],
            control=lambda: [],
            control_what="a's rule",
            timeout=0.2,
            interval=0.05,
        )
    with pytest.raises(ExpectationFailed, match="rule for b"):
        expect_absent(
            "no rule for b",
            lambda: ["rule for b"],
            control=lambda: ["rule for a"],
            control_what="a's rule",
            timeout=1,
        )


def test_a_skipped_check_is_recorded_with_its_reason(capsys, monkeypatch):
    from kubelab.lab import ledger
    from kubelab.lab.checks import skipped

    monkeypatch.setattr(ledger, "_in_memory", [])
    skipped("the host has no IPv6", proves=["C-DUAL-3"])
    assert ledger.checks() == [
        {
            "what": "skipped on this cluster: the host has no IPv6",
            "proves": ["C-DUAL-3"],
            "passed": None,
            "skipped": "the host has no IPv6",
        }
    ]
    assert "skipped on this cluster: the host has no IPv6  [C-DUAL-3]" in capsys.readouterr().out
