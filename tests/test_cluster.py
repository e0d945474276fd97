"""The default cluster works as a real Kubernetes cluster should (issue: real multi-node kind).

Each test creates what it needs in its own namespace. The images are the ones every kubelab
cluster has preloaded; nothing is pulled.
"""

import json
import subprocess
import time

import pytest

from kubelab.lab.lab import is_ready
from kubelab.cluster.node import Node
from kubelab.cluster.offline.pins import load as load_pins

from kube_helpers import SERVICE, apply, pods, server, wait_for

pytestmark = pytest.mark.cluster

PINS = load_pins()
BUSYBOX = PINS.image("busybox")
ZONES = ("zone-a", "zone-b")


def client(
    name: str, zone: str | None = None, command: str = "sleep 3600", volume: str | None = None
) -> str:
    """A busybox pod labelled role=client that runs `command`; `volume` mounts that claim at /data."""
    selector = f"\n  nodeSelector: {{topology.kubernetes.io/zone: {zone}}}" if zone else ""
    mounts = "\n    volumeMounts: [{name: data, mountPath: /data}]" if volume else ""
    volumes = (
        f"\n  volumes: [{{name: data, persistentVolumeClaim: {{claimName: {volume}}}}}]"
        if volume
        else ""
    )
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{role: client}}}}
spec:{selector}
  terminationGracePeriodSeconds: 0
  containers:
  - name: shell
    image: {BUSYBOX}
    command: [sh, -c, "{command}"]{mounts}{volumes}
