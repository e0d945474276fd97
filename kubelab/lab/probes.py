"""What a cluster can show: probed once, and required at the top of a notebook.

    kubelab.requires(lab, nodes=3, zones=2, network_policy=True)
    kubelab.requires(lab, node_access=True)   # the notebook runs commands inside nodes, stops them

stops the notebook at once, with the reason, when the cluster lacks something; `kubelab run`
and `kubelab test` report such a notebook as not run (with the reason), not as passed.

What is measured inside a node (cgroup version, swap, whether oom_score_adj is clamped) needs
node access; on a cluster reached through a kubeconfig only, those fields are None.
"""

from dataclasses import dataclass

from kubelab.cluster import images
from kubelab.core.units import version_of
from kubelab.core.errors import KubelabError

# One command in one node for every fact a node shows: docker exec costs ~100 ms each.
# CapBnd: the bounding set of the node's init; bit 24 is CAP_SYS_RESOURCE, which kubelab's runc
# shim drops (and with it, containers' ability to lower oom_score_adj below 0).
NODE_FACTS = (
    "awk '/^CapBnd/ {print $2}' /proc/1/status; stat -fc %T /sys/fs/cgroup; "
    "awk 'NR > 1 {kib += $3} END {print kib + 0}' /proc/swaps"
)


class RequirementNotMet(KubelabError):
    pass


@dataclass(frozen=True)
class Capabilities:
    version: str  # the API server's version, e.g. v1.37.2
    nodes: int
    workers: int
    zones: tuple[str, ...]
    network_policy: bool  # the CNI enforces NetworkPolicy (kind's kindnetd, or kubelab's)
    default_storage_class: str | None
    oom_score_adj_clamped: (
        bool | None
    )  # the runc shim is active: oom_score_adj cannot go below 0 (None: unknown)
    images: str  # "offline" (preloaded, no pulls) or "stock"
    node_access: bool = True  # kubelab can run commands inside nodes, stop and reconfigure them
    cgroup_version: int | None = (
        None  # the nodes' cgroup version (1 or 2); None without node access
    )
    host_cgroup_version: int | None = (
        None  # the cgroup version of the machine the nodes run on, if known
    )
    runtime: str = ""  # the nodes' container runtime, e.g. containerd://2.1.4
    swap_bytes: int | None = None  # swap the nodes' kernel has (0: none); None without node access
    # The credentials may read cluster-scoped objects (Nodes, StorageClasses); without that,
    # nodes, workers and zones are unknown (0, 0, ()), not absent.
    cluster_read: bool = True
    # The credentials may create cluster-scoped objects (namespaces, CRDs, ClusterRoles, ...).
    cluster_admin: bool = True

    def minor(self) -> int:
        return int(self.version.lstrip("v").split(".")[1])


def allowed(lab, verb: str, resource: str, group: str = "", namespace: str | None = None) -> bool:
    """Whether these credentials may `verb` `resource` (cluster-wide unless `namespace`): the API
    server's own answer to a SelfSubjectAccessReview."""
    from kubernetes import client

    review = client.AuthorizationV1Api(lab.api).create_self_subject_access_review(
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "verb": verb,
                    "resource": resource,
                    "group": group,
                    **({"namespace": namespace} if namespace else {}),
                }
            },
        }
    )
    return bool(review.status.allowed)


def probe(lab) -> Capabilities:
    cached = getattr(lab, "_capabilities", None)
    if cached:
        return cached
    cluster_read = all(
        allowed(lab, "list", resource, group)
        for resource, group in (("nodes", ""), ("pods", ""), ("storageclasses", "storage.k8s.io"))
    )
    cluster_admin = allowed(lab, "create", "namespaces") and allowed(
        lab, "create", "customresourcedefinitions", "apiextensions.k8s.io"
    )
    if not cluster_read:
        return _namespace_only(lab, cluster_admin)
    # less the Node objects other runs made for a moment (no kubelet behind them)
    nodes = lab.nodes()
    workers = [
        n
        for n in nodes
        if "node-role.kubernetes.io/control-plane" not in n["metadata"].get("labels", {})
    ]
    zones = sorted(
        {
            n["metadata"]["labels"]["topology.kubernetes.io/zone"]
            for n in nodes
            if "topology.kubernetes.io/zone" in n["metadata"].get("labels", {})
        }
    )
    cni = lab.get("daemonset", "kindnet", namespace="kube-system")
    default_sc = next(
        (
            sc["metadata"]["name"]
            for sc in lab.list("storageclasses")
            if sc["metadata"]
            .get("annotations", {})
            .get("storageclass.kubernetes.io/is-default-class")
            == "true"
        ),
        None,
    )
    node_access = bool(getattr(lab.cluster, "node_access", False))
    clamped = cgroup_version = swap_bytes = None
    if node_access:
        from kubelab.cluster.node import Node

        # A worker when there is one: it is where notebooks' pods run.
        node = (workers or nodes)[0]["metadata"]["name"]
        capbnd, fs_type, swap_kib = (Node(lab.cluster, node).sh(NODE_FACTS).split() + ["", "", ""])[
            :3
        ]
        clamped = bool(capbnd) and not (int(capbnd, 16) >> 24) & 1
        try:
            cgroup_version = version_of(fs_type)
        except ValueError:  # neither version's filesystem: unknown, as without node access
            cgroup_version = None
        swap_bytes = int(swap_kib) * 1024 if swap_kib.isdigit() else None
    caps = Capabilities(
        version=lab.server_version(),
        nodes=len(nodes),
        workers=len(workers),
        zones=tuple(zones),
        network_policy=cni is not None,
        default_storage_class=default_sc,
        oom_score_adj_clamped=clamped,
        images=images.mode_of(lab.cluster),
        node_access=node_access,
        cgroup_version=cgroup_version,
        host_cgroup_version=lab.cluster.host_cgroup_version(),
        runtime=nodes[0].get("status", {}).get("nodeInfo", {}).get("containerRuntimeVersion", "")
        if nodes
        else "",
        swap_bytes=swap_bytes,
        cluster_admin=cluster_admin,
    )
    lab._capabilities = caps
    return caps


