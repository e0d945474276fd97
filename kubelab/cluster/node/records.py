"""Where a node keeps the record of what a run changed (so restore() and a later process can
undo it), and the names of those changes."""

import re

from kubelab.core.errors import KubelabError

KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
SAVED = "/var/lib/kubelab"  # on the node: what restore() puts back
SAVED_KUBELET_CONFIG = f"{SAVED}/kubelet-config.yaml"
SAVED_IMAGES = f"{SAVED}/images.tar"
SAVED_IMAGE_NAMES = f"{SAVED}/images.txt"
ADDED_IMAGES = f"{SAVED}/added-images.txt"
STOPPED_UNITS = f"{SAVED}/stopped-units.txt"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
SAVED_CONTAINERD_CONFIG = f"{SAVED}/containerd-config.toml"
STATIC_PODS = f"{SAVED}/static-pods.txt"  # manifests add_static_pod wrote
MANIFESTS = "/etc/kubernetes/manifests"  # where kubeadm's kubelet reads static pods
# containerd's CRI plugin, by config version: 2 (containerd 1.x), 3 (containerd 2.x)
CRI_RUNTIME_PLUGIN = {2: "io.containerd.grpc.v1.cri", 3: "io.containerd.cri.v1.runtime"}
SAVED_SPEC = "kubelab.dev/saved-spec"  # annotation on the Node: its spec before a run changed it

# Taints the node lifecycle controller adds and removes itself, following the node's conditions
# and spec.unschedulable: restore() leaves them to it instead of freezing a passing state.
CONTROLLER_TAINTS = {
    f"node.kubernetes.io/{name}"
    for name in (
        "not-ready",
        "unreachable",
        "unschedulable",
        "memory-pressure",
        "disk-pressure",
        "pid-pressure",
        "network-unavailable",
    )
}

# What changed() calls each kind of change (gc prints these).
STOPPED_NODE = "stopped node"
SCHEDULING = "scheduling (cordon, taints)"
ON_NODE = {
    "stopped-units.txt": "stopped services",
    "kubelet-config.yaml": "kubelet configuration",
    "images.tar": "images",
    "added-images.txt": "added images",
    "containerd-config.toml": "runtime handlers",
    "static-pods.txt": "static pods",
}
# What a run leaves on a node besides (kubelab.cluster.leftovers reads and writes these records).
PULLED_IMAGES = (
    f"{SAVED}/pulled-images.txt"  # repositories the kubelet may pull here, and what to keep
)
REGISTRY_PUSHES = (
    f"{SAVED}/registry-pushes.txt"  # manifests pushed to the registry add-on through this node
)
RUNTIME_LOGS = f"{SAVED}/runtime-logs.txt"  # files a runtime handler added by a run writes
ON_NODE.update(
    {
        "pulled-images.txt": "pulled images",
        "registry-pushes.txt": "registry tags",
        "runtime-logs.txt": "runtime handler logs",
    }
)


def unit_name(unit: str) -> str:
    """A systemd unit name, checked: it goes into a shell command inside the node."""
    if not re.fullmatch(r"[A-Za-z0-9@._:-]+", unit):
        raise KubelabError(
            f"{unit!r} is not a systemd unit name", "e.g. kubelet, containerd, containerd.service"
        )
    return unit
