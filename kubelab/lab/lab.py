"""The handle a notebook works with: one cluster, one fresh namespace, a few verbs.

    import kubelab
    lab = kubelab.connect(notebook="00-tour")      # the default cluster, a new namespace
    lab.apply('''
    apiVersion: apps/v1
    kind: Deployment
    ...''')
    lab.wait_ready("deployment", "web")            # watches the object (kubelab.lab.waits)
    pods = lab.list("pods", selector="app=web")
    lab.logs(pods[0]["metadata"]["name"], tail=20)
    lab.kubectl("get pods -o wide")
    lab.node("worker").sh("iptables-save -t nat | grep KUBE-SVC")
    lab.close()                                     # the namespace goes, finalizers and all

Everything runs against the cluster's own kubeconfig; ~/.kube/config is never used.

The rest of the library is split by concern, and its names are importable from here too:
kubelab.core.readiness (is_ready, readiness, terminal_state), kubelab.lab.waits (WaitTimeout, the
waits), kubelab.lab.namespaces (a run's namespaces and their teardown), kubelab.lab.recorder.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any


from kubelab.lab import namespaces
from kubelab.core.errors import KubelabError

# Re-exported: notebooks, tests and other modules import these names from kubelab.lab.lab.
from kubelab.lab.namespaces import (
    MANAGED_BY,
    RUN_NAMESPACE,
    begin_namespace_deletion,
    close_run,
    delete_namespace,
    delete_run_objects,
    new_namespace_name,
    release_finalizers,
    restore_nodes,
    wait_namespace_gone,
)
from kubelab.core.readiness import is_ready, readiness, summarize, terminal_state  # noqa: F401
from kubelab.lab.waits import WaitTimeout  # noqa: F401

from kubelab.lab.kubectl import KubectlOutput, LabKubectl  # noqa: F401
from kubelab.lab.nodes import LabNodes, refuse_undeclared  # noqa: F401  (connect and extra_cluster use it too)
from kubelab.lab.objects import FIELD_MANAGER, Applied, LabObjects, Observed, parse_manifest  # noqa: F401
from kubelab.lab.watching import LabWaits

# Re-exported names (notebooks, tests and other modules import them from here).
__all__ = [
    "Lab",
    "connect",
    "extra_cluster",
    "refuse_undeclared",
    "parse_manifest",
    "FIELD_MANAGER",
    "Applied",
    "Observed",
    "KubectlOutput",
    "MANAGED_BY",
    "RUN_NAMESPACE",
    "begin_namespace_deletion",
    "close_run",
    "delete_namespace",
    "delete_run_objects",
    "new_namespace_name",
    "release_finalizers",
    "restore_nodes",
    "wait_namespace_gone",
    "is_ready",
    "readiness",
    "summarize",
    "terminal_state",
    "WaitTimeout",
]


class Lab(LabObjects, LabKubectl, LabNodes, LabWaits):
    """One run on one cluster: `cluster` (anything with kubeconfig, context, name and
    kubectl_command(*args)) and `namespace`, where namespaced objects go unless told otherwise.

    Its verbs live in four parts, one job each: objects (apply, get, list, patch, delete, evict,
    logs), kubectl (kubectl, exec, kubectl_apply, kubectl_background), nodes (node, nodes,
    scratch_dir, addon, api_address) and watching (wait_*, sample, record)."""

    def __init__(
        self,
        cluster,
        namespace: str,
        notebook: str | None = None,
        given_namespace: bool = False,
        run_id: str | None = None,
    ):
        """given_namespace: the namespace is someone else's (a workshop attendee's): the run
        neither creates nor deletes it, and labels what it makes there with `run_id` (its own
        name, as a fresh namespace would be called) so that closing deletes exactly that."""
        from kubernetes import config as kube_config
        from kubernetes.dynamic import DynamicClient

        self.cluster = cluster
        self.namespace = namespace
        self.notebook = notebook
        self.given_namespace = given_namespace
        self.run_id = run_id or namespace
        self.api = kube_config.new_client_from_config(
            config_file=str(cluster.kubeconfig), context=getattr(cluster, "context", None)
        )
        self.dynamic = DynamicClient(self.api)
        self._resources: dict[str, Any] = {}
        self._addons_said: set[str] = set()  # add-ons whose "ready" line the notebook shows already

    def create_namespace(self) -> None:
        """Create this run's namespace (labelled so that `kubelab gc` can tell whose it is); in a
        given namespace, check instead that it exists and that the run may work there."""
        if self.given_namespace:
            namespaces.check_given_namespace(self)
            print(
                f"namespace {self.namespace} (given; run {self.run_id}) on cluster "
                f"{getattr(self.cluster, 'name', '?')} (Kubernetes {self.server_version()})"
            )
            return
        labels = {namespaces.NOTEBOOK: self.notebook[:63]} if self.notebook else {}
        namespaces.create_run_namespace(self, self.namespace, labels, quiet=True)
        print(
            f"namespace {self.namespace} on cluster {getattr(self.cluster, 'name', '?')} "
            f"(Kubernetes {self.server_version()})"
        )

    def section(
        self,
        key: int | str,
        part: str | None = None,
        ids: str | list[str] | None = None,
        **needs,
    ):
        """Start a section: `key` is its § number in the spec (or a title, e.g. "Summary", for a
        part that answers no section); needs as for kubelab.requires (node_access, nodes,
        workers, zones, network_policy, storage_class, min_version, cluster_read,
        cluster_admin). Where the cluster lacks them, one line says so, the section's IDs (or
        the part's `ids`) are recorded as skipped on this cluster, and its cells do not run up to
        the next section (kubelab.lab.sections). With needs, alone in its cell. True if it runs."""
        from kubelab.lab import sections

        return sections.start(self, key, part=part, ids=ids, **needs)

    def extra_namespace(self, suffix: str) -> str:
        """Another namespace for this run (e.g. to show names in two namespaces); closed with it."""
        return namespaces.create_extra_namespace(self, suffix)

    def close(self, timeout: float = 120) -> None:
        """Undo the run: node changes, its cluster-scoped objects, its namespaces (finalizers and all)."""
        close_run(self, self.namespace, timeout)

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def connect(
    notebook: str | None = None,
    config: str | None = None,
    namespace: str | None = None,
    kubeconfig: str | None = None,
    context: str | None = None,
    existing_cluster: bool = False,
) -> Lab:
    """The default kubelab cluster (created or reused) and a fresh namespace for this run.

    `kubelab run` passes its choices through the environment: KUBELAB_CONFIG (the cluster
    config) and KUBELAB_CLUSTER_NAME (when it is not kubelab-<config>), KUBELAB_NAMESPACE, and for a cluster kubelab did not create KUBELAB_KUBECONFIG,
    KUBELAB_CONTEXT and KUBELAB_EXISTING_CLUSTER=1. Otherwise a new namespace is made. Someone
    else's cluster (a kubeconfig or context) is used only with existing_cluster=True: kubelab
    then creates and deletes its namespace and the run's own objects there, nothing else.
    """
    kubeconfig = kubeconfig or os.environ.get("KUBELAB_KUBECONFIG")
    context = context or os.environ.get("KUBELAB_CONTEXT")
    existing_cluster = existing_cluster or os.environ.get("KUBELAB_EXISTING_CLUSTER") == "1"
    if existing_cluster and not (kubeconfig or context):
        raise KubelabError(
            "an existing cluster was asked for, but no kubeconfig or context",
            "set KUBELAB_KUBECONFIG (and KUBELAB_CONTEXT), or pass kubeconfig=...",
        )
    if kubeconfig or context:
        if not existing_cluster:
            raise KubelabError(
                f"kubelab only runs notebooks on clusters it created, not on {context or kubeconfig}",
                "pass existing_cluster=True to use that cluster anyway (only a namespace is created there)",
            )
        from kubelab.cluster import ExistingCluster

        cluster = ExistingCluster(kubeconfig or "~/.kube/config", context)
    else:
        from kubelab.cluster import KindCluster

        cluster = KindCluster(
            config or os.environ.get("KUBELAB_CONFIG") or "default",
            name=None if config else os.environ.get("KUBELAB_CLUSTER_NAME"),
        )
        if not cluster.healthy():
            cluster.up(repair=False)  # never recreated under other runs' feet
    namespace = namespace or os.environ.get("KUBELAB_NAMESPACE") or new_namespace_name(notebook)
    given = os.environ.get("KUBELAB_NAMESPACE_GIVEN") == "1"
    run_id = os.environ.get("KUBELAB_RUN_ID") if given else None
    lab = Lab(cluster, namespace, notebook, given_namespace=given, run_id=run_id)
    lab.create_namespace()
    return lab


@contextmanager
def extra_cluster(config: str, notebook: str | None = None):
    """A lab on a second kubelab cluster (clusters/<config>.yaml) for the length of a with-block,
    for the one experiment the notebook's own cluster cannot show (e.g. dual-stack):

        with kubelab.extra_cluster("dualstack", notebook="05-dual-stack") as dual:
            dual.apply(...)

    The cluster is created if it does not exist, the lab's namespace closed at the end, and the
    cluster deleted again if this block created it (KUBELAB_KEEP_CLUSTERS=1 keeps it), even when
    the block fails."""
    from kubelab.cluster import KindCluster

    refuse_undeclared("extra_clusters", config, "kubelab.extra_cluster")
    created = not KindCluster(config).exists()
    from kubelab.core.progress import to_run_log

    with to_run_log():  # its creation's lines go to the run's log; the notebook shows one line
        lab = connect(notebook=notebook, config=config)
    print(f"cluster {lab.cluster.name}: {'created' if created else 'reused'}")
    try:
        yield lab
    finally:
        try:
            lab.close()
        finally:
            if created and os.environ.get("KUBELAB_KEEP_CLUSTERS") != "1":
                lab.cluster.down()
