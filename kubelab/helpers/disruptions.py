"""Disruptions as the objects record them: DisruptionTarget conditions (who set them, when), a
PodDisruptionBudget's status over time, and how few Pods were ready at once.

    marked_at = disruptions.mark_target(lab, "aborted")      # DisruptionTarget=True, as an eviction that never happens
    pod = lab.get("pod", "aborted")
    disruptions.condition(pod, "DisruptionTarget")          # the condition, or None
    disruptions.condition_owner(pod, "DisruptionTarget")    # the manager that last set its status
    with disruptions.StatusLog(lab, "poddisruptionbudget", "web", ["status.currentHealthy"]) as budget: ...
    budget.samples                                          # [(seconds, {"status.currentHealthy": 2}), ...]
    disruptions.fewest_at_once(recording, "ready", kind="Pod")   # from a lab.record(...) timeline
    disruptions.budget_counts(pdb, currentHealthy=2)        # its controller saw the spec and counts so

A DisruptionTarget=True condition on a Pod that is then not deleted (an eviction or preemption
that was aborted) is stale: the disruption controller (kube-controller-manager) sets it to False
once it is two minutes old (stalePodDisruptionTimeout, pkg/controller/disruption). The condition
stays on the Pod.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from kubelab.helpers import times
from kubelab.lab.checks import field
from kubelab.lab.waits import list_and_watch


def condition(obj: dict | None, type_: str) -> dict | None:
    """The status condition of this type, or None."""
    return next(
        (
            c
            for c in ((obj or {}).get("status") or {}).get("conditions") or []
            if c.get("type") == type_
        ),
        None,
    )


def mark_target(
    lab,
    pod: str,
    reason: str = "EvictionByEvictionAPI",
    message: str = "kubelab: a disruption that is then not carried out",
) -> datetime:
    """Write DisruptionTarget=True into a running Pod's status (the status subresource), with the
    current time as its lastTransitionTime, as the Eviction API does before it deletes a Pod;
    nothing deletes this one. Returns when the API server stored the write (its managedFields)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stored = lab.patch(
        "pod",
        pod,
        {
            "status": {
                "conditions": [
                    {
                        "type": "DisruptionTarget",
                        "status": "True",
                        "reason": reason,
                        "message": message,
                        "lastTransitionTime": now,
                    }
                ]
            }
        },
        type="strategic",
        subresource="status",
    )
    return written_at(stored, "DisruptionTarget")


def _owns_condition(entry: dict, type_: str, what: str) -> bool:
    fields = ((entry.get("fieldsV1") or {}).get("f:status") or {}).get("f:conditions") or {}
    return f"f:{what}" in (fields.get(f'k:{{"type":"{type_}"}}') or {})


def written_at(obj: dict, type_: str, what: str = "status") -> datetime:
    """When the manager that owns a condition's field (its status, by default) wrote it: the time
    the API server recorded for that write in metadata.managedFields."""
    entries = [
        e for e in obj["metadata"].get("managedFields") or [] if _owns_condition(e, type_, what)
    ]
    if not entries:
        raise ValueError(f"no manager owns {what} of the {type_} condition")
    return max(times.parse(e["time"]) for e in entries)


def condition_owner(obj: dict, type_: str, what: str = "status") -> str:
    """The manager (e.g. "kube-controller-manager") that owns a condition's field: who set it last."""
    entries = [
        e for e in obj["metadata"].get("managedFields") or [] if _owns_condition(e, type_, what)
    ]
    return max(entries, key=lambda e: times.parse(e["time"]))["manager"] if entries else ""


