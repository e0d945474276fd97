"""Checks whose failure shows the expectation and the object it was about.

    check(pod["status"]["phase"] == "Running", "the pod runs", pod, proves="C-POD-1")
    expect(pod, "status.phase", "Running")            # a field, compared with ==
    expect(pod, "spec.nodeName", lambda n: n != "")   # or with a predicate
    with expect_error("AlreadyExists", proves="C-INTRO-4"): lab.create(...)

`proves` names the spec IDs (claims C-…, questions Q-…) a check demonstrates: one ID or a list.
Every check is written to the run's ledger (kubelab.lab.ledger), passed or failed, so `kubelab
coverage` knows which IDs the last run proved.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import yaml

from kubelab.lab import ledger

MISSING = object()


class ExpectationFailed(AssertionError):
    pass


def field(obj: Any, path: str, default: Any = MISSING) -> Any:
    """obj["a"]["b"][0] for path "a.b.0"; a key may contain dots when written as [key.with.dots]."""
    cur = obj
    for part in _split(path):
        try:
            cur = cur[int(part)] if isinstance(cur, list) else cur[part]
        except (KeyError, IndexError, TypeError, ValueError):
            if default is not MISSING:
                return default
            raise ExpectationFailed(
                f"{path}: no such field (stopped at {part!r})\n{show(obj)}"
            ) from None
    return cur


def _split(path: str) -> list[str]:
    parts, buf, bracket = [], "", False
    for ch in path:
        if ch == "[" and not buf:
            bracket = True
        elif ch == "]" and bracket:
            bracket = False
        elif ch == "." and not bracket:
            parts.append(buf)
            buf = ""
        else:
            buf += ch
    parts.append(buf)
    return [p for p in parts if p != ""]


def show(obj: Any, limit: int = 60) -> str:
    if obj is None:
        return ""
    if isinstance(obj, dict):
        obj = {k: v for k, v in obj.items() if k != "metadata"} | (
            {"metadata": {k: v for k, v in obj["metadata"].items() if k != "managedFields"}}
            if "metadata" in obj
            else {}
        )
    if isinstance(obj, str):
        text = obj
    else:
        try:
            text = yaml.safe_dump(_plain(obj), sort_keys=False, default_flow_style=False)
        except yaml.YAMLError:  # something YAML cannot show: its repr still says what was observed
            text = repr(obj)
    lines = text.splitlines()
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more lines)"]
    return "  " + "\n  ".join(lines)


def _plain(obj: Any) -> Any:
    """Dataclasses, tuples, sets and str subclasses as the plain values YAML can dump."""
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {
            str(k) if not isinstance(k, (str, int, float, bool)) else k: _plain(v)
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_plain(v) for v in obj]
    if isinstance(obj, str):
        return str(obj)
    return obj


def _passed(what: str, ids: list[str], detail: str = "") -> None:
    ledger.record(what, ids, passed=True)
    print(f"✓ {what}{detail}" + (f"  [{', '.join(ids)}]" if ids else ""))


def _failed(what: str, ids: list[str], message: str) -> ExpectationFailed:
    ledger.record(what, ids, passed=False)
    return ExpectationFailed(message + (f"\n(this check proves {', '.join(ids)})" if ids else ""))


def check(
    condition: Any, what: str, obj: Any = None, proves: str | list[str] | None = None
) -> None:
    """Assert `condition`; on failure say `what` was expected and show `obj`.
    `proves`: the spec ID(s) this check demonstrates (recorded in the run's ledger)."""
    ids = ledger.ids(proves)
    if not condition:
        raise _failed(
            what,
            ids,
            f"expected: {what}" + (f"\nobserved:\n{show(obj)}" if obj is not None else ""),
        )
    _passed(what, ids)


def expect(
    obj: Any,
    path: str,
    wanted: Any | Callable[[Any], bool],
    what: str | None = None,
    proves: str | list[str] | None = None,
) -> Any:
    """Check one field of an object against a value (==) or a predicate; return the field's value."""
    ids = ledger.ids(proves)
    value = field(obj, path)
    ok = wanted(value) if callable(wanted) else value == wanted
    description = what or (
        f"{path} == {wanted!r}" if not callable(wanted) else f"{path} satisfies the condition"
    )
    if not ok:
        raise _failed(
            description, ids, f"expected: {description}\nobserved: {path} = {value!r}\n{show(obj)}"
        )
    _passed(description, ids, f" ({path} = {value!r})" if what else "")
    return value


@contextmanager
def expect_error(
    *words: str, what: str | None = None, proves: str | list[str] | None = None
) -> Iterator[dict]:
    """The block must fail with an API error (or kubectl error) whose text contains every word.

    with expect_error("AlreadyExists") as error:
        lab.create(same_name_again)
    error["message"], error["reason"], error["status"]   # the API's own words, reason, code
    """
    seen: dict = {}
    ids = ledger.ids(proves)
    description = what or f"an error mentioning {', '.join(words)}"
    try:
        yield seen
    except Exception as e:  # noqa: BLE001 - any failure is inspected below
        seen.update(api_error(e))
        said = (
            f"{seen['status']} {seen['reason']}: {seen['message']}"
            if seen["reason"]
            else seen["message"]
        )
        missing = [w for w in words if w not in seen["text"]]
        if missing:
            raise _failed(
                description,
                ids,
                f"expected: {description}\nobserved error (without {missing}): {said[:800]}",
            ) from None
        _passed(description, ids, f": {said.splitlines()[0][:200]}")
        return
    raise _failed(description, ids, f"expected: {description}\nobserved: no error at all")


def api_error(error: Exception) -> dict:
    """What an API error says, in the API's own terms: {"message", "reason", "status" (the HTTP code),
    "type" (the exception's class), "text" (all of it, for matching)}. The client's exceptions
    carry the API's Status object as JSON in `body`; kubectl's errors are their own text."""
    import json

    body = getattr(error, "body", None)
    status: dict = {}
    if isinstance(body, (bytes, str)) and body:
        try:
            status = json.loads(body)
        except ValueError:
            status = {}
    if not isinstance(status, dict):
        status = {}
    message = status.get("message") or (str(body) if body else "") or str(error)
    causes = [
        c.get("message")
        for c in (status.get("details") or {}).get("causes") or []
        if c.get("message")
    ]
    if causes:  # e.g. the Eviction API names the budget that refused it only here
        message += ": " + "; ".join(causes)
    reason = status.get("reason") or getattr(error, "reason", None) or ""
    code = status.get("code") or getattr(error, "status", None)
    return {
        "message": message,
        "reason": reason,
        "status": code,
        "type": type(error).__name__,
        "text": f"{type(error).__name__}: {code} {reason}: {message} {body or error}",
    }


def expect_absent(
    what: str,
    observe: Callable[[], Any],
    *,
    control: Callable[[], Any],
    control_what: str,
    proves: str | list[str] | None = None,
    timeout: float = 60,
    interval: float = 0.5,
) -> tuple[Any, Any]:
    """A negative check that can fail: first wait until `control()` shows the positive case at the
    same point (the system has had its chance to act: a sibling object got its rule, its event, its
    endpoint), then `observe()` must find nothing. Returns (control's result, observe's result).

        expect_absent("no rules for the selector-less Service", lambda: rules_for("manual"),
                      control=lambda: rules_for("selected"), control_what="the selected Service's rules",
                      proves="C-SVC-4")
    """
    from kubelab.lab.waits import wait_for

    ids = ledger.ids(proves)
    try:
        shown = wait_for(control_what, control, timeout=timeout, interval=interval)
    except AssertionError as timeout_error:
        raise _failed(
            what,
            ids,
            f"expected first: {control_what} (the positive case, to show the system acted)\n"
            f"observed: {timeout_error}",
        ) from None
    found = observe()
    if found:
        raise _failed(
            what, ids, f"expected: {what}\nobserved (while {control_what} holds):\n{show(found)}"
        )
    _passed(what, ids, f" (while {control_what} holds)")
    return shown, found


def skipped(reason: str, proves: str | list[str]) -> None:
    """Checks this cluster cannot make (no IPv6, cgroup v1, ...): one visible line and a ledger
    entry saying why, so the IDs show as skipped, never as proven and never silently gone.

        if not node_ipv6:
            skipped("the host has no IPv6, so kind cannot make a dual-stack cluster", proves=["C-DUAL-3"])
    """
    ids = ledger.ids(proves)
    ledger.record(f"skipped on this cluster: {reason}", ids, passed=None, skipped=reason)
    print(f"– skipped on this cluster: {reason}" + (f"  [{', '.join(ids)}]" if ids else ""))