def _namespace_only(lab, cluster_admin: bool) -> Capabilities:
    """What credentials bound to a namespace show: the API's version, nothing about nodes."""
    caps = Capabilities(
        version=lab.server_version(),
        nodes=0,
        workers=0,
        zones=(),
        network_policy=False,
        default_storage_class=None,
        oom_score_adj_clamped=None,
        images=images.mode_of(lab.cluster),
        node_access=False,
        cluster_read=False,
        cluster_admin=cluster_admin,
    )
    lab._capabilities = caps
    return caps


def shortfalls(
    lab,
    caps: Capabilities,
    nodes: int | None = None,
    workers: int | None = None,
    zones: int | None = None,
    network_policy: bool = False,
    storage_class: bool = False,
    min_version: str | None = None,
    node_access: bool = False,
    cluster_read: bool = False,
    cluster_admin: bool = False,
) -> tuple[list[str], list[str]]:
    """What the cluster lacks of these needs (each a phrase), and how to get it.

    cluster_read=True: the section reads cluster-scoped objects (Nodes, Namespaces, other
    namespaces' objects); cluster_admin=True: it creates or changes them (CRDs, ClusterRoles,
    PersistentVolumes, Nodes, webhooks, namespaces), or writes in its namespace what role edit
    may not (Pod status, Endpoints and EndpointSlices, ephemeral containers). Namespace-bound
    credentials can do neither."""
    missing = []
    fixes = []
    unknown = None if caps.cluster_read else "unknown: these credentials cannot read nodes"
    if cluster_admin and not caps.cluster_admin:
        missing.append(
            "cluster-scoped permissions (it makes cluster-scoped objects, or writes what role edit may not)"
        )
    elif cluster_read and not caps.cluster_read:
        missing.append("cluster-wide reads (it reads Nodes or other namespaces' objects)")
    if node_access and not caps.node_access:
        missing.append(
            "node access (it runs commands inside nodes, stops and reconfigures them); "
            f"cluster {lab.cluster.name} is reached through a kubeconfig only"
        )
        fixes.append(
            "run it on a cluster kubelab created: kubelab run NOTEBOOK (without an existing cluster)"
        )
    if nodes and caps.nodes < nodes:
        missing.append(f"{nodes} nodes ({unknown or f'the cluster has {caps.nodes}'})")
    if workers and caps.workers < workers:
        missing.append(f"{workers} workers ({unknown or f'the cluster has {caps.workers}'})")
    if zones and len(caps.zones) < zones:
        have = f"the cluster has {len(caps.zones)}: {', '.join(caps.zones) or 'none'}"
        missing.append(f"{zones} zones ({unknown or have})")
    if network_policy and not caps.network_policy:
        missing.append("a CNI that enforces NetworkPolicy" + (f" ({unknown})" if unknown else ""))
    if storage_class and not caps.default_storage_class:
        missing.append("a default StorageClass" + (f" ({unknown})" if unknown else ""))
    if min_version and caps.minor() < int(min_version.lstrip("v").split(".")[1]):
        missing.append(f"Kubernetes {min_version} or newer (the cluster runs {caps.version})")
    if len(missing) > len(fixes):
        fixes.append("use the default cluster (clusters/default.yaml): kubelab up --recreate")
    return missing, fixes


def describe(caps: Capabilities) -> str:
    """One line: what the notebook found the cluster to be."""
    if not caps.cluster_read:
        return (
            f"cluster: Kubernetes {caps.version}; these credentials read one namespace only "
            "(nodes, StorageClasses and the CNI unknown), no node access, "
            + (
                "cluster-scoped writes allowed"
                if caps.cluster_admin
                else "no cluster-scoped writes"
            )
        )
    return (
        f"cluster: Kubernetes {caps.version}, {caps.nodes} nodes ({caps.workers} workers), "
        f"zones {', '.join(caps.zones)}, "
        f"NetworkPolicy {'enforced' if caps.network_policy else 'not enforced'}, default "
        f"StorageClass {caps.default_storage_class}, images {caps.images}"
        + (f", cgroup v{caps.cgroup_version}" if caps.cgroup_version else "")
        + (", no node access (kubeconfig only)" if not caps.node_access else "")
        + (", no cluster-scoped writes" if not caps.cluster_admin else "")
        + (
            ", oom_score_adj clamped at 0 by kubelab's runc shim"
            if caps.oom_score_adj_clamped
            else ""
        )
    )


def requires(lab, **needs) -> Capabilities:
    """Stop here, with every reason, unless the cluster has what the notebook needs: nodes,
    workers, zones (counts), network_policy, storage_class (a default one), min_version
    ("v1.33"), node_access.

    node_access=True: the notebook runs commands inside nodes (lab.node(...).sh), stops them or
    reconfigures them; only clusters kubelab created (kind) allow that.
    """
    caps = probe(lab)
    missing, fixes = shortfalls(lab, caps, **needs)
    if missing:
        raise RequirementNotMet("this notebook needs " + "; ".join(missing), "; or ".join(fixes))
    print(describe(caps))
    return caps
