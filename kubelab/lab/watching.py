"""Waiting and watching (kubelab.lab.waits): wait_ready, wait_until, wait_deleted, sampling, recording.
A part of kubelab.lab.lab.Lab; its methods use the others' (self.api, self.namespace, ...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubelab.lab import waits

from kubelab.lab.objects import _observed


class LabWaits:
    """Waiting and watching (kubelab.lab.waits) (a part of Lab)."""

    def wait_for(
        self,
        description: str,
        observe: Callable[[], Any],
        done: Callable[[Any], Any] = bool,
        status: Callable[[Any], str] | None = None,
        timeout: float = 120,
        interval: float = 1.0,
    ) -> Any:
        """Poll observe() until done(result), for what is not one object (node output, lists);
        API errors in observe are retried, any other error raised at once."""
        return waits.wait_for(
            description, observe, done, status, timeout=timeout, interval=interval
        )

    def wait_ready(
        self, kind: str, name: str, namespace: str | None = None, timeout: float = 120
    ) -> dict:
        """Ready pods and nodes; rolled-out Deployments, StatefulSets, DaemonSets; complete Jobs; bound PVCs."""
        return _observed(waits.wait_ready(self, kind, name, namespace, timeout))

    def wait_deleted(
        self, kind: str, name: str, namespace: str | None = None, timeout: float = 120
    ) -> None:
        """Until the object no longer exists (at once if it never did)."""
        waits.wait_deleted(self, kind, name, namespace, timeout)

    def wait_phase(
        self, kind: str, name: str, phase: str, namespace: str | None = None, timeout: float = 120
    ) -> dict:
        """Until status.phase is `phase` (Pods, PVCs, Namespaces...)."""
        return _observed(waits.wait_phase(self, kind, name, phase, namespace, timeout))

    def wait_until(
        self,
        kind: str,
        name: str,
        predicate: Callable[[dict], Any],
        description: str | None = None,
        namespace: str | None = None,
        timeout: float = 120,
    ) -> dict:
        """Until predicate(object) holds, checked on every change of the object; returns the object.
        `description` (what is awaited) defaults to the predicate's name: wait_until("pod", "web",
        kubelab.restarted) shows "pod/web: restarted"."""
        if description is None:
            description = f"{kind}/{name}: {getattr(predicate, '__name__', 'the condition')}"
        return _observed(
            waits.wait_until(self, kind, name, predicate, description, namespace, timeout)
        )

    def wait_terminal(
        self, kind: str, name: str, namespace: str | None = None, timeout: float = 120
    ) -> tuple[str, dict]:
        """Until a Job or Pod ends: ("Complete" or "Failed", job) or ("Succeeded" or "Failed", pod)."""
        return waits.wait_terminal(self, kind, name, namespace, timeout)

    def sample(
        self,
        description: str,
        observe: Callable[[], Any],
        until: Callable[[list], Any],
        interval: float = 2.0,
        timeout: float = 600,
    ) -> list[tuple[float, Any]]:
        """Observe every `interval` seconds until `until(samples)`; returns [(seconds, value), ...]."""
        return waits.sample(description, observe, until, interval=interval, timeout=timeout)

    def sample_in_background(
        self, description: str, observe: Callable[[], Any], interval: float = 2.0
    ):
        """Observe every `interval` seconds in the background while the notebook goes on; read it
        with `.wait_until(...)`, `.first(...)`, `.samples`, `.plot(...)` (see kubelab.lab.sampling)."""
        from kubelab.lab.sampling import Timeline

        return Timeline(description, observe, interval).start()

    def record(self, *kinds: str, selector: str | None = None, namespace: str | None = None):
        """Watch these kinds in the background and keep a timeline (see kubelab.lab.recorder)."""
        from kubelab.lab.recorder import Recorder

        return Recorder(self, kinds, selector=selector, namespace=namespace)