"""


def ready_pods(cluster, ns, selector, count):
    def check():
        items = pods(cluster, ns, selector)
        ready = [p for p in items if is_ready(p)]
        return ready if len(ready) >= count else None

    return wait_for(f"{count} ready pod(s) {selector} in {ns}", check, timeout=180)


# kubectl exec itself failing (not the command): the API server could not reach the kubelet.
EXEC_TRANSPORT_ERRORS = ("unable to upgrade connection", "error dialing backend")


def shell(cluster, ns, pod, command: str, check: bool = True) -> subprocess.CompletedProcess:
    for attempt in range(3):
        result = subprocess.run(
            cluster.kubectl_command("exec", "-n", ns, pod, "--", "sh", "-c", command),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if not any(e in result.stderr for e in EXEC_TRANSPORT_ERRORS):
            break
        time.sleep(2)  # a transport hiccup, seen once on a cluster seconds old: try again
    if check and result.returncode != 0:
        pytest.fail(
            f"'{command}' in {ns}/{pod} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result


def fetch(cluster, ns, pod, url: str, check: bool = True):
    # `timeout`, not wget's -T: Debian's busybox 1.35 wget crashes on -T (the offline busybox image).
    return shell(cluster, ns, pod, f"timeout 5 wget -q -O- {url}", check=check)


def service_routes(cluster, ns, pod, url: str) -> None:
    """Wait until a Service answers `pod`: a ready backend is not yet a rule on the client's node
    (its kube-proxy writes it a moment later; until then the ClusterIP refuses connections)."""
    wait_for(
        f"{url} to answer {pod}",
        lambda: fetch(cluster, ns, pod, url, check=False).returncode == 0,
        timeout=30,
    )


def test_nodes_ready_in_two_zones_and_system_pods_running(cluster):
    # cluster.nodes(): a notebook running beside this test may have made kubelet-less Nodes
    nodes = cluster.nodes()
    status = cluster.node_status(nodes)
    assert len(status) == 3 and all(status.values()), status
    zones = sorted(n["metadata"]["labels"].get("topology.kubernetes.io/zone", "") for n in nodes)
    assert zones == ["", *ZONES], zones
    versions = {n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes}
    if cluster.choice.mode == "offline":
        assert versions == {PINS.kubernetes}, versions
    assert cluster.system_pods_not_running() == []
    assert cluster.moved_nodes() == [], (
        "every node's InternalIP is its container's address (the API server reaches the right kubelet)"
    )
    system = pods(cluster, "kube-system")
    names = " ".join(p["metadata"]["name"] for p in system)
    for component in (
        "etcd-",
        "kube-apiserver-",
        "kube-controller-manager-",
        "kube-scheduler-",
        "coredns-",
        "kube-proxy-",
        "kindnet-",
    ):
        assert component in names, f"no {component}* pod in kube-system: {names}"


def test_service_name_resolves_through_coredns(cluster, namespace):
    apply(cluster, namespace, server("web") + "---" + SERVICE + "---" + client("client"))
    ready_pods(cluster, namespace, "role=client", 1)
    cluster_ip = cluster.kubectl(
        "get", "service", "web", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}"
    )
    # CoreDNS learns of a new Service through a watch: allow it a moment.
    wait_for(
        f"web.{namespace}.svc.cluster.local to resolve to {cluster_ip}",
        lambda: (
            cluster_ip
            in shell(
                cluster,
                namespace,
                "client",
                f"nslookup web.{namespace}.svc.cluster.local",
                check=False,
            ).stdout
        ),
        timeout=60,
        interval=2,
    )
    # The pod's resolv.conf points at the cluster DNS Service, answered by CoreDNS.
    dns_ip = cluster.kubectl(
        "get", "service", "kube-dns", "-n", "kube-system", "-o", "jsonpath={.spec.clusterIP}"
    )
    assert (
        f"nameserver {dns_ip}" in shell(cluster, namespace, "client", "cat /etc/resolv.conf").stdout
    )


def test_cluster_ip_reaches_every_pod_through_kube_proxy(cluster, namespace):
    apply(
        cluster, namespace, server("web", replicas=2) + "---" + SERVICE + "---" + client("client")
    )
    backends = {p["metadata"]["name"] for p in ready_pods(cluster, namespace, "server=web", 2)}
    ready_pods(cluster, namespace, "role=client", 1)
    service_routes(cluster, namespace, "client", "http://web/hostname")
    seen = set()
    deadline = time.monotonic() + 60
    while seen != backends and time.monotonic() < deadline:
        seen.add(fetch(cluster, namespace, "client", "http://web/hostname").stdout.strip())
    assert seen == backends, f"answers came from {seen}, expected {backends}"
    cluster_ip = cluster.kubectl(
        "get", "service", "web", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}"
    )
    rules = Node(cluster, f"{cluster.name}-worker").sh("iptables-save -t nat")
    assert f"-d {cluster_ip}/32" in rules and "KUBE-SVC-" in rules, (
        "kube-proxy's rule for the Service is not in the node's nat table"
    )


def test_pods_on_different_workers_reach_each_other(cluster, namespace):
    apply(
        cluster, namespace, server("web", zone="zone-b") + "---" + client("client", zone="zone-a")
    )
    (target,) = ready_pods(cluster, namespace, "server=web", 1)
    (source,) = ready_pods(cluster, namespace, "role=client", 1)
    assert target["spec"]["nodeName"] != source["spec"]["nodeName"]
    out = fetch(
        cluster, namespace, "client", f"http://{target['status']['podIP']}:8080/hostname"
    ).stdout
    assert out.strip() == target["metadata"]["name"]


DENY_ALL_INGRESS = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""

ALLOW_FROM_CLIENTS = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-clients}
spec:
  podSelector: {matchLabels: {server: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: client}}}]
    ports: [{port: http}]
"""


def test_default_deny_network_policy_blocks_traffic_that_flowed(cluster, namespace):
    apply(
        cluster,
        namespace,
        server("web", zone="zone-b") + "---" + SERVICE + "---" + client("client", zone="zone-a"),
    )
    ready_pods(cluster, namespace, "server=web", 1)
    ready_pods(cluster, namespace, "role=client", 1)
    service_routes(cluster, namespace, "client", "http://web/hostname")
    assert fetch(cluster, namespace, "client", "http://web/hostname").returncode == 0
    apply(cluster, namespace, DENY_ALL_INGRESS)
    wait_for(
        "the default-deny policy to block the client",
        lambda: (
            fetch(cluster, namespace, "client", "http://web/hostname", check=False).returncode != 0
        ),
        timeout=30,
    )
    # A policy that allows the clients (by label, to the named port) lets it through again.
    apply(cluster, namespace, ALLOW_FROM_CLIENTS)
    wait_for(
        "the allow policy to let the client through",
        lambda: (
            fetch(cluster, namespace, "client", "http://web/hostname", check=False).returncode == 0
        ),
        timeout=30,
    )


