"""Credentials bound to one namespace, as a workshop host gives each attendee: a ServiceAccount
there, a RoleBinding to the ClusterRole `edit` (nothing cluster-scoped), and a kubeconfig that
holds a token for it. Made with the admin's cluster (a backend with kubectl).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from kubelab.core.errors import KubelabError


def namespace_kubeconfig(
    cluster, namespace: str, path: Path, user: str = "attendee", hours: int = 8
) -> Path:
    """Write to `path` a kubeconfig for ServiceAccount `user` in `namespace`, with role `edit`
    there only; the namespace is created if missing. Returns the path."""
    cluster.kubectl("create", "namespace", namespace, check=False)
    manifest = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": user, "namespace": namespace},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": f"{user}-edit", "namespace": namespace},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "edit",
            },
            "subjects": [{"kind": "ServiceAccount", "name": user, "namespace": namespace}],
        },
    ]
    applied = subprocess.run(
        cluster.kubectl_command("apply", "-f", "-"),
        input=yaml.safe_dump_all(manifest),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if applied.returncode != 0:
        raise KubelabError(
            f"making credentials for namespace {namespace} failed: {applied.stderr.strip()}",
            "these need an admin's kubeconfig (RoleBindings and tokens)",
        )
    token = cluster.kubectl(
        "create", "token", user, "-n", namespace, f"--duration={hours}h"
    ).strip()
    admin = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    context = next(
        (
            c
            for c in admin["contexts"]
            if c["name"] == (cluster.context or admin["current-context"])
        ),
        None,
    )
    if context is None:
        raise KubelabError(
            f"making credentials for namespace {namespace} failed: no context in {cluster.kubeconfig}",
            "give a kubeconfig with a current context",
        )
    server = next(c for c in admin["clusters"] if c["name"] == context["context"]["cluster"])
    name = f"{user}@{namespace}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [server],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [
            {
                "name": name,
                "context": {"cluster": server["name"], "user": name, "namespace": namespace},
            }
        ],
        "current-context": name,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path
