"""kubelab.helpers.gatewayapi, kubelab.helpers.featuregates and connectivity.covering_block, on recorded values."""

import pytest

from kubelab.helpers import connectivity, featuregates, gatewayapi

# What the standard channel's HTTPRoute CRD (v1.6.1) says of its filters, cut down to the part read.
HTTPROUTE_CRD = {
    "metadata": {"name": "httproutes.gateway.networking.k8s.io"},
    "spec": {
        "versions": [
            {
                "name": "v1",
                "schema": {
                    "openAPIV3Schema": {
                        "properties": {
                            "spec": {
                                "properties": {
                                    "rules": {
                                        "items": {
                                            "properties": {
                                                "filters": {
                                                    "items": {
                                                        "properties": {
                                                            "type": {
                                                                "description": "Type identifies the type of filter to apply. ... - Core: ... - Extended: ..."
                                                            },
                                                            "requestHeaderModifier": {
                                                                "description": "RequestHeaderModifier defines a schema for a filter that modifies request\nheaders.\n\nSupport: Core"
                                                            },
                                                            "requestRedirect": {
                                                                "description": "RequestRedirect defines a schema for a filter that responds to the\nrequest with an HTTP redirection.\n\nSupport: Core"
                                                            },
                                                            "urlRewrite": {
                                                                "description": "URLRewrite defines a schema for a filter that modifies a request during forwarding.\n\nSupport: Extended"
                                                            },
                                                            "extensionRef": {
                                                                "description": "ExtensionRef is an optional, implementation-specific extension to the\n\"filter\" behavior.\n\nThis filter can be used multiple times within the same rule.\n\nSupport: Implementation-specific"
                                                            },
                                                            "mystery": {
                                                                "description": "no level given"
                                                            },
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                },
            }
        ]
    },
}


def test_filter_support_levels_come_from_the_crd_descriptions():
    assert gatewayapi.filter_support(HTTPROUTE_CRD) == {
        "requestHeaderModifier": "Core",
        "requestRedirect": "Core",
        "urlRewrite": "Extended",
        "extensionRef": "Implementation-specific",
    }
    with pytest.raises(KeyError):
        gatewayapi.filter_support(HTTPROUTE_CRD, version="v1beta1")


def test_route_and_gateway_status_read_as_conditions():
    route = {
        "metadata": {"namespace": "b"},
        "status": {
            "parents": [
                {
                    "parentRef": {"name": "web", "namespace": "a"},
                    "controllerName": "traefik.io/gateway-controller",
                    "conditions": [
                        {"type": "Accepted", "status": "False", "reason": "NotAllowedByListeners"}
                    ],
                },
                {
                    "parentRef": {"name": "local"},
                    "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted"}],
                },
            ]
        },
    }
    assert gatewayapi.parent_conditions(route) == {
        "a/web": {"Accepted": ("False", "NotAllowedByListeners")},
        "b/local": {"Accepted": ("True", "Accepted")},
    }
    assert (
        gatewayapi.parent_conditions({"metadata": {}}) == {} and gatewayapi.conditions(None) == {}
    )
    gateway = {"status": {"listeners": [{"name": "http", "attachedRoutes": 1}, {"name": "https"}]}}
    assert gatewayapi.attached_routes(gateway) == {"http": 1, "https": 0}
    assert gatewayapi.supported_features(
        {"status": {"supportedFeatures": [{"name": "HTTPRoutePathRewrite"}, {"name": "Gateway"}]}}
    ) == ["Gateway", "HTTPRoutePathRewrite"]
    assert gatewayapi.supported_features({"status": {}}) == []


# kube-apiserver /metrics lines, as v1.33 and v1.37 servers print them.
METRICS_V133 = '''# HELP kubernetes_feature_enabled [BETA] This metric records the data about the stage and enablement of a k8s feature.
# TYPE kubernetes_feature_enabled gauge
kubernetes_feature_enabled{name="RecoverVolumeExpansionFailure",stage="BETA"} 1
kubernetes_feature_enabled{name="SomethingAlpha",stage="ALPHA"} 0
kubernetes_feature_enabled{name="AllAlpha",stage="ALPHA"} 0
apiserver_request_total{code="200",verb="GET"} 12
'''
METRICS_V137 = 'kubernetes_feature_enabled{name="VolumeAttributesClass",stage=""} 1\n'


def test_feature_gates_from_metrics_and_from_history():
    gates = featuregates.read(METRICS_V133)
    assert gates["RecoverVolumeExpansionFailure"] == featuregates.Gate(True, "BETA")
    assert gates["SomethingAlpha"] == featuregates.Gate(False, "ALPHA")
    history = dict(alpha=23, beta=32, ga=34)
    assert (
        featuregates.state(gates, "RecoverVolumeExpansionFailure", minor=33, **history)[0] is True
    )
    # a cluster that turned the gate off says so, whatever the version
    off = {"RecoverVolumeExpansionFailure": featuregates.Gate(False, "BETA")}
    assert featuregates.state(off, "RecoverVolumeExpansionFailure", minor=33, **history)[0] is False
    # the gate gone: GA versions are on, versions before it existed are off, alpha ones off by default
    none = featuregates.read(METRICS_V137)
    assert "RecoverVolumeExpansionFailure" not in none
    assert featuregates.state(none, "RecoverVolumeExpansionFailure", minor=37, **history)[0] is True
    assert (
        featuregates.state(none, "RecoverVolumeExpansionFailure", minor=22, **history)[0] is False
    )
    assert (
        featuregates.state(none, "RecoverVolumeExpansionFailure", minor=31, **history)[0] is False
    )
    assert featuregates.state(none, "RecoverVolumeExpansionFailure", minor=32, **history)[0] is True


def test_the_smallest_block_holding_every_address():
    assert connectivity.covering_block(["10.244.1.5", "10.244.2.7"]) == "10.244.0.0/22"
    assert connectivity.covering_block(["10.244.1.5"]) == "10.244.1.5/32"
    assert connectivity.covering_block(["fd00:10:244::5", "fd00:10:244:1::7"]) == "fd00:10:244::/63"
    with pytest.raises(ValueError):
        connectivity.covering_block(["10.0.0.1", "fd00::1"])
