"""The helpers of 03-pods, on recorded values: the branches a machine cannot run (cgroup v2, a runtime
with user-namespace support) are judged here from what such a node shows."""

from types import SimpleNamespace

from kubelab.helpers import disruptions, oomkill, userns
from kubelab.lab.recorder import Event

# -- OOM kills: cgroup v1 (this project's CI hosts) and v2 (most laptops) -------------------------

# The two-process container (a shell whose child dd goes over the 48Mi limit), as the kubelet
# reports it once the kernel has acted. v1 (recorded on this project's CI host): only dd was
# killed, the shell printed its status and lives on.
V1_STATUS = {
    "name": "family",
    "restartCount": 0,
    "ready": True,
    "started": True,
    "lastState": {},
    "state": {"running": {"startedAt": "2026-12-07T17:20:31Z"}},
}
V1_LOG = "child-ended-with 137\n"
V1_OOM_CONTROL = "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"
# v2 (memory.oom.group=1): the whole container is killed; the kubelet then reports it as it reports
# any container OOM-killed as a whole (`leaky` in 03 on any host): OOMKilled, exit 137, restarted.
V2_STATUS = {
    "name": "family",
    "restartCount": 1,
    "ready": False,
    "started": False,
    "lastState": {
        "terminated": {
            "exitCode": 137,
            "reason": "OOMKilled",
            "startedAt": "2026-12-07T17:20:31Z",
            "finishedAt": "2026-12-07T17:20:36Z",
        }
    },
    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
}


class RecordedNode:
    """A node that answers shell commands from a table of recorded outputs (and says what it was asked)."""

    def __init__(self, answers: dict[str, str]):
        self.answers, self.asked = answers, []

    def sh(self, command: str, input: bytes | None = None, **_):
        self.asked.append(command)
        return next(out for start, out in self.answers.items() if command.startswith(start))

    def container_cgroup(self, container_id: str, controller: str) -> str:
        return "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/cri-containerd-abc.scope"

    def cgroup_file(self, container_id: str, controller: str, name: str) -> str:
        return self.sh(f"cat {name}").strip()


def test_what_an_oom_kill_takes_follows_the_cgroup_version_and_the_kubelet():
    assert oomkill.expected_scope(1, {}) == "process"
    assert oomkill.expected_scope(1, {"singleProcessOOMKill": True}) == "process"
    assert oomkill.expected_scope(2, {}) == "container"  # the default on cgroup v2
    assert oomkill.expected_scope(2, {"singleProcessOOMKill": False}) == "container"
    assert oomkill.expected_scope(2, {"singleProcessOOMKill": True}) == "process"


def test_the_v1_branch_on_recorded_values():
    kill = oomkill.judge(V1_STATUS, V1_LOG)
    assert (
        kill.scope == oomkill.expected_scope(1, {})
        and kill.restarts == 0
        and kill.parent_saw == "child-ended-with 137"
    )
    node = RecordedNode({"cat memory.oom_control": V1_OOM_CONTROL})
    assert oomkill.v1_oom_kills(node, "containerd://abc") == 1
    assert oomkill.oom_group(node, "containerd://abc", 1) is None and node.asked == [
        "cat memory.oom_control"
    ]


def test_the_v2_branch_on_recorded_values():
    node = RecordedNode({"cat /sys/fs/cgroup/": "1\n"})
    group = oomkill.oom_group(node, "containerd://abc", 2)
    assert group == "1" and node.asked == [
        "cat /sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/cri-containerd-abc.scope/memory.oom.group"
    ]
    kill = oomkill.judge(V2_STATUS, "")
    assert (
        kill.scope == oomkill.expected_scope(2, {}) == "container"
        and kill.reason == "OOMKilled"
        and kill.parent_saw is None
    )


def test_an_oom_kill_not_yet_seen_is_no_verdict():
    assert oomkill.judge({"restartCount": 0, "state": {"running": {}}, "lastState": {}}, "") is None
    assert (
        oomkill.judge(
            {
                "restartCount": 1,
                "state": {"running": {}},
                "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
            },
            "",
        )
        is None
    )
    assert (
        oomkill.judge({"restartCount": 0, "state": {"waiting": {}}}, V1_LOG) is None
    )  # the parent must live on


