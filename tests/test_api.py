"""The library's API logic against a real API server without nodes (tests/apiserver.py): object
verbs, watch-based waits, the recorder, and a run's teardown. Seconds once the server is up."""

import threading
import time
import uuid

import pytest

from kubelab.helpers import times
from kubelab.lab.checks import expect_error
from kubelab.lab.lab import Lab, WaitTimeout
from kubelab.lab.namespaces import RUN_NAMESPACE, close_run, delete_run_objects
from kubelab.core.readiness import readiness, terminal_state
from kubelab.lab.recorder import Event, Recorder


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def config_map(name: str, **data) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"test": name}},
        "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10.2"}]},
    }


def later(seconds: float, action) -> threading.Thread:
    """Run action after `seconds` in a thread (what a controller would do meanwhile)."""
    thread = threading.Thread(target=lambda: (time.sleep(seconds), action()), daemon=True)
    thread.start()
    return thread


def test_object_verbs(api_lab):
    name = unique("verbs")
    (applied,) = api_lab.apply(config_map(name, a="1"))
    assert applied["data"] == {"a": "1"}
    got = api_lab.get("configmap", name)
    assert got["kind"] == "ConfigMap" and got["metadata"]["namespace"] == api_lab.namespace
    listed = [c for c in api_lab.list("configmaps") if c["metadata"]["name"] == name]
    assert listed and listed[0]["kind"] == "ConfigMap"  # list items carry their kind
    patched = api_lab.patch("configmap", name, {"data": {"b": "2"}})
    assert patched["data"] == {"a": "1", "b": "2"}
    api_lab.replace({**patched, "data": {"c": "3"}})
    assert api_lab.get("configmap", name)["data"] == {"c": "3"}
    with expect_error("Conflict"):
        api_lab.replace({**patched, "data": {"d": "4"}})  # patched's resourceVersion is stale now
    with expect_error("AlreadyExists"):
        api_lab.create(config_map(name))
    api_lab.delete("configmap", name)
    assert api_lab.get("configmap", name) is None


def test_wait_until_returns_on_the_event(api_lab):
    name = unique("event")
    api_lab.apply(config_map(name, step="1"))
    changed = {}

    def change():
        changed["at"] = time.monotonic()  # before: the watch event may beat the PATCH's own answer
        api_lab.patch("configmap", name, {"data": {"step": "2"}})

    later(0.7, change)
    obj = api_lab.wait_until(
        "configmap", name, lambda c: c["data"]["step"] == "2", "step 2", timeout=10
    )
    returned = time.monotonic()
    assert obj["data"]["step"] == "2"
    assert returned - changed["at"] < 0.3, (
        "the wait should return on the watch event, not at a poll"
    )


def test_an_error_in_the_predicate_is_raised_at_once(api_lab):
    name = unique("broken")
    api_lab.apply(config_map(name, step="1"))
    started = time.monotonic()
    with pytest.raises(KeyError):
        api_lab.wait_until(
            "configmap", name, lambda c: c["data"]["missing"], "a broken predicate", timeout=30
        )
    assert time.monotonic() - started < 3


def test_wait_for_retries_api_errors_and_raises_the_rest():
    from kubernetes.client.exceptions import ApiException
    from kubelab.lab.waits import wait_for

    answers = iter([ApiException(status=503, reason="ServiceUnavailable"), "ok"])

    def flaky():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert wait_for("a flaky API", flaky, interval=0.05, timeout=5) == "ok"
    started = time.monotonic()
    with pytest.raises(ZeroDivisionError):
        wait_for("a bug", lambda: 1 / 0, timeout=30)
    with pytest.raises(ValueError):
        wait_for("a bug in done", lambda: "x", done=lambda x: int(x), timeout=30)
    assert time.monotonic() - started < 1


def test_waits_time_out_with_the_last_state(api_lab):
    name = unique("slow")
    api_lab.apply(config_map(name, step="1"))
    with pytest.raises(WaitTimeout, match=r"step 9.*last seen: present"):
        api_lab.wait_until(
            "configmap", name, lambda c: c["data"]["step"] == "9", "step 9", timeout=1.5
        )


