"""Workload controllers read off their objects (notebook 04), and manifests made from one block
YAML template with a variant's few changes:

    deployment = template(DEPLOYMENT, image=AGNHOST, replicas=3)   # values given once
    web = deployment(name="web", version=1)                        # the object, as a dict
    with_container(web, readinessProbe=probe)                      # a variant: one field more
    replica_sets(lab, "web")                  # the Deployment's ReplicaSets, oldest revision first
    lab.wait_until("statefulset", "db", ready_replicas(3), "all replicas ready")
    placed(lab, "agent")                      # {node: Pod} once the DaemonSet is on every node
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kubelab.core.readiness import condition, is_ready
from kubelab.helpers.fakenode import daemon_pod_target
from kubelab.lab.checks import field
from kubelab.lab.objects import parse_manifest

NAN = float("nan")
REVISION = "deployment.kubernetes.io/revision"

# -- manifests ---------------------------------------------------------------------------------


def template(text: str, **given) -> Callable[..., dict]:
    """A one-object block YAML template with some of its `{{ name }}` values given once; calling
    it with the others gives the object as a dict (a value given again replaces the first)."""

    def make(**values) -> dict:
        (obj,) = parse_manifest(text, **{**given, **values})
        return obj

    return make


def pod_spec(obj: dict) -> dict:
    """The Pod template's spec of a Deployment, ReplicaSet, StatefulSet, DaemonSet or Job."""
    return obj["spec"]["template"]["spec"]


def with_spec(obj: dict, **fields) -> dict:
    """The object with these fields set in its spec (returned, for use in one expression)."""
    obj["spec"].update(fields)
    return obj


def with_pod_spec(obj: dict, **fields) -> dict:
    """The object with these fields set in its Pod template's spec."""
    pod_spec(obj).update(fields)
    return obj


def with_container(obj: dict, **fields) -> dict:
    """The object with these fields set in its Pod template's first container."""
    pod_spec(obj)["containers"][0].update(fields)
    return obj


def relabel(obj: dict, app: str) -> dict:
    """The workload with selector and Pod template both on app=<app> (not its name)."""
    obj["spec"]["selector"]["matchLabels"] = {"app": app}
    obj["spec"]["template"]["metadata"]["labels"] = {"app": app}
    return obj


def names(objects: Iterable[dict]) -> list[str]:
    """The objects' metadata.name, in the order given."""
    return [obj["metadata"]["name"] for obj in objects]


def uid_by_name(objects: Iterable[dict]) -> dict[str, str]:
    """{name: UID} of the objects: which ones are still the same objects later."""
    return {obj["metadata"]["name"]: obj["metadata"]["uid"] for obj in objects}


def env(obj: dict) -> list[dict]:
    """The environment of the first container of a workload's Pod template."""
    return pod_spec(obj)["containers"][0]["env"]


# -- Deployments and their ReplicaSets ---------------------------------------------------------


def revision(obj: dict) -> str:
    """A Deployment's or ReplicaSet's revision, as its annotation has it ("3")."""
    return obj["metadata"]["annotations"][REVISION]


def replica_sets(lab, app: str) -> list[dict]:
    """The ReplicaSets labelled app=<app>, oldest revision first."""
    return sorted(lab.list("replicasets", selector=f"app={app}"), key=lambda rs: int(revision(rs)))


def replica_set(lab, app: str, number: int) -> dict | None:
    """The ReplicaSet of revision `number` among those labelled app=<app>, or None."""
    return next((rs for rs in replica_sets(lab, app) if revision(rs) == str(number)), None)


def history(sets: Iterable[dict]) -> list[tuple[str, str, int]]:
    """(name, revision, spec.replicas) of each ReplicaSet: what `rollout history` is made of."""
    return [(rs["metadata"]["name"], revision(rs), rs["spec"]["replicas"]) for rs in sets]


def first_event(record, kind: str, state: str) -> float:
    """When a recording first saw an object of `kind` in exactly this state (seconds from its
    start), or NaN if it never did."""
    return min((e.t for e in record.events if e.kind == kind and e.state == state), default=NAN)


# -- StatefulSets and their Pods ---------------------------------------------------------------


def ready_replicas(count: int, updated: bool = False) -> Callable[[dict], bool]:
    """A predicate: status.readyReplicas == count (and updatedReplicas too, if `updated`)."""

    def judge(obj: dict) -> bool:
        return field(obj, "status.readyReplicas", 0) == count and (
            not updated or field(obj, "status.updatedReplicas", 0) == count
        )

    return judge


def pod_revisions(lab, selector: str) -> dict[str, str]:
    """{Pod name: its controller-revision-hash label} of the Pods the selector picks."""
    return {
        p["metadata"]["name"]: p["metadata"]["labels"]["controller-revision-hash"]
        for p in lab.list("pods", selector=selector)
    }


