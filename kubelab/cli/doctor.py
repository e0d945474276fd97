"""`kubelab doctor`: check what a kind cluster needs from this host, and say how to fix each gap."""

import os
import shutil
import subprocess
from collections.abc import Callable

from kubelab.core.errors import KubelabError
from kubelab.cluster.host import PREPARE, require_docker
from kubelab.core.paths import cache_dir

Check = Callable[[], str]  # returns what it found; raises KubelabError on a problem


def check_docker() -> str:
    require_docker()
    out = subprocess.run(
        ["docker", "version", "-f", "{{.Server.Version}}"], capture_output=True, text=True
    )
    return f"engine {out.stdout.strip()} answers"


def check_privileged() -> str:
    probe = subprocess.run(["docker", "image", "inspect", "kubelab/probe:1"], capture_output=True)
    if probe.returncode != 0:
        return f"not probed (no probe image; {PREPARE} makes one)"
    result = subprocess.run(
        ["docker", "run", "--rm", "--privileged", "kubelab/probe:1", "/bin/true"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise KubelabError(
            f"privileged containers fail: {result.stderr.strip()[:200]}",
            f"run {PREPARE} as root (it installs a runc shim where the host lacks CAP_SYS_RESOURCE)",
        )
    return "privileged containers start"


def check_tool(name: str) -> Check:
    def check() -> str:
        from kubelab.cluster.images import ImageChoice, tool

        try:
            path = tool(name, ImageChoice("offline", None, ""))
        except KubelabError as e:
            raise KubelabError(f"{name} not found", e.fix) from None
        return str(path)

    return check


def check_disk() -> str:
    free = shutil.disk_usage(cache_dir()).free / 2**30
    docker_root = subprocess.run(
        ["docker", "info", "-f", "{{.DockerRootDir}}"], capture_output=True, text=True
    ).stdout.strip()
    if docker_root and os.path.exists(docker_root):
        free = min(free, shutil.disk_usage(docker_root).free / 2**30)
    if free < 15:
        raise KubelabError(
            f"only {free:.1f} GiB free (the offline build and a 3-node cluster need about 15 GiB)",
            "free disk space: docker system prune, or remove ~/.cache/kubelab",
        )
    return f"{free:.0f} GiB free"


def check_memory() -> str:
    with open("/proc/meminfo") as f:
        info = {line.split(":")[0]: int(line.split()[1]) for line in f}
    avail = info["MemAvailable"] / 2**20
    if avail < 4:
        raise KubelabError(
            f"only {avail:.1f} GiB of memory available (a 3-node cluster needs about 3 GiB)",
            "close other programs or give Docker more memory",
        )
    return f"{avail:.0f} GiB available"


def check_inotify() -> str:
    def read(name: str) -> int:
        with open(f"/proc/sys/fs/inotify/{name}") as f:
            return int(f.read())

    watches, instances = read("max_user_watches"), read("max_user_instances")
    if watches < 524288 or instances < 512:
        raise KubelabError(
            f"inotify limits are low (max_user_watches {watches}, max_user_instances {instances})",
            "sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512",
        )
    return f"max_user_watches {watches}, max_user_instances {instances}"


CHECKS: list[tuple[str, Check]] = [
    ("docker", check_docker),
    ("privileged containers", check_privileged),
    ("kind", check_tool("kind")),
    ("kubectl", check_tool("kubectl")),
    ("disk", check_disk),
    ("memory", check_memory),
    ("inotify", check_inotify),
]


def run_checks(checks=CHECKS) -> bool:
    ok = True
    for name, check in checks:
        try:
            print(f"  ok       {name}: {check()}")
        except KubelabError as e:
            ok = False
            print(f"  PROBLEM  {name}: {e.what}")
            if e.fix:
                print(f"           fix: {e.fix}")
    print(
        "all checks passed"
        if ok
        else "some checks failed: fix them, then run 'kubelab doctor' again"
    )
    return ok