def test_wait_deleted(api_lab):
    name = unique("doomed")
    api_lab.apply(config_map(name))
    later(0.3, lambda: api_lab.delete("configmap", name))
    started = time.monotonic()
    api_lab.wait_deleted("configmap", name, timeout=10)
    assert api_lab.get("configmap", name) is None and time.monotonic() - started < 2
    api_lab.wait_deleted("configmap", unique("never-was"), timeout=5)  # at once


def test_wait_terminal_says_how_a_job_or_pod_ended(api_lab):
    # No controller runs Jobs or pods here: the test writes their status as one would.
    now = times.now_rfc3339()
    for outcome, conditions in (
        ("Complete", ["SuccessCriteriaMet", "Complete"]),
        ("Failed", ["FailureTarget", "Failed"]),
    ):
        name = unique(outcome.lower())
        api_lab.apply(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": name},
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10.2"}],
                        }
                    }
                },
            }
        )
        status = {
            "startTime": now,
            "conditions": [
                {
                    "type": t,
                    "status": "True",
                    "reason": "Test",
                    "message": "set by the test",
                    "lastProbeTime": now,
                    "lastTransitionTime": now,
                }
                for t in conditions
            ],
        }
        if outcome == "Complete":
            status.update(completionTime=now, succeeded=1)
        else:
            status.update(failed=1)
        later(0.3, lambda: api_lab.patch("job", name, {"status": status}, subresource="status"))
        state, job = api_lab.wait_terminal("job", name, timeout=10)
        assert state == outcome and terminal_state(job) == outcome and readiness(job) == outcome

    name = unique("pod")
    api_lab.create(pod(name))
    assert terminal_state(api_lab.get("pod", name)) is None
    later(
        0.3,
        lambda: api_lab.patch(
            "pod", name, {"status": {"phase": "Succeeded"}}, subresource="status"
        ),
    )
    state, _ = api_lab.wait_terminal("pod", name, timeout=10)
    assert state == "Succeeded"


def test_the_recorder_sees_every_change_in_order_across_watch_ends(api_lab):
    name = unique("rec")
    # One-second watches: the recording below spans several, and must lose nothing between them.
    with Recorder(api_lab, ("pods",), selector=f"test={name}", watch_seconds=1) as rec:
        api_lab.create(pod(name))
        time.sleep(1.5)
        api_lab.patch("pod", name, {"status": {"phase": "Running"}}, subresource="status")
        time.sleep(1.5)
        api_lab.delete("pod", name)  # unscheduled: deleted at once
    seen = [
        (e.type, e.state) for e in rec.events if e.state != "terminating"
    ]  # as the server deletes it
    assert seen == [
        ("ADDED", "phase Pending"),
        ("MODIFIED", "phase Running"),
        ("DELETED", "deleted"),
    ]
    assert rec.added() == [name] and rec.deleted() == [name] and rec.errors == []
    assert rec.intervals(name, "Pending", "Running") and rec.max_at_once("Running", kind="Pod") == 1


def test_recorder_queries():
    rec = Recorder(lab=None, kinds=())
    rec.events = [
        Event(0.0, "EXISTING", "Pod", "a", "phase Running, ready"),
        Event(0.5, "MODIFIED", "Pod", "a", "terminating"),
        Event(0.6, "ADDED", "Pod", "b", "phase Pending"),
        Event(0.7, "MODIFIED", "Pod", "b", "terminating"),
        Event(1.0, "DELETED", "Pod", "a", "deleted"),
        Event(1.1, "ADDED", "Pod", "c", "phase Pending"),
        Event(1.5, "MODIFIED", "Pod", "c", "phase Running, ready"),
        Event(1.6, "MODIFIED", "Pod", "c", "phase Pending"),
        Event(2.6, "MODIFIED", "Pod", "c", "phase Running, ready"),
    ]
    assert (
        rec.max_at_once("terminating") == 2
        and rec.max_at_once("terminating", kind="Deployment") == 0
    )
    assert rec.intervals("c", "Pending", "ready") == [0.4, 1.0]


def test_times():
    assert times.parse("2026-01-02T03:04:05Z").isoformat() == "2026-01-02T03:04:05+00:00"
    assert times.parse("2026-01-02T03:04:05.123456789Z").microsecond == 123456
    assert (
        times.parse("2026-01-02T03:04:05.5+01:00").isoformat() == "2026-01-02T02:04:05.500000+00:00"
    )
    assert times.parse(times.now_rfc3339()).tzinfo is not None and times.now_rfc3339().endswith("Z")
    assert times.intervals(
        ["2026-01-02T03:04:05Z", "2026-01-02T03:04:06.25Z", "2026-01-02T03:04:10Z"]
    ) == [1.25, 3.75]
    with pytest.raises(ValueError):
        times.parse("yesterday")


