"""A run's namespaces, and undoing everything a run made when it ends.

A run (one notebook execution) works in its own namespace, labelled so that `kubelab gc`
recognises it and knows which process owns it. Cluster-scoped objects the run writes through
`lab.apply`/`lab.create` (ClusterRoles, PersistentVolumes, CRDs...) carry the label
`kubelab.dev/run-namespace: <that namespace>`. `close_run` then, in this order:

1. undoes what the run changed on nodes (kubelet configuration, images),
2. deletes the run's labelled cluster-scoped objects (`delete_run_objects`),
3. deletes the run's namespaces and waits until they are gone, clearing the finalizers of
   objects nobody would ever finish (`release_finalizers`): a notebook's demo finalizers.

so even a notebook that failed half-way leaves nothing behind.
"""

from __future__ import annotations

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from kubelab.cluster.backends.base import RUN_NAMESPACE_LABEL
from kubelab.core.progress import Progress
from kubelab.lab.waits import WaitTimeout, object_states, wait_deleted

MANAGED_BY = {"app.kubernetes.io/managed-by": "kubelab"}
RUN = "kubelab.dev/run"

RUN_NAMESPACE = RUN_NAMESPACE_LABEL  # on cluster-scoped objects: the run that made them
PARENT = "kubelab.dev/parent"  # on extra namespaces: the run's main namespace
SCRATCH = "/var/lib/kubelab-scratch"  # on each node: <namespace>/<name>, a run's directories
NOTEBOOK = "kubelab.dev/notebook"
OWNER_PID = "kubelab.dev/pid"  # host:pid of the process running the notebook


def new_namespace_name(notebook: str | None) -> str:
    """A fresh, valid namespace name from a notebook's name: '00-tour' -> '00-tour-3fa9c1'."""
    base = (notebook or "lab").lower()
    base = "".join(ch if ch.isalnum() else "-" for ch in base).strip("-")[:40] or "lab"
    return f"{base}-{uuid.uuid4().hex[:6]}"


def create_run_namespace(lab, name: str, labels: dict | None = None, quiet: bool = True) -> None:
    """A namespace that `kubelab gc` recognises as a run's, and as ended once this process is gone."""
    lab.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {**MANAGED_BY, RUN: "true", **(labels or {})},
                "annotations": {OWNER_PID: f"{os.uname().nodename}:{os.getpid()}"},
            },
        },
        quiet=quiet,
    )


def create_extra_namespace(lab, suffix: str) -> str:
    """Another namespace for the run (e.g. to show the same name in two namespaces); closed with it."""
    name = f"{lab.run_id}-{suffix}"
    create_run_namespace(lab, name, {PARENT: lab.run_id}, quiet=False)
    return name


def extra_namespaces(lab, run_id: str) -> list[str]:
    """The run's extra namespaces (none where the credentials cannot list namespaces: such a run
    could not have made one)."""
    from kubernetes.dynamic.exceptions import ForbiddenError

    try:
        found = lab.list("namespaces", selector=f"{PARENT}={run_id}")
    except ForbiddenError:
        return []
    return [ns["metadata"]["name"] for ns in found]


def check_given_namespace(lab) -> None:
    """A namespace the run is given must exist, and the credentials must let it make Pods there:
    one clear error for each, before any experiment."""
    from kubernetes.dynamic.exceptions import ForbiddenError, NotFoundError

    from kubelab.core.errors import KubelabError
    from kubelab.lab.probes import allowed

    where = f"namespace {lab.namespace} on cluster {getattr(lab.cluster, 'name', '?')}"
    try:  # a dry run stores nothing; a namespace the credentials cannot even read answers 404 too
        lab.create(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "probe-"}},
            dry_run=True,
            quiet=True,
        )
    except NotFoundError:
        raise KubelabError(
            f"{where} does not exist",
            "ask the cluster's admin for it, or name one you have: --namespace NAME",
        ) from None
    except ForbiddenError:
        raise KubelabError(
            f"these credentials cannot create objects in {where} (or it does not exist: the API"
            " server does not say which to credentials that may not read it)",
            "check the namespace's name, and use a kubeconfig bound to it with the 'edit' role",
        ) from None
    if not allowed(lab, "create", "pods", namespace=lab.namespace):
        raise KubelabError(
            f"these credentials cannot create Pods in {where}",
            "ask for the 'edit' role there (a RoleBinding to the ClusterRole edit)",
        )


