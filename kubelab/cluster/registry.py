"""Push an OCI image archive to a registry over the distribution API (HTTP), from this machine.

    digest = registry.push(archive, "172.18.0.4:30500", "demo", "1")   # -> "sha256:..."

For the registry add-on: images go from the host straight into the cluster's own registry, with
no Docker daemon settings to change (Docker pushes over plain HTTP only to 127.0.0.0/8).
The archive is one `kubelab.cluster.offline.oci.write_archive` writes (index.json, blobs/sha256/...).
"""

from __future__ import annotations

import json
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from kubelab.core.errors import KubelabError


def push(archive: Path, registry: str, repository: str, tag: str, timeout: float = 60) -> str:
    """Upload the archive's blobs (those the registry lacks) and its manifest; return the
    manifest's digest, which a pod's status.containerStatuses[].imageID then names."""
    base = f"http://{registry}/v2/{repository}"
    with tarfile.open(archive) as tar:

        def blob(digest: str) -> bytes:
            return tar.extractfile(f"blobs/sha256/{digest.split(':', 1)[1]}").read()

        (entry,) = json.loads(tar.extractfile("index.json").read())["manifests"]
        manifest = blob(entry["digest"])
        parsed = json.loads(manifest)
        for digest in [
            parsed["config"]["digest"],
            *(layer["digest"] for layer in parsed["layers"]),
        ]:
            if _request("HEAD", f"{base}/blobs/{digest}", timeout=timeout, ok=(200, 404))[0] == 200:
                continue
            _, headers, _ = _request("POST", f"{base}/blobs/uploads/", timeout=timeout, ok=(202,))
            location = urllib.parse.urljoin(f"http://{registry}", headers["Location"])
            separator = "&" if "?" in location else "?"
            _request(
                "PUT",
                f"{location}{separator}digest={urllib.parse.quote(digest)}",
                blob(digest),
                {"Content-Type": "application/octet-stream"},
                timeout=timeout,
                ok=(201,),
            )
        _, headers, _ = _request(
            "PUT",
            f"{base}/manifests/{tag}",
            manifest,
            {"Content-Type": entry["mediaType"]},
            timeout=timeout,
            ok=(201,),
        )
    return headers.get("Docker-Content-Digest") or entry["digest"]


def _request(
    method: str,
    url: str,
    data: bytes | None = None,
    headers: dict | None = None,
    timeout: float = 60,
    ok: tuple[int, ...] = (200,),
) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, head, body = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        status, head, body = e.code, dict(e.headers), e.read()
    except OSError as e:
        raise KubelabError(
            f"{method} {url} failed: {e}",
            "is the registry add-on installed and its NodePort reachable?",
        ) from None
    if status not in ok:
        raise KubelabError(
            f"{method} {url} answered {status}: {body[:300].decode(errors='replace')}"
        )
    return status, head, body


def manifest_digest(archive: Path) -> str:
    """The digest of the archive's manifest: what `push` will return, known before pushing."""
    with tarfile.open(archive) as tar:
        (entry,) = json.loads(tar.extractfile("index.json").read())["manifests"]
    return entry["digest"]


def delete(registry: str, repository: str, digest: str, timeout: float = 30) -> bool:
    """Delete a manifest (and so every tag naming it) from a registry that allows deletes; True
    if it was there, False if the registry no longer had it."""
    status, _, _ = _request(
        "DELETE",
        f"http://{registry}/v2/{repository}/manifests/{digest}",
        timeout=timeout,
        ok=(202, 404),
    )
    return status == 202


def tags(registry: str, repository: str, timeout: float = 30) -> list[str]:
    """The tags a repository has in the registry ([] if it has none, or is unknown)."""
    status, _, body = _request(
        "GET", f"http://{registry}/v2/{repository}/tags/list", timeout=timeout, ok=(200, 404)
    )
    return (json.loads(body).get("tags") or []) if status == 200 else []
