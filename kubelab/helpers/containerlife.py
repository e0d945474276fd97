"""A container's life, as chapter 02 observes it: the Events its Pod got, the image it ran and
what it printed, why it waits, and how the kubelet stopped it (a failing liveness probe ends a
container exactly as a deletion would: PreStop, then TERM, within the grace period).

    containerlife.events(lab, "nowhere", "Failed")          # the Pod's Events of one reason
    image_id, said = containerlife.image_and_output(lab, "greeting-1")
    order, ended = containerlife.stop_by_liveness(lab, "order")   # {event: seconds}, lastState
    count, killing, ended = containerlife.first_stop(lab, "sleep-5")
"""

from __future__ import annotations

from datetime import datetime

from kubelab.core.readiness import restarted
from kubelab.helpers import spans, times
from kubelab.lab.checks import field


def events(lab, name: str, reason: str | None = None) -> list[dict]:
    """The Events about the object called `name` in the lab's namespace (of one reason, if
    given), as the API lists them."""
    return [
        e
        for e in lab.list("events", field_selector=f"involvedObject.name={name}")
        if reason is None or e.get("reason") == reason
    ]


def reasons(lab, name: str) -> set[str]:
    """The reasons of the Events about the object called `name`: {"Scheduled", "Killing", ...}."""
    return {e.get("reason") for e in events(lab, name)}


def container_id(pod: dict, index: int = 0) -> str:
    """The runtime's ID of the Pod's container (without the "containerd://" scheme)."""
    return field(pod, f"status.containerStatuses.{index}.containerID").split("//", 1)[1]


def waiting_reason(pod: dict | None, index: int = 0) -> str | None:
    """Why the Pod's container waits (ErrImagePull, ErrImageNeverPull, ...); None if it does not."""
    return field(pod, f"status.containerStatuses.{index}.state.waiting.reason", None)


def has_ended_once(pod: dict | None) -> bool:
    """Whether the Pod's first container has a recorded end (lastState.terminated)."""
    return bool(field(pod, "status.containerStatuses.0.lastState.terminated", None))


def prestop_sleep(seconds: int) -> dict:
    """A container's lifecycle whose PreStop is the kubelet's own sleep action (no binary in the
    image needed): {"preStop": {"sleep": {"seconds": seconds}}}."""
    return {"preStop": {"sleep": {"seconds": seconds}}}


def image_and_output(lab, name: str) -> tuple[str, str]:
    """Once the Pod is ready: the imageID its container runs and what the container printed."""
    pod = lab.wait_ready("pod", name)
    return field(pod, "status.containerStatuses.0.imageID"), lab.logs(name, quiet=True).strip()


def stop_by_liveness(lab, name: str) -> tuple[dict[str, float], dict]:
    """Fail the Pod's liveness probe (its container lives while /tmp/alive exists); once the
    kubelet stopped and restarted the container, return the events the ended run wrote to its
    termination log ({event: seconds}, see spans) and its lastState.terminated."""
    lab.kubectl(f"exec {name} -- rm /tmp/alive", quiet=True)
    # restartCount can be bumped a moment before lastState.terminated is filled in: wait for both
    pod = lab.wait_until("pod", name, restarted, "the container to be restarted", timeout=120)
    ended = field(pod, "status.containerStatuses.0.lastState.terminated")
    return spans.parse(ended.get("message", "")), ended


def first_stop(lab, name: str) -> tuple[int, datetime, datetime]:
    """Once its liveness probe stopped the Pod's container: its restart count, the kubelet's
    Killing event and the container's end, as datetimes (both to the second)."""
    pod = lab.wait_until(
        "pod", name, has_ended_once, f"{name} stopped by its liveness probe", timeout=90
    )
    status = field(pod, "status.containerStatuses.0")
    killing = events(lab, name, "Killing")
    return (
        status["restartCount"],
        times.parse(killing[0]["firstTimestamp"]),
        times.parse(status["lastState"]["terminated"]["finishedAt"]),
    )
