"""Reading and writing objects: apply (server-side), create, get, list, patch, delete, evict, logs.
A part of kubelab.lab.lab.Lab; its methods use the others' (self.api, self.namespace, ...)."""

from __future__ import annotations

import yaml

from kubelab.lab import waits
from kubelab.lab.namespaces import RUN_NAMESPACE
from kubelab.core.errors import KubelabError
from kubelab.lab.templates import PLACEHOLDER, manifest as render

FIELD_MANAGER = "kubelab"


def parse_manifest(manifest: str | dict | list, **values) -> list[dict]:
    """YAML text (one or more documents), a dict, or a list of dicts -> list of objects. With
    values, the text is a template: each `{{ name }}` in it becomes values[name]."""
    # Placeholders without values are refused too (render names them)
    if values or (isinstance(manifest, str) and PLACEHOLDER.search(manifest)):
        if not isinstance(manifest, str):
            raise KubelabError(
                "values were given with a manifest that is not YAML text",
                "pass values only with a YAML template that has {{ name }} placeholders",
            )
        manifest = render(manifest, **values)
    if isinstance(manifest, dict):
        return [manifest]
    if isinstance(manifest, list):
        return list(manifest)
    try:
        docs = [d for d in yaml.safe_load_all(manifest) if d]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise KubelabError(
            f"the manifest is not valid YAML{where}: {getattr(e, 'problem', e)}",
            "check the indentation there (YAML uses spaces, not tabs)",
        ) from None
    for d in docs:
        if not isinstance(d, dict) or "kind" not in d or "apiVersion" not in d:
            raise KubelabError(
                f"a manifest document lacks apiVersion or kind: {str(d)[:120]}",
                "every document needs apiVersion, kind and metadata.name",
            )
    return docs


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


