"""The handle a notebook works with: one cluster, one fresh namespace, a few verbs.

    import kubelab
    lab = kubelab.connect(notebook="00-tour")      # the default cluster, a new namespace
    lab.apply('''
    apiVersion: apps/v1
    kind: Deployment
    ...''')
    lab.wait_ready("deployment", "web")
    pods = lab.list("pods", selector="app=web")
    lab.kubectl("get pods -o wide")
    lab.node("worker").sh("iptables-save -t nat | grep KUBE-SVC")
    lab.close()                                       # the namespace goes, finalizers and all

Everything runs against the kubelab cluster's own kubeconfig; ~/.kube/config is never used.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import yaml

from .checks import show
from .cluster import KindCluster
from .errors import KubelabError
from .node import Node
from .progress import Progress

FIELD_MANAGER = "kubelab"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kubelab"}


class WaitTimeout(KubelabError, AssertionError):
    """A wait ran out of time: it says what it waited for and what it saw last."""


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
    def __init__(self, cluster: KindCluster, namespace: str, notebook: str | None = None):
        from kubernetes import config as kube_config
        from kubernetes.dynamic import DynamicClient

        self.cluster = cluster
        self.namespace = namespace
        self.notebook = notebook
        self.api = kube_config.new_client_from_config(config_file=str(cluster.kubeconfig),
                                                      context=getattr(cluster, "context", None))
        self.dynamic = DynamicClient(self.api)
        self._resources: dict[str, Any] = {}

    # -- the namespace -----------------------------------------------------------------------

    def _run_namespace(self, name: str, labels: dict, quiet: bool) -> None:
        """A namespace that `kubelab gc` recognises as a run's, and as ended once this process is gone."""
        self.apply({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": name, "labels": {**MANAGED_BY, "kubelab.dev/run": "true", **labels},
                                 "annotations": {"kubelab.dev/pid": f"{os.uname().nodename}:{os.getpid()}"}}},
                   quiet=quiet)

    def create_namespace(self) -> None:
        self._run_namespace(self.namespace, {"kubelab.dev/notebook": self.notebook[:63]} if self.notebook else {}, quiet=True)
        print(f"namespace {self.namespace} on cluster {self.cluster.name} (Kubernetes {self.server_version()})")

    def extra_namespace(self, suffix: str) -> str:
        """Another namespace for this run (e.g. to show names in two namespaces); closed with it."""
        name = f"{self.namespace}-{suffix}"
        self._run_namespace(name, {"kubelab.dev/parent": self.namespace}, quiet=False)
        return name

    def close(self, timeout: float = 120) -> None:
        """Delete the namespace (and extra ones) and wait until gone, clearing finalizers that would hold them."""
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

    def apply(self, manifest: str | dict | list, namespace: str | None = None, quiet: bool = False) -> list[dict]:
        """Server-side apply of YAML text or dicts; namespaced objects go to this lab's namespace."""
        applied = []
        for obj in parse_manifest(manifest):
            resource = self.resource(f"{obj['apiVersion']}/{obj['kind']}")
            name = obj.get("metadata", {}).get("name")
            if not name:
                raise KubelabError(f"{obj['kind']} without metadata.name", "give every object a name")
            ns = self._ns(resource, namespace or obj.get("metadata", {}).get("namespace"))
            result = self.dynamic.server_side_apply(resource, body=obj, name=name, namespace=ns,
                                                    field_manager=FIELD_MANAGER, force_conflicts=True)
            applied.append(result.to_dict())
            if not quiet:
                print(f"applied {obj['kind'].lower()}/{name}" + (f" in {ns}" if ns and ns != self.namespace else ""))
        return applied

    def create(self, manifest: str | dict, namespace: str | None = None) -> dict:
        """Create (not apply) one object: fails with the API's error if it exists already."""
        (obj,) = parse_manifest(manifest)
        resource = self.resource(f"{obj['apiVersion']}/{obj['kind']}")
        ns = self._ns(resource, namespace or obj.get("metadata", {}).get("namespace"))
        result = self.dynamic.create(resource, body=obj, namespace=ns).to_dict()
        print(f"created {obj['kind'].lower()}/{obj['metadata']['name']}" + (f" in {ns}" if ns else ""))
        return result

    def http_get(self, path: str, anonymous: bool = False) -> tuple[int, str]:
        """GET a path on the API server: as the cluster admin, or with no credentials at all."""
        import ssl
        import urllib.error
        import urllib.request
        url = self.api.configuration.host + path
        if not anonymous:
            response = self.api.call_api("GET", url)   # the kubeconfig's client certificate
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
            return resource_get(self, resource, name, self._ns(resource, namespace))
        except NotFoundError:
            return None

    def list(self, kind: str, selector: str | None = None, namespace: str | None = None,
             all_namespaces: bool = False, field_selector: str | None = None) -> list[dict]:
        resource = self.resource(kind)
        ns = None if all_namespaces else self._ns(resource, namespace)
        result = self.dynamic.get(resource, namespace=ns, label_selector=selector, field_selector=field_selector)
        return [item.to_dict() for item in result.items]

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

    def patch(self, kind: str, name: str, patch: dict | list, namespace: str | None = None, type: str = "merge") -> dict:
        content_type = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
                        "strategic": "application/strategic-merge-patch+json"}[type]
        resource = self.resource(kind)
        return self.dynamic.patch(resource, body=patch, name=name, namespace=self._ns(resource, namespace),
                                  content_type=content_type).to_dict()

    def server_version(self) -> str:
        from kubernetes import client
        return client.VersionApi(self.api).get_code().git_version

    # -- commands ----------------------------------------------------------------------------

    def kubectl(self, command: str | list[str], check: bool = True, quiet: bool = False) -> str:
        """Run kubectl in this lab's namespace (unless the command names one) and show its output."""
        args = shlex.split(command) if isinstance(command, str) else list(command)
        if args and args[0] == "kubectl":
            args = args[1:]
        if not any(a in ("-n", "--namespace", "-A", "--all-namespaces") or a.startswith("--namespace=") for a in args):
            args = ["-n", self.namespace, *args]
        result = subprocess.run(self.cluster.kubectl_command(*args), capture_output=True, text=True, timeout=300)
        out = result.stdout + (result.stderr if result.returncode else "")
        if not quiet:
            print(out.rstrip())
        if check and result.returncode != 0:
            raise KubelabError(f"kubectl {' '.join(args)} failed (exit {result.returncode}): {result.stderr.strip()}")
        return result.stdout

    @contextmanager
    def kubectl_background(self, command: str):
        """A kubectl command left running while the block runs (e.g. `logs -f`), then stopped."""
        args = shlex.split(command)
        if not any(a in ("-n", "--namespace", "-A") for a in args):
            args = ["-n", self.namespace, *args]
        process = subprocess.Popen(self.cluster.kubectl_command(*args), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            yield process
        finally:
            process.terminate()
            process.wait(timeout=10)

    def node(self, name: str) -> "Node":
        """A node's container: 'control-plane', 'worker', 'worker2' or the full node name."""
        full = name if name.startswith(self.cluster.name + "-") else f"{self.cluster.name}-{name}"
        return Node(self.cluster, full)

    def nodes(self) -> list[dict]:
        return self.list("nodes")

    # -- waiting -----------------------------------------------------------------------------

    def wait_for(self, description: str, observe: Callable[[], Any], done: Callable[[Any], bool] = bool,
                 status: Callable[[Any], str] | None = None, timeout: float = 120, interval: float = 1.0) -> Any:
        """Poll observe() until done(result); show progress; on timeout say what was seen last."""
        progress = Progress(description)
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = observe()
                text = status(last) if status else summarize(last)
                if done(last):
                    progress.done(text)
                    return last
            except KubelabError:
                raise
            except Exception as e:  # noqa: BLE001 - a transient API error is shown and retried
                text = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
            progress.update(text)
            if time.monotonic() > deadline:
                raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {description}; last seen: {text}"
                                  + (f"\n{show(last)}" if isinstance(last, dict) else ""))
            time.sleep(interval)

    def wait_ready(self, kind: str, name: str, namespace: str | None = None, timeout: float = 120) -> dict:
        """Ready pods and nodes; rolled-out Deployments, StatefulSets, DaemonSets; complete Jobs."""
        return self.wait_for(f"{kind}/{name} ready", lambda: self.get(kind, name, namespace), is_ready,
                             readiness, timeout=timeout)

    def wait_deleted(self, kind: str, name: str, namespace: str | None = None, timeout: float = 120) -> None:
        self.wait_for(f"{kind}/{name} deleted", lambda: self.get(kind, name, namespace), lambda o: o is None,
                      lambda o: "gone" if o is None else readiness(o), timeout=timeout)

    def wait_phase(self, kind: str, name: str, phase: str, namespace: str | None = None, timeout: float = 120) -> dict:
        return self.wait_for(f"{kind}/{name} in phase {phase}", lambda: self.get(kind, name, namespace),
                             lambda o: bool(o) and o.get("status", {}).get("phase") == phase, readiness, timeout=timeout)

    def wait_until(self, kind: str, name: str, predicate: Callable[[dict], bool], description: str,
                   namespace: str | None = None, timeout: float = 120) -> dict:
        return self.wait_for(description, lambda: self.get(kind, name, namespace),
                             lambda o: bool(o) and predicate(o), readiness, timeout=timeout)

    def sample(self, description: str, observe: Callable[[], Any], until: Callable[[list], bool],
               interval: float = 2.0, timeout: float = 600) -> list[tuple[float, Any]]:
        """Observe every `interval` seconds until `until(samples)`; returns [(seconds, value), ...]."""
        progress = Progress(description)
        samples: list[tuple[float, Any]] = []
        while True:
            samples.append((round(progress.elapsed(), 1), observe()))
            if until(samples):
                progress.done(f"{len(samples)} samples")
                return samples
            progress.update(summarize(samples[-1][1]))
            if progress.elapsed() > timeout:
                raise WaitTimeout(f"timed out after {timeout:.0f} s sampling {description}; last: {samples[-1][1]}")
            time.sleep(interval)

    def record(self, *kinds: str, selector: str | None = None, namespace: str | None = None):
        """Watch these kinds in the background and keep a timeline (see kubelab.recorder)."""
        from .recorder import Recorder
        return Recorder(self, kinds, selector=selector, namespace=namespace)


