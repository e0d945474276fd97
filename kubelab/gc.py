"""`kubelab gc`: remove what interrupted runs leave behind, in clusters kubelab created only.

- namespaces of runs (label kubelab.dev/run=true) whose process is gone;
- clusters with a kubelab record that are not healthy (half-made by an interrupted `up`);
- with --all, every cluster kubelab created.
"""

import os
import socket

from .cluster import KindCluster, read_record, say
from .paths import state_dir


def owned_clusters() -> list[str]:
    root = state_dir() / "clusters"
    return sorted(p.name for p in root.iterdir() if (p / "record.json").exists()) if root.exists() else []


def process_alive(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() and host != os.uname().nodename:
        return True   # another machine's run: not ours to judge
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def leaked_namespaces(cluster: KindCluster) -> list[str]:
    import json
    out = cluster.kubectl("get", "namespaces", "-l", "kubelab.dev/run=true", "-o", "json")
    leaked = []
    for ns in json.loads(out)["items"]:
        owner = ns["metadata"].get("annotations", {}).get("kubelab.dev/pid", "")
        if not owner or not process_alive(owner):
            leaked.append(ns["metadata"]["name"])
    return leaked


def collect(everything: bool = False) -> dict:
    removed = {"clusters": [], "namespaces": []}
    for name in owned_clusters():
        cluster = KindCluster(read_record(name).config, name=name)
        try:
            with cluster.locked(wait=False):
                collect_cluster(cluster, everything, removed)
        except BlockingIOError:
            say(f"cluster {name} is in use by another kubelab process: left alone")
    if not removed["clusters"] and not removed["namespaces"]:
        say("nothing to collect")
    return removed


def collect_cluster(cluster: KindCluster, everything: bool, removed: dict) -> None:
    from .lab import Lab, delete_namespace
    if everything or not cluster.exists() or not cluster.healthy():
        say(f"deleting cluster {cluster.name}" + ("" if everything else " (not healthy: left by an interrupted run)"))
        cluster.down(quiet=True)
        removed["clusters"].append(cluster.name)
        return
    lab = Lab(cluster, "default")
    for ns in leaked_namespaces(cluster):
        say(f"deleting namespace {ns} in {cluster.name} (its run has ended)")
        delete_namespace(lab, ns)
        removed["namespaces"].append(ns)