def test_pinned_images_are_the_preloaded_names():
    import kubelab

    assert kubelab.AGNHOST.startswith("registry.k8s.io/e2e-test-images/agnhost:")
    assert kubelab.PAUSE.startswith("registry.k8s.io/pause:") and ":" in kubelab.BUSYBOX
    assert kubelab.KUBERNETES_VERSION.startswith("v1.")


def test_closing_a_run_releases_finalizers_and_deletes_its_cluster_objects(api_lab):
    run = Lab(api_lab.cluster, unique("run"), notebook="pytest")
    run.create_namespace()
    extra = run.extra_namespace("other")
    # Made behind the library's back, with a finalizer no controller will ever remove.
    run.dynamic.create(
        run.resource("v1/ConfigMap"),
        namespace=run.namespace,
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "held", "finalizers": ["kubelab.dev/demo"]},
        },
    )
    role = unique("reader")
    (applied,) = run.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": role},
            "rules": [],
        }
    )
    assert applied["metadata"]["labels"][RUN_NAMESPACE] == run.namespace
    started = time.monotonic()
    close_run(run, run.namespace, timeout=60)
    print(f"closed in {time.monotonic() - started:.1f} s")
    assert run.get("v1/Namespace", run.namespace) is None and run.get("v1/Namespace", extra) is None
    assert run.get("clusterrole", role) is None


def test_delete_run_objects_leaves_what_the_run_did_not_make(api_lab):
    theirs = unique("theirs")
    api_lab.dynamic.create(
        api_lab.resource("clusterrole"),
        body={
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": theirs},
            "rules": [],
        },
    )
    ours = unique("ours")
    api_lab.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": ours},
            "rules": [],
        }
    )
    # Applying to an object that existed before the run changes it, but does not make it the run's.
    api_lab.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": theirs, "labels": {"changed": "yes"}},
            "rules": [],
        }
    )
    assert delete_run_objects(api_lab, api_lab.namespace) == [f"clusterrole/{ours}"]
    assert (
        api_lab.get("clusterrole", ours) is None and api_lab.get("clusterrole", theirs) is not None
    )
    api_lab.delete("clusterrole", theirs)


def test_watches_resume_where_they_ended_and_list_again_only_on_410_gone():
    """list_and_watch against a scripted server: a resumed watch starts at the last resourceVersion
    seen; 410 Gone (that version is too old) makes it list again."""
    from types import SimpleNamespace

    from kubernetes.client.exceptions import ApiException
    from kubelab.lab.waits import list_and_watch

    listings = iter(
        [
            {"metadata": {"resourceVersion": "1"}, "items": [{"metadata": {"name": "a"}}]},
            {"metadata": {"resourceVersion": "9"}, "items": []},
        ]
    )
    lab = SimpleNamespace(
        dynamic=SimpleNamespace(get=lambda *a, **k: SimpleNamespace(to_dict=lambda: next(listings)))
    )
    resource = SimpleNamespace(group_version="v1", kind="ConfigMap", get=None)
    asked_from = []

    class ScriptedWatch:
        def stream(self, func, resource_version, **kwargs):
            asked_from.append(resource_version)
            if len(asked_from) == 1:
                yield {
                    "type": "ADDED",
                    "raw_object": {
                        "kind": "ConfigMap",
                        "metadata": {"name": "b", "resourceVersion": "5"},
                    },
                }
            elif len(asked_from) == 2:
                raise ApiException(status=410, reason="Gone: too old resource version")

    changes = list_and_watch(
        lab, resource, "ns", watcher=ScriptedWatch(), deadline=time.monotonic() + 5
    )
    seen = [next(changes) for _ in range(4)]
    assert [what for what, _ in seen] == ["LISTED", "ADDED", "LISTED", "WATCH_ENDED"]
    assert seen[0][1][0]["kind"] == "ConfigMap"  # list items get their kind back
    assert asked_from == ["1", "5", "9"]