def test_pvc_binds_once_a_pod_uses_it(cluster, namespace):
    default = [
        sc["metadata"]["name"]
        for sc in json.loads(cluster.kubectl("get", "storageclass", "-o", "json"))["items"]
        if sc["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class")
        == "true"
    ]
    assert default == ["standard"], default
    apply(
        cluster,
        namespace,
        """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
""",
    )
    time.sleep(3)
    phase = lambda: cluster.kubectl(
        "get", "pvc", "data", "-n", namespace, "-o", "jsonpath={.status.phase}"
    )  # noqa: E731
    assert phase() == "Pending", "WaitForFirstConsumer: the claim stays Pending until a pod uses it"
    apply(
        cluster,
        namespace,
        client("writer", command="echo kept > /data/file && sleep 3600", volume="data"),
    )
    wait_for("the claim to be Bound", lambda: phase() == "Bound", timeout=120)
    ready_pods(cluster, namespace, "role=client", 1)
    assert shell(cluster, namespace, "writer", "cat /data/file").stdout.strip() == "kept"


def test_kubectl_logs_and_exec(cluster, namespace):
    apply(cluster, namespace, client("talker", command="echo hello from the pod; sleep 3600"))
    ready_pods(cluster, namespace, "role=client", 1)
    wait_for(
        "the log line",
        lambda: "hello from the pod" in cluster.kubectl("logs", "-n", namespace, "talker"),
    )
    assert shell(cluster, namespace, "talker", "echo $((6 * 7))").stdout.strip() == "42"


def test_missing_image_fails_at_once_without_network(cluster, namespace):
    if cluster.choice.mode != "offline":
        pytest.skip(
            "only offline nodes refuse every pull locally; stock nodes pull from registries"
        )
    apply(
        cluster,
        namespace,
        """
apiVersion: v1
kind: Pod
metadata: {name: missing}
spec:
  containers: [{name: c, image: "registry.k8s.io/kubelab-no-such-image:1"}]
""",
    )
    started = time.monotonic()

    def waiting_reason():
        status = json.loads(
            cluster.kubectl("get", "pod", "missing", "-n", namespace, "-o", "json")
        )["status"]
        for c in status.get("containerStatuses", []):
            reason = c.get("state", {}).get("waiting", {}).get("reason")
            if reason in ("ErrImagePull", "ImagePullBackOff"):
                return c["state"]["waiting"].get("message", reason)
        return None

    message = wait_for("the pull of a missing image to fail", waiting_reason, timeout=60)
    assert time.monotonic() - started < 30, (
        "the pull should fail at once, not after network timeouts"
    )
    assert "127.0.0.1:1" in message or "connection refused" in message, message
    cluster.kubectl("delete", "pod", "missing", "-n", namespace, "--wait=false")


@pytest.mark.disturbs
def test_worker_pods_run_again_after_docker_restart(cluster, namespace):
    worker = f"{cluster.name}-worker"
    apply(cluster, namespace, server("web", zone=node_zone(cluster, worker)))
    ready_pods(cluster, namespace, "server=web", 1)
    subprocess.run(["docker", "restart", worker], check=True, capture_output=True, timeout=120)
    wait_for(
        f"{worker} to be Ready again",
        lambda: cluster.node_status().get(worker),
        timeout=180,
        interval=2,
    )

    def restarted_and_ready():
        (pod,) = pods(cluster, namespace, "server=web")
        restarts = pod["status"].get("containerStatuses", [{}])[0].get("restartCount", 0)
        return pod if is_ready(pod) and restarts >= 1 else None

    pod = wait_for(
        "the pod on the restarted worker to run again", restarted_and_ready, timeout=180, interval=2
    )
    assert pod["spec"]["nodeName"] == worker
    wait_for(
        "kube-system pods all Running again",
        lambda: cluster.system_pods_not_running() == [],
        timeout=120,
    )


def node_zone(cluster, node: str) -> str:
    return cluster.kubectl(
        "get", "node", node, "-o", r"jsonpath={.metadata.labels.topology\.kubernetes\.io/zone}"
    )