def test_the_oom_score_the_kubelet_asked_for_is_read_from_the_oci_spec():
    info = {
        "pid": 4242,
        "runtimeSpec": {"process": {"oomScoreAdj": -997, "args": ["sleep", "3600"]}},
    }
    assert oomkill.spec_oom_score_adj(info) == -997
    assert oomkill.spec_oom_score_adj({"runtimeSpec": {"process": {}}}) == 0


# -- user namespaces: containerd 1.6 (here) and containerd 2.x (stock kind) -----------------------

NODE_CONTAINERD_16 = {"status": {"nodeInfo": {"containerRuntimeVersion": "containerd://1.6.20"}}}
NODE_CONTAINERD_21 = {
    "status": {
        "nodeInfo": {"containerRuntimeVersion": "containerd://2.1.3"},
        "runtimeHandlers": [
            {"name": "", "features": {"recursiveReadOnlyMounts": True, "userNamespaces": True}},
            {"name": "runc", "features": {"recursiveReadOnlyMounts": True, "userNamespaces": True}},
            {
                "name": "test-handler",
                "features": {"recursiveReadOnlyMounts": True, "userNamespaces": False},
            },
        ],
    }
}


def test_which_runtime_handlers_support_user_namespaces():
    assert (
        userns.handlers_supporting(NODE_CONTAINERD_16) == []
    )  # an old runtime reports no handlers at all
    assert userns.handlers_supporting(NODE_CONTAINERD_21) == ["", "runc"]


def test_who_refused_a_pod_and_whether_containerd_was_asked():
    event = {
        "reason": "FailedCreatePodSandBox",
        "source": {"component": "kubelet", "host": "kubelab-default-alone-worker2"},
        "message": "Failed to create pod sandbox: can't set `spec.hostUsers: false`, runtime does not support user namespaces",
    }
    assert userns.reporter(event) == "kubelet"
    assert userns.reporter({"reportingComponent": "kubelet"}) == "kubelet"
    uid = "0c0ffee0-1234-4bcd-9def-0123456789ab"
    lines = [  # containerd 1.6, then 2.x: each RunPodSandbox call is logged with the Pod's metadata
        f'time="2026-12-07T17:21:02Z" level=info msg="RunPodSandbox for &PodSandboxMetadata{{Name:host-users,Uid:{uid},Namespace:03-pods-a,Attempt:0,}}"',
        f'time="2026-12-07T17:21:03Z" level=info msg="RunPodSandbox for &PodSandboxMetadata{{Name:host-users,Uid:{uid},Namespace:03-pods-a,Attempt:0,}} returns sandbox id \\"abc\\""',
        f'time="2026-12-07T17:21:02Z" level=info msg="RunPodSandbox for name:\\"host-users\\" uid:\\"{uid}\\" namespace:\\"03-pods-a\\""',
        f'time="2026-12-07T17:21:04Z" level=info msg="StartContainer for \\"abc\\" returns successfully" pod={uid}',
    ]
    assert len(userns.requests_in(lines, uid)) == 3
    assert userns.requests_in(lines, "another-uid") == []


def test_the_node_side_user_namespace_report_is_read_line_by_line():
    report = (
        "inside-uid 0\ninside-reads no\nuid-map 0 100000 65536\nhost-uid 100000\nroot-reads yes\n"
    )
    seen = userns.parse_report(report)
    assert seen == {
        "inside-uid": "0",
        "inside-reads": "no",
        "uid-map": "0 100000 65536",
        "host-uid": "100000",
        "root-reads": "yes",
    }
    node = RecordedNode({"sh -s": report})
    assert userns.map_root_on_node(node, 200000) == seen and node.asked == ["sh -s"]


# -- disruptions ----------------------------------------------------------------------------------

