"""Images published under upstream names work for the commands tutorials and upstream tests run
in them: agnhost's netcat (-v -z -w -u), curl, dig, ip, `porter` serving TLS with its own
certificate, and its default command; the DNS tools add-on's dig; busybox's nc and wget -T."""

import json

import pytest

from kubelab.lab.lab import Lab
from kubelab.cluster.offline.pins import load as load_pins

from kube_helpers import SERVICE, apply, pods, server, wait_for

pytestmark = pytest.mark.cluster

PINS = load_pins()


def pod(name: str, image: str, command: str = "sleep 3600", labels: str = "role: tools") -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{{labels}}}}}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{{name: c, image: "{image}", command: [sh, -c, "{command}"]}}]
"""


PORTER = """
apiVersion: v1
kind: Pod
metadata: {name: porter}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: c, image: "%s", args: [porter], env: [{name: SERVE_TLS_PORT_8443, value: tls-served}]}
---
apiVersion: v1
kind: Pod
metadata: {name: idle}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: "%s"}]
"""


def run(cluster, namespace, pod_name, command):
    return cluster.kubectl(
        "exec", "-n", namespace, pod_name, "--", "sh", "-c", command, check=False, timeout=60
    )


def test_tools_in_agnhost_dnsutils_and_busybox_work_as_upstream(cluster, namespace):
    lab = Lab(cluster, namespace)
    lab.addon("dnsutils")
    apply(
        cluster,
        namespace,
        server("web")
        + "---"
        + SERVICE
        + "---"
        + pod("agnhost", PINS.image("agnhost"))
        + "---"
        + pod("dnsutils", PINS.image("dnsutils"))
        + "---"
        + pod("busybox", PINS.image("busybox"))
        + "---"
        + PORTER % (PINS.image("agnhost"), PINS.image("agnhost"))
        # accepts connections and never answers: what a timeout is for
        + "---"
        + pod("silent", PINS.image("agnhost"), "nc -lk 9999 > /dev/null", labels="role: silent"),
    )
    lab.wait_ready("deployment", "web")
    for name in ("agnhost", "dnsutils", "busybox", "porter", "idle", "silent"):
        lab.wait_ready("pod", name)
    dns = cluster.kubectl(
        "get", "service", "kube-dns", "-n", "kube-system", "-o", "jsonpath={.spec.clusterIP}"
    )
    fqdn = f"web.{namespace}.svc.cluster.local"
    srv = f"_http._tcp.{fqdn}"

    def ok(pod_name, command, wanted=""):
        out = wait_for(
            f"`{command}` in {pod_name}",
            lambda: (lambda text: text if wanted in text and text.strip() else None)(
                run(cluster, namespace, pod_name, f"{command} 2>&1; echo exit=$?")
            ),
            timeout=60,
            interval=2,
        )
        assert "exit=0" in out, f"{pod_name}: `{command}`:\n{out}"
        return out

    # agnhost, as Kubernetes' network tests use it
    ok("agnhost", "nc -v -z -w 2 web 80", "succeeded")
    ok("agnhost", f"nc -v -u -z -w 2 {dns} 53", "succeeded")
    assert ok("agnhost", "curl -s -m 5 http://web/hostname").startswith("web-")
    assert f"{fqdn}." in ok("agnhost", f"dig +short SRV {srv}", fqdn)
    ok("agnhost", "ip -o addr show eth0", "inet ")
    ok("agnhost", "ls /agnhost-2")
    # porter serves TLS with the certificate the image carries (SAN 127.0.0.1), which curl verifies
    assert (
        ok("porter", "curl -s --cacert /localhost.crt https://127.0.0.1:8443/")
        == "tls-servedexit=0\n"
    )  # the body, with no newline of its own
    # the image alone runs `agnhost pause`, as upstream's does
    idle = json.loads(cluster.kubectl("get", "pod", "idle", "-n", namespace, "-o", "json"))
    assert (
        idle["status"]["phase"] == "Running"
        and idle["status"]["containerStatuses"][0]["restartCount"] == 0
    )
    # the DNS tools image of Kubernetes' DNS debugging page
    assert f"{fqdn}." in ok("dnsutils", f"dig +short SRV {srv}", fqdn)
    ok("dnsutils", f"nslookup {fqdn}", "Address")
    # busybox's applets people use, wget's timeout among them (Debian's busybox 1.35 crashed on -T)
    ok("busybox", "echo | nc -w 2 web 80")
    assert ok("busybox", "wget -q -T 5 -O- http://web/hostname").startswith("web-")
    silent = cluster.kubectl(
        "get", "pod", "silent", "-n", namespace, "-o", "jsonpath={.status.podIP}"
    )
    out = run(
        cluster, namespace, "busybox", f"wget -q -T 2 -O- http://{silent}:9999/ 2>&1; echo exit=$?"
    )
    assert "exit=1" in out and "download timed out" in out, out  # times out, fails, does not crash
    assert pods(cluster, namespace, "app=web")
