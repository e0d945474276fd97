"""A node of the cluster: what only the node shows (iptables, crictl, files, the kubelet's
journal) and the changes an experiment makes to a node, every one of them undone by `restore()`.

    worker = lab.node("worker")
    worker.sh("crictl ps")                             # look inside
    worker.cordon(); worker.taint("dedicated", "ml")   # scheduling
    worker.stop_service("kubelet")                     # a systemd unit inside the node
    worker.stop(); worker.start()                      # the node's machine fails and comes back
    worker.save_images()                               # before anything may delete images
    worker.reconfigure_kubelet(imageMaximumGCAge="3m") # restarts the kubelet
    worker.add_runtime_handler("kubelab-runc")         # a second containerd handler, for RuntimeClass
    worker.add_static_pod(manifest)                    # a static pod the kubelet runs from a file
    ...
    worker.restore()                                   # all of it is back as it was

What was changed is written down where a later process finds it, so a run that died half-way is
still undone: on the node under /var/lib/kubelab (kubelet configuration, images, stopped units),
on the Node object in the annotation kubelab.dev/saved-spec (whether it was schedulable, its
taints), and a stopped node is its own record. `lab.close()`, `kubelab run` after a failure or
Ctrl-C, and `kubelab gc` all call `restore_nodes(cluster)`.

Everything inside a node goes through the cluster backend (`cluster.node_exec`); a backend
without node access (a cluster reached through a kubeconfig only) raises NodeAccessUnavailable."""

from __future__ import annotations

import shlex

from kubelab.core.errors import KubelabError
from kubelab.core.progress import Progress

from kubelab.cluster.node.kubelet import NodeKubelet
from kubelab.cluster.node.machine import NodeMachine
from kubelab.cluster.node.records import (  # noqa: F401  (CONTROLLER_TAINTS, SAVED_SPEC: read by tests and gc)
    ADDED_IMAGES,
    CONTAINERD_CONFIG,
    CONTROLLER_TAINTS,
    ON_NODE,
    PULLED_IMAGES,
    RUNTIME_LOGS,
    SAVED,
    SAVED_CONTAINERD_CONFIG,
    SAVED_IMAGE_NAMES,
    SAVED_IMAGES,
    SAVED_SPEC,
    SCHEDULING,
    STATIC_PODS,
    STOPPED_NODE,
    STOPPED_UNITS,
    unit_name,
)
from kubelab.cluster.node.runtime import NodeRuntime
from kubelab.cluster.node.scheduling import NodeScheduling
from kubelab.cluster.node.shell import NodeShell


def internal_ips(node: dict) -> list[str]:
    """The InternalIP addresses a Node object (as the API gives it) reports in status.addresses."""
    return [
        a["address"]
        for a in (node.get("status") or {}).get("addresses") or []
        if a.get("type") == "InternalIP"
    ]


