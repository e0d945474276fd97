"""Small helpers the cluster tests share (the notebook library will grow its own)."""

import json
import time
import uuid

import pytest

from kubelab.cluster import KindCluster


def apply(cluster: KindCluster, namespace: str, manifest: str) -> None:
    path = cluster.dir / f"manifest-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text(manifest)
    try:
        cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", str(path))
    finally:
        path.unlink()


def wait_for(what: str, predicate, timeout: float = 120, interval: float = 1):
    """Poll until predicate() returns something truthy; fail with what was last seen."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as e:  # noqa: BLE001 - shown in the failure message
            last = e
        else:
            if last:
                return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {last!r}")


def pods(cluster: KindCluster, namespace: str, selector: str | None = None) -> list[dict]:
    args = ["get", "pods", "-n", namespace, "-o", "json"] + (["-l", selector] if selector else [])
    return json.loads(cluster.kubectl(*args))["items"]
