"""Leader election on a Lease, done the way client-go's leaderelection package does it, so a
notebook can race two candidates for one lock and watch the rules hold.

    a = Candidate(lab, "demo-lock", "candidate-a", duration=5)
    b = Candidate(lab, "demo-lock", "candidate-b", duration=5)
    a.try_acquire_or_renew()                  # Attempt(acquired=True, ...)
    contest = run_contest(a, b, holder_stops_after=6)
    contest.first_success("candidate-b")      # when b took over, by b's clock

The rules, as client-go has them:
- every write names the resourceVersion it read; a write based on a stale read fails with
  409 Conflict, so two candidates can never both think they took the lock;
- a candidate judges that the holder's lease has expired by *its own clock*: `duration` seconds
  after it last saw the Lease change. It never compares renewTime (written by another machine's
  clock) with its own time, so clock skew between machines does not matter.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from kubelab.helpers.times import now_rfc3339


@dataclass(frozen=True)
class Attempt:
    t: float  # time.monotonic() of the attempt
    who: str
    acquired: bool  # it holds the lock now (acquired or renewed)
    reason: str  # why not, or "acquired" / "renewed"


class Candidate:
    def __init__(self, lab, lease: str, identity: str, duration: int = 5):
        self.lab, self.lease, self.identity, self.duration = lab, lease, identity, duration
        self._observed_spec: dict | None = None
        self._observed_at = 0.0  # monotonic time when this candidate saw the Lease change

    def try_acquire_or_renew(self) -> Attempt:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic.exceptions import ConflictError

        now = time.monotonic()
        current = self.lab.get("lease", self.lease)
        if current is None:
            return self._create(now)
        spec = current.get("spec") or {}
        if spec != self._observed_spec:
            self._observed_spec, self._observed_at = spec, now
        holder = spec.get("holderIdentity")
        if holder and holder != self.identity and self._observed_at + self.duration > now:
            return Attempt(
                now,
                self.identity,
                False,
                f"held by {holder}; last change seen {now - self._observed_at:.1f} s ago (< {self.duration} s)",
            )
        renewing = holder == self.identity
        stamp = now_rfc3339()
        current["spec"] = {
            **spec,
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.duration,
            "renewTime": stamp,
        }
        if not renewing:
            current["spec"].update(
                acquireTime=stamp,
                leaseTransitions=spec.get("leaseTransitions", 0) + (1 if holder else 0),
            )
        try:
            written = self.lab.replace(current)  # carries the resourceVersion it read
        except (ConflictError, ApiException) as e:
            if getattr(e, "status", None) != 409:
                raise
            return Attempt(
                now, self.identity, False, "409 Conflict: someone wrote the Lease since it was read"
            )
        self._observed_spec, self._observed_at = written.get("spec"), time.monotonic()
        return Attempt(now, self.identity, True, "renewed" if renewing else "acquired")

    def _create(self, now: float) -> Attempt:
        from kubernetes.dynamic.exceptions import ConflictError

        stamp = now_rfc3339()
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.lease},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.duration,
                "acquireTime": stamp,
                "renewTime": stamp,
                "leaseTransitions": 0,
            },
        }
        try:
            created = self.lab.dynamic.create(
                self.lab.resource("coordination.k8s.io/v1/Lease"),
                body=body,
                namespace=self.lab.namespace,
            ).to_dict()
        except ConflictError:
            return Attempt(now, self.identity, False, "another candidate created the Lease first")
        self._observed_spec, self._observed_at = created.get("spec"), time.monotonic()
        return Attempt(now, self.identity, True, "acquired")


@dataclass
class Contest:
    started: float
    holder_stopped: float | None = None  # monotonic time the holder's last renewal was made
    attempts: list[Attempt] = field(default_factory=list)

    def at(self, t: float) -> float:
        """Seconds since the contest started."""
        return round(t - self.started, 2)

    def first_success(self, who: str) -> Attempt | None:
        return next((a for a in self.attempts if a.who == who and a.acquired), None)

    def denied(self, who: str) -> list[Attempt]:
        return [a for a in self.attempts if a.who == who and not a.acquired]

    def rows(self) -> list[tuple]:
        return [
            (f"{self.at(a.t):6.2f}", a.who, "holds" if a.acquired else "waits", a.reason)
            for a in self.attempts
        ]


def run_contest(
    holder: Candidate,
    challenger: Candidate,
    holder_stops_after: float,
    retry: float = 1.0,
    timeout: float = 30,
) -> Contest:
    """The holder renews every `retry` seconds and then stops (as if its process died); the
    challenger tries every `retry` seconds until it holds the lock. Both run at once, as two
    processes would."""
    contest = Contest(time.monotonic())
    lock = threading.Lock()

    def note(attempt: Attempt) -> None:
        with lock:
            contest.attempts.append(attempt)

    def hold() -> None:
        while time.monotonic() - contest.started < holder_stops_after:
            attempt = holder.try_acquire_or_renew()
            note(attempt)
            if attempt.acquired:
                contest.holder_stopped = time.monotonic()
            time.sleep(retry)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    time.sleep(retry / 2)  # the challenger tries between the holder's renewals
    while time.monotonic() - contest.started < timeout:
        attempt = challenger.try_acquire_or_renew()
        note(attempt)
        if attempt.acquired:
            break
        time.sleep(retry)
    thread.join()
    contest.attempts.sort(key=lambda a: a.t)
    return contest