class LabObjects:
    """Reading and writing objects (a part of Lab)."""

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
            candidates = [
                r
                for r in self.dynamic.resources.search()
                if getattr(r, "kind", None)
                and "/" not in (r.name or "/")
                and (
                    r.kind.lower() == key
                    or (r.name or "").lower() == key
                    or key in [s.lower() for s in (r.short_names or [])]
                )
            ]
            # Prefer the preferred version of the core or apps group when a kind exists twice.
            candidates.sort(
                key=lambda r: (not getattr(r, "preferred", True), r.group not in ("", "apps"))
            )
            found = candidates[0] if candidates else None
        if found is None:
            raise KubelabError(
                f"the cluster has no kind of object called {kind!r}", "see `kubectl api-resources`"
            )
        self._resources[key] = found
        return found

    def _ns(self, resource, namespace: str | None) -> str | None:
        return (namespace or self.namespace) if resource.namespaced else None

    def _mark_as_the_runs(self, resource, obj: dict, new: bool) -> dict:
        """A cluster-scoped object the run writes carries the run's ID (its namespace's name) as a
        label, so that closing the run deletes it; in a given namespace, which the run does not
        delete, so does every object it writes there. An object that existed before the run is left unlabelled:
        changing it must not make the run delete it."""
        if obj["kind"] == "Namespace" or (resource.namespaced and not self.given_namespace):
            return obj
        if not new:
            existing = self.get(f"{obj['apiVersion']}/{obj['kind']}", obj["metadata"]["name"])
            if (
                existing is not None
                and (existing["metadata"].get("labels") or {}).get(RUN_NAMESPACE) != self.run_id
            ):
                return obj
        metadata = obj.get("metadata") or {}
        return {
            **obj,
            "metadata": {
                **metadata,
                "labels": {**(metadata.get("labels") or {}), RUN_NAMESPACE: self.run_id},
            },
        }

    def apply(
        self,
        manifest: str | dict | list,
        namespace: str | None = None,
        quiet: bool = False,
        **values,
    ) -> "Applied":
        """Server-side apply of YAML text or dicts; namespaced objects go to this lab's namespace.
        Values fill the text's `{{ name }}` placeholders (`lab.apply(text, image=AGNHOST)`).
        Cluster-scoped objects it creates are deleted when the run closes. Returns the objects as
        stored (a list that a notebook does not display: its "applied kind/name" lines say it)."""
        applied = Applied()
        for obj in parse_manifest(manifest, **values):
            resource = self.resource(f"{obj['apiVersion']}/{obj['kind']}")
            name = obj.get("metadata", {}).get("name")
            if not name:
                raise KubelabError(
                    f"{obj['kind']} without metadata.name", "give every object a name"
                )
            ns = self._ns(resource, namespace or obj.get("metadata", {}).get("namespace"))
            body = self._mark_as_the_runs(resource, obj, new=False)
            result = self.dynamic.server_side_apply(
                resource,
                body=body,
                name=name,
                namespace=ns,
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
            )
            applied.append(result.to_dict())
            if not quiet:
                print(
                    f"applied {obj['kind'].lower()}/{name}"
                    + (f" in {ns}" if ns and ns != self.namespace else "")
                )
        return applied

    def create(
        self,
        manifest: str | dict,
        namespace: str | None = None,
        quiet: bool = False,
        dry_run: bool = False,
        **values,
    ) -> dict:
        """Create (not apply) one object: fails with the API's error if it exists already. With
        dry_run, the API server admits and defaults it but stores nothing: the object returned is
        what it would have stored. Values fill `{{ name }}` placeholders, as for apply."""
        (obj,) = parse_manifest(manifest, **values)
        resource = self.resource(f"{obj['apiVersion']}/{obj['kind']}")
        ns = self._ns(resource, namespace or obj.get("metadata", {}).get("namespace"))
        body = self._mark_as_the_runs(resource, obj, new=True)
        result = self.dynamic.create(
            resource, body=body, namespace=ns, **({"dry_run": "All"} if dry_run else {})
        ).to_dict()
        if not quiet:
            print(
                f"{'would create (dry run)' if dry_run else 'created'} {obj['kind'].lower()}/{result['metadata']['name']}"
                + (f" in {ns}" if ns else "")
            )
        return result

    def http_get(self, path: str, anonymous: bool = False) -> tuple[int, str]:
        """GET a path on the API server: as the cluster admin, or with no credentials at all."""
        import ssl
        import urllib.error
        import urllib.request

        url = self.api.configuration.host + path
        if not anonymous:
            response = self.api.call_api("GET", url)  # the kubeconfig's credentials
            response.read()
            return response.status, response.data.decode()
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = (
            ssl.CERT_NONE
        )  # like curl -k: the point is who we are, not whom we trust
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
            return self.dynamic.get(
                resource, name=name, namespace=self._ns(resource, namespace)
            ).to_dict()
        except NotFoundError:
            return None

    def list(
        self,
        kind: str,
        selector: str | None = None,
        namespace: str | None = None,
        all_namespaces: bool = False,
        field_selector: str | None = None,
    ) -> list[dict]:
        """The objects of a kind in this lab's namespace (or `namespace`, or all), each with its kind."""
        resource = self.resource(kind)
        ns = None if all_namespaces else self._ns(resource, namespace)
        result = self.dynamic.get(
            resource, namespace=ns, label_selector=selector, field_selector=field_selector
        )
        return [waits.complete_item(resource, item) for item in result.to_dict().get("items") or []]

    def delete(
        self,
        kind: str,
        name: str,
        namespace: str | None = None,
        propagation: str | None = None,
        wait: bool = False,
        timeout: float = 120,
    ) -> None:
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
        return self.dynamic.replace(
            resource, body=obj, name=obj["metadata"]["name"], namespace=ns
        ).to_dict()

    def patch(
        self,
        kind: str,
        name: str,
        patch: dict | list,
        namespace: str | None = None,
        type: str = "merge",
        subresource: str | None = None,
    ) -> dict:
        """Patch an object: type "merge", "json" or "strategic"; subresource "status" changes its status."""
        content_type = {
            "merge": "application/merge-patch+json",
            "json": "application/json-patch+json",
            "strategic": "application/strategic-merge-patch+json",
        }[type]
        resource = self.resource(kind)
        ns = self._ns(resource, namespace)
        if subresource:
            if subresource not in resource.subresources:
                raise KubelabError(
                    f"{resource.kind} has no subresource {subresource!r}",
                    f"it has: {', '.join(resource.subresources) or 'none'}",
                )
            resource = resource.subresources[subresource]
        return self.dynamic.patch(
            resource, body=patch, name=name, namespace=ns, content_type=content_type
        ).to_dict()

    def evict(self, pod: str, namespace: str | None = None) -> dict:
        """Ask the Eviction API to evict a pod (what `kubectl drain` does for each pod): returns the
        API's answer; a refusal (429 when a PodDisruptionBudget forbids it) raises its ApiException."""
        from kubernetes import client

        body = client.V1Eviction(
            metadata=client.V1ObjectMeta(name=pod, namespace=namespace or self.namespace)
        )
        result = client.CoreV1Api(self.api).create_namespaced_pod_eviction(
            pod, namespace or self.namespace, body
        )
        return result.to_dict() if hasattr(result, "to_dict") else result

    def logs(
        self,
        pod: str,
        container: str | None = None,
        previous: bool = False,
        tail: int | None = None,
        namespace: str | None = None,
        quiet: bool = False,
    ) -> str:
        """A container's log (the previous, crashed instance's with previous=True; the last `tail`
        lines), printed unless quiet."""
        from kubernetes import client

        text = client.CoreV1Api(self.api).read_namespaced_pod_log(
            pod,
            namespace or self.namespace,
            container=container,
            previous=previous,
            tail_lines=tail,
        )
        if not quiet:
            print(text.rstrip())
        return text

    def server_version(self) -> str:
        from kubernetes import client

        return client.VersionApi(self.api).get_code().git_version