def test_no_pod_ever_failed_to_pull_an_image(cluster):
    """Every image any test or system pod used was preloaded: no pull error in any event.

    The one deliberate failure (test_missing_image_fails_at_once_without_network) is excluded.
    """
    events = json.loads(cluster.kubectl("get", "events", "-A", "-o", "json"))["items"]
    failures = [
        f"{e['involvedObject'].get('namespace')}/{e['involvedObject'].get('name')}: {e.get('message', '')[:160]}"
        for e in events
        if (
            "ErrImagePull" in e.get("message", "")
            or "ImagePullBackOff" in e.get("message", "")
            or e.get("reason") in ("ErrImagePull", "ImagePullBackOff")
            or (e.get("reason") == "Failed" and "pull" in e.get("message", "").lower())
        )
        # the deliberate failure: its pod's events do not all name the image
        and "kubelab-no-such-image" not in e.get("message", "")
        and e["involvedObject"].get("name") != "missing"
    ]
    assert failures == []
    now = json.loads(cluster.kubectl("get", "pods", "-A", "-o", "json"))["items"]
    stuck = [
        p["metadata"]["name"]
        for p in now
        for c in p["status"].get("containerStatuses", [])
        if c.get("state", {}).get("waiting", {}).get("reason")
        in ("ErrImagePull", "ImagePullBackOff")
        and "kubelab-no-such-image" not in c.get("image", "")
    ]
    assert stuck == []


def unallocated_service_address(cluster) -> str:
    """An IPv4 address inside the Service range that no Service holds (no IPAddress object)."""
    import ipaddress

    cidrs = json.loads(cluster.kubectl("get", "servicecidr", "kubernetes", "-o", "json"))["spec"][
        "cidrs"
    ]
    (v4,) = [ipaddress.ip_network(c) for c in cidrs if ipaddress.ip_network(c).version == 4]
    taken = {
        item["metadata"]["name"]
        for item in json.loads(cluster.kubectl("get", "ipaddresses", "-o", "json"))["items"]
    }
    return next(
        str(address) for address in reversed(list(v4.hosts())[-64:]) if str(address) not in taken
    )


def test_nothing_a_cluster_sends_leaves_this_machine(cluster, namespace):
    """A Pod's connection to a ClusterIP no rule claims is routed by its node to the host's default
    gateway; kubelab's containment rule refuses it there instead of letting it out."""
    from kubelab.cluster import containment

    if cluster.choice.mode != "offline":
        pytest.skip(
            "the containment rule is set only for clusters with offline images; stock ones pull from registries"
        )
    before = containment.rules()
    families = {"ip6tables" if ":" in subnet else "iptables" for subnet in containment.subnets()}
    assert {r.tool for r in before} == families, (
        f"kubelab's rule is in place for every address family of the kind network: {before}"
    )
    address = unallocated_service_address(cluster)
    apply(cluster, namespace, client("prober"))
    ready_pods(cluster, namespace, "role=client", 1)
    started = time.monotonic()
    result = shell(
        cluster, namespace, "prober", f"timeout 10 wget -q -O- http://{address}:80/", check=False
    )
    seconds = time.monotonic() - started
    after = {r.tool: r.packets for r in containment.rules()}
    assert result.returncode != 0 and "Connection refused" in result.stderr, (
        address,
        result.stderr,
    )
    assert seconds < 8, f"refused at once, not after a timeout ({seconds:.1f} s)"
    (v4,) = [r for r in before if r.tool == "iptables"]
    assert after["iptables"] > v4.packets, (
        f"the refusal was the containment rule's: {v4.packets} -> {after['iptables']} packets"
    )


def test_a_name_outside_the_cluster_is_answered_on_this_machine_at_once(cluster, namespace):
    """Docker's DNS in the nodes forwards outside names to this machine's resolvers; containment
    redirects those queries to kubelab's responder on this host, which answers NXDOMAIN."""
    import uuid

    from kubelab.cluster import containment

    if cluster.choice.mode != "offline":
        pytest.skip("the containment rules are set only for clusters with offline images")
    before = sum(r.packets for r in containment.rules(table="nat"))
    assert containment.rules(table="nat"), "the DNS redirection is in place"
    apply(cluster, namespace, client("asker"))
    ready_pods(cluster, namespace, "role=client", 1)
    name = f"kubelab-{uuid.uuid4().hex[:8]}.example.org."  # new each run: no cache has it
    started = time.monotonic()
    result = shell(cluster, namespace, "asker", f"nslookup {name}", check=False)
    seconds = time.monotonic() - started
    assert "NXDOMAIN" in result.stdout + result.stderr, result
    assert seconds < 5, f"answered at once, not after a timeout ({seconds:.1f} s)"
    after = sum(r.packets for r in containment.rules(table="nat"))
    assert after > before, f"the query was redirected to this host: {before} -> {after} packets"
