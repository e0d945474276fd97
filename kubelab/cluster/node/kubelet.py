"""The node's kubelet: its live configuration, changes to its file (kept for restore()), restarts, static pods."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time

import yaml

from kubelab.core.errors import KubelabError
from kubelab.core.progress import Progress

from kubelab.cluster.node.records import (
    KUBELET_CONFIG,
    MANIFESTS,
    SAVED,
    SAVED_KUBELET_CONFIG,
    STATIC_PODS,
)


class NodeKubelet:
    """The node's kubelet (a part of Node)."""

    def add_static_pod(self, manifest: str) -> str:
        """Write a Pod manifest (YAML text) where the node's kubelet reads static pods; the kubelet
        runs it without the API server and publishes a mirror pod `<name>-<node>`. restore()
        removes the file (and so the pod). Returns the file's path on the node."""
        pod = yaml.safe_load(manifest)
        name = (pod or {}).get("metadata", {}).get("name", "")
        if (pod or {}).get("kind") != "Pod" or not re.fullmatch(
            r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name
        ):
            raise KubelabError(
                "a static pod manifest must be one Pod with a valid name",
                "kind: Pod, metadata.name: my-pod",
            )
        folder = self.kubelet_config().get("staticPodPath") or MANIFESTS
        path = f"{folder}/kubelab-{name}.yaml"
        # Written down before anything changes: an interruption right after still leaves the record.
        # A folder we create (a worker may have none) is recorded too, and removed again.
        created = (
            ""
            if self.sh(f"test -d {shlex.quote(folder)} && echo yes || true").strip()
            else f"echo dir:{folder} >> {STATIC_PODS}; "
        )
        self.sh(
            f"mkdir -p {SAVED} && {created}(grep -qxF {path} {STATIC_PODS} 2>/dev/null || echo {path} >> {STATIC_PODS})"
            f" && mkdir -p {shlex.quote(folder)}"
        )
        # Written beside, then renamed: the kubelet must never read half a manifest.
        self.sh(
            f"cat > {SAVED}/.static.tmp && mv {SAVED}/.static.tmp {path}", input=manifest.encode()
        )
        print(f"{self.name}: static pod {name} written to {path}")
        return path

    def reconfigure_kubelet(self, **fields) -> float:
        """Change fields of the kubelet's configuration file and restart the kubelet; returns the
        Unix time of the restart. The original file is kept for restore()."""
        config = yaml.safe_load(self.sh(f"cat {KUBELET_CONFIG}"))
        self.sh(
            f"mkdir -p {SAVED} && (test -e {SAVED_KUBELET_CONFIG} || cp {KUBELET_CONFIG} {SAVED_KUBELET_CONFIG})"
        )
        config.update(fields)
        self.sh(f"cat > {KUBELET_CONFIG}", input=yaml.safe_dump(config).encode())
        try:
            restarted = self.restart_kubelet()
        except KubelabError as e:
            self._restore_kubelet_config()
            raise KubelabError(
                f"the kubelet on {self.name} did not start with {fields}: {e.what}",
                "change those fields; the kubelet runs again with its original configuration",
            ) from None
        print(
            f"{self.name}: kubelet restarted with "
            + ", ".join(f"{k}={v}" for k, v in fields.items())
        )
        return restarted

    def restart_kubelet(self, timeout: float = 90) -> float:
        """Restart the kubelet and wait until it serves its configuration again."""
        restarted = time.time()
        cursor = (
            self.sh("journalctl -u kubelet -n 0 --show-cursor --no-pager")
            .strip()
            .rpartition("cursor: ")[2]
        )
        self.sh("systemctl restart kubelet")
        progress = Progress(f"the kubelet on {self.name} to answer after its restart")
        deadline = time.monotonic() + timeout
        answered_at = None
        while True:
            try:
                self.kubelet_config()
                # Up means up twice, 2 s apart: a kubelet can answer once and then exit (a CI run
                # saw the restored kubelet refuse connections right after its first answer).
                if answered_at is not None and time.monotonic() - answered_at >= 2:
                    progress.done("up")
                    return restarted
                answered_at = answered_at or time.monotonic()
                progress.update("answered; checking that it stays up")
                time.sleep(1)
                continue
            except (KubelabError, subprocess.TimeoutExpired, ValueError) as e:
                answered_at = None
                after = f"--after-cursor '{cursor}'" if cursor else ""
                failures = [
                    line.partition('err="')[2].rstrip('"') or line
                    for line in self.sh(
                        f"journalctl -u kubelet {after} -o cat --no-pager | grep 'command failed' || true"
                    )
                    .strip()
                    .splitlines()
                ]
                # A configuration the kubelet refuses fails every start the same way (systemd restarts
                # it each second); one failure alone may be a start that was cut short (seen in CI:
                # "get remote runtime typed version failed: ... context canceled"), so wait for a repeat.
                if len(failures) >= 2 and failures[-1] == failures[-2]:
                    raise KubelabError(failures[-1]) from None
                if time.monotonic() > deadline:
                    raise KubelabError(
                        f"the kubelet on {self.name} did not come back within {timeout:.0f} s: "
                        f"{failures[-1] if failures else e}",
                        f"docker exec {self.name} journalctl -u kubelet -n 50",
                    ) from None
                progress.update("restarting")
                time.sleep(1)

    def kubelet_config(self) -> dict:
        """The kubelet's live configuration (/configz, through the API server)."""
        out = self.cluster.kubectl(
            "get", "--raw", f"/api/v1/nodes/{self.name}/proxy/configz", timeout=10
        )
        return json.loads(out)["kubeletconfig"]

    def _restore_kubelet_config(self) -> None:
        self.sh(f"cp {SAVED_KUBELET_CONFIG} {KUBELET_CONFIG} && rm {SAVED_KUBELET_CONFIG}")
        self.restart_kubelet()
