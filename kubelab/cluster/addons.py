"""Optional cluster components (add-ons), installed with one call and ready when it returns.

    lab.addon("metrics-server")            # in a notebook: installs it if needed, waits until it serves

Each add-on is a folder in clusters/addons/<name>/: `addon.toml` (what it is, its manifests, how
to tell it serves) and its manifests, where `@IMAGE:<component>@` stands for an image pinned in
clusters/offline/pins.toml. On a cluster with kubelab's offline images the add-on's images are
built (only now: add-ons are not part of the node image) and loaded into the nodes with
`kind load image-archive`; on a cluster with stock images the nodes pull them as usual.

An add-on is part of the cluster, not of a run: its objects are labelled `kubelab.dev/addon`,
stay when a run ends, and go with `uninstall` (or the cluster).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from kubelab.core.errors import KubelabError
from kubelab.core.paths import CLUSTERS
from kubelab.core.progress import Progress

ADDONS = CLUSTERS / "addons"
LABEL = "kubelab.dev/addon"


@dataclass(frozen=True)
class Addon:
    name: str
    folder: Path
    spec: dict

    @property
    def manifests(self) -> list[Path]:
        return [self.folder / m for m in self.spec.get("manifests", [])]

    def rendered(self, with_module_files: bool = False) -> str:
        """The manifests with every @IMAGE:<component>@ replaced by its pinned name (and, when
        asked, first the manifests the add-on takes from Go modules, e.g. CRDs)."""
        from kubelab.cluster.offline.nodeimage import fill_in_images
        from kubelab.cluster.offline.pins import load

        texts = []
        if with_module_files:
            from kubelab.cluster.offline.build import addon_files

            texts += [
                p.read_text() for p in addon_files(self.name) if p.suffix in (".yaml", ".yml")
            ]
        texts += [fill_in_images(path.read_text(), load()) for path in self.manifests]
        return "\n---\n".join(texts)

    @property
    def from_modules(self) -> bool:
        from kubelab.cluster.offline.pins import load

        return any(
            c.kind == "files" and c.get("addon") == self.name for c in load().components.values()
        )


def available() -> list[str]:
    return (
        sorted(p.name for p in ADDONS.iterdir() if (p / "addon.toml").exists())
        if ADDONS.exists()
        else []
    )


def load(name: str) -> Addon:
    folder = ADDONS / name
    if not (folder / "addon.toml").exists():
        raise KubelabError(
            f"no add-on {name!r} (no {folder / 'addon.toml'})",
            f"add-ons: {', '.join(available()) or 'none'}",
        )
    with open(folder / "addon.toml", "rb") as f:
        spec = tomllib.load(f)
    addon = Addon(name, folder, spec)
    missing = [str(p) for p in addon.manifests if not p.exists()]
    if missing:
        raise KubelabError(f"add-on {name}: manifests missing: {', '.join(missing)}")
    return addon


def install(cluster, name: str, timeout: float = 240) -> Addon:
    """Install an add-on (and first the add-ons it requires) and wait until it serves."""
    addon = load(name)
    for required in addon.spec.get("requires", []):
        install(cluster, required, timeout)
    if getattr(cluster, "node_access", False) and _offline(cluster):
        load_images(cluster, addon)
    if addon.spec.get("node_hosts"):
        write_node_hosts(cluster, addon)
    if (
        addon.manifests or addon.from_modules
    ):  # an add-on may be images only (e.g. a tools image for pods)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as manifest:
            manifest.write(addon.rendered(with_module_files=True))
            manifest.flush()
            wait_for_earlier_removal(cluster, manifest.name, timeout)
            cluster.kubectl(
                "apply",
                "--server-side",
                "--force-conflicts",
                "--field-manager",
                "kubelab-addons",
                "-f",
                manifest.name,
            )
            cluster.kubectl("label", "--overwrite", "-f", manifest.name, f"{LABEL}={name}")
    wait_until_serving(cluster, addon, timeout)
    return addon


def refuse_unless_node_ports_answer(cluster, ports: list[int]) -> None:
    """Raise (KubelabError) unless every node takes a TCP connection on each port."""
    import socket

    from kubelab.cluster.node import internal_ips

    for node in cluster.nodes():  # the cluster's machines, not a run's kubelet-less Node objects
        addresses = internal_ips(node)
        if not addresses:  # (a None host would be this machine's own loopback)
            raise KubelabError(f"node {node['metadata']['name']} reports no InternalIP yet")
        address = addresses[0]
        for port in ports:
            try:
                socket.create_connection((address, port), timeout=2).close()
            except OSError as e:
                raise KubelabError(
                    f"node {node['metadata']['name']} ({address}) port {port}: {e}"
                ) from None


def wait_for_earlier_removal(cluster, manifest: str, timeout: float) -> None:
    """An uninstall does not wait for its objects to go. Applying over objects still being deleted
    would be refused (a terminating CRD takes no new objects) or lost when the deletion
    completes: wait until they are gone. (A rare path, after an uninstall: polled.)"""
    from kubelab.core.progress import Progress

    def terminating() -> list[str]:
        out = cluster.kubectl("get", "--ignore-not-found", "-o", "json", "-f", manifest)
        items = json.loads(out).get("items", []) if out.strip() else []
        return [
            f"{o['kind'].lower()}/{o['metadata']['name']}"
            for o in items
            if o["metadata"].get("deletionTimestamp")
        ]

    left = terminating()
    if not left:
        return
    progress = Progress(f"{len(left)} object(s) of an earlier removal to go")
    deadline = time.monotonic() + timeout
    while left:
        if time.monotonic() > deadline:
            raise KubelabError(
                f"objects of an earlier removal are still being deleted after {timeout:.0f} s: {', '.join(left[:5])}",
                "look at their finalizers (kubectl get -o yaml); kubelab gc releases a run's own",
            )
        progress.update(", ".join(left[:3]))
        time.sleep(1)
        left = terminating()
    progress.done("gone")


def uninstall(cluster, name: str) -> None:
    addon = load(name)
    if addon.spec.get("node_hosts") and getattr(cluster, "node_access", False):
        for node in cluster.node_names():
            for host in addon.spec["node_hosts"]:
                cluster.node_exec(node, ["rm", "-rf", f"{CERTS_D}/{host}"])
    if not (addon.manifests or addon.from_modules):
        return  # its images stay in the nodes, like any image a pod used
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as manifest:
        manifest.write(addon.rendered(with_module_files=True))
        manifest.flush()
        cluster.kubectl("delete", "--ignore-not-found", "--wait=false", "-f", manifest.name)


CERTS_D = "/etc/containerd/certs.d"


def write_node_hosts(cluster, addon: Addon) -> None:
    """Tell every node's containerd how to reach a registry name (its hosts.toml): containerd
    reads these files at each pull, so no restart is needed."""
    if not getattr(cluster, "node_access", False):
        raise KubelabError(
            f"add-on {addon.name} configures the nodes' containerd, and cluster {cluster.name} has no node access",
            "install it on a cluster kubelab created",
        )
    for node in cluster.node_names():
        for host, settings in addon.spec["node_hosts"].items():
            server = settings["server"]
            text = (
                f'server = "{server}"\n\n[host."{server}"]\n  capabilities = ["pull", "resolve"]\n'
            )
            result = cluster.node_exec(
                node,
                ["sh", "-c", f"mkdir -p {CERTS_D}/{host} && cat > {CERTS_D}/{host}/hosts.toml"],
                input=text.encode(),
            )
            if result.returncode != 0:
                raise KubelabError(
                    f"writing {CERTS_D}/{host}/hosts.toml on {node} failed: {result.stderr.decode()[:200]}"
                )


def _offline(cluster) -> bool:
    from kubelab.cluster.images import mode_of

    return mode_of(cluster) == "offline"


def load_images(cluster, addon: Addon) -> None:
    """Build the add-on's images and load them into every node (no registry is needed)."""
    from kubelab.cluster.images import tool
    from kubelab.cluster.offline.build import build_addon

    archives = build_addon(addon.name)
    progress = Progress(f"loading {addon.name}'s images into {cluster.name}")
    for reference, archive in archives.items():
        progress.update(reference)
        result = subprocess.run(
            [
                str(tool("kind", cluster.choice)),
                "load",
                "image-archive",
                str(archive),
                "--name",
                cluster.name,
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise KubelabError(
                f"loading {reference} into cluster {cluster.name} failed: {result.stderr.strip()}"
            )
    progress.done(f"{len(archives)} image(s)")


def wait_until_serving(cluster, addon: Addon, timeout: float) -> None:
    """Until its APIService (if any) is Available, its ready command (a kubectl command) answers,
    and each of its `ready_node_ports` takes connections from this machine on every node: a Pod
    that serves is not yet a NodePort that does (each node's kube-proxy writes its rules a moment
    later), and clients of those add-ons come in through the node ports."""
    progress = Progress(f"add-on {addon.name} to serve")
    deadline = time.monotonic() + timeout
    apiservice, command = addon.spec.get("apiservice"), addon.spec.get("ready_command")
    node_ports = addon.spec.get("ready_node_ports", [])
    last = ""
    while True:
        try:
            if apiservice:
                status = json.loads(
                    cluster.kubectl("get", "apiservice", apiservice, "-o", "json", timeout=20)
                ).get("status", {})
                available = next(
                    (c for c in status.get("conditions", []) if c["type"] == "Available"), {}
                )
                if available.get("status") != "True":
                    raise KubelabError(
                        f"APIService {apiservice}: {available.get('reason', 'not yet Available')}"
                    )
            if command:
                cluster.kubectl(*command, timeout=20)
            if node_ports:
                refuse_unless_node_ports_answer(cluster, node_ports)
            progress.done("serving")
            return
        except KubelabError as e:
            last = str(e).splitlines()[0][:160]
        progress.update(last)
        if time.monotonic() > deadline:
            raise KubelabError(
                f"add-on {addon.name} did not serve within {timeout:.0f} s; last: {last}",
                f"kubectl -n kube-system get pods -l k8s-app={addon.name}; kubectl describe apiservice {apiservice}",
            )
        time.sleep(2)
