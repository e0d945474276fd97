"""`kubelab gc`: remove what interrupted runs leave behind, in clusters kubelab created only.

- namespaces of runs (label kubelab.dev/run=true) whose process is gone, and the cluster-scoped
  objects those runs made (label kubelab.dev/run-namespace=<namespace>);
- changes such runs made to nodes (stopped nodes and services, a kubelet configuration, deleted
  images, cordons and taints), once no run is alive;
- clusters with a kubelab record that are not healthy (half-made by an interrupted `up`);
- with --all, every cluster kubelab created.
"""

import os
import socket

from kubelab.cluster.backends.base import ClusterBackend, say
from kubelab.cluster.backends.kind import KindCluster, read_record
from kubelab.core.errors import KubelabError
from kubelab.cluster.node import restore_nodes
from kubelab.core.paths import state_dir


def owned_clusters() -> list[str]:
    root = state_dir() / "clusters"
    return (
        sorted(p.name for p in root.iterdir() if (p / "record.json").exists())
        if root.exists()
        else []
    )


def process_alive(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() and host != os.uname().nodename:
        return True  # another machine's run: not ours to judge
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def run_namespaces(cluster: ClusterBackend) -> dict[str, bool]:
    """Every run's namespace, and whether the process that made it is still alive."""
    import json

    out = cluster.kubectl("get", "namespaces", "-l", "kubelab.dev/run=true", "-o", "json")
    runs = {}
    for ns in json.loads(out)["items"]:
        owner = ns["metadata"].get("annotations", {}).get("kubelab.dev/pid", "")
        runs[ns["metadata"]["name"]] = bool(owner) and process_alive(owner)
    return runs


def leaked_namespaces(cluster: ClusterBackend) -> list[str]:
    return [name for name, alive in run_namespaces(cluster).items() if not alive]


def changed_nodes(cluster: ClusterBackend) -> dict[str, list[str]]:
    """Nodes with changes a run has not undone yet, and what they are ({} without node access:
    kubelab cannot have changed them)."""
    from kubelab.cluster.node import Node

    if not cluster.node_access:
        return {}
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
    if everything or not cluster.exists():
        delete_cluster(
            cluster, "" if everything else "kind does not know it: an interrupted `up`", removed
        )
        return
    try:
        runs = run_namespaces(cluster)
    except KubelabError:
        runs = (
            None  # the API server does not answer: perhaps a run stopped the control plane's node
        )
    if runs is not None and any(runs.values()):
        # A live run may be in the middle of an experiment on a node (a node it stopped on purpose
        # is not broken): only the namespaces of ended runs go.
        collect_namespaces(cluster, runs, removed)
        return
    # No run is alive: undo what ended runs did to the nodes first (a stopped node holds its pods,
    # and with them the namespace, in Terminating), then judge the cluster's health.
    try:
        for node, changed in restore_nodes(cluster).items():
            say(f"restored {', '.join(changed)} on {node} (changed by a run that has ended)")
            removed["nodes"].append(node)
    except KubelabError as e:
        say(f"could not undo every node change on {cluster.name}: {e.what}")
    problem = cluster.problem()
    if problem:
        delete_cluster(cluster, problem, removed)
        return
    collect_namespaces(cluster, run_namespaces(cluster) if runs is None else runs, removed)


def collect_namespaces(cluster: ClusterBackend, runs: dict[str, bool], removed: dict) -> None:
    """Delete the namespaces of ended runs, and the cluster-scoped objects those runs made."""
    from kubelab.lab.lab import Lab, delete_namespace
    from kubelab.lab.namespaces import remove_scratch_dirs

    lab = Lab(cluster, "default")
    for ns in [name for name, alive in runs.items() if not alive]:
        say(f"deleting namespace {ns} in {cluster.name} (its run has ended)")
        delete_run_objects(lab, ns)
        remove_scratch_dirs(cluster, ns)
        delete_namespace(lab, ns)
        removed["namespaces"].append(ns)


def delete_cluster(cluster: KindCluster, why: str, removed: dict) -> None:
    say(f"deleting cluster {cluster.name}" + (f" ({why})" if why else ""))
    try:
        cluster.down(quiet=True)
    except KubelabError as e:  # the record stays, so the next gc tries again; go on with the others
        say(str(e))
        return
    removed["clusters"].append(cluster.name)


def delete_run_objects(lab, namespace: str) -> None:
    """Delete the cluster-scoped objects a run made (labelled kubelab.dev/run-namespace=<namespace>),
    with kubelab.lab.namespaces' function when that module has it; else there is nothing to find them by."""
    try:
        from kubelab.lab.namespaces import delete_run_objects as delete
    except ImportError:
        return
    delete(lab, namespace)
