"""What the storage notebook reads from events, volumes, claims and cgroups
(kubelab.helpers.storage), on objects as the API returns them: no cluster needed."""

import json

import pytest

from kubelab.helpers import storage


def event(name, kind, reason, message):
    return {"involvedObject": {"name": name, "kind": kind}, "reason": reason, "message": message}


class FakeLab:
    """The few Lab methods the helpers call: events by field selector, kubectl, patch, wait_for."""

    def __init__(self, events=(), raw=""):
        self.events, self.raw, self.patches = list(events), raw, []

    def list(self, kind, field_selector=None):
        assert kind == "events"
        name = field_selector.removeprefix("involvedObject.name=")
        return [e for e in self.events if e["involvedObject"]["name"] == name]

    def kubectl(self, command, quiet=False):
        assert command == "get --raw /openapi/v3/api/v1" and quiet
        return self.raw

    def patch(self, kind, name, patch):
        self.patches.append((kind, name, patch))
        return {"kind": "PersistentVolumeClaim", "spec": patch["spec"]}

    def wait_for(self, description, observe, done=bool, timeout=120):
        result = observe()
        assert done(result), description
        return result


SCHEDULER = (
    "0/3 nodes are available: 1 node(s) didn't match PersistentVolume's node affinity, "
    "1 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available."
)
KUBELET = (
    'MountVolume.SetUp failed for volume "pv" : mount failed: exit status 32\n'
    "Mounting command: mount\n"
    "Mounting arguments:  -t nfs -o soft 10.0.0.9:/exports/shared /var/lib/kubelet/pods/u/volumes/"
    "kubernetes.io~nfs/pv\n"
    "Output: mount: unknown filesystem type 'nfs'."
)


def test_events_are_picked_by_object_reason_and_words():
    lab = FakeLab(
        [
            event("stray", "Pod", "FailedScheduling", SCHEDULER),
            event(
                "stray", "Pod", "FailedScheduling", "0/3 nodes are available: 3 Insufficient cpu."
            ),
            event("stray", "Pod", "Scheduled", "assigned"),
            event("other", "Pod", "FailedScheduling", SCHEDULER),
        ]
    )
    assert storage.event_messages(lab, "stray", "Scheduled") == ["assigned"]
    assert storage.volume_conflicts(lab, "stray") == [SCHEDULER]
    older = event("old", "Pod", "FailedScheduling", "1 node(s) had volume node affinity conflict")
    assert storage.volume_conflicts(FakeLab([older]), "old") == [older["message"]]
    assert storage.volume_conflicts(lab, "nobody") == []


def test_a_claims_events_by_reason_and_its_expansion_events():
    lab = FakeLab(
        [
            event("data", "PersistentVolumeClaim", "WaitForFirstConsumer", "waiting for first"),
            event("data", "Pod", "Scheduled", "a Pod named data is no claim"),
            event("data", "PersistentVolumeClaim", "ExternalExpanding", "waiting for a resizer"),
        ]
    )
    assert storage.claim_events(lab, "data") == {
        "WaitForFirstConsumer": "waiting for first",
        "ExternalExpanding": "waiting for a resizer",
    }
    assert storage.expansion_events(lab, "data") == ["ExternalExpanding: waiting for a resizer"]
    assert storage.wait_for_expansion(lab, "data") == ["ExternalExpanding: waiting for a resizer"]


def test_phrases_read_from_scheduler_and_kubelet_messages():
    assert (
        storage.conflict_phrase(SCHEDULER)
        == "0/3 nodes are available: 1 node(s) didn't match PersistentVolume's node affinity"
    )
    arguments = storage.mount_arguments(KUBELET)
    assert "10.0.0.9:/exports/shared" in arguments and arguments[:3] == [
        "Mounting",
        "arguments:",
        "-t",
    ]
    with pytest.raises(StopIteration):
        storage.mount_arguments("mount failed")


def test_pinned_nodes_and_a_manifest_without_a_field():
    pv = {
        "spec": {
            "hostPath": {"path": "/x"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": ["w2"],
                                }
                            ]
                        }
                    ]
                }
            },
        }
    }
    assert storage.pinned_nodes(pv) == ["w2"]
    bare = storage.without(pv, "spec.nodeAffinity")
    assert bare == {"spec": {"hostPath": {"path": "/x"}}} and storage.pinned_nodes(bare) == []
    assert "nodeAffinity" in pv["spec"]  # the original is left alone


def test_the_projected_volume_kubernetes_adds():
    pod = {
        "spec": {
            "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                {
                    "name": "kube-api-access-x1",
                    "projected": {
                        "sources": [
                            {"serviceAccountToken": {"path": "token"}},
                            {"configMap": {"name": "kube-root-ca.crt"}},
                            {"downwardAPI": {"items": []}},
                        ]
                    },
                },
            ]
        }
    }
    assert storage.projected_sources(pod) == ["configMap", "downwardAPI", "serviceAccountToken"]
    assert storage.projected_sources({"spec": {}}) == []


def test_schemas_claim_sizes_resizing_and_memory_added():
    raw = json.dumps({"components": {"schemas": {"io.k8s.api.core.v1.Volume": {"properties": {}}}}})
    assert list(storage.core_schemas(FakeLab(raw=raw))) == ["io.k8s.api.core.v1.Volume"]
    claim = {"spec": {"resources": {"requests": {"storage": "2Gi"}}}, "status": {}}
    assert storage.sizes(claim) == ("2Gi", None)
    lab = FakeLab()
    stored = storage.resize(lab, "growable", "1536Mi")
    assert lab.patches == [
        ("pvc", "growable", {"spec": {"resources": {"requests": {"storage": "1536Mi"}}}})
    ]
    assert storage.sizes(stored) == ("1536Mi", None)
    before = {"usage": 10 * storage.MiB, "shmem": 0, "file": 1}
    after = {"usage": 74.2 * storage.MiB, "shmem": 64 * storage.MiB, "file": 5}
    assert storage.mib_added(before, after) == {"usage": 64.2, "shmem": 64.0}
