"""The cluster around the namespace: its nodes, scratch folders on them, the API server's address, add-ons.
A part of kubelab.lab.lab.Lab; its methods use the others' (self.api, self.namespace, ...)."""

from __future__ import annotations

import os

from kubelab.core.errors import KubelabError


class LabNodes:
    """The cluster around the namespace (a part of Lab)."""

    def internal_ip(self, node_name: str) -> str:
        """A node's InternalIP: by its full name, or as in lab.node() ('worker')."""
        node = self.get("v1/Node", node_name) or self.get(
            "v1/Node", f"{getattr(self.cluster, 'name', '')}-{node_name}"
        )
        if node is None:
            raise KubelabError(f"no node called {node_name!r}", "lab.nodes() lists them")
        from kubelab.cluster.node import internal_ips

        addresses = internal_ips(node)
        if not addresses:
            raise KubelabError(
                f"node {node['metadata']['name']} reports no InternalIP", "see its status.addresses"
            )
        return addresses[0]

    def node(self, name: str):
        """A node's container: 'control-plane', 'worker', 'worker2' or the full node name."""
        from kubelab.cluster.node import Node

        full = name if name.startswith(self.cluster.name + "-") else f"{self.cluster.name}-{name}"
        return Node(self.cluster, full)

    def nodes(self) -> list[dict]:
        """The cluster's Nodes, less Node objects another run made for its own experiment (a Node no
        kubelet serves, labelled with that run's namespace): runs side by side do not see them."""
        from kubelab.lab.namespaces import RUN_NAMESPACE

        return [
            n
            for n in self.list("nodes")
            if n["metadata"].get("labels", {}).get(RUN_NAMESPACE, self.namespace) == self.namespace
        ]

    def scratch_dir(self, node: str, name: str = "data", mode: str = "0755") -> str:
        """A fresh, empty directory on a node ('worker', or a full node name), for hostPath and
        `local` volumes; returns its path there (under /var/lib/kubelab-scratch/<namespace>/). It
        belongs to the run, like its namespace: closing the run removes it from every node, even
        after a failure, and `kubelab gc` removes those of runs that died."""
        from kubelab.lab.namespaces import scratch_dir

        return scratch_dir(self.cluster, self.node(node).name, self.namespace, name, mode)

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
        if name not in self._addons_said:  # one line per add-on, however often it is asked for
            print(f"add-on {name}: ready")
            self._addons_said.add(name)
        return addon

    def api_address(self) -> tuple[str, int]:
        """(host, port) where this notebook reaches the API server (kind maps it to the machine)."""
        from urllib.parse import urlsplit

        url = urlsplit(self.api.configuration.host)
        return url.hostname, url.port or 443


def refuse_undeclared(field: str, name: str, call: str) -> None:
    """Under `kubelab run`, a notebook uses only the add-ons and extra clusters its metadata declares:
    the run built them before it started (KUBELAB_DECLARED_<FIELD>, comma-separated)."""
    declared = os.environ.get(f"KUBELAB_DECLARED_{field.upper()}")
    if declared is None:
        return  # not under `kubelab run` (JupyterLab, a script): anything may be built on the spot
    if name not in declared.split(","):
        raise KubelabError(
            f"{call}({name!r}): the notebook does not declare it in metadata.kubelab.{field} "
            f"(declared: {declared or 'none'})",
            f'add "{name}" to metadata.kubelab.{field}, so that it is built before the run starts',
        )
