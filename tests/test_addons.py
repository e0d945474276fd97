"""Add-ons: each folder in clusters/addons is complete and names only pinned images; on the
real cluster, one call installs an add-on and it serves (here: `kubectl top nodes` answers)."""

import re
import uuid

import pytest

from kubelab.cluster import addons
from kubelab.core.errors import KubelabError
from kubelab.cluster.offline.pins import load as load_pins

from kube_helpers import SERVICE, server


@pytest.mark.parametrize("name", addons.available())
def test_an_addon_names_its_manifests_and_only_pinned_images(name):
    addon = addons.load(name)
    rendered = addon.rendered()
    assert "@IMAGE:" not in rendered, "every placeholder names an image component"
    images = set(re.findall(r"image:\s*\"?([^\s\"]+)", rendered))
    pinned = load_pins().images()
    assert bool(images) == bool(addon.manifests) and images <= set(pinned.values()), images
    own = {
        ref
        for component, ref in pinned.items()
        if load_pins().components[component].get("addon") == name
    }
    assert images <= own | set(load_pins().images(addons=False).values())


def test_an_unknown_addon_says_which_there_are():
    with pytest.raises(KubelabError, match="add-ons: .*metrics-server"):
        addons.load("no-such-addon")


@pytest.mark.cluster
@pytest.mark.disturbs  # an APIService that is not yet available breaks discovery for runs beside it
def test_metrics_server_installs_with_one_call_and_kubectl_top_answers(cluster):
    from kubelab.lab.lab import Lab

    lab = Lab(cluster, f"t-{uuid.uuid4().hex[:8]}")
    try:
        lab.addon("metrics-server")
        top = cluster.kubectl("top", "nodes", "--no-headers")
        assert sorted(line.split()[0] for line in top.splitlines()) == sorted(
            cluster.node_names()
        ), top
        assert all(re.fullmatch(r"\d+m", line.split()[1]) for line in top.splitlines()), top
    finally:
        addons.uninstall(cluster, "metrics-server")


@pytest.mark.cluster
def test_kube_state_metrics_lists_the_tests_deployment(cluster, namespace):
    import time

    from kubelab.lab.lab import Lab
    from kubelab.cluster.pinned import PAUSE

    lab = Lab(cluster, namespace)
    try:
        lab.addon("kube-state-metrics")
        lab.apply(f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: counted-by-ksm}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: counted-by-ksm}}}}
  template:
    metadata: {{labels: {{app: counted-by-ksm}}}}
    spec: {{containers: [{{name: c, image: "{PAUSE}"}}]}}
""")
        lab.wait_ready("deployment", "counted-by-ksm")
        wanted = f'kube_deployment_status_replicas_ready{{namespace="{namespace}",deployment="counted-by-ksm"}} 2'
        path = (
            "/api/v1/namespaces/kube-system/services/kube-state-metrics:http-metrics/proxy/metrics"
        )
        deadline = time.monotonic() + 60
        while (
            wanted not in (page := cluster.kubectl("get", "--raw", path))
            and time.monotonic() < deadline
        ):
            time.sleep(2)
        assert wanted in page, [line for line in page.splitlines() if "counted-by-ksm" in line][:10]
    finally:
        addons.uninstall(cluster, "kube-state-metrics")


@pytest.mark.cluster
@pytest.mark.disturbs  # new and removed API groups change discovery for runs beside it
def test_gateway_api_crds_come_from_the_module_and_wait_for_a_controller(cluster, namespace):
    from kubelab.lab.lab import Lab

    lab = Lab(cluster, namespace)
    try:
        lab.addon("gateway-api")
        version = cluster.kubectl(
            "get",
            "crd",
            "gateways.gateway.networking.k8s.io",
            "-o",
            r"jsonpath={.metadata.annotations.gateway\.networking\.k8s\.io/bundle-version}",
        )
        assert version == load_pins()["gateway-api-crds"]["version"], version
        lab.apply("""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waiting}
