"""Storage as the cluster reports it: what the volume controller, the scheduler and the kubelet
said about a claim or a Pod (their events), and what volumes, claims and cgroups show.

    storage.claim_events(lab, "data")                # {"WaitForFirstConsumer": "waiting for ..."}
    storage.volume_conflicts(lab, "stray")           # the scheduler blames a volume's nodeAffinity
    storage.event_messages(lab, "p", "FailedMount", "Mounting arguments")
    storage.pinned_nodes(pv)                         # the nodes a volume's nodeAffinity allows
    storage.without(pv, "spec.nodeAffinity")         # a copy of a manifest, one field less
    storage.resize(lab, "growable", "2Gi")           # ask a claim for another size
"""

from __future__ import annotations

import copy
import json

MiB = 2**20

# What the scheduler says when a Pod's node does not match its volume's nodeAffinity (the words
# changed in v1.31: either is looked for).
VOLUME_CONFLICT = ("didn't match PersistentVolume's node affinity", "volume node affinity conflict")


def event_messages(lab, name: str, reason: str, *words: str) -> list[str]:
    """The messages of the events about object `name` with this reason (and, if words are
    given, naming one of them), oldest first as the API lists them."""
    return [
        e["message"]
        for e in lab.list("events", field_selector=f"involvedObject.name={name}")
        if e["reason"] == reason and (not words or any(w in e["message"] for w in words))
    ]


def claim_events(lab, name: str) -> dict[str, str]:
    """{reason: message} of the events about the PersistentVolumeClaim `name` (the last one of
    each reason)."""
    return {
        e["reason"]: e["message"]
        for e in lab.list("events", field_selector=f"involvedObject.name={name}")
        if e["involvedObject"]["kind"] == "PersistentVolumeClaim"
    }


def expansion_events(lab, claim: str) -> list[str]:
    """ "reason: message" of the claim's events about expanding it (ExternalExpanding, ...)."""
    return [
        f"{reason}: {message}"
        for reason, message in claim_events(lab, claim).items()
        if "xpand" in reason
    ]


def volume_conflicts(lab, pod: str) -> list[str]:
    """The scheduler's FailedScheduling messages about a Pod that blame a volume's node affinity."""
    return event_messages(lab, pod, "FailedScheduling", *VOLUME_CONFLICT)


def conflict_phrase(message: str) -> str:
    """The clause of a FailedScheduling message (split at commas and full stops) that names the
    volume's node affinity: "0/3 nodes are available: 1 node(s) didn't match PersistentVolume's
    node affinity"."""
    return next(
        part.strip()
        for part in message.replace(".", ",").split(",")
        if "node affinity" in part and "olume" in part
    )


def mount_arguments(message: str) -> list[str]:
    """The words of the "Mounting arguments" line of a kubelet's FailedMount message."""
    line = next(line for line in message.splitlines() if line.startswith("Mounting arguments"))
    return line.split()


def pinned_nodes(volume: dict) -> list[str]:
    """The values of a PersistentVolume's required nodeAffinity (node names, for a volume pinned
    by kubernetes.io/hostname); [] for a volume that any node may use."""
    affinity = ((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}
    return [
        value
        for term in affinity.get("nodeSelectorTerms") or []
        for expression in term.get("matchExpressions") or []
        for value in expression.get("values") or []
    ]


def projected_sources(pod: dict) -> list[str]:
    """The sources of the projected volume Kubernetes adds to a Pod (kube-api-access-...):
    ["configMap", "downwardAPI", "serviceAccountToken"]."""
    return sorted(
        next(iter(source))
        for volume in pod["spec"].get("volumes") or []
        if volume["name"].startswith("kube-api-access-")
        for source in volume["projected"]["sources"]
    )


def core_schemas(lab) -> dict:
    """The API server's OpenAPI v3 schemas of the core group (io.k8s.api.core.v1.Volume, ...)."""
    text = lab.kubectl("get --raw /openapi/v3/api/v1", quiet=True)
    return json.loads(text)["components"]["schemas"]


def without(obj: dict, path: str) -> dict:
    """A deep copy of a manifest without the field at a dotted path ("spec.nodeAffinity")."""
    copied = copy.deepcopy(obj)
    *parents, last = path.split(".")
    holder = copied
    for part in parents:
        holder = holder[part]
    del holder[last]
    return copied


def sizes(claim: dict) -> tuple[str | None, str | None]:
    """(requested, capacity) of a claim: its spec.resources.requests.storage and its
    status.capacity.storage (None where it has none)."""
    requested = ((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}
    capacity = ((claim.get("status") or {}).get("capacity")) or {}
    return requested.get("storage"), capacity.get("storage")


def wait_for_expansion(lab, claim: str, timeout: float = 60) -> list[str]:
    """Wait until the claim's events speak of expanding it (ExternalExpanding, Resizing, ...);
    returns those events as "reason: message"."""
    return lab.wait_for(
        "the claim's expansion events", lambda: expansion_events(lab, claim), timeout=timeout
    )


def resize(lab, claim: str, size: str) -> dict:
    """Ask the claim for `size` (spec.resources.requests.storage); returns the claim as stored."""
    return lab.patch("pvc", claim, {"spec": {"resources": {"requests": {"storage": size}}}})


def mib_added(before: dict, after: dict, keys: tuple[str, ...] = ("usage", "shmem")) -> dict:
    """{key: MiB by which after[key] exceeds before[key]}, to a tenth, for container_memory()."""
    return {key: round((after[key] - before[key]) / MiB, 1) for key in keys}
