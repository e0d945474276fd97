"""kubelab.helpers.nodestats: reading the kubelet's summary API (values recorded on a kind worker,
kubelet v1.37, cgroup v1)."""

from datetime import datetime, timezone

from kubelab.helpers import nodestats

CAPACITY = 25276182528  # status.capacity.memory "24683772Ki"

SUMMARY = {
    "node": {
        "nodeName": "kubelab-default-alone-worker2",
        "memory": {
            "time": "2026-12-07T20:47:15Z",
            "availableBytes": 25006624768,
            "usageBytes": 378482688,
            "workingSetBytes": 269557760,
        },
    },
    "pods": [
        {
            "podRef": {"name": "near-limit", "namespace": "other", "uid": "0"},
            "containers": [{"name": "c", "memory": {"time": "2026-12-07T20:40:00Z"}}],
        },
        {
            "podRef": {"name": "near-limit", "namespace": "probe", "uid": "1"},
            "containers": [
                {
                    "name": "c",
                    "memory": {
                        "time": "2026-12-07T20:47:09Z",
                        "availableBytes": 7999488,
                        "workingSetBytes": 59109376,
                    },
                }
            ],
        },
    ],
}


def test_read_memory_picks_the_node_and_the_named_container():
    view = nodestats.read_memory(SUMMARY, "probe", "near-limit", "c")
    assert view.node_available == CAPACITY - view.node_working_set  # the kubelet's formula
    assert view.container_working_set == 59109376
    assert view.container_available == 64 * 2**20 - 59109376  # its limit minus its working set
    assert "headroom 7.6 MiB" in str(view)


def test_a_container_not_in_the_stats_yet():
    view = nodestats.read_memory(SUMMARY, "probe", "not-started", "c")
    assert view.container_time is None and view.container_working_set is None
    assert not view.taken_after(datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert "not in the stats yet" in str(view)


def test_taken_after_needs_both_samples_later():
    view = nodestats.read_memory(SUMMARY, "probe", "near-limit", "c")
    assert view.taken_after(datetime(2026, 12, 7, 20, 47, 0, tzinfo=timezone.utc))
    # the node's sample is newer than the moment, the container's is not
    assert not view.taken_after(datetime(2026, 12, 7, 20, 47, 10, tzinfo=timezone.utc))


def test_memory_capacity_in_bytes():
    node = {"status": {"capacity": {"memory": "24683772Ki"}}}
    assert nodestats.memory_capacity(node) == CAPACITY
