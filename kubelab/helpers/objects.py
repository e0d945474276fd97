"""Plain facts read off objects (dicts, as `lab.get` and `lab.list` return them), and whether the
API server's admission refuses one:

    names(lab.list("pods", selector="app=web"))          # ["web-5d9c-abcde", ...], in order
    newcomers(pods, before)                               # the pods whose names are not in before
    live(pods)                                            # the ones not being deleted
    by_name(leases)                                       # {name: lease}
    by_name(leases, "spec.renewTime")                     # {name: its renewTime}
    label_prefixes(node["metadata"]["labels"])            # {"kubernetes.io", "node.k8s.io", ...}
    annotation(deployment, "deployment.kubernetes.io/revision")   # "2", or None
    admission_refuses(lab, secret, "exceeded quota", namespace=ns) # a dry-run create, refused?
"""

from __future__ import annotations

from collections.abc import Iterable

from kubelab.lab.checks import field


def names(objects: Iterable[dict]) -> list[str]:
    """The objects' metadata.name, in the order given."""
    return [obj["metadata"]["name"] for obj in objects]


def newcomers(objects: Iterable[dict], before: Iterable[str]) -> list[dict]:
    """The objects whose names are not among `before` (the names seen earlier)."""
    seen = set(before)
    return [obj for obj in objects if obj["metadata"]["name"] not in seen]


def live(objects: Iterable[dict]) -> list[dict]:
    """The objects not being deleted (no metadata.deletionTimestamp)."""
    return [obj for obj in objects if not obj["metadata"].get("deletionTimestamp")]


def by_name(objects: Iterable[dict], path: str | None = None) -> dict:
    """{name: object}, or {name: the object's field at `path`} ("spec.renewTime")."""
    return {obj["metadata"]["name"]: obj if path is None else field(obj, path) for obj in objects}


def label_prefixes(labels: dict[str, str]) -> set[str]:
    """The prefixes of the prefixed label (or annotation) keys: "kubernetes.io" of
    "kubernetes.io/hostname"; keys without a prefix have none."""
    return {key.split("/")[0] for key in labels if "/" in key}


def annotation(obj: dict | None, key: str) -> str | None:
    """The object's annotation `key`, or None (also when it has no annotations at all)."""
    return (((obj or {}).get("metadata") or {}).get("annotations") or {}).get(key)


def admission_refuses(lab, manifest, *words: str, namespace: str | None = None) -> bool:
    """Whether creating the object is refused with an error that mentions every word. A dry
    run: it goes through admission (quotas, webhooks, validation) and stores nothing."""
    try:
        lab.create(manifest, namespace=namespace, dry_run=True, quiet=True)
    except Exception as error:  # noqa: BLE001 - any refusal is judged by its words
        return all(word in str(error) for word in words)
    return False