spec:
  gatewayClassName: nobody-implements-this
  listeners: [{name: http, protocol: HTTP, port: 80}]
""")
        gateway = lab.get("gateway.networking.k8s.io/v1/Gateway", "waiting")
        accepted = next(c for c in gateway["status"]["conditions"] if c["type"] == "Accepted")
        assert (accepted["status"], accepted["reason"]) == ("Unknown", "Pending"), (
            accepted
        )  # no controller yet
    finally:
        addons.uninstall(cluster, "gateway-api")


@pytest.mark.cluster
def test_an_image_pushed_from_this_machine_is_pulled_by_a_pod_from_the_registry_addon(
    cluster, namespace, tmp_path
):
    from kubelab.cluster import registry
    from kubelab.lab.lab import Lab
    from kubelab.cluster.offline import oci
    from kubelab.cluster.offline.build import builder

    lab = Lab(cluster, namespace)
    try:
        lab.addon("registry")
        # a tiny image of our own: the pause command, unique content so that the digest is new
        pause = builder().binaries(["kubelab-commands"])["kubelab-commands"]["pause"]
        marker = tmp_path / "marker"
        marker.write_text(namespace)
        archive = tmp_path / "demo.tar"
        oci.write_archive(
            oci.Image(
                "registry.kubelab.local:5000/demo:1",
                files={"pause": pause, "marker": marker},
                entrypoint=["/pause"],
            ),
            archive,
        )
        digest = registry.push(
            archive, f"{lab.internal_ip(cluster.node_names()[-1])}:30500", "demo", "1"
        )
        lab.apply("""
apiVersion: v1
kind: Pod
metadata: {name: pulled}
spec:
  containers: [{name: c, image: "registry.kubelab.local:5000/demo:1", imagePullPolicy: Always}]
""")
        pod = lab.wait_ready("pod", "pulled", timeout=90)
        image_id = pod["status"]["containerStatuses"][0]["imageID"]
        assert image_id.endswith(digest), (image_id, digest)
    finally:
        addons.uninstall(cluster, "registry")


@pytest.mark.cluster
@pytest.mark.disturbs  # it brings the Gateway API CRDs, and their removal changes discovery
def test_one_controller_routes_an_ingress_and_an_httproute_to_a_service(cluster, namespace):
    import time
    import urllib.request

    from kubelab.lab.lab import Lab

    lab = Lab(cluster, namespace)
    try:
        lab.addon("traefik")
        lab.apply(
            server("web")
            + "---"
            + SERVICE
            + f"""
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: web}}
spec:
  ingressClassName: traefik
  rules:
  - host: ingress.{namespace}.example
    http: {{paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: web}}
spec:
  gatewayClassName: traefik
  listeners: [{{name: http, protocol: HTTP, port: 8000, allowedRoutes: {{namespaces: {{from: Same}}}}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: web}}
spec:
  parentRefs: [{{name: web}}]
  hostnames: [gateway.{namespace}.example]
  rules: [{{backendRefs: [{{name: web, port: 80}}]}}]
"""
        )
        lab.wait_ready("deployment", "web")
        lab.wait_until(
            "gateway.networking.k8s.io/v1/Gateway",
            "web",
            lambda g: any(
                c["type"] == "Programmed" and c["status"] == "True"
                for c in (g.get("status") or {}).get("conditions", [])
            ),
            "the Gateway to be Programmed by its controller",
            timeout=60,
        )
        address = f"http://{lab.internal_ip(cluster.node_names()[-1])}:30080/hostname"

        def answer(host):
            deadline = time.monotonic() + 60
            while True:
                try:
                    request = urllib.request.Request(address, headers={"Host": host})
                    with urllib.request.urlopen(request, timeout=5) as response:
                        return response.read().decode()
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)

        assert answer(f"ingress.{namespace}.example").startswith("web-")
        assert answer(f"gateway.{namespace}.example").startswith("web-")
    finally:
        addons.uninstall(cluster, "traefik")
        addons.uninstall(cluster, "gateway-api")
