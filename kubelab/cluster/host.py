"""Facts about this host that decide what kubelab can do: Docker, registries, tools."""

import functools
import shutil
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from kubelab.core.errors import KubelabError

PREPARE = "scripts/prepare-host.sh"


def require_docker() -> None:
    """Raise a clear error unless a Docker engine answers."""
    if not shutil.which("docker"):
        raise KubelabError(
            "Docker is not installed (no 'docker' on PATH)",
            f"run {PREPARE} (installs Docker Engine on Debian/Ubuntu), or install Docker Desktop",
        )
    try:
        result = subprocess.run(
            ["docker", "info", "-f", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        raise KubelabError(
            "the Docker engine did not answer within 20 s", "restart Docker, then try again"
        ) from None
    if result.returncode != 0 or not result.stdout.strip():
        detail = (result.stderr or "").strip().splitlines()[-1:] or [""]
        raise KubelabError(
            f"the Docker engine is not running ({detail[0]})",
            f"start it: {PREPARE} (or 'sudo systemctl start docker', or open Docker Desktop)",
        )


@dataclass(frozen=True)
class Reachability:
    reachable: bool
    reason: str


REGISTRIES = ("registry.k8s.io", "registry-1.docker.io")


@functools.cache
def registry_reachability(timeout: float = 3.0) -> Reachability:
    """Whether container registries can be reached: name lookup, then a TCP connection, bounded in time.
    Asked once per process: a run that prepares several configs decides the same way for each."""

    def probe(host: str) -> str | None:
        try:
            addr = socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)[0][4]
        except OSError as e:
            return f"{host} does not resolve ({e.strerror or e})"
        try:
            with socket.create_connection(addr[:2], timeout=timeout):
                return None
        except OSError as e:
            return f"{host}:443 cannot be reached ({e.strerror or e})"

    with ThreadPoolExecutor(max_workers=len(REGISTRIES)) as pool:
        futures = [pool.submit(probe, h) for h in REGISTRIES]
        problems = []
        for host, future in zip(REGISTRIES, futures):
            try:
                problem = future.result(timeout=timeout + 1)
            except FutureTimeout:
                problem = f"{host} did not answer within {timeout:.0f} s"
            if problem:
                problems.append(problem)
    if problems:
        return Reachability(False, "; ".join(problems))
    return Reachability(True, f"{' and '.join(REGISTRIES)} answer")
