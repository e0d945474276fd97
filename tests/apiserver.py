"""A real Kubernetes control plane without nodes, for tests of the library's API logic.

etcd, kube-apiserver and kube-controller-manager (only the namespace, garbage-collector and
service-account controllers: no Deployments, Jobs or pods are ever run) from the offline
build's binaries, on free localhost ports, in a temporary folder, with certificates made here
and a static admin token. It starts in a few seconds; `ControlPlane.kubeconfig` is a kubeconfig
for it, and `LocalCluster` is what `Lab(cluster, namespace)` needs of a cluster.

    with ControlPlane(tmp_dir) as plane:
        lab = Lab(LocalCluster(plane), "t-1")
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import yaml

SERVICE_RANGE = "10.96.0.0/16"


def binaries() -> tuple[Path, Path] | None:
    """(kubernetes bin folder, etcd bin folder) of a finished offline build, or None."""
    from kubelab.cluster.offline.build import built_binary

    found = [
        built_binary("kubernetes", "kube-apiserver"),
        built_binary("kubernetes", "kube-controller-manager"),
        built_binary("etcd", "etcd"),
    ]
    return (found[0].parent, found[2].parent) if all(found) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_certificates(folder: Path) -> None:
    """ca.crt, and serving.crt/serving.key for 127.0.0.1 signed by it; sa.key/sa.pub for service account tokens."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def pem_key(key) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject: str, key, issuer_name, issuer_key, ca: bool):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubelab-test-ca")])
    ca = certificate("kubelab-test-ca", ca_key, ca_name, ca_key, ca=True)
    serving_key = ec.generate_private_key(ec.SECP256R1())
    serving = certificate("kube-apiserver", serving_key, ca_name, ca_key, ca=False)
    (folder / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "serving.crt").write_bytes(serving.public_bytes(serialization.Encoding.PEM))
    (folder / "serving.key").write_bytes(pem_key(serving_key))
    service_account_key = ec.generate_private_key(ec.SECP256R1())
    (folder / "sa.key").write_bytes(pem_key(service_account_key))
    (folder / "sa.pub").write_bytes(
        service_account_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager in `folder`; stop() ends them."""

    def __init__(
        self,
        folder: Path,
        kubernetes_bin: Path,
        etcd_bin: Path,
        controllers: str = "namespace,garbagecollector,serviceaccount",
    ):
        self.folder = Path(folder)
        self.kubernetes_bin, self.etcd_bin, self.controllers = kubernetes_bin, etcd_bin, controllers
        self.port = free_port()
        self.kubeconfig = self.folder / "kubeconfig"
        self.token = secrets.token_hex(16)
        self.processes: list[subprocess.Popen] = []
        self.startup_seconds: float | None = None

    def __enter__(self) -> "ControlPlane":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _spawn(self, name: str, argv: list) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "wb")
        process = subprocess.Popen(
            [str(a) for a in argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.folder / f"{name}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )

    def start(self, timeout: float = 60) -> "ControlPlane":
        started = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        write_certificates(self.folder)
        (self.folder / "tokens.csv").write_text(
            f"{self.token},kubelab-admin,kubelab-admin,system:masters\n"
        )
        self._write_kubeconfig()
        client_port, peer_port = free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{client_port}"
        self._spawn(
            "etcd",
            [
                self.etcd_bin / "etcd",
                "--name",
                "test",
                "--data-dir",
                self.folder / "etcd",
                "--listen-client-urls",
                etcd_url,
                "--advertise-client-urls",
                etcd_url,
                "--listen-peer-urls",
                f"http://127.0.0.1:{peer_port}",
                "--initial-advertise-peer-urls",
                f"http://127.0.0.1:{peer_port}",
                "--initial-cluster",
                f"test=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync",  # throwaway data: no need to wait for the disk
                "--log-level",
                "warn",
            ],
        )
        self._spawn(
            "kube-apiserver",
            [
                self.kubernetes_bin / "kube-apiserver",
                "--etcd-servers",
                etcd_url,
                "--bind-address",
                "127.0.0.1",
                "--secure-port",
                self.port,
                "--advertise-address",
                "127.0.0.1",
                "--endpoint-reconciler-type",
                "none",  # no `kubernetes` Service endpoints: nothing runs pods
                "--tls-cert-file",
                self.folder / "serving.crt",
                "--tls-private-key-file",
                self.folder / "serving.key",
                "--client-ca-file",
                self.folder / "ca.crt",
                "--token-auth-file",
                self.folder / "tokens.csv",
                "--authorization-mode",
                "RBAC",
                "--service-account-issuer",
                "https://kubernetes.default.svc",
                "--service-account-key-file",
                self.folder / "sa.pub",
                "--service-account-signing-key-file",
                self.folder / "sa.key",
                "--service-cluster-ip-range",
                SERVICE_RANGE,
                "--cert-dir",
                self.folder / "certs",
            ],
        )
        self._wait_healthy(started + timeout)
        self._spawn(
            "kube-controller-manager",
            [
                self.kubernetes_bin / "kube-controller-manager",
                "--kubeconfig",
                self.kubeconfig,
                "--controllers",
                self.controllers,
                "--leader-elect=false",
                "--bind-address",
                "127.0.0.1",
                "--secure-port",
                "0",
                "--service-account-private-key-file",
                self.folder / "sa.key",
                "--use-service-account-credentials=false",
                "--concurrent-gc-syncs",
                "5",
                "--concurrent-namespace-syncs",
                "5",
            ],
        )
        self.startup_seconds = time.monotonic() - started
        return self

    def _write_kubeconfig(self) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "test",
            "clusters": [
                {
                    "name": "test",
                    "cluster": {
                        "server": f"https://127.0.0.1:{self.port}",
                        "certificate-authority": str(self.folder / "ca.crt"),
                    },
                }
            ],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}],
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))

    def _wait_healthy(self, deadline: float) -> None:
        context = ssl.create_default_context(cafile=str(self.folder / "ca.crt"))
        request = urllib.request.Request(
            f"https://127.0.0.1:{self.port}/readyz",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        last = "no answer"
        while time.monotonic() < deadline:
            for process, name in zip(self.processes, ("etcd", "kube-apiserver")):
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited ({process.returncode}):\n{self.log_tail(name)}"
                    )
            try:
                with urllib.request.urlopen(request, context=context, timeout=2) as response:
                    if response.status == 200:
                        return
            except Exception as error:  # noqa: BLE001 - not up yet
                last = str(error)
            time.sleep(0.1)
        raise RuntimeError(
            f"kube-apiserver not ready in time ({last}):\n{self.log_tail('kube-apiserver')}"
        )

    def stop(self) -> None:
        # Killed, not terminated: the data is thrown away, and kube-apiserver's graceful
        # shutdown (draining watches) would take seconds.
        for process in reversed(self.processes):
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            process.wait()


class LocalCluster:
    """What Lab needs of a cluster, for a ControlPlane: its kubeconfig and a kubectl command."""

    def __init__(self, plane: ControlPlane):
        self.name = "apiserver-test"
        self.kubeconfig = plane.kubeconfig
        self.context = "test"
        self._kubectl = plane.kubernetes_bin / "kubectl"

    def kubectl_command(self, *args: str) -> list[str]:
        return [str(self._kubectl), "--kubeconfig", str(self.kubeconfig), *args]

    def node_names(self) -> list[str]:
        return []  # a control plane without nodes: nothing on nodes to restore


# -- pytest fixtures (registered in conftest.py) ------------------------------------------------

import pytest  # noqa: E402 - the fixtures below are the only pytest-specific part


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory):
    """A ControlPlane for the whole test session; tests skip when the offline build lacks its binaries."""
    found = binaries()
    if found is None:
        pytest.skip(
            "the offline build's kube-apiserver, kube-controller-manager and etcd are not built "
            "(`kubelab images build` builds them into ~/.cache/kubelab/offline)"
        )
    plane = ControlPlane(tmp_path_factory.mktemp("apiserver"), *found)
    try:
        plane.start()
    except Exception:
        plane.stop()
        raise
    print(f"\ncontrol plane up in {plane.startup_seconds:.1f} s at {plane.folder}")
    yield plane
    plane.stop()


@pytest.fixture(scope="session")
def api_lab(control_plane):
    """A Lab on the test control plane, in its own run namespace."""
    from kubelab.lab.lab import Lab

    lab = Lab(LocalCluster(control_plane), "api-test", notebook="pytest")
    lab.create_namespace()
    return lab
