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
import shlex
import subprocess
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import yaml

from kubelab.lab import namespaces, waits
from kubelab.core.errors import KubelabError
# Re-exported: notebooks, tests and other modules import these names from kubelab.lab.lab.
from kubelab.lab.namespaces import (MANAGED_BY, RUN_NAMESPACE, begin_namespace_deletion, close_run,  # noqa: F401
                         delete_namespace, delete_run_objects, new_namespace_name, release_finalizers,
                         restore_nodes, wait_namespace_gone)
from kubelab.core.readiness import is_ready, readiness, summarize, terminal_state  # noqa: F401
from kubelab.lab.waits import WaitTimeout  # noqa: F401

FIELD_MANAGER = "kubelab"


def parse_manifest(manifest: str | dict | list) -> list[dict]:
    """YAML text (one or more documents), a dict, or a list of dicts -> list of objects."""
    if isinstance(manifest, dict):
        return [manifest]
    if isinstance(manifest, list):
        return list(manifest)
    try:
        docs = [d for d in yaml.safe_load_all(manifest) if d]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise KubelabError(f"the manifest is not valid YAML{where}: {getattr(e, 'problem', e)}",
                           "check the indentation there (YAML uses spaces, not tabs)") from None
    for d in docs:
        if not isinstance(d, dict) or "kind" not in d or "apiVersion" not in d:
            raise KubelabError(f"a manifest document lacks apiVersion or kind: {str(d)[:120]}",
                               "every document needs apiVersion, kind and metadata.name")
    return docs


