"""kubelab.helpers.workloads: variants of one template, and workload controllers read off objects."""

import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

from kubelab import AGNHOST
from kubelab.helpers import workloads

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ name }}
spec:
  replicas: {{ replicas }}
  selector:
    matchLabels: {app: {{ name }}}
  template:
    metadata:
      labels: {app: {{ name }}}
    spec:
      containers:
      - name: c
        image: {{ image }}
        env: [{name: VERSION, value: "{{ version }}"}]
"""


def test_a_template_with_values_given_once_makes_independent_objects_to_change():
    deployment = workloads.template(DEPLOYMENT, image=AGNHOST, replicas=3)
    web = deployment(name="web", version=1)
    assert web["spec"]["replicas"] == 3 and workloads.env(web) == [
        {"name": "VERSION", "value": "1"}
    ]
    assert deployment(name="web", version=2, replicas=4)["spec"]["replicas"] == 4
    probe = {"exec": {"command": ["true"]}}
    changed = workloads.with_container(
        workloads.with_pod_spec(
            workloads.with_spec(web, strategy={"type": "Recreate"}), nodeSelector={"a": "b"}
        ),
        readinessProbe=probe,
    )
    assert changed is web and web["spec"]["strategy"] == {"type": "Recreate"}
    assert workloads.pod_spec(web)["nodeSelector"] == {"a": "b"}
    assert workloads.pod_spec(web)["containers"][0]["readinessProbe"] == probe
    assert (
        "readinessProbe"
        not in workloads.pod_spec(deployment(name="web", version=1))["containers"][0]
    )
    shared = workloads.relabel(deployment(name="a", version=1), "shared")
    assert shared["spec"]["selector"]["matchLabels"] == {"app": "shared"}
    assert shared["spec"]["template"]["metadata"]["labels"] == {"app": "shared"}
    assert (
        shared["spec"]["selector"]["matchLabels"]
        is not shared["spec"]["template"]["metadata"]["labels"]
    )


def rs(name, revision, replicas):
    return {
        "metadata": {
            "name": name,
            "uid": f"u-{name}",
            "annotations": {workloads.REVISION: revision},
        },
        "spec": {"replicas": replicas},
    }


def test_replica_sets_come_in_revision_order_and_read_as_history():
    sets = [rs("web-c", "10", 3), rs("web-a", "2", 0), rs("web-b", "9", 0)]
    lab = SimpleNamespace(list=lambda kind, selector: sets if selector == "app=web" else [])
    ordered = workloads.replica_sets(lab, "web")
    assert workloads.names(ordered) == ["web-a", "web-b", "web-c"]  # 10 after 9: numbers
    assert workloads.history(ordered)[-1] == ("web-c", "10", 3)
    assert workloads.replica_set(lab, "web", 9)["metadata"]["name"] == "web-b"
    assert workloads.replica_set(lab, "web", 4) is None
    assert workloads.uid_by_name(sets)["web-a"] == "u-web-a"


def pod(uid="1", ready=True, image="good", revision="r1", waiting=None, restarts=0):
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {"startedAt": "t0"}}
    return {
        "kind": "Pod",
        "metadata": {"name": "p", "uid": uid, "labels": {"controller-revision-hash": revision}},
        "spec": {"containers": [{"name": "c", "image": image}]},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"restartCount": restarts, "state": state}],
        },
    }


def test_statefulset_judgements():
    sts = {"metadata": {"generation": 2}, "status": {"readyReplicas": 3, "updatedReplicas": 2}}
    assert workloads.ready_replicas(3)(sts) and not workloads.ready_replicas(3, updated=True)(sts)
    assert not workloads.ready_replicas(2)(sts)
    assert workloads.ready_on("r2")(pod(revision="r2")) and not workloads.ready_on("r2")(pod())
    assert not workloads.ready_on("r1")(pod(ready=False))
    old = pod(uid="1")
    assert workloads.ready_replacement_of(old)(pod(uid="2"))
    assert not workloads.ready_replacement_of(old)(pod(uid="1"))
    assert workloads.intact(pod(uid="1"), "1") and not workloads.intact(pod(uid="2"), "1")
    assert not workloads.intact(None, "1")
    deleting = pod(uid="1")
    deleting["metadata"]["deletionTimestamp"] = "now"
    assert not workloads.intact(deleting, "1")
    assert workloads.recovered(None, "bad") and workloads.recovered(pod(image="good"), "bad")
    assert not workloads.recovered(pod(image="bad", ready=False), "bad")
    reverted = {
        "metadata": {"generation": 3},
        "status": {"observedGeneration": 3, "updateRevision": "g"},
    }
    assert workloads.updating_to(reverted, "g") and not workloads.updating_to(reverted, "b")
    reverted["status"]["observedGeneration"] = 2
    assert not workloads.updating_to(reverted, "g") and not workloads.updating_to(None, "g")
    assert workloads.waiting_reason(pod(waiting="ErrImagePull")) == "ErrImagePull"
    assert workloads.waiting_reason(pod()) == ""
    claimed = {
        "spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "d-0"}}]}
    }
    assert workloads.claim_of(claimed) == "d-0"


def test_daemonset_judgements_and_what_the_controller_writes_into_its_pods():
    ds = {
        "metadata": {"generation": 1},
        "status": {
            "observedGeneration": 1,
            "desiredNumberScheduled": 2,
            "numberReady": 2,
            "updatedNumberScheduled": 2,
        },
    }
    assert workloads.everywhere_wanted(ds)
    ds["status"]["numberReady"] = 1
    assert not workloads.everywhere_wanted(ds)
    ds["status"].update(desiredNumberScheduled=0, numberReady=0, updatedNumberScheduled=0)
    assert not workloads.everywhere_wanted(ds)  # wanted nowhere yet: not placed
    made = {
        "spec": {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": workloads.on_node("n1")
                    }
                }
            }
        }
    }
    assert workloads.required_terms(made["spec"]) == [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}
    ]
    lab = SimpleNamespace(list=lambda kind, selector: [{"metadata": {"name": "a-1"}, **made}])
    assert (
        workloads.made_for(lab, "a", "n1") == ["a-1"] and workloads.made_for(lab, "a", "n2") == []
    )
    tolerant = {
        "spec": {"tolerations": [{"key": "k", "effect": "NoSchedule"}, {"operator": "Exists"}]}
    }
    assert workloads.tolerated(tolerant) == {("k", "NoSchedule"), (None, None)}
    assert workloads.life(pod(uid="9", restarts=2)) == ("9", 2, "t0")
    unscheduled = {"status": {"conditions": [{"type": "PodScheduled", "status": "False"}]}}
    lab = SimpleNamespace(list=lambda kind, selector: [unscheduled, {"status": {}}])
    assert workloads.conditions_of(lab, "app=x", "PodScheduled") == [
        {"type": "PodScheduled", "status": "False"}
    ]


def test_first_event_is_the_earliest_in_exactly_that_state():
    event = lambda t, kind, state: SimpleNamespace(t=t, kind=kind, state=state)  # noqa: E731
    record = SimpleNamespace(
        events=[
            event(3.0, "Pod", "phase Succeeded"),
            event(1.0, "Pod", "phase Succeeded, ready"),
            event(2.0, "Pod", "phase Succeeded"),
        ]
    )
    assert workloads.first_event(record, "Pod", "phase Succeeded") == 2.0
    assert math.isnan(workloads.first_event(record, "Pod", "phase Failed"))


def test_the_notebooks_manifests_render_as_the_objects_they_were():
    """Every block YAML template in notebook 04 renders, with the values the notebook gives."""
    from kubelab import manifest
    from kubelab.lab.objects import parse_manifest

    notebook = Path(__file__).parent.parent / "notebooks" / "04-workload-resources.ipynb"
    source = "\n".join(
        "".join(c["source"])
        for c in json.loads(notebook.read_text())["cells"]
        if c["cell_type"] == "code"
    )
    texts = {}
    for name in (
        "DEPLOYMENT",
        "STRAY",
        "ADOPTER",
        "WITH_DATA",
        "HEADLESS",
        "STATEFULSET",
        "DAEMONSET",
        "QUEUE_JOB",
        "JOB",
        "AVOIDING",
    ):
        found = re.search(rf'^{name} = """(.*?)"""', source, re.S | re.M)
        texts[name] = found.group(1)
    (queue,) = parse_manifest(texts["QUEUE_JOB"], node="n", image="busybox", path="/q")
    script = queue["spec"]["template"]["spec"]["containers"][0]["command"]
    assert (
        script[:2] == ["sh", "-c"]
        and script[2].startswith("while item=")
        and "exit 1;;" in script[2]
    )
    assert queue["spec"]["template"]["spec"]["volumes"][0]["hostPath"] == {"path": "/q"}
    (job,) = parse_manifest(
        texts["JOB"], name="i", image="b", command="echo index $JOB_COMPLETION_INDEX"
    )
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "sh",
        "-c",
        "echo index $JOB_COMPLETION_INDEX",
    ]
    (web,) = parse_manifest(texts["DEPLOYMENT"], name="web", replicas=3, version=1, image="a")
    assert workloads.env(web) == [{"name": "VERSION", "value": "1"}]
    assert web["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 0
    import yaml

    affinity = yaml.safe_load(manifest(texts["AVOIDING"], node="w1"))
    expression = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ][0]["matchExpressions"][0]
    assert expression == {"key": "kubernetes.io/hostname", "operator": "NotIn", "values": ["w1"]}
    for name in ("WITH_DATA", "STATEFULSET", "DAEMONSET"):
        values = {"name": "x", "image": "a"} | (
            {"replicas": 1} if "STATEFUL" in name or "DATA" in name else {}
        )
        (obj,) = parse_manifest(texts[name], **values)
        assert obj["spec"]["selector"]["matchLabels"] == {"app": "x"}
    parse_manifest(texts["STRAY"], name="s", image="a")
    parse_manifest(texts["ADOPTER"], image="a")
    parse_manifest(texts["HEADLESS"])