def close_run(lab, namespace: str, timeout: float = 120) -> None:
    """End a run: undo its node changes, delete its cluster-scoped objects, its extra namespaces
    and its namespace, and wait until they are gone. In a namespace the run was given, it deletes
    what it made there instead (labelled with its run ID), and the namespace stays."""
    run_id = getattr(lab, "run_id", namespace)
    given = getattr(lab, "given_namespace", False)
    restore_nodes(lab.cluster)
    delete_run_objects(lab, run_id)  # kinds the credentials cannot list are passed over
    remove_scratch_dirs(lab.cluster, run_id)
    if given:
        delete_namespaced_run_objects(lab, namespace, run_id, timeout)
    children = extra_namespaces(lab, run_id)
    deleting = [
        name
        for name in [*children, *([] if given else [namespace])]
        if begin_namespace_deletion(lab, name)
    ]
    # Side by side: each takes the namespace controller seconds, and may need its finalizers released.
    with ThreadPoolExecutor(max_workers=max(len(deleting), 1)) as pool:
        for waited in [pool.submit(wait_namespace_gone, lab, name, timeout) for name in deleting]:
            waited.result()


def scratch_dir(cluster, node: str, namespace: str, name: str, mode: str) -> str:
    """Make the run's directory `name` on a node (empty, with `mode`); returns its path there."""
    from kubelab.core.errors import KubelabError

    if not all(
        part and part.replace("-", "").replace("_", "").isalnum() for part in name.split("/")
    ):
        raise KubelabError(
            f"{name!r} is not a plain directory name", "letters, digits, - and _, parts joined by /"
        )
    if not (len(mode) in (3, 4) and all(ch in "01234567" for ch in mode)):
        raise KubelabError(
            f"{mode!r} is not an octal file mode",
            "e.g. 0755, or 1777 for a folder anyone may write to",
        )
    path = f"{SCRATCH}/{namespace}/{name}"
    result = cluster.node_exec(
        node, ["sh", "-c", f"rm -rf {path} && mkdir -p {path} && chmod {mode} {path}"]
    )
    if result.returncode != 0:
        raise KubelabError(
            f"making directory {path} on node {node} failed: {result.stderr.decode().strip()}",
            f"check that the node runs: docker exec {node} true",
        )
    return path


def remove_scratch_dirs(cluster, namespace: str) -> None:
    """Remove the run's directories from every node (nothing to do without node access)."""
    if not getattr(cluster, "node_access", False):
        return
    for node in cluster.node_names():
        if cluster.node_running(node):
            cluster.node_exec(node, ["rm", "-rf", f"{SCRATCH}/{namespace}"])


def restore_nodes(cluster) -> dict[str, list[str]]:
    """Undo what a run changed on nodes, even a run that died: {node: [what was put back]}
    (kubelab.cluster.node does the work; clusters without node access have nothing to undo)."""
    from kubelab.cluster.node import restore_nodes as restore

    return restore(cluster)


def delete_run_objects(lab, namespace: str) -> list[str]:
    """Delete every cluster-scoped object labelled as made by the run in `namespace`, of any kind
    the API server offers (kinds that cannot be listed or deleted are skipped); returns what it
    deleted, as ["clusterrole/reader", ...]."""
    from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError

    deleted = []
    for resource in _resources(lab, namespaced=False, verbs={"list", "delete"}):
        if resource.kind == "Namespace":
            continue  # namespaces go by their own labels, after their contents
        try:
            items = (
                lab.dynamic.get(resource, label_selector=f"{RUN_NAMESPACE}={namespace}")
                .to_dict()
                .get("items")
                or []
            )
        except DynamicApiError:
            continue
        for obj in items:
            name = obj["metadata"]["name"]
            try:
                lab.dynamic.delete(resource, name=name)
            except NotFoundError:
                continue
            deleted.append(f"{resource.kind.lower()}/{name}")
    if deleted:
        print(f"deleted the run's cluster-scoped objects: {', '.join(deleted)}")
    return deleted


def delete_namespaced_run_objects(lab, namespace: str, run_id: str, timeout: float = 120) -> None:
    """Delete what run `run_id` made in a namespace it was given (objects labelled with its ID,
    and through their owners what controllers made for them), and wait until they are gone: a
    next run in the same namespace may reuse their names."""
    from kubernetes.dynamic.exceptions import DynamicApiError, ForbiddenError, NotFoundError

    selector = f"{RUN_NAMESPACE}={run_id}"
    made = []
    for resource in _resources(lab, namespaced=True, verbs={"list", "delete"}):
        if resource.kind == "Event":
            continue
        try:
            items = lab.dynamic.get(resource, namespace=namespace, label_selector=selector)
        except DynamicApiError:
            continue  # a kind these credentials may not list: the run cannot have made one
        for obj in items.to_dict().get("items") or []:
            name = obj["metadata"]["name"]
            if obj["metadata"].get("ownerReferences"):
                continue  # its owner's deletion takes it (an EndpointSlice, a Pod of a Job)
            try:
                lab.dynamic.delete(
                    resource, name=name, namespace=namespace, propagation_policy="Foreground"
                )
            except NotFoundError:
                continue
            except ForbiddenError:
                # a controller copied the run's label onto what it made (the Endpoints of a
                # Service) and the credentials may not delete that kind: its maker removes it
                continue
            made.append((resource, name))
    deadline = time.monotonic() + timeout
    for resource, name in made:
        kind = f"{resource.group_version}/{resource.kind}"
        wait_deleted(lab, kind, name, namespace, max(deadline - time.monotonic(), 1))
    if made:
        print(f"deleted the run's {len(made)} objects in namespace {namespace}")