def resource_get(lab: Lab, resource, name: str, namespace: str | None) -> dict:
    return lab.dynamic.get(resource, name=name, namespace=namespace).to_dict()


def is_ready(obj: dict | None) -> bool:
    if not obj:
        return False
    kind, status, spec = obj.get("kind"), obj.get("status") or {}, obj.get("spec") or {}
    if kind in ("Pod", "Node"):
        return any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        want = spec.get("replicas", 1)
        generation_seen = status.get("observedGeneration", 0) >= obj["metadata"].get("generation", 0)
        updated = status.get("updatedReplicas", want if kind == "ReplicaSet" else 0)
        return generation_seen and status.get("readyReplicas", 0) == want and updated == want and status.get("replicas", 0) == want
    if kind == "DaemonSet":
        want = status.get("desiredNumberScheduled", -1)
        return want >= 0 and status.get("numberReady") == want and status.get("updatedNumberScheduled") == want
    if kind == "Job":
        return any(c["type"] == "Complete" and c["status"] == "True" for c in status.get("conditions") or [])
    if kind == "PersistentVolumeClaim":
        return status.get("phase") == "Bound"
    return True


def readiness(obj: dict | None) -> str:
    """A one-line summary of an object's state, for progress and timeout messages."""
    if not obj:
        return "not found"
    status = obj.get("status") or {}
    kind = obj.get("kind")
    if kind == "Pod":
        waiting = [c["state"]["waiting"].get("reason", "waiting") for c in status.get("containerStatuses") or []
                   if "waiting" in (c.get("state") or {})]
        return f"phase {status.get('phase')}" + (f", {', '.join(waiting)}" if waiting else "") + (", ready" if is_ready(obj) else "")
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        return (f"{status.get('readyReplicas', 0)}/{(obj.get('spec') or {}).get('replicas', 1)} ready, "
                f"{status.get('updatedReplicas', 0)} updated")
    if kind == "DaemonSet":
        return f"{status.get('numberReady', 0)}/{status.get('desiredNumberScheduled', '?')} ready"
    if "phase" in status:
        return f"phase {status['phase']}"
    conditions = [f"{c['type']}={c['status']}" for c in status.get("conditions") or []]
    return ", ".join(conditions) or "present"


