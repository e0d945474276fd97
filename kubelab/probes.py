"""What a cluster can show: probed once, and required at the top of a notebook.

    kubelab.requires(lab, nodes=3, zones=2, network_policy=True)

stops the notebook at once, with the reason, when the cluster lacks something; `kubelab run`
and `kubelab test` report such a notebook as not run (with the reason), not as passed.
"""

from dataclasses import dataclass

from .errors import KubelabError


class RequirementNotMet(KubelabError):
    pass


@dataclass(frozen=True)
class Capabilities:
    version: str                   # the API server's version, e.g. v1.37.2
    nodes: int
    workers: int
    zones: tuple[str, ...]
    network_policy: bool           # the CNI enforces NetworkPolicy (kind's kindnetd, or kubelab's)
    default_storage_class: str | None
    oom_score_adj_clamped: bool    # the runc shim is active: oom_score_adj cannot go below 0
    images: str                    # "offline" (preloaded, no pulls) or "stock"

    def minor(self) -> int:
        return int(self.version.lstrip("v").split(".")[1])


def probe(lab) -> Capabilities:
    cached = getattr(lab, "_capabilities", None)
    if cached:
        return cached
    nodes = lab.list("nodes")
    workers = [n for n in nodes if "node-role.kubernetes.io/control-plane" not in n["metadata"].get("labels", {})]
    zones = sorted({n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes
                    if "topology.kubernetes.io/zone" in n["metadata"].get("labels", {})})
    cni = lab.get("daemonset", "kindnet", namespace="kube-system")
    default_sc = next((sc["metadata"]["name"] for sc in lab.list("storageclasses")
                       if sc["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class") == "true"), None)
    capbnd = lab.node(nodes[0]["metadata"]["name"]).sh("awk '/^CapBnd/ {print $2}' /proc/1/status").strip()
    clamped = bool(capbnd) and not (int(capbnd, 16) >> 24) & 1
    record = lab.cluster.record()
    caps = Capabilities(
        version=lab.server_version(), nodes=len(nodes), workers=len(workers), zones=tuple(zones),
        network_policy=cni is not None, default_storage_class=default_sc, oom_score_adj_clamped=clamped,
        images=record.mode if record else "stock",
    )
    lab._capabilities = caps
    return caps


def requires(lab, nodes: int | None = None, workers: int | None = None, zones: int | None = None,
             network_policy: bool = False, storage_class: bool = False, min_version: str | None = None) -> Capabilities:
    """Stop here, with every reason, unless the cluster has what the notebook needs."""
    caps = probe(lab)
    missing = []
    if nodes and caps.nodes < nodes:
        missing.append(f"{nodes} nodes (the cluster has {caps.nodes})")
    if workers and caps.workers < workers:
        missing.append(f"{workers} workers (the cluster has {caps.workers})")
    if zones and len(caps.zones) < zones:
        missing.append(f"{zones} zones (the cluster has {len(caps.zones)}: {', '.join(caps.zones) or 'none'})")
    if network_policy and not caps.network_policy:
        missing.append("a CNI that enforces NetworkPolicy")
    if storage_class and not caps.default_storage_class:
        missing.append("a default StorageClass")
    if min_version and caps.minor() < int(min_version.lstrip("v").split(".")[1]):
        missing.append(f"Kubernetes {min_version} or newer (the cluster runs {caps.version})")
    if missing:
        raise RequirementNotMet("this notebook needs " + "; ".join(missing),
                                "use the default cluster (clusters/default.yaml): kubelab up --recreate")
    print(f"cluster: Kubernetes {caps.version}, {caps.nodes} nodes ({caps.workers} workers), zones {', '.join(caps.zones)}, "
          f"NetworkPolicy {'enforced' if caps.network_policy else 'not enforced'}, default StorageClass "
          f"{caps.default_storage_class}, images {caps.images}"
          + (", oom_score_adj clamped at 0 by kubelab's runc shim" if caps.oom_score_adj_clamped else ""))
    return caps
