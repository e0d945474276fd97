"""The decision a feature gate makes for an experiment (each branch with recorded probe values: most
cannot be produced on one cluster), and kubectl runs whose exit code is the answer."""

import pytest

from kubelab.helpers import commands, featuregates
from kubelab.core.errors import KubelabError

# As kube-apiserver v1.33 prints them (trimmed): the zero-second sleep gate is there, in beta.
METRICS_1_33 = """# HELP kubernetes_feature_enabled [BETA] This metric records the data about the stage and enablement of a k8s feature.
# TYPE kubernetes_feature_enabled gauge
kubernetes_feature_enabled{name="AllAlpha",stage="ALPHA"} 0
kubernetes_feature_enabled{name="PodLifecycleSleepAction",stage="BETA"} 1
kubernetes_feature_enabled{name="PodLifecycleSleepActionAllowZero",stage="BETA"} 1
kubernetes_feature_enabled{name="SidecarContainers",stage=""} 1
apiserver_request_total{code="200",verb="GET"} 12
"""


@pytest.mark.parametrize(
    "metrics, version, allowed, reason",
    [
        (METRICS_1_33, "v1.33.1", True, "on, beta on this API server"),  # beta, on by default
        (
            METRICS_1_33.replace('AllowZero",stage="BETA"} 1', 'AllowZero",stage="ALPHA"} 0'),
            "v1.32.0",
            False,
            "off, alpha",
        ),
        (
            METRICS_1_33.replace('AllowZero",stage="BETA"} 1', 'AllowZero",stage=""} 1'),
            "v1.34.0",
            True,
            "on, GA",
        ),
        (
            'kubernetes_feature_enabled{name="AllAlpha",stage="ALPHA"} 0\n',
            "v1.37.2",
            True,
            "GA since v1.34",
        ),  # removed since
        (
            'kubernetes_feature_enabled{name="AllAlpha",stage="ALPHA"} 0\n',
            "v1.31.4",
            False,
            "does not exist before v1.32",
        ),
    ],
)
def test_a_zero_second_sleep_is_allowed_as_the_gate_or_its_absence_says(
    metrics, version, allowed, reason
):
    got, why = featuregates.sleep_zero(featuregates.read(metrics), version)
    assert got is allowed and reason in why


def test_without_any_gate_in_the_metrics_absence_means_nothing():
    with pytest.raises(KubelabError, match="no feature gates"):
        featuregates.sleep_zero(featuregates.read("apiserver_request_total 1\n"), "v1.37.2")


def test_the_changed_lines_of_a_kubectl_diff():
    diff = """diff -u -N /tmp/LIVE-1/apps.v1.Deployment.ns.web /tmp/MERGED-2/apps.v1.Deployment.ns.web
--- /tmp/LIVE-1/apps.v1.Deployment.ns.web\t2026-12-07 16:00:00
+++ /tmp/MERGED-2/apps.v1.Deployment.ns.web\t2026-12-07 16:00:00
@@ -6,7 +6,7 @@
   generation: 3
-          value: "1"
+          value: "2"
"""
    assert commands.changed_lines(diff) == ['-          value: "1"', '+          value: "2"']
    assert commands.changed_lines("") == []


def test_a_kubectl_run_keeps_its_exit_code_output_and_times_and_names_the_namespace():
    class Cluster:
        def kubectl_command(self, *args):
            self.args = args
            return [
                "sh",
                "-c",
                "echo 'deployment \"stuck\" waiting'; echo 'error: exceeded its progress deadline' >&2; exit 1",
            ]

    from kubelab.lab.lab import Lab as RealLab

    class Lab:
        namespace, cluster = "ns1", Cluster()
        kubectl_args = RealLab.kubectl_args  # the namespace rule is the lab's own

    run = commands.kubectl(Lab(), "kubectl rollout status deployment/stuck")
    assert (run.exit_code, run.out, run.err) == (
        1,
        'deployment "stuck" waiting\n',
        "error: exceeded its progress deadline\n",
    )
    assert (
        Lab.cluster.args == ("-n", "ns1", "rollout", "status", "deployment/stuck")
        and run.ended >= run.started
    )
    commands.kubectl(Lab(), ["get", "pods", "-A"])
    assert Lab.cluster.args == ("get", "pods", "-A")
