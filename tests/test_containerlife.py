"""kubelab.helpers.containerlife (chapter 02): Events, container IDs and ends read from objects
as the API server stores them, with a stand-in for the lab's list, waits, exec and logs."""

from datetime import datetime, timezone

import pytest

from kubelab.helpers import containerlife
from kubelab.helpers.spans import parse
from kubelab.lab.checks import ExpectationFailed

STARTED = {"startedAt": "2026-12-07T17:20:31Z"}
# A container stopped by its liveness probe and started again: what stop_by_liveness waits for.
RESTARTED = {
    "kind": "Pod",
    "status": {
        "containerStatuses": [
            {
                "name": "c",
                "containerID": "containerd://4f1e2d",
                "imageID": "registry.kubelab.local:5000/kubelab/greeting@sha256:ab12",
                "restartCount": 1,
                "state": {"running": STARTED},
                "lastState": {
                    "terminated": {
                        "exitCode": 0,
                        "message": "start 100.10\nprestop-start 103.00\nprestop-end 106.02\n",
                        "startedAt": "2026-12-07T17:20:31Z",
                        "finishedAt": "2026-12-07T17:20:41Z",
                    }
                },
            }
        ]
    },
}
# restartCount is bumped a moment before lastState.terminated is filled in.
BUMPED_ONLY = {
    "kind": "Pod",
    "status": {"containerStatuses": [{"name": "c", "restartCount": 1, "lastState": {}}]},
}
NEVER_PULLED = {
    "kind": "Pod",
    "status": {
        "containerStatuses": [
            {"name": "c", "restartCount": 0, "state": {"waiting": {"reason": "ErrImageNeverPull"}}}
        ]
    },
}
EVENTS = [
    {"reason": "Scheduled", "firstTimestamp": None},
    {"reason": "Killing", "firstTimestamp": "2026-12-07T17:20:36Z"},
    {"reason": "Killing", "firstTimestamp": "2026-12-07T17:21:50Z"},
]


class FakeLab:
    """The lab's calls the helpers make; a wait returns the first state its predicate accepts."""

    def __init__(self, states):
        self.states, self.calls = states, []

    def list(self, kind, field_selector=None):
        self.calls.append(("list", kind, field_selector))
        return EVENTS

    def kubectl(self, command, quiet=False):
        self.calls.append(("kubectl", command))

    def wait_until(self, kind, name, predicate, description, timeout=120):
        self.calls.append(("wait_until", name, description))
        for state in self.states:
            if predicate(state):
                return state
        raise AssertionError(f"timed out waiting for {description}")

    def wait_ready(self, kind, name):
        return self.states[-1]

    def logs(self, name, quiet=False):
        return "one\n"


def test_events_of_one_object_and_of_one_reason():
    lab = FakeLab([])
    assert [e["firstTimestamp"] for e in containerlife.events(lab, "sleep-5", "Killing")] == [
        "2026-12-07T17:20:36Z",
        "2026-12-07T17:21:50Z",
    ]
    assert lab.calls == [("list", "events", "involvedObject.name=sleep-5")]
    assert containerlife.reasons(lab, "sleep-5") == {"Scheduled", "Killing"}
    assert containerlife.events(lab, "sleep-5", "FailedPreStopHook") == []


def test_a_containers_id_image_and_why_it_waits():
    assert containerlife.container_id(RESTARTED) == "4f1e2d"
    assert containerlife.waiting_reason(NEVER_PULLED) == "ErrImageNeverPull"
    assert containerlife.waiting_reason(RESTARTED) is None
    assert containerlife.waiting_reason({"kind": "Pod", "status": {}}) is None  # not yet reported
    assert containerlife.image_and_output(FakeLab([RESTARTED]), "greeting-1") == (
        "registry.kubelab.local:5000/kubelab/greeting@sha256:ab12",
        "one",
    )
    with pytest.raises(ExpectationFailed, match="containerID"):
        containerlife.container_id(NEVER_PULLED)  # no container was created


def test_a_preStop_sleep_as_the_api_spells_it():
    assert containerlife.prestop_sleep(0) == {"preStop": {"sleep": {"seconds": 0}}}


def test_stop_by_liveness_waits_for_the_ended_run_not_only_the_restart_count():
    lab = FakeLab([NEVER_PULLED, BUMPED_ONLY, RESTARTED])
    events, ended = containerlife.stop_by_liveness(lab, "order")
    assert lab.calls[0] == ("kubectl", "exec order -- rm /tmp/alive")
    assert (
        events
        == parse(ended["message"])
        == {
            "start": 100.10,
            "prestop-start": 103.00,
            "prestop-end": 106.02,
        }
    )
    assert ended["finishedAt"] == "2026-12-07T17:20:41Z"


def test_first_stop_reads_the_first_killing_event_and_the_containers_end():
    assert not containerlife.has_ended_once(BUMPED_ONLY)
    count, killing, ended = containerlife.first_stop(FakeLab([BUMPED_ONLY, RESTARTED]), "sleep-5")
    assert count == 1
    assert killing == datetime(2026, 12, 7, 17, 20, 36, tzinfo=timezone.utc)
    assert (ended - killing).total_seconds() == 5