class StatusLog:
    """Fields of one object, each time they change, from a watch (not polling): a context manager.

    with StatusLog(lab, "poddisruptionbudget", "web", ["status.currentHealthy", "status.disruptionsAllowed"]) as log:
        ...
    log.samples    # [(seconds since start, {field: value}), ...], one per change
    """

    def __init__(self, lab, kind: str, name: str, fields: list[str]):
        self.lab, self.kind, self.name, self.fields = lab, kind, name, fields
        self.samples: list[tuple[float, dict]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._watcher = None
        self._thread = None
        self.started = None

    def __enter__(self) -> "StatusLog":
        from kubernetes import watch

        resource = self.lab.resource(self.kind)
        namespace = self.lab._ns(resource, None)
        listing = self.lab.dynamic.get(
            resource, namespace=namespace, field_selector=f"metadata.name={self.name}"
        ).to_dict()
        self.started = time.monotonic()
        for obj in listing.get("items") or []:
            self._note(obj)
        self._watcher = watch.Watch()
        changes = list_and_watch(
            self.lab,
            resource,
            namespace,
            field_selector=f"metadata.name={self.name}",
            resource_version=listing["metadata"]["resourceVersion"],
            stop=self._stop,
            watcher=self._watcher,
            on_error=self.errors.append,
        )
        self._thread = threading.Thread(
            target=self._follow, args=(changes,), daemon=True, name=f"kubelab-statuslog-{self.name}"
        )
        self._thread.start()
        return self

    def _follow(self, changes) -> None:
        for what, value in changes:
            if what in ("ADDED", "MODIFIED"):
                self._note(value)
            elif what == "LISTED":
                for obj in value:
                    self._note(obj)

    def _note(self, obj: dict) -> None:
        values = {f: field(obj, f, None) for f in self.fields}
        if not self.samples or self.samples[-1][1] != values:
            self.samples.append((round(time.monotonic() - self.started, 2), values))

    def __exit__(self, *exc) -> None:
        time.sleep(1)  # the last changes' events
        self._stop.set()
        deadline = time.monotonic() + 5
        while self._thread.is_alive() and time.monotonic() < deadline:
            self._watcher.stop()
            self._thread.join(timeout=0.2)


def budget_counts(pdb: dict | None, **wanted) -> bool:
    """Whether a PodDisruptionBudget's controller has seen its latest spec (observedGeneration)
    and its status has these values: budget_counts(pdb, expectedPods=2, currentHealthy=0)."""
    status = (pdb or {}).get("status") or {}
    generation = ((pdb or {}).get("metadata") or {}).get("generation", 0)
    return status.get("observedGeneration", 0) >= generation and all(
        status.get(key) == value for key, value in wanted.items()
    )


def fewest_at_once(recording, state_contains: str, kind: str | None = None) -> int:
    """The fewest objects (of `kind`) in a state containing the text at the same time, over a
    lab.record(...) timeline, counted after each change (from the state they were in when the
    recording started): fewest_at_once(rollout, "ready", kind="Pod")."""
    current: dict[tuple[str, str], str] = {}
    fewest = None
    for e in recording.events:
        if kind and e.kind.lower() != kind.lower():
            continue
        current[(e.kind, e.name)] = e.state
        if e.type == "EXISTING":
            continue
        count = sum(state_contains in state for state in current.values())
        fewest = count if fewest is None else min(fewest, count)
    return fewest if fewest is not None else sum(state_contains in s for s in current.values())


def replaced(recording, prefix: str) -> list[str]:
    """Names starting with `prefix` that a lab.record(...) timeline saw ADDED once the first of them
    was going (terminating, Failed or deleted): the replacements a controller made."""
    going = next(
        (
            e.t
            for e in recording.events
            if e.name.startswith(prefix)
            and (e.type == "DELETED" or e.state in ("terminating", "phase Failed"))
        ),
        None,
    )
    if going is None:
        return []
    return [
        e.name
        for e in recording.events
        if e.type == "ADDED" and e.name.startswith(prefix) and e.t >= going
    ]


def tolerates(pod: dict, key: str, effect: str = "NoExecute", value: str | None = None) -> bool:
    """Whether a Pod tolerates the taint key[=value]:effect (the scheduler's and the taint eviction
    controller's rule: an empty key with operator Exists tolerates every taint; an empty effect
    every effect)."""
    for t in (pod.get("spec") or {}).get("tolerations") or []:
        if t.get("effect") not in (None, "", effect):
            continue
        if t.get("operator") == "Exists":
            if t.get("key") in (None, "", key):
                return True
        elif t.get("key") == key and (t.get("value") or "") == (value or ""):
            return True
    return False


def taint_bystanders(lab, node: str, key: str) -> list[str]:
    """Pods of other namespaces on `node` that a NoExecute taint `key` would evict ("ns/name"): an
    experiment that taints a node picks one where this is empty, so it evicts its own Pods only."""
    pods = lab.list("pods", all_namespaces=True, field_selector=f"spec.nodeName={node}")
    return sorted(
        f"{p['metadata']['namespace']}/{p['metadata']['name']}"
        for p in pods
        if p["metadata"]["namespace"] != lab.namespace
        and not p["metadata"].get("deletionTimestamp")
        and not tolerates(p, key)
    )
