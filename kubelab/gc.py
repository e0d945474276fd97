"""`kubelab gc`: remove what interrupted runs leave behind, in clusters kubelab created only.

- namespaces of runs (label kubelab.dev/run=true) whose process is gone;
- changes such runs made to nodes (a kubelet configuration, deleted images), once no run is alive;
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


def run_namespaces(cluster: KindCluster) -> dict[str, bool]:
    """Every run's namespace, and whether the process that made it is still alive."""
    import json
    out = cluster.kubectl("get", "namespaces", "-l", "kubelab.dev/run=true", "-o", "json")
    runs = {}
    for ns in json.loads(out)["items"]:
        owner = ns["metadata"].get("annotations", {}).get("kubelab.dev/pid", "")
        runs[ns["metadata"]["name"]] = bool(owner) and process_alive(owner)
    return runs


def leaked_namespaces(cluster: KindCluster) -> list[str]:
    return [name for name, alive in run_namespaces(cluster).items() if not alive]


def changed_nodes(cluster: KindCluster) -> dict[str, list[str]]:
    """Nodes with changes a run has not undone yet, and what they are."""
    from .node import Node
    changes = {name: Node(cluster, name).changed() for name in cluster.node_names()}
    return {name: changed for name, changed in changes.items() if changed}


def collect(everything: bool = False) -> dict:
    removed = {"clusters": [], "namespaces": [], "nodes": []}
    for name in owned_clusters():
        cluster = KindCluster(read_record(name).config, name=name)
        try:
            with cluster.locked(wait=False):
                collect_cluster(cluster, everything, removed)
        except BlockingIOError:
            say(f"cluster {name} is in use by another kubelab process: left alone")
    if not any(removed.values()):
        say("nothing to collect")
    return removed


def collect_cluster(cluster: KindCluster, everything: bool, removed: dict) -> None:
    from .lab import Lab, delete_namespace
    problem = "" if everything else "kind does not know it: an interrupted `up`" if not cluster.exists() else cluster.problem()
    if everything or problem:
        say(f"deleting cluster {cluster.name}" + (f" ({problem})" if problem else ""))
        cluster.down(quiet=True)
        removed["clusters"].append(cluster.name)
        return
    lab = Lab(cluster, "default")
    runs = run_namespaces(cluster)
    for ns in [name for name, alive in runs.items() if not alive]:
        say(f"deleting namespace {ns} in {cluster.name} (its run has ended)")
        delete_namespace(lab, ns)
        removed["namespaces"].append(ns)
    if any(runs.values()):
        return   # a live run may be in the middle of an experiment on a node
    from .lab import restore_nodes
    for node, changed in restore_nodes(cluster).items():
        say(f"restored {', '.join(changed)} on {node} (changed by a run that has ended)")
        removed["nodes"].append(node)