STALE_POD = {
    "metadata": {
        "name": "aborted",
        "managedFields": [
            {
                "manager": "kubelet",
                "operation": "Update",
                "subresource": "status",
                "time": "2026-12-07T17:10:04Z",
                "fieldsV1": {
                    "f:status": {"f:conditions": {'k:{"type":"Ready"}': {".": {}, "f:status": {}}}}
                },
            },
            {
                "manager": "OpenAPI-Generator",
                "operation": "Update",
                "subresource": "status",
                "time": "2026-12-07T17:10:05Z",
                "fieldsV1": {
                    "f:status": {
                        "f:conditions": {'k:{"type":"DisruptionTarget"}': {".": {}, "f:type": {}}}
                    }
                },
            },
            {
                "manager": "kube-controller-manager",
                "operation": "Update",
                "subresource": "status",
                "time": "2026-12-07T17:12:05Z",
                "fieldsV1": {
                    "f:status": {
                        "f:conditions": {
                            'k:{"type":"DisruptionTarget"}': {
                                "f:lastTransitionTime": {},
                                "f:status": {},
                            }
                        }
                    }
                },
            },
        ],
    },
    "status": {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True"},
            {
                "type": "DisruptionTarget",
                "status": "False",
                "lastTransitionTime": "2026-12-07T17:12:05Z",
            },
        ],
    },
}


def test_who_last_set_a_condition_and_when():
    assert disruptions.condition(STALE_POD, "DisruptionTarget")["status"] == "False"
    assert (
        disruptions.condition(STALE_POD, "PodScheduled") is None
        and disruptions.condition(None, "Ready") is None
    )
    assert disruptions.condition_owner(STALE_POD, "DisruptionTarget") == "kube-controller-manager"
    assert disruptions.written_at(STALE_POD, "DisruptionTarget").strftime("%H:%M:%S") == "17:12:05"
    assert (
        disruptions.written_at(STALE_POD, "DisruptionTarget", "type").strftime("%H:%M:%S")
        == "17:10:05"
    )


def test_fewest_ready_at_once_and_replacements_from_a_recording():
    rollout = SimpleNamespace(
        events=[
            Event(0.0, "EXISTING", "Pod", "web-a", "phase Running, ready"),
            Event(0.0, "EXISTING", "Pod", "web-b", "phase Running, ready"),
            Event(0.5, "MODIFIED", "Pod", "web-a", "terminating"),
            Event(0.6, "ADDED", "Pod", "web-c", "phase Pending"),
            Event(0.7, "DELETED", "Pod", "web-a", "deleted"),
            Event(3.9, "MODIFIED", "Pod", "web-c", "phase Running, ready"),
            Event(4.0, "MODIFIED", "Pod", "web-b", "terminating"),
            Event(4.1, "ADDED", "Pod", "web-d", "phase Pending"),
            Event(7.5, "MODIFIED", "Pod", "web-d", "phase Running, ready"),
        ]
    )
    assert disruptions.fewest_at_once(rollout, "ready", kind="Pod") == 1
    assert disruptions.replaced(rollout, "web-") == ["web-c", "web-d"]
    assert disruptions.replaced(rollout, "db-") == []
    untouched = SimpleNamespace(
        events=[Event(0.0, "EXISTING", "Pod", "web-a", "phase Running, ready")]
    )
    assert disruptions.fewest_at_once(untouched, "ready") == 1


def test_a_budget_counts_only_once_its_controller_saw_the_spec():
    budget = {
        "metadata": {"generation": 2},
        "status": {"observedGeneration": 1, "expectedPods": 2, "currentHealthy": 0},
    }
    assert not disruptions.budget_counts(budget, expectedPods=2)  # counts for the old spec
    budget["status"]["observedGeneration"] = 2
    assert disruptions.budget_counts(budget, expectedPods=2, currentHealthy=0)
    assert not disruptions.budget_counts(budget, currentHealthy=1)
    assert not disruptions.budget_counts(budget, disruptionsAllowed=0)  # not reported yet
    assert not disruptions.budget_counts(None, currentHealthy=0)


def test_the_uid_a_node_sees_and_what_became_of_a_user_namespace_pod():
    assert userns.uid_in("Name:\tsleep\nUid:\t100000\t100000\t100000\t100000\n") == "100000"
    pending = {"kind": "Pod", "status": {"phase": "Pending"}}
    ready = {"kind": "Pod", "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    refusal = {"reason": "FailedCreatePodSandBox", "message": "does not support user namespaces"}
    for pod, events, expected in [
        (pending, [{"reason": "Scheduled"}], None),
        (pending, [{"reason": "Scheduled"}, refusal], ("refused", refusal)),
        (ready, [], ("running", ready)),
    ]:
        lab = SimpleNamespace(get=lambda kind, name, pod=pod: pod, list=lambda *a, e=events, **k: e)
        assert userns.outcome(lab, "own-users") == expected
