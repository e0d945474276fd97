"""kubelab.helpers.podstatus: one container's status, state and ended runs, read by name."""

from types import SimpleNamespace

from kubelab.helpers import podstatus

POD = {
    "status": {
        "initContainerStatuses": [
            {
                "name": "sidecar",
                "restartCount": 1,
                "state": {"running": {"startedAt": "2026-12-07T17:20:31Z"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
            }
        ],
        "containerStatuses": [
            {
                "name": "app",
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                "lastState": {},
            }
        ],
        "ephemeralContainerStatuses": [{"name": "debugger", "state": {"waiting": {}}}],
    }
}


def test_a_container_is_found_by_name_among_app_init_and_ephemeral_ones():
    assert podstatus.container(POD, "sidecar")["restartCount"] == 1
    assert podstatus.state(POD, "sidecar") == "running"
    assert podstatus.state(POD, "app") == "terminated"
    assert podstatus.state(POD, "debugger") == "waiting"


def test_how_runs_ended():
    assert podstatus.ended(POD, "app") == {"exitCode": 0, "reason": "Completed"}
    assert podstatus.ended(POD, "sidecar") == {}
    assert podstatus.last_ended(POD, "sidecar")["exitCode"] == 1
    assert podstatus.last_ended(POD, "app") == {}


def test_a_container_not_reported_yet_reads_as_empty():
    for pod in (None, {}, {"status": {}}, POD):
        assert podstatus.container(pod, "missing") == {}
        assert podstatus.state(pod, "missing") is None
        assert podstatus.ended(pod, "missing") == {}
        assert podstatus.last_ended(pod, "missing") == {}


def test_events_are_filtered_by_reason():
    listed = [{"reason": "Pulled"}, {"reason": "Evicted"}, {"reason": "Killing"}]
    asked = []

    def list_(kind, field_selector):
        asked.append((kind, field_selector))
        return listed

    lab = SimpleNamespace(list=list_)
    assert podstatus.events(lab, "hog", "Evicted", "Killing") == listed[1:]
    assert podstatus.events(lab, "hog") == listed
    assert asked[0] == ("events", "involvedObject.name=hog")