class Lab:
    """One run on one cluster: `cluster` (anything with kubeconfig, context, name and
    kubectl_command(*args)) and `namespace`, where namespaced objects go unless told otherwise."""

    def __init__(self, cluster, namespace: str, notebook: str | None = None):
        from kubernetes import config as kube_config
        from kubernetes.dynamic import DynamicClient

        self.cluster = cluster
        self.namespace = namespace
        self.notebook = notebook
        self.api = kube_config.new_client_from_config(config_file=str(cluster.kubeconfig),
                                                      context=getattr(cluster, "context", None))
        self.dynamic = DynamicClient(self.api)
        self._resources: dict[str, Any] = {}
        self._addons_said: set[str] = set()   # add-ons whose "ready" line the notebook shows already

    # -- the namespace -----------------------------------------------------------------------

    def create_namespace(self) -> None:
        """Create this run's namespace (labelled so that `kubelab gc` can tell whose it is)."""
        labels = {namespaces.NOTEBOOK: self.notebook[:63]} if self.notebook else {}
        namespaces.create_run_namespace(self, self.namespace, labels, quiet=True)
        print(f"namespace {self.namespace} on cluster {getattr(self.cluster, 'name', '?')} "
              f"(Kubernetes {self.server_version()})")

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

    # -- reading and writing objects ---------------------------------------------------------

    def resource(self, kind: str):
        """The API resource for a kind, a plural, a short name ('deploy') or 'group/version/Kind'."""
        key = kind.lower()
        if key in self._resources:
            return self._resources[key]
        found = None
        if "/" in kind:
            api_version, _, k = kind.rpartition("/")
            found = self.dynamic.resources.get(api_version=api_version, kind=k)
        else:
            candidates = [r for r in self.dynamic.resources.search()
                          if getattr(r, "kind", None) and "/" not in (r.name or "/")
                          and (r.kind.lower() == key or (r.name or "").lower() == key
                               or key in [s.lower() for s in (r.short_names or [])])]
            # Prefer the preferred version of the core or apps group when a kind exists twice.
            candidates.sort(key=lambda r: (not getattr(r, "preferred", True), r.group not in ("", "apps")))
            found = candidates[0] if candidates else None
        if found is None:
            raise KubelabError(f"the cluster has no kind of object called {kind!r}", "see `kubectl api-resources`")
        self._resources[key] = found
        return found

    def _ns(self, resource, namespace: str | None) -> str | None:
        return (namespace or self.namespace) if resource.namespaced else None

    def _mark_as_the_runs(self, resource, obj: dict, new: bool) -> dict:
        """A cluster-scoped object the run writes carries the run's namespace as a label, so that
        closing the run deletes it. An object that existed before the run is left unlabelled:
        changing it must not make the run delete it."""
        if resource.namespaced or obj["kind"] == "Namespace":
            return obj
        if not new:
            existing = self.get(f"{obj['apiVersion']}/{obj['kind']}", obj["metadata"]["name"])
            if existing is not None and (existing["metadata"].get("labels") or {}).get(RUN_NAMESPACE) != self.namespace:
                return obj
        metadata = obj.get("metadata") or {}
        return {**obj, "metadata": {**metadata, "labels": {**(metadata.get("labels") or {}),
                                                            RUN_NAMESPACE: self.namespace}}}

    def apply(self, manifest: str | dict | list, namespace: str | None = None, quiet: bool = False) -> "Applied":
        """Server-side apply of YAML text or dicts; namespaced objects go to this lab's namespace.
        Cluster-scoped objects it creates are deleted when the run closes. Returns the objects as
        stored (a list that a notebook does not display: its "applied kind/name" lines say it)."""
        applied = Applied()
        for obj in parse_manifest(manifest):
            resource = self.resource(f"{obj['apiVersion']}/{obj['kind']}")
            name = obj.get("metadata", {}).get("name")
            if not name:
                raise KubelabError(f"{obj['kind']} without metadata.name", "give every object a name")
            ns = self._ns(resource, namespace or obj.get("metadata", {}).get("namespace"))
            body = self._mark_as_the_runs(resource, obj, new=False)
            result = self.dynamic.server_side_apply(resource, body=body, name=name, namespace=ns,
                                                    field_manager=FIELD_MANAGER, force_conflicts=True)
            applied.append(result.to_dict())
            if not quiet:
                print(f"applied {obj['kind'].lower()}/{name}" + (f" in {ns}" if ns and ns != self.namespace else ""))
        return applied

    def create(self, manifest: str | dict, namespace: str | None = None, quiet: bool = False,
               dry_run: bool = False) -> dict:
        """Create (not apply) one object: fails with the API's error if it exists already. With
        dry_run, the API server admits and defaults it but stores nothing: the object returned is
        what it would have stored."""
        (obj,) = parse_manifest(manifest)
        resource = self.resource(f"{obj['apiVersion']}/{obj['kind']}")
        ns = self._ns(resource, namespace or obj.get("metadata", {}).get("namespace"))
        body = self._mark_as_the_runs(resource, obj, new=True)
        result = self.dynamic.create(resource, body=body, namespace=ns, **({"dry_run": "All"} if dry_run else {})).to_dict()
        if not quiet:
            print(f"{'would create (dry run)' if dry_run else 'created'} {obj['kind'].lower()}/{result['metadata']['name']}"
                  + (f" in {ns}" if ns else ""))
        return result

    def http_get(self, path: str, anonymous: bool = False) -> tuple[int, str]:
        """GET a path on the API server: as the cluster admin, or with no credentials at all."""
        import ssl
        import urllib.error
        import urllib.request
        url = self.api.configuration.host + path
        if not anonymous:
            response = self.api.call_api("GET", url)   # the kubeconfig's credentials
            response.read()
            return response.status, response.data.decode()
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE   # like curl -k: the point is who we are, not whom we trust
        try:
            with urllib.request.urlopen(url, context=context, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        """The object as a dict, or None if it does not exist."""
        from kubernetes.dynamic.exceptions import NotFoundError
        resource = self.resource(kind)
        try:
            return self.dynamic.get(resource, name=name, namespace=self._ns(resource, namespace)).to_dict()
        except NotFoundError:
            return None

    def list(self, kind: str, selector: str | None = None, namespace: str | None = None,
             all_namespaces: bool = False, field_selector: str | None = None) -> list[dict]:
        """The objects of a kind in this lab's namespace (or `namespace`, or all), each with its kind."""
        resource = self.resource(kind)
        ns = None if all_namespaces else self._ns(resource, namespace)
        result = self.dynamic.get(resource, namespace=ns, label_selector=selector, field_selector=field_selector)
        return [waits.complete_item(resource, item) for item in result.to_dict().get("items") or []]

    def delete(self, kind: str, name: str, namespace: str | None = None, propagation: str | None = None,
               wait: bool = False, timeout: float = 120) -> None:
        """Delete one object; propagation is Background, Foreground or Orphan (Kubernetes' default if None)."""
        resource = self.resource(kind)
        body = {"propagationPolicy": propagation} if propagation else None
        self.dynamic.delete(resource, name=name, namespace=self._ns(resource, namespace), body=body)
        print(f"deleted {kind}/{name}" + (f" ({propagation})" if propagation else ""))
        if wait:
            self.wait_deleted(kind, name, namespace=namespace, timeout=timeout)

    def replace(self, obj: dict) -> dict:
        """PUT an object as it is: with its resourceVersion, a stale copy fails with 409 Conflict."""
        resource = self.resource(f"{obj['apiVersion']}/{obj['kind']}")
        ns = self._ns(resource, obj["metadata"].get("namespace"))
        return self.dynamic.replace(resource, body=obj, name=obj["metadata"]["name"], namespace=ns).to_dict()

    def patch(self, kind: str, name: str, patch: dict | list, namespace: str | None = None, type: str = "merge",
              subresource: str | None = None) -> dict:
        """Patch an object: type "merge", "json" or "strategic"; subresource "status" changes its status."""
        content_type = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
                        "strategic": "application/strategic-merge-patch+json"}[type]
        resource = self.resource(kind)
        ns = self._ns(resource, namespace)
        if subresource:
            if subresource not in resource.subresources:
                raise KubelabError(f"{resource.kind} has no subresource {subresource!r}",
                                   f"it has: {', '.join(resource.subresources) or 'none'}")
            resource = resource.subresources[subresource]
        return self.dynamic.patch(resource, body=patch, name=name, namespace=ns, content_type=content_type).to_dict()

    def evict(self, pod: str, namespace: str | None = None) -> dict:
        """Ask the Eviction API to evict a pod (what `kubectl drain` does for each pod): returns the
        API's answer; a refusal (429 when a PodDisruptionBudget forbids it) raises its ApiException."""
        from kubernetes import client
        body = client.V1Eviction(metadata=client.V1ObjectMeta(name=pod, namespace=namespace or self.namespace))
        result = client.CoreV1Api(self.api).create_namespaced_pod_eviction(pod, namespace or self.namespace, body)
        return result.to_dict() if hasattr(result, "to_dict") else result

    def logs(self, pod: str, container: str | None = None, previous: bool = False, tail: int | None = None,
             namespace: str | None = None, quiet: bool = False) -> str:
        """A container's log (the previous, crashed instance's with previous=True; the last `tail`
        lines), printed unless quiet."""
        from kubernetes import client
        text = client.CoreV1Api(self.api).read_namespaced_pod_log(
            pod, namespace or self.namespace, container=container, previous=previous, tail_lines=tail)
        if not quiet:
            print(text.rstrip())
        return text

    def internal_ip(self, node_name: str) -> str:
        """A node's InternalIP: by its full name, or as in lab.node() ('worker')."""
        node = self.get("v1/Node", node_name) or self.get("v1/Node", f"{getattr(self.cluster, 'name', '')}-{node_name}")
        if node is None:
            raise KubelabError(f"no node called {node_name!r}", "lab.nodes() lists them")
        from kubelab.cluster.node import internal_ips
        addresses = internal_ips(node)
        if not addresses:
            raise KubelabError(f"node {node['metadata']['name']} reports no InternalIP", "see its status.addresses")
        return addresses[0]

    def server_version(self) -> str:
        from kubernetes import client
        return client.VersionApi(self.api).get_code().git_version

    # -- commands ----------------------------------------------------------------------------

    def kubectl(self, command: str | list[str], check: bool = True, quiet: bool = False,
                input: str | None = None) -> "KubectlOutput":
        """Run kubectl in this lab's namespace (unless the command names one) and show its output,
        with the API server's "Warning:" lines, as a terminal would. Returns its stdout (a str) with
        `.warnings` and `.ok`; with check=False, a failed command's stderr follows it (what it
        refused). `input` is sent to its stdin (e.g. "apply -f -")."""
        args = self.kubectl_args(command)
        result = subprocess.run(self.cluster.kubectl_command(*args), capture_output=True, text=True, timeout=300, input=input)
        warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
        out = KubectlOutput(result.stdout + (result.stderr if result.returncode else ""))
        out.warnings, out.ok = warnings, result.returncode == 0
        if not quiet:
            print("\n".join([out.rstrip(), *([] if result.returncode else warnings)]).strip())
        if check and result.returncode != 0:
            raise KubelabError(f"kubectl {' '.join(args)} failed (exit {result.returncode}): {result.stderr.strip()}")
        return out

    def kubectl_args(self, command: str | list[str]) -> list[str]:
        """kubectl's arguments for `command` (with or without a leading "kubectl"), in this lab's
        namespace unless the command names one or asks for all."""
        args = shlex.split(command) if isinstance(command, str) else list(command)
        if args and args[0] == "kubectl":
            args = args[1:]
        if not any(a in ("-n", "--namespace", "-A", "--all-namespaces") or a.startswith("--namespace=") for a in args):
            args = ["-n", self.namespace, *args]
        return args

    def exec(self, pod: str, command: str, container: str | None = None, namespace: str | None = None,
             check: bool = True, quiet: bool = True) -> "KubectlOutput":
        """Run a shell command in a pod's container (`kubectl exec POD -- sh -c COMMAND`); returns its
        stdout (with check=False, a failure's stderr follows it, and `.ok` is False)."""
        args = ["exec", pod, *(["-c", container] if container else []), *(["-n", namespace] if namespace else []),
                "--", "sh", "-c", command]
        return self.kubectl(args, check=check, quiet=quiet)

    def kubectl_apply(self, manifest: str) -> dict:
        """`kubectl apply -f -` of YAML text in this lab's namespace, as a user would run it:
        {"ok": bool, "out": what it printed, "warnings": the API server's "Warning:" lines}."""
        out = self.kubectl("apply -f -", check=False, input=manifest)
        return {"ok": out.ok, "out": str(out), "warnings": out.warnings}

    @contextmanager
    def kubectl_background(self, command: str):
        """A kubectl command left running while the block runs (e.g. `logs -f`), then stopped."""
        args = self.kubectl_args(command)
        process = subprocess.Popen(self.cluster.kubectl_command(*args), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            yield process
        finally:
            process.terminate()
            process.wait(timeout=10)

    def node(self, name: str):
        """A node's container: 'control-plane', 'worker', 'worker2' or the full node name."""
        from kubelab.cluster.node import Node
        full = name if name.startswith(self.cluster.name + "-") else f"{self.cluster.name}-{name}"
        return Node(self.cluster, full)

    def nodes(self) -> list[dict]:
        """The cluster's Nodes, less Node objects another run made for its own experiment (a Node no
        kubelet serves, labelled with that run's namespace): runs side by side do not see them."""
        from kubelab.lab.namespaces import RUN_NAMESPACE
        return [n for n in self.list("nodes")
                if n["metadata"].get("labels", {}).get(RUN_NAMESPACE, self.namespace) == self.namespace]

    def scratch_dir(self, node: str, name: str = "data", mode: str = "0755") -> str:
        """A fresh, empty directory on a node ('worker', or a full node name), for hostPath and
        `local` volumes; returns its path there (under /var/lib/kubelab-scratch/<namespace>/). It
        belongs to the run, like its namespace: closing the run removes it from every node, even
        after a failure, and `kubelab gc` removes those of runs that died."""
        from kubelab.lab.namespaces import scratch_dir
        return scratch_dir(self.cluster, self.node(node).name, self.namespace, name, mode)

    # -- waiting (kubelab.lab.waits) -------------------------------------------------------------

    def wait_for(self, description: str, observe: Callable[[], Any], done: Callable[[Any], Any] = bool,
                 status: Callable[[Any], str] | None = None, timeout: float = 120, interval: float = 1.0) -> Any:
        """Poll observe() until done(result), for what is not one object (node output, lists);
        API errors in observe are retried, any other error raised at once."""
        return waits.wait_for(description, observe, done, status, timeout=timeout, interval=interval)

    def wait_ready(self, kind: str, name: str, namespace: str | None = None, timeout: float = 120) -> dict:
        """Ready pods and nodes; rolled-out Deployments, StatefulSets, DaemonSets; complete Jobs; bound PVCs."""
        return _observed(waits.wait_ready(self, kind, name, namespace, timeout))

    def wait_deleted(self, kind: str, name: str, namespace: str | None = None, timeout: float = 120) -> None:
        """Until the object no longer exists (at once if it never did)."""
        waits.wait_deleted(self, kind, name, namespace, timeout)

    def wait_phase(self, kind: str, name: str, phase: str, namespace: str | None = None, timeout: float = 120) -> dict:
        """Until status.phase is `phase` (Pods, PVCs, Namespaces...)."""
        return _observed(waits.wait_phase(self, kind, name, phase, namespace, timeout))

    def wait_until(self, kind: str, name: str, predicate: Callable[[dict], Any], description: str,
                   namespace: str | None = None, timeout: float = 120) -> dict:
        """Until predicate(object) holds, checked on every change of the object; returns the object."""
        return _observed(waits.wait_until(self, kind, name, predicate, description, namespace, timeout))

    def wait_terminal(self, kind: str, name: str, namespace: str | None = None,
                      timeout: float = 120) -> tuple[str, dict]:
        """Until a Job or Pod ends: ("Complete" or "Failed", job) or ("Succeeded" or "Failed", pod)."""
        return waits.wait_terminal(self, kind, name, namespace, timeout)

    def sample(self, description: str, observe: Callable[[], Any], until: Callable[[list], Any],
               interval: float = 2.0, timeout: float = 600) -> list[tuple[float, Any]]:
        """Observe every `interval` seconds until `until(samples)`; returns [(seconds, value), ...]."""
        return waits.sample(description, observe, until, interval=interval, timeout=timeout)

    def addon(self, name: str, timeout: float = 240):
        """Install an add-on (clusters/addons/<name>) on this cluster if needed; return once it
        serves. It stays with the cluster, not the run (see kubelab.cluster.addons). Under `kubelab run`
        the notebook must declare it (metadata.kubelab.addons: it is built before the run), and
        the installation's progress goes to the run's log: the notebook shows one line."""
        from kubelab.cluster.addons import install
        from kubelab.core.progress import to_run_log
        refuse_undeclared("addons", name, "lab.addon")
        with to_run_log():
            addon = install(self.cluster, name, timeout)
        if name not in self._addons_said:   # one line per add-on, however often it is asked for
            print(f"add-on {name}: ready")
            self._addons_said.add(name)
        return addon

    def sample_in_background(self, description: str, observe: Callable[[], Any], interval: float = 2.0):
        """Observe every `interval` seconds in the background while the notebook goes on; read it
        with `.wait_until(...)`, `.first(...)`, `.samples`, `.plot(...)` (see kubelab.lab.sampling)."""
        from kubelab.lab.sampling import Timeline
        return Timeline(description, observe, interval).start()

    def api_address(self) -> tuple[str, int]:
        """(host, port) where this notebook reaches the API server (kind maps it to the machine)."""
        from urllib.parse import urlsplit
        url = urlsplit(self.api.configuration.host)
        return url.hostname, url.port or 443

    def record(self, *kinds: str, selector: str | None = None, namespace: str | None = None):
        """Watch these kinds in the background and keep a timeline (see kubelab.lab.recorder)."""
        from kubelab.lab.recorder import Recorder
        return Recorder(self, kinds, selector=selector, namespace=namespace)


class Observed(dict):
    """The object a wait ended on: a dict that a cell ending with the wait does not display (the
    wait's own line says how it ended; whole objects, managedFields and all, would bury it)."""

    def _ipython_display_(self) -> None:
        pass


def _observed(obj):
    return Observed(obj) if isinstance(obj, dict) else obj


class Applied(list):
    """What `apply` stored: a list of objects that a cell ending with `lab.apply(...)` does not
    display (whole objects, managedFields and all, would bury the experiment)."""

    def _ipython_display_(self) -> None:
        pass


class KubectlOutput(str):
    """What a kubectl command printed on stdout; `.warnings`: the API server's "Warning:" lines;
    `.ok`: whether it succeeded."""
    warnings: list[str]
    ok: bool


def connect(notebook: str | None = None, config: str | None = None, namespace: str | None = None,
            kubeconfig: str | None = None, context: str | None = None, existing_cluster: bool = False) -> Lab:
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
        raise KubelabError("an existing cluster was asked for, but no kubeconfig or context",
                           "set KUBELAB_KUBECONFIG (and KUBELAB_CONTEXT), or pass kubeconfig=...")
    if kubeconfig or context:
        if not existing_cluster:
            raise KubelabError(f"kubelab only runs notebooks on clusters it created, not on {context or kubeconfig}",
                               "pass existing_cluster=True to use that cluster anyway (only a namespace is created there)")
        from kubelab.cluster import ExistingCluster
        cluster = ExistingCluster(kubeconfig or "~/.kube/config", context)
    else:
        from kubelab.cluster import KindCluster
        cluster = KindCluster(config or os.environ.get("KUBELAB_CONFIG") or "default",
                              name=None if config else os.environ.get("KUBELAB_CLUSTER_NAME"))
        if not cluster.healthy():
            cluster.up(repair=False)   # never recreated under other runs' feet
    namespace = namespace or os.environ.get("KUBELAB_NAMESPACE") or new_namespace_name(notebook)
    lab = Lab(cluster, namespace, notebook)
    lab.create_namespace()
    return lab


def refuse_undeclared(field: str, name: str, call: str) -> None:
    """Under `kubelab run`, a notebook uses only the add-ons and extra clusters its metadata declares:
    the run built them before it started (KUBELAB_DECLARED_<FIELD>, comma-separated)."""
    declared = os.environ.get(f"KUBELAB_DECLARED_{field.upper()}")
    if declared is None:
        return   # not under `kubelab run` (JupyterLab, a script): anything may be built on the spot
    if name not in declared.split(","):
        raise KubelabError(f"{call}({name!r}): the notebook does not declare it in metadata.kubelab.{field} "
                           f"(declared: {declared or 'none'})",
                           f'add "{name}" to metadata.kubelab.{field}, so that it is built before the run starts')


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
    with to_run_log():   # its creation's lines go to the run's log; the notebook shows one line
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