def summarize(value: Any) -> str:
    if isinstance(value, dict) and "kind" in value:
        return readiness(value)
    if isinstance(value, list):
        return f"{len(value)} item(s)"
    return str(value)[:120]


def delete_namespace(lab: Lab, namespace: str, timeout: float = 120) -> None:
    """Delete a namespace and wait until it is gone."""
    if begin_namespace_deletion(lab, namespace):
        wait_namespace_gone(lab, namespace, timeout)


def begin_namespace_deletion(lab: Lab, namespace: str) -> bool:
    """Delete a namespace; its pods get no grace period (the namespace is throwaway).
    False if there was no such namespace."""
    from kubernetes.dynamic.exceptions import NotFoundError
    try:
        lab.dynamic.delete(lab.resource("v1/Namespace"), name=namespace)
    except NotFoundError:
        return False
    # A Terminating namespace accepts no new pods, so the controllers cannot replace these.
    lab.dynamic.delete(lab.resource("v1/Pod"), namespace=namespace, field_selector=f"metadata.namespace={namespace}",
                       body={"gracePeriodSeconds": 0})
    return True


def wait_namespace_gone(lab: Lab, namespace: str, timeout: float = 120) -> None:
    """Wait for a Terminating namespace to go, releasing finalizers nobody would ever remove."""
    deadline = time.monotonic() + timeout
    progress = Progress(f"namespace {namespace} deleted")
    while time.monotonic() < deadline:
        ns = lab.get("v1/Namespace", namespace)
        if ns is None:
            progress.done("gone")
            return
        conditions = {c["type"]: c for c in (ns.get("status") or {}).get("conditions") or []}
        if conditions.get("NamespaceFinalizersRemaining", {}).get("status") == "True":
            release_finalizers(lab, namespace)
        progress.update("Terminating")
        time.sleep(1)
    raise WaitTimeout(f"namespace {namespace} still exists after {timeout:.0f} s",
                      f"kubectl get namespace {namespace} -o yaml shows what holds it (status.conditions)")


