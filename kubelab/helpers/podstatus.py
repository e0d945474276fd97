"""A Pod's containers and the events about an object, as a notebook reads them: one container's
status by name (app, init or ephemeral), the state it is in, how its last run ended.

    podstatus.container(pod, "sidecar")         # its status: {} while the Pod reports none
    podstatus.state(pod, "app")                 # "running", "terminated", "waiting" or None
    podstatus.ended(pod, "app")                 # state.terminated (exitCode, reason, times) or {}
    podstatus.last_ended(pod, "leak")           # lastState.terminated, its previous run, or {}
    podstatus.events(lab, "leaky", "Evicted")   # the Events about an object, of these reasons
"""

from __future__ import annotations

_KINDS = ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses")


def container(pod: dict | None, name: str) -> dict:
    """The status of the Pod's container with this name, app, init or ephemeral; {} if none."""
    status = (pod or {}).get("status") or {}
    for kind in _KINDS:
        for found in status.get(kind) or []:
            if found.get("name") == name:
                return found
    return {}


def state(pod: dict | None, name: str) -> str | None:
    """The state the container is in now: "running", "terminated", "waiting", or None."""
    return next(iter(container(pod, name).get("state") or {}), None)


def ended(pod: dict | None, name: str) -> dict:
    """How the container's current run ended (state.terminated), or {} while it has not."""
    return (container(pod, name).get("state") or {}).get("terminated") or {}


def last_ended(pod: dict | None, name: str) -> dict:
    """How the container's previous run ended (lastState.terminated), or {} if none did."""
    return (container(pod, name).get("lastState") or {}).get("terminated") or {}


def events(lab, name: str, *reasons: str) -> list[dict]:
    """The Events of the lab's namespace about the object of this name, of these reasons (all
    reasons if none is given), oldest first as the API lists them."""
    found = lab.list("events", field_selector=f"involvedObject.name={name}")
    return [e for e in found if not reasons or e.get("reason") in reasons]