class Node(NodeShell, NodeMachine, NodeScheduling, NodeRuntime, NodeKubelet):
    """One node of a cluster, by its full name (e.g. kubelab-default-worker).

    Commands inside it go through the cluster backend (`cluster.node_exec`: `docker exec` on kind);
    scheduling changes go through the API server. Every change is recorded before it is made, so
    `restore()` (or `restore_nodes`, in a later process) can undo it. Its verbs live in five parts,
    one job each: shell (sh, processes, cgroups, journal), machine (stop, start, services),
    scheduling (cordon, taint), runtime (images, sandboxes, runtime handlers) and kubelet (its
    configuration, restarts, static pods)."""

    def changed(self) -> list[str]:
        """What restore() would put back on this node (how `kubelab gc` finds leftovers)."""
        if not self.running():
            return [STOPPED_NODE]  # nothing else can be read until it runs again
        out = self.sh(f"ls {SAVED} 2>/dev/null || true").split()
        changes = [ON_NODE[name] for name in ON_NODE if name in out]
        if SAVED_SPEC in (self._node_object()["metadata"].get("annotations") or {}):
            changes.append(SCHEDULING)
        return changes

    def restore(self) -> list[str]:
        """Undo every change to this node, in the order that lets each step work: start the node if
        it is stopped, start the units that were stopped, remove images it added, put back the
        kubelet's original configuration (and restart it), re-import saved images the runtime lost,
        then the scheduling (unschedulable, taints). Returns what was restored."""
        restored = []
        if not self.running():
            self.start()
            restored.append(STOPPED_NODE)
        changed = self.changed()
        if "stopped services" in changed:
            for unit in self.stopped_services():
                self.sh(f"systemctl start {unit_name(unit)}")
            self.sh(f"rm -f {STOPPED_UNITS}")
            self.cluster.wait_node_ready(
                self.name, 120, Progress(f"{self.name} to be Ready after starting its services")
            )
        added = set(self.sh(f"cat {ADDED_IMAGES} 2>/dev/null || true").split())
        if added:
            present = self.images()
            for name in added & set(present):
                self.sh(f"crictl rmi {shlex.quote(name)}")
            self.sh(f"rm {ADDED_IMAGES}")
        if "pulled images" in changed:
            from kubelab.cluster.leftovers import removable_images

            for image_id in removable_images(
                self._image_listing(), self.sh(f"cat {PULLED_IMAGES}")
            ):
                self.sh(f"crictl rmi {shlex.quote(image_id)}")
            self.sh(f"rm {PULLED_IMAGES}")
        if "registry tags" in changed:
            self._delete_pushes()
        if "static pods" in changed:
            entries = self.sh(f"cat {STATIC_PODS}").split()
            for path in (e for e in entries if not e.startswith("dir:")):
                self.sh(f"rm -f {shlex.quote(path)}")
            for folder in (e[4:] for e in entries if e.startswith("dir:")):
                self.sh(f"rmdir {shlex.quote(folder)} 2>/dev/null || true")
            self.sh(f"rm {STATIC_PODS}")
        if "runtime handlers" in changed:
            self.sh(
                f"cp {SAVED_CONTAINERD_CONFIG} {CONTAINERD_CONFIG} && rm -f /usr/local/bin/kubelab-* "
                f"&& rm {SAVED_CONTAINERD_CONFIG}"
            )
            self._restart_containerd()
        # after the handler is gone: its wrapper writes no more
        if "runtime handler logs" in changed:
            for path in self.sh(f"cat {RUNTIME_LOGS}").split():
                self.sh(f"rm -f {shlex.quote(path)}")
            self.sh(f"rm {RUNTIME_LOGS}")
        if "kubelet configuration" in changed:
            self._restore_kubelet_config()
        if "images" in changed:
            wanted = self.sh(f"cat {SAVED_IMAGE_NAMES} 2>/dev/null || true").split()
            present = self.images()
            missing = [name for name in wanted if name not in present and name not in added]
            if missing:
                self.sh(f"ctr -n k8s.io images import {SAVED_IMAGES}")
                still = [name for name in missing if name not in self.images()]
                if still:
                    raise KubelabError(
                        f"on {self.name}: could not restore images {', '.join(still)}",
                        f"the saved copy stays in {SAVED_IMAGES} on the node; recreate the cluster with `kubelab down && kubelab up`",
                    )
            self.sh(f"rm -f {SAVED_IMAGES} {SAVED_IMAGE_NAMES}")
            if missing:
                print(f"{self.name}: restored {len(missing)} images: {', '.join(missing)}")
        if SCHEDULING in changed:
            self._restore_spec()
        if any(change in ON_NODE.values() for change in changed):
            self.sh(f"rmdir {SAVED} 2>/dev/null || true")
        restored += changed
        if restored:
            print(f"{self.name}: undone: " + ", ".join(restored))
        return restored


def restore_nodes(cluster) -> dict[str, list[str]]:
    """Undo what runs changed on the cluster's nodes, even runs that died half-way; returns what
    was restored, per node. Stopped nodes are started first (the control plane among them, so
    the API server answers for the rest), then each node is restored. A cluster without node
    access has nothing kubelab could have changed: {}.

    One node that cannot be restored does not keep the others from being restored; the error
    comes at the end, naming every node that failed.
    """
    if not getattr(cluster, "node_access", False):
        return {}
    restored: dict[str, list[str]] = {}
    names = cluster.node_names()
    stopped = [name for name in names if not cluster.node_running(name)]
    for name in stopped:  # all at once: they become Ready together
        cluster.node_container(name, "start")
        restored[name] = [STOPPED_NODE]
    for name in stopped:
        cluster.wait_node_ready(name, 180, Progress(f"{name} (stopped by a run) to be Ready again"))
    failures = []
    for name in names:
        try:
            changed = Node(cluster, name).restore()
        except KubelabError as e:
            failures.append(f"{name}: {e.what}")
            continue
        if changed:
            restored[name] = [*restored.get(name, []), *changed]
    if failures:
        raise KubelabError(
            "restoring the nodes failed on " + "; ".join(failures),
            "run 'kubelab gc' to try again; if that fails too, recreate the cluster: kubelab up --recreate",
        )
    return restored
