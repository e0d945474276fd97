"""What state an object is in, judged from the object alone (no API calls): one place for the
library, the tests and the cluster's own health checks.

    is_ready(pod)          # True once the pod's Ready condition is True
    readiness(pod)         # "phase Running, ready": one line for progress and timeout messages
    terminal_state(job)    # "Complete" / "Failed" for Jobs, "Succeeded" / "Failed" for Pods, else None

Every function takes the object as a dict (what `lab.get` returns) or None for "not there".
"""

from __future__ import annotations

from typing import Any


def _conditions(obj: dict) -> dict[str, str]:
    """{condition type: status} of an object's status.conditions."""
    return {
        c.get("type"): c.get("status") for c in (obj.get("status") or {}).get("conditions") or []
    }


def is_ready(obj: dict | None) -> bool:
    """Ready pods and nodes; rolled-out Deployments, StatefulSets, ReplicaSets, DaemonSets;
    complete Jobs; bound PersistentVolumeClaims. Any other kind is ready once it exists."""
    if not obj:
        return False
    kind, status, spec = obj.get("kind"), obj.get("status") or {}, obj.get("spec") or {}
    if kind in ("Pod", "Node"):
        return _conditions(obj).get("Ready") == "True"
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        want = spec.get("replicas", 1)
        # A controller that has not yet seen the latest spec reports on the previous one.
        generation_seen = status.get("observedGeneration", 0) >= (obj.get("metadata") or {}).get(
            "generation", 0
        )
        updated = status.get("updatedReplicas", want if kind == "ReplicaSet" else 0)
        return (
            generation_seen
            and status.get("readyReplicas", 0) == want
            and updated == want
            and status.get("replicas", 0) == want
        )
    if kind == "DaemonSet":
        want = status.get("desiredNumberScheduled", -1)
        return (
            want >= 0
            and status.get("numberReady") == want
            and status.get("updatedNumberScheduled") == want
        )
    if kind == "Job":
        return _conditions(obj).get("Complete") == "True"
    if kind == "PersistentVolumeClaim":
        return status.get("phase") == "Bound"
    return True


def terminal_state(obj: dict | None) -> str | None:
    """How a Job or Pod ended: "Complete" or "Failed" for a Job (its conditions), "Succeeded" or
    "Failed" for a Pod (its phase); None while it still runs, for other kinds, and for None."""
    if not obj:
        return None
    if obj.get("kind") == "Job":
        conditions = _conditions(obj)
        for state in ("Failed", "Complete"):  # a Job has at most one of them True
            if conditions.get(state) == "True":
                return state
        return None
    if obj.get("kind") == "Pod":
        phase = (obj.get("status") or {}).get("phase")
        return phase if phase in ("Succeeded", "Failed") else None
    return None


def readiness(obj: dict | None) -> str:
    """A one-line summary of an object's state, for progress lines, timeouts and recordings:

    Pod: "phase Running, ready", "phase Pending, ErrImagePull"; Deployment, StatefulSet,
    ReplicaSet: "3/3 ready, 3 updated"; DaemonSet: "2/2 ready"; Job: "Complete", "Failed" or
    "active 1"; anything with a phase: "phase Bound"; else its conditions ("Ready=True") or
    "present"; None: "not found".
    """
    if not obj:
        return "not found"
    status = obj.get("status") or {}
    kind = obj.get("kind")
    if kind == "Pod":
        waiting = [
            c["state"]["waiting"].get("reason", "waiting")
            for c in status.get("containerStatuses") or []
            if "waiting" in (c.get("state") or {})
        ]
        return (
            f"phase {status.get('phase')}"
            + (f", {', '.join(waiting)}" if waiting else "")
            + (", ready" if is_ready(obj) else "")
        )
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        return (
            f"{status.get('readyReplicas', 0)}/{(obj.get('spec') or {}).get('replicas', 1)} ready, "
            f"{status.get('updatedReplicas', 0)} updated"
        )
    if kind == "DaemonSet":
        return f"{status.get('numberReady', 0)}/{status.get('desiredNumberScheduled', '?')} ready"
    if kind == "Job":
        return terminal_state(obj) or f"active {status.get('active', 0)}"
    if "phase" in status:
        return f"phase {status['phase']}"
    conditions = [f"{c['type']}={c['status']}" for c in status.get("conditions") or []]
    return ", ".join(conditions) or "present"


def summarize(value: Any) -> str:
    """readiness() for an object, a count for a list, the start of anything else."""
    if isinstance(value, dict) and "kind" in value:
        return readiness(value)
    if isinstance(value, list):
        return f"{len(value)} item(s)"
    return str(value)[:120]


# Judgements notebooks make again and again, as verbs (`lab.wait_until("pod", name, restarted)`).


def condition(obj: dict | None, type: str) -> dict | None:
    """The status condition of this type (its status, reason, message, times), or None."""
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == type:
            return c
    return None


def has_condition(
    obj: dict | None, type: str, status: str = "True", reason: str | None = None
) -> bool:
    """Whether the object has condition `type` with this status (and reason, if given):
    has_condition(pod, "PodScheduled", "False", "Unschedulable")."""
    found = condition(obj, type)
    return bool(
        found
        and found.get("status") == status
        and (reason is None or found.get("reason") == reason)
    )


def restarts(pod: dict | None, container: str | None = None) -> int:
    """Restarts the kubelet counted, of one container or of all the Pod's (init ones included)."""
    status = (pod or {}).get("status") or {}
    every = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    return sum(
        s.get("restartCount", 0) for s in every if container is None or s.get("name") == container
    )


def restarted(pod: dict | None, container: str | None = None) -> bool:
    """Whether a container was restarted and its ended run is recorded (lastState.terminated is
    filled in a moment after restartCount rises: wait for both)."""
    status = (pod or {}).get("status") or {}
    every = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    return any(
        s.get("restartCount", 0) >= 1 and (s.get("lastState") or {}).get("terminated")
        for s in every
        if container is None or s.get("name") == container
    )


def has_taint(node: dict | None, key: str, effect: str | None = None) -> bool:
    """Whether a Node carries a taint with this key (and effect, if given)."""
    return any(
        t.get("key") == key and (effect is None or t.get("effect") == effect)
        for t in ((node or {}).get("spec") or {}).get("taints") or []
    )
