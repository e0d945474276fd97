"""Scheduling, through the API server: cordons and taints. The Node's spec before the first change is kept in its annotation SAVED_SPEC; later changes never overwrite it."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable


from kubelab.core.errors import KubelabError

from kubelab.cluster.node.records import CONTROLLER_TAINTS, SAVED_SPEC


class NodeScheduling:
    """Scheduling, through the API server (a part of Node)."""

    def cordon(self) -> None:
        """Mark the node unschedulable: no new pod is placed here (DaemonSet pods still are)."""
        self._change_spec("cordoned", lambda spec: {"unschedulable": True})

    def uncordon(self) -> None:
        """Mark the node schedulable again."""
        self._change_spec("uncordoned", lambda spec: {"unschedulable": None})

    def taint(self, key: str, value: str | None = None, effect: str = "NoSchedule") -> None:
        """Add (or replace) a taint: effect NoSchedule, PreferNoSchedule or NoExecute (which
        evicts running pods that do not tolerate it)."""
        if effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise KubelabError(
                f"tainting {self.name} failed: unknown effect {effect!r}",
                "use NoSchedule, PreferNoSchedule or NoExecute",
            )
        new = {"key": key, "effect": effect, **({"value": value} if value is not None else {})}

        def with_taint(spec: dict) -> dict:
            others = [
                t for t in spec.get("taints") or [] if (t["key"], t["effect"]) != (key, effect)
            ]
            return {"taints": [*others, new]}

        self._change_spec(
            f"tainted {key}{'=' + value if value is not None else ''}:{effect}", with_taint
        )

    def untaint(self, key: str) -> None:
        """Remove every taint with this key (whatever its effect)."""
        self._change_spec(
            f"removed taint {key}",
            lambda spec: {
                "taints": [t for t in spec.get("taints") or [] if t["key"] != key] or None
            },
        )

    def _node_object(self) -> dict:
        return json.loads(self.cluster.kubectl("get", "node", self.name, "-o", "json", timeout=30))

    def _patch_node(self, doing: str, patch_of: Callable[[dict], dict | None]) -> dict:
        """Merge-patch the Node, computed from its current state, retrying when someone (the node
        controller, usually) changed it in between: resourceVersion makes the patch conditional."""
        for _ in range(10):
            node = self._node_object()
            patch = patch_of(node)
            if patch is None:
                return node
            patch.setdefault("metadata", {})["resourceVersion"] = node["metadata"][
                "resourceVersion"
            ]
            result = subprocess.run(
                self.cluster.kubectl_command(
                    "patch",
                    "node",
                    self.name,
                    "--type",
                    "merge",
                    "-p",
                    json.dumps(patch),
                    "-o",
                    "json",
                ),
                capture_output=True,
                text=True,
                timeout=60,
            )
            if result.returncode == 0:
                return json.loads(result.stdout)
            if "the object has been modified" not in result.stderr:
                raise KubelabError(f"{doing} on {self.name} failed: {result.stderr.strip()}")
            time.sleep(0.2)
        raise KubelabError(
            f"{doing} on {self.name} failed: the Node kept changing under us (10 conflicts)"
        )

    def _change_spec(self, done: str, spec_change: Callable[[dict], dict]) -> None:
        if not self.cluster.node_access:
            # Only an API call, but on a cluster kubelab does not own: nothing would ever undo it.
            raise self.cluster.no_node_access(f"changing the scheduling of node {self.name}")

        def save(node):
            if SAVED_SPEC in (node["metadata"].get("annotations") or {}):
                return None  # saved by an earlier change of this (or an unfinished) run: that is the original
            spec = node.get("spec", {})
            saved = {
                "unschedulable": bool(spec.get("unschedulable")),
                "taints": [
                    t for t in spec.get("taints") or [] if t["key"] not in CONTROLLER_TAINTS
                ],
            }
            return {"metadata": {"annotations": {SAVED_SPEC: json.dumps(saved)}}}

        self._patch_node("saving the node's spec", save)
        self._patch_node(done, lambda node: {"spec": spec_change(node.get("spec", {}))})
        print(f"{self.name}: {done}")

    def _restore_spec(self) -> None:
        """Put back spec.unschedulable and the taints saved before the first change, and forget them."""

        def restore(node):
            saved = (node["metadata"].get("annotations") or {}).get(SAVED_SPEC)
            if saved is None:
                return None
            saved = json.loads(saved)
            managed = [
                t for t in node.get("spec", {}).get("taints") or [] if t["key"] in CONTROLLER_TAINTS
            ]
            return {
                "metadata": {"annotations": {SAVED_SPEC: None}},
                "spec": {
                    "unschedulable": True if saved.get("unschedulable") else None,
                    "taints": [*saved.get("taints", []), *managed] or None,
                },
            }

        self._patch_node("restoring the node's scheduling", restore)

    def free_cpu_millicores(self) -> int:
        """CPU the scheduler can still give out on this node: allocatable minus the requests of the
        pods bound to it that have not ended."""
        from kubelab.core.units import millicores

        node = self._node_object()
        pods = json.loads(
            self.cluster.kubectl(
                "get",
                "pods",
                "-A",
                "-o",
                "json",
                "--field-selector",
                f"spec.nodeName={self.name}",
                timeout=30,
            )
        )["items"]
        requested = sum(
            millicores(c.get("resources", {}).get("requests", {}).get("cpu", "0"))
            for p in pods
            if p["status"].get("phase") not in ("Succeeded", "Failed")
            for c in p["spec"]["containers"]
        )
        return millicores(node["status"]["allocatable"]["cpu"]) - requested
