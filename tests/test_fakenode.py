"""kubelab.helpers.fakenode's parsers, on objects as the API server stored them (recorded from a kind cluster, v1.37)."""

from kubelab.helpers import fakenode

NEW_NODE = {
    "metadata": {"name": "x"},
    "spec": {"taints": [{"effect": "NoSchedule", "key": "node.kubernetes.io/not-ready"}]},
}
LATER = {
    "spec": {
        "taints": [
            {
                "effect": "NoSchedule",
                "key": "node.kubernetes.io/unreachable",
                "timeAdded": "2026-12-07T18:00:00Z",
            },
            {
                "effect": "NoExecute",
                "key": "node.kubernetes.io/unreachable",
                "timeAdded": "2026-12-07T18:00:05Z",
            },
            {"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"},
        ]
    }
}
DAEMON_POD = {
    "spec": {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {
                                    "key": "metadata.name",
                                    "operator": "In",
                                    "values": ["kubelab-default-worker2"],
                                }
                            ]
                        }
                    ]
                }
            }
        }
    }
}


def test_not_ready_taints():
    assert fakenode.not_ready_taints(NEW_NODE) == [("node.kubernetes.io/not-ready", "NoSchedule")]
    assert fakenode.not_ready_taints(LATER) == [
        ("node.kubernetes.io/unreachable", "NoSchedule"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
    ]
    assert fakenode.not_ready_taints({"spec": {}}) == [] and fakenode.not_ready_taints(None) == []


def test_daemon_pod_target():
    assert fakenode.daemon_pod_target(DAEMON_POD) == "kubelab-default-worker2"
    assert fakenode.daemon_pod_target({"spec": {"nodeName": "n"}}) is None
    expressions = {
        "spec": {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "kubernetes.io/hostname",
                                        "operator": "NotIn",
                                        "values": ["a"],
                                    }
                                ]
                            }
                        ]
                    }
                }
            }
        }
    }
    assert fakenode.daemon_pod_target(expressions) is None
