"""Manifests with values: `{{ name }}` placeholders in block YAML (kubelab.lab.templates)."""

import pytest

from kubelab import AGNHOST, KubelabError, manifest
from kubelab.lab.objects import parse_manifest

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {{ replicas }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      nodeSelector: {{selector}}
      containers:
      - name: web
        image: {{ image }}
        args: [netexec, --http-port=8080]
        securityContext: {privileged: {{ privileged }}}
"""


def test_values_fill_their_placeholders_and_flow_maps_stay_as_written():
    (obj,) = parse_manifest(
        DEPLOYMENT,
        replicas=3,
        image=AGNHOST,
        selector={"kubernetes.io/os": "linux"},
        privileged=False,
    )
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    pod = obj["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["containers"][0]["image"] == AGNHOST
    assert pod["containers"][0]["securityContext"] == {"privileged": False}


def test_a_placeholder_without_a_value_and_a_value_without_a_placeholder_are_refused():
    with pytest.raises(KubelabError, match=r"\{\{ image \}\}.*has no value"):
        manifest("image: {{ image }}\n")
    with pytest.raises(KubelabError, match="imgae appear nowhere"):
        manifest("image: {{ image }}\n", image="a", imgae="b")
    with pytest.raises(KubelabError, match="type object"):
        manifest("x: {{ x }}\n", x=object())


def test_without_values_a_manifest_is_parsed_as_written():
    (obj,) = parse_manifest("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    assert obj["metadata"] == {"name": "a"}
    with pytest.raises(KubelabError, match="not YAML text"):
        parse_manifest({"kind": "ConfigMap"}, name="a")


def test_a_placeholder_named_like_an_apply_parameter_gets_a_hint():
    with pytest.raises(KubelabError, match="a parameter of apply/create itself"):
        manifest("metadata: {namespace: {{ namespace }}}\n")


def test_placeholders_without_any_value_are_named():
    with pytest.raises(KubelabError, match=r"\{\{ ns \}\} has no value"):
        parse_manifest(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: {{ ns }}}\n"
        )
