"""Waiting for something to happen, and saying what happened when it does not.

Objects are waited for by watching them (`lab.wait_ready`, `wait_deleted`, `wait_phase`,
`wait_until`, `wait_terminal`): the condition is checked on every change the API server reports,
so a wait returns as soon as the change happens, not at the next poll. Anything else (a node's
shell output, a list of pods) is polled with `lab.wait_for`, or sampled over time with
`lab.sample`.

    lab.wait_ready("deployment", "web")                                  # rolled out
    lab.wait_until("pod", "p", lambda p: p["spec"].get("nodeName"), "p to be scheduled")
    state, job = lab.wait_terminal("job", "pi")                          # "Complete" or "Failed"
    lab.wait_for("kube-proxy's rules", lambda: node.sh("iptables-save"), done=lambda t: "KUBE-SVC" in t)

Every wait shows its progress, and on timeout raises WaitTimeout with what it waited for and the
last state it saw. Errors of the API or the connection are shown and retried until the timeout;
an exception raised by your own function (predicate, done, status, and observe unless it is an
API error) is raised at once, so a bug in a predicate does not look like a slow cluster.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from kubelab.lab.checks import show
from kubelab.core.errors import KubelabError
from kubelab.core.progress import Progress
from kubelab.core.readiness import readiness, summarize, terminal_state

# A watch is a long-lived request: the server ends it after this long at most (and a wait asks for
# no more than the time it has left), so a dead connection is noticed and the wait resumes.
WATCH_SECONDS = 60


class WaitTimeout(KubelabError, AssertionError):
    """A wait ran out of time: it says what it waited for and what it saw last."""


def retryable(error: BaseException) -> bool:
    """Errors of the API server or of the connection to it: worth trying again."""
    import urllib3
    from kubernetes.client.exceptions import ApiException

    return isinstance(
        error, (ApiException, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)
    )


def describe_error(error: BaseException) -> str:
    text = str(getattr(error, "reason", "") or error) or type(error).__name__
    status = getattr(error, "status", None)
    return f"{type(error).__name__}{f' {status}' if status else ''}: {text.splitlines()[0][:120]}"


def _gone(error: BaseException) -> bool:
    """410 Gone: the resourceVersion we would resume from is older than the server keeps."""
    return getattr(error, "status", None) == 410


# -- watching ----------------------------------------------------------------------------------


def list_and_watch(
    lab,
    resource,
    namespace: str | None,
    *,
    label_selector: str | None = None,
    field_selector: str | None = None,
    resource_version: str | None = None,
    deadline: float | None = None,
    stop: threading.Event | None = None,
    watcher=None,
    watch_seconds: float = WATCH_SECONDS,
    on_error: Callable[[str], None] = lambda text: None,
) -> Iterator[tuple[str, Any]]:
    """What happens to the objects of one resource, as (what, value) pairs:

    ("LISTED", [objects])                   the current objects, first (unless resource_version
                                            says from where to watch) and after any 410 Gone;
    ("ADDED" | "MODIFIED" | "DELETED", obj) each change, in the order the server made them;
    ("WATCH_ENDED", None)                   a watch ended without news (the server's time limit).

    Each watch resumes from the last resourceVersion seen, so no change is lost between watches;
    only 410 Gone makes it list again. API and connection errors go to on_error and are retried.
    It ends at `deadline` (time.monotonic()) or once `stop` is set; `watcher.stop()` (a
    kubernetes.watch.Watch) ends a watch in progress from another thread.
    """
    from kubernetes import watch

    watcher = watcher or watch.Watch()
    # resource_version None: list (again) before watching
    failures = 0

    def time_left() -> float:
        return math.inf if deadline is None else deadline - time.monotonic()

    while time_left() > 0 and not (stop and stop.is_set()):
        try:
            if resource_version is None:
                listing = lab.dynamic.get(
                    resource,
                    namespace=namespace,
                    label_selector=label_selector,
                    field_selector=field_selector,
                ).to_dict()
                resource_version = listing["metadata"]["resourceVersion"]
                yield (
                    "LISTED",
                    [complete_item(resource, item) for item in listing.get("items") or []],
                )
            seconds = max(1, math.ceil(min(watch_seconds, time_left())))
            news = False
            for event in watcher.stream(
                resource.get,
                namespace=namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                resource_version=resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=seconds,
                serialize=False,
                _request_timeout=seconds + 10,
            ):
                obj = event["raw_object"]
                resource_version = (obj.get("metadata") or {}).get(
                    "resourceVersion"
                ) or resource_version
                failures = 0
                if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                    news = True
                    yield event["type"], obj
                if time_left() <= 0 or (stop and stop.is_set()):
                    return
            if not news:
                yield "WATCH_ENDED", None
        except Exception as error:  # noqa: BLE001 - sorted below: API trouble is retried, the rest raised
            if stop and stop.is_set():
                return  # watcher.stop() broke the connection on purpose
            if not retryable(error):
                raise
            on_error(describe_error(error))
            if _gone(error):
                resource_version = None
                continue
            failures += 1
            time.sleep(min(0.2 * 2**failures, 2.0, max(time_left(), 0)))


def complete_item(resource, item: dict) -> dict:
    """Items of a list come without apiVersion and kind; put them back, as single objects have them."""
    item.setdefault("apiVersion", resource.group_version)
    item.setdefault("kind", resource.kind)
    return item


def object_states(
    lab,
    kind: str,
    name: str,
    namespace: str | None = None,
    *,
    deadline: float,
    watch_seconds: float = WATCH_SECONDS,
    on_error: Callable[[str], None] = lambda text: None,
) -> Iterator[dict | None]:
    """One object's successive states (None while it does not exist), from a list and then a
    watch of just that object; the last state again each time a watch ends without news."""
    resource = lab.resource(kind)
    namespace = lab._ns(resource, namespace)
    current: dict | None = None
    for what, value in list_and_watch(
        lab,
        resource,
        namespace,
        field_selector=f"metadata.name={name}",
        deadline=deadline,
        watch_seconds=watch_seconds,
        on_error=on_error,
    ):
        if what == "LISTED":
            current = value[0] if value else None
        elif what == "DELETED":
            current = None
        elif what != "WATCH_ENDED":
            current = value
        yield current


def wait_for_object(
    lab,
    kind: str,
    name: str,
    description: str,
    done: Callable[[dict | None], Any],
    status: Callable[[dict | None], str] = readiness,
    namespace: str | None = None,
    timeout: float = 120,
) -> dict | None:
    """Watch one object until done(object) (object is None while it does not exist); returns it."""
    progress = Progress(description)
    seen: dict = {"object": None, "text": "nothing seen yet"}

    def on_error(text: str) -> None:
        seen["text"] = f"{readiness(seen['object'])}; then {text}" if seen["object"] else text
        progress.update(seen["text"])

    for obj in object_states(
        lab, kind, name, namespace, deadline=time.monotonic() + timeout, on_error=on_error
    ):
        text = status(obj)  # the caller's functions run outside any retry
        seen.update(object=obj, text=text)
        if done(obj):
            progress.done(text)
            return obj
        progress.update(text)
    raise WaitTimeout(
        f"timed out after {timeout:.0f} s waiting for {description}; last seen: {seen['text']}"
        + (f"\n{show(seen['object'])}" if seen["object"] else "")
    )


def wait_ready(
    lab, kind: str, name: str, namespace: str | None = None, timeout: float = 120
) -> dict:
    from kubelab.core.readiness import is_ready

    return wait_for_object(
        lab, kind, name, f"{kind}/{name} ready", is_ready, namespace=namespace, timeout=timeout
    )


def wait_deleted(
    lab, kind: str, name: str, namespace: str | None = None, timeout: float = 120
) -> None:
    wait_for_object(
        lab,
        kind,
        name,
        f"{kind}/{name} deleted",
        lambda o: o is None,
        lambda o: (
            "gone"
            if o is None
            else ("terminating" if o["metadata"].get("deletionTimestamp") else readiness(o))
        ),
        namespace=namespace,
        timeout=timeout,
    )


def wait_phase(
    lab, kind: str, name: str, phase: str, namespace: str | None = None, timeout: float = 120
) -> dict:
    return wait_for_object(
        lab,
        kind,
        name,
        f"{kind}/{name} in phase {phase}",
        lambda o: bool(o) and (o.get("status") or {}).get("phase") == phase,
        namespace=namespace,
        timeout=timeout,
    )


def wait_until(
    lab,
    kind: str,
    name: str,
    predicate: Callable[[dict], Any],
    description: str,
    namespace: str | None = None,
    timeout: float = 120,
) -> dict:
    return wait_for_object(
        lab,
        kind,
        name,
        description,
        lambda o: bool(o) and bool(predicate(o)),
        namespace=namespace,
        timeout=timeout,
    )


def wait_terminal(
    lab, kind: str, name: str, namespace: str | None = None, timeout: float = 120
) -> tuple[str, dict]:
    obj = wait_for_object(
        lab,
        kind,
        name,
        f"{kind}/{name} to finish",
        lambda o: terminal_state(o) is not None,
        namespace=namespace,
        timeout=timeout,
    )
    return terminal_state(obj), obj


# -- polling -----------------------------------------------------------------------------------


def wait_for(
    description: str,
    observe: Callable[[], Any],
    done: Callable[[Any], Any] = bool,
    status: Callable[[Any], str] | None = None,
    timeout: float = 120,
    interval: float = 1.0,
) -> Any:
    """Poll observe() every `interval` seconds until done(result); returns that result."""
    progress = Progress(description)
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = observe()
        except Exception as error:  # noqa: BLE001 - API trouble is shown and retried, the rest raised
            if not retryable(error):
                raise
            text = describe_error(error)
        else:
            text = status(last) if status else summarize(last)
            if done(last):
                progress.done(text)
                return last
        progress.update(text)
        if time.monotonic() > deadline:
            raise WaitTimeout(
                f"timed out after {timeout:.0f} s waiting for {description}; last seen: {text}"
                + (f"\n{show(last)}" if isinstance(last, dict) else "")
            )
        time.sleep(interval)


def sample(
    description: str,
    observe: Callable[[], Any],
    until: Callable[[list], Any],
    interval: float = 2.0,
    timeout: float = 600,
) -> list[tuple[float, Any]]:
    """Observe every `interval` seconds until `until(samples)`; returns [(seconds, value), ...].
    A sample the API failed to give is skipped (and shown), not recorded."""
    progress = Progress(description)
    samples: list[tuple[float, Any]] = []
    while True:
        try:
            samples.append((round(progress.elapsed(), 1), observe()))
            text = summarize(samples[-1][1])
        except Exception as error:  # noqa: BLE001 - as in wait_for
            if not retryable(error):
                raise
            text = describe_error(error)
        if samples and until(samples):
            progress.done(f"{len(samples)} samples")
            return samples
        progress.update(text)
        if progress.elapsed() > timeout:
            raise WaitTimeout(
                f"timed out after {timeout:.0f} s sampling {description}; last: {text}"
            )
        time.sleep(interval)