def release_finalizers(lab: Lab, namespace: str) -> None:
    """Clear the finalizers of every object being deleted in the namespace, of any kind: the
    demo finalizers a notebook set have no controller that would ever remove them."""
    from kubernetes.dynamic.exceptions import DynamicApiError
    from kubernetes.dynamic.resource import ResourceList
    lab.dynamic.resources.invalidate_cache()   # the notebook may have added kinds (CRDs)
    seen = set()
    for resource in lab.dynamic.resources.search(namespaced=True):
        if (isinstance(resource, ResourceList) or "/" in resource.name or (resource.group, resource.name) in seen
                or not {"list", "patch"} <= set(resource.verbs or [])):
            continue
        seen.add((resource.group, resource.name))
        try:
            items = lab.dynamic.get(resource, namespace=namespace).to_dict().get("items", [])
        except DynamicApiError:
            continue
        for obj in items:
            meta = obj["metadata"]
            if meta.get("finalizers") and meta.get("deletionTimestamp"):
                lab.dynamic.patch(resource, name=meta["name"], namespace=namespace,
                                  body={"metadata": {"finalizers": None}}, content_type="application/merge-patch+json")
                print(f"released the finalizers {meta['finalizers']} of {resource.kind}/{meta['name']}")


def close_run(lab: Lab, namespace: str, timeout: float = 120) -> None:
    """End a run: undo what it changed on nodes, delete its namespace and its extra namespaces."""
    restore_nodes(lab.cluster)
    children = [ns["metadata"]["name"] for ns in lab.list("namespaces", selector=f"kubelab.dev/parent={namespace}")]
    deleting = [name for name in [*children, namespace] if begin_namespace_deletion(lab, name)]
    for name in deleting:
        wait_namespace_gone(lab, name, timeout)


def restore_nodes(cluster) -> dict[str, list[str]]:
    """Undo the node changes (kubelet configuration, deleted images) a run made, even one that died."""
    if not isinstance(cluster, KindCluster):
        return {}
    restored = {}
    for name in cluster.node_names():
        changed = Node(cluster, name).restore()
        if changed:
            restored[name] = changed
    return restored


def new_namespace_name(notebook: str | None) -> str:
    base = (notebook or "lab").lower()
    base = "".join(ch if ch.isalnum() else "-" for ch in base).strip("-")[:40] or "lab"
    return f"{base}-{uuid.uuid4().hex[:6]}"


def connect(notebook: str | None = None, config: str | None = None, namespace: str | None = None,
            kubeconfig: str | None = None, context: str | None = None, existing_cluster: bool = False) -> Lab:
    """The default kubelab cluster (created or reused) and a fresh namespace for this run.

    `kubelab run` passes the cluster config and namespace through the environment
    (KUBELAB_CONFIG, KUBELAB_NAMESPACE); otherwise a new namespace is made. Someone else's
    cluster (a kubeconfig and context kubelab did not create) is used only with
    existing_cluster=True: kubelab then creates and deletes its namespace there, nothing else.
    """
    if kubeconfig or context:
        if not existing_cluster:
            raise KubelabError(f"kubelab only runs notebooks on clusters it created, not on {context or kubeconfig}",
                               "pass existing_cluster=True to use that cluster anyway (only a namespace is created there)")
        from .cluster import ExistingCluster
        cluster = ExistingCluster(kubeconfig or "~/.kube/config", context)
    else:
        cluster = KindCluster(config or os.environ.get("KUBELAB_CONFIG") or "default")
        if not cluster.healthy():
            cluster.up()
    namespace = namespace or os.environ.get("KUBELAB_NAMESPACE") or new_namespace_name(notebook)
    lab = Lab(cluster, namespace, notebook)
    lab.create_namespace()
    return lab
