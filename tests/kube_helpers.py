"""Small helpers the cluster tests share (the notebook library will grow its own)."""

import json
import time
import uuid

import pytest

from kubelab.cluster import KindCluster
from kubelab.cluster.pinned import AGNHOST


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


def server(name: str, zone: str | None = None, replicas: int = 1, labels: str = "app: web") -> str:
    """A Deployment of agnhost netexec on :8080 (named port http), spread over the zones; pods
    labelled `labels` and server=<name>, ready once /healthz answers."""
    selector = f"\n      nodeSelector: {{topology.kubernetes.io/zone: {zone}}}" if zone else ""
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{{labels}, server: {name}}}}}
  template:
    metadata: {{labels: {{{labels}, server: {name}}}}}
    spec:{selector}
      topologySpreadConstraints:
      - {{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule,
          labelSelector: {{matchLabels: {{server: {name}}}}}}}
      containers:
      - name: netexec
        image: {AGNHOST}
        args: [netexec, --http-port=8080]
        ports: [{{containerPort: 8080, name: http}}]
        readinessProbe: {{httpGet: {{path: /healthz, port: 8080}}, periodSeconds: 1}}
"""


# The Service in front of server("web"): port 80 (named http, so it has an SRV record) to 8080.
SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {server: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
"""