def _resources(lab, namespaced: bool, verbs: set[str]):
    """Each kind the API server serves (one version of each, the preferred first), that has these verbs."""
    from kubernetes.dynamic.resource import ResourceList

    lab.dynamic.resources.invalidate_cache()  # the run may have added kinds (CRDs)
    candidates = [
        r
        for r in lab.dynamic.resources.search(namespaced=namespaced)
        if not isinstance(r, ResourceList)
        and "/" not in (r.name or "/")
        and verbs <= set(r.verbs or [])
    ]
    candidates.sort(key=lambda r: not getattr(r, "preferred", False))
    seen = set()
    for resource in candidates:
        if (resource.group, resource.name) not in seen:
            seen.add((resource.group, resource.name))
            yield resource


def delete_namespace(lab, namespace: str, timeout: float = 120) -> None:
    """Delete a namespace and wait until it is gone."""
    if begin_namespace_deletion(lab, namespace):
        wait_namespace_gone(lab, namespace, timeout)


def begin_namespace_deletion(lab, namespace: str) -> bool:
    """Delete a namespace; its pods get no grace period (the namespace is throwaway).
    False if there was no such namespace."""
    from kubernetes.dynamic.exceptions import NotFoundError

    try:
        lab.dynamic.delete(lab.resource("v1/Namespace"), name=namespace)
    except NotFoundError:
        return False
    # A Terminating namespace accepts no new pods, so the controllers cannot replace these.
    lab.dynamic.delete(
        lab.resource("v1/Pod"),
        namespace=namespace,
        field_selector=f"metadata.namespace={namespace}",
        body={"gracePeriodSeconds": 0},
    )
    return True


def wait_namespace_gone(lab, namespace: str, timeout: float = 120) -> None:
    """Wait for a Terminating namespace to go, releasing finalizers nobody would ever remove."""
    cluster = getattr(lab.cluster, "name", "?")  # which cluster: a run may use two
    progress = Progress(f"namespace {namespace} on cluster {cluster} deleted")
    # The namespace's status changes rarely while finalizers hold it: look again every few
    # seconds (a watch that ends) so finalizers set after the first release are released too.
    for ns in object_states(
        lab,
        "v1/Namespace",
        namespace,
        deadline=time.monotonic() + timeout,
        watch_seconds=3,
        on_error=progress.update,
    ):
        if ns is None:
            progress.done("gone")
            return
        conditions = {c["type"]: c for c in (ns.get("status") or {}).get("conditions") or []}
        if conditions.get("NamespaceFinalizersRemaining", {}).get("status") == "True":
            release_finalizers(lab, namespace)
        progress.update("Terminating")
    raise WaitTimeout(
        f"namespace {namespace} still exists after {timeout:.0f} s",
        f"kubectl get namespace {namespace} -o yaml shows what holds it (status.conditions)",
    )


def release_finalizers(lab, namespace: str) -> list[str]:
    """Clear the finalizers of every object being deleted in the namespace, of any kind: the
    demo finalizers a notebook set have no controller that would ever remove them. Returns the
    objects released, as ["configmap/held", ...]."""
    from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError

    released = []
    for resource in _resources(lab, namespaced=True, verbs={"list", "patch"}):
        try:
            items = lab.dynamic.get(resource, namespace=namespace).to_dict().get("items") or []
        except DynamicApiError:
            continue
        for obj in items:
            meta = obj["metadata"]
            if meta.get("finalizers") and meta.get("deletionTimestamp"):
                try:
                    lab.dynamic.patch(
                        resource,
                        name=meta["name"],
                        namespace=namespace,
                        body={"metadata": {"finalizers": None}},
                        content_type="application/merge-patch+json",
                    )
                except NotFoundError:
                    continue
                released.append(f"{resource.kind.lower()}/{meta['name']}")
                print(
                    f"released the finalizers {meta['finalizers']} of {resource.kind}/{meta['name']}"
                )
    return released