def ready_on(revision_hash: str) -> Callable[[dict], bool]:
    """A predicate: the Pod is ready and of this controller revision."""
    return lambda pod: (
        field(pod, "metadata.labels.controller-revision-hash", None) == revision_hash
        and is_ready(pod)
    )


def ready_replacement_of(old: dict) -> Callable[[dict], bool]:
    """A predicate: a ready Pod that is not `old` (another UID, maybe the same name)."""
    return lambda pod: pod["metadata"]["uid"] != old["metadata"]["uid"] and is_ready(pod)


def claim_of(pod: dict, volume: str = "data") -> str:
    """The name of the PersistentVolumeClaim a Pod mounts as `volume`."""
    found = next(v for v in pod["spec"]["volumes"] if v["name"] == volume)
    return found["persistentVolumeClaim"]["claimName"]


def intact(obj: dict | None, uid: str) -> bool:
    """Whether the object is still there, the same one (UID), and not being deleted."""
    return bool(
        obj and obj["metadata"]["uid"] == uid and not obj["metadata"].get("deletionTimestamp")
    )


def updating_to(sts: dict | None, revision_hash: str) -> bool:
    """Whether the controller has seen the StatefulSet's latest spec and updates to this revision."""
    return bool(sts) and (
        field(sts, "status.observedGeneration", 0) >= sts["metadata"]["generation"]
        and field(sts, "status.updateRevision", None) == revision_hash
    )


def recovered(pod: dict | None, bad_image: str) -> bool:
    """Whether a Pod broken by `bad_image` is gone, runs another image, or became ready: whether
    anything changed it at all."""
    return pod is None or pod["spec"]["containers"][0]["image"] != bad_image or is_ready(pod)


def waiting_reason(pod: dict | None) -> str:
    """Why the Pod's first container waits (ErrImagePull, ...), or "" when it does not."""
    return field(pod, "status.containerStatuses.0.state.waiting.reason", "")


# -- DaemonSets and their Pods -----------------------------------------------------------------


def everywhere_wanted(ds: dict) -> bool:
    """A DaemonSet whose controller has seen its spec and has an updated, ready Pod on every node
    it wants one on (at least one)."""
    return field(ds, "status.observedGeneration", 0) >= ds["metadata"]["generation"] and (
        0
        < field(ds, "status.desiredNumberScheduled", 0)
        == field(ds, "status.numberReady", -1)
        == field(ds, "status.updatedNumberScheduled", -1)
    )


def placed(lab, name: str, timeout: float = 120) -> dict[str, dict]:
    """Wait until DaemonSet `name` is ready on every node it wants, then {node name: its Pod}
    (Pods being deleted left out)."""
    lab.wait_until(
        "daemonset",
        name,
        everywhere_wanted,
        f"{name} ready on every node it wants",
        timeout=timeout,
    )
    return {
        p["spec"]["nodeName"]: p
        for p in lab.list("pods", selector=f"app={name}")
        if not p["metadata"].get("deletionTimestamp")
    }


def required_terms(spec: dict) -> list[dict]:
    """The required node affinity's nodeSelectorTerms of a Pod spec (or a Pod template's)."""
    affinity = spec["affinity"]["nodeAffinity"]
    return affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]


def on_node(node: str) -> list[dict]:
    """The terms the DaemonSet controller writes into a Pod it makes for `node`."""
    return [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]


def tolerated(pod: dict) -> set[tuple[str | None, str | None]]:
    """(key, effect) of each toleration of the Pod."""
    return {(t.get("key"), t.get("effect")) for t in pod["spec"].get("tolerations", [])}


def conditions_of(lab, selector: str, type: str) -> list[dict]:
    """The status condition `type` of each Pod the selector picks (Pods without it left out)."""
    found = (condition(p, type) for p in lab.list("pods", selector=selector))
    return [c for c in found if c]


def made_for(lab, app: str, node: str) -> list[str]:
    """The names of the Pods labelled app=<app> the DaemonSet controller made for `node` (bound
    there or not: a Pod for a node with no kubelet stays Pending)."""
    return [
        p["metadata"]["name"]
        for p in lab.list("pods", selector=f"app={app}")
        if daemon_pod_target(p) == node
    ]


def life(pod: dict) -> tuple[str, int, str | None]:
    """(UID, restarts, start time) of the Pod's first container: the same after a disturbance
    only if the Pod was neither replaced nor restarted."""
    status = pod["status"]["containerStatuses"][0]
    return (
        pod["metadata"]["uid"],
        status["restartCount"],
        status["state"].get("running", {}).get("startedAt"),
    )
