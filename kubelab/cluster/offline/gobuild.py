"""Step kind "go": Go packages built into static binaries, in a wrapper module.

A component names its packages and either a committed wrapper module (`wrapper`: a folder in
clusters/offline, for modules with replace directives that `go install` refuses, and for our
own code) or a module and version, for which the step makes a wrapper module of its own:
`go get` of the exact version, then `go build`. (`go install pkg@version` fails when the module
proxy refuses a module's version list; a wrapper does not ask for it.)
"""

import subprocess
from functools import cache
from pathlib import Path

from kubelab.core.errors import KubelabError
from kubelab.core.paths import OFFLINE
from kubelab.cluster.offline.pins import Component, Pins
from kubelab.cluster.offline.steps import Step, digest_files

KIND_VERSION = 1  # bump when this module changes what a go step produces


def host_arch() -> str:
    """The GOARCH of this machine: the nodes run here, so their binaries are built for it."""
    from kubelab.cluster.offline.oci import host_arch as oci_arch

    return oci_arch()


def go_env(goarch: str) -> dict:
    # Static binaries for Linux; no VCS stamping (module zips carry no VCS data anyway).
    return {"CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false", "GOOS": "linux", "GOARCH": goarch}


@cache
def go_version() -> str:
    try:
        return subprocess.run(
            ["go", "env", "GOVERSION"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise KubelabError(
            "the offline build needs Go (`go` on PATH)", "install Go >= 1.26 from your OS or go.dev"
        ) from None


def key_inputs(component: Component, goarch: str) -> list:
    """What the step's result depends on besides its block: the wrapper's files, Go, the target."""
    inputs: list = [go_version(), goarch]
    wrapper = component.get("wrapper")
    if wrapper:
        folder = OFFLINE / wrapper
        files = [folder / name for name in ("go.mod", "go.sum") if (folder / name).exists()]
        inputs.append(digest_files([*files, *(folder / s for s in component.get("sources", []))]))
    return inputs


def version_ldflags(pins: Pins) -> list[str]:
    """Kubernetes' version variables: without them binaries say v0.0.0-master and kubeadm fails."""
    v = pins.kubernetes
    major, minor = v.lstrip("v").split(".")[:2]
    flags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        for var, value in (
            ("gitVersion", v),
            ("gitMajor", major),
            ("gitMinor", minor),
            ("gitCommit", f"module-k8s.io/kubernetes@{v}"),
            ("gitTreeState", "clean"),
            ("buildDate", pins["kubernetes"]["build_date"]),
        ):
            flags.append(f"-X {pkg}.{var}={value}")
    return flags


def build(step: Step, component: Component, pins: Pins, goarch: str) -> None:
    out = step.workdir / "bin"
    out.mkdir(parents=True, exist_ok=True)
    env = go_env(goarch)
    packages = component.get("packages")
    if component.get("wrapper"):
        module = OFFLINE / component.get("wrapper")
    else:
        module = step.workdir / "module"
        module.mkdir()
        (module / "go.mod").write_text(f"module kubelab.dev/build/{component.name}\n\ngo 1.26\n")
        step.run(
            ["go", "get", *(f"{p}@{component.version}" for p in packages)], cwd=module, env=env
        )
    ldflags = " ".join(
        ["-s", "-w", *(version_ldflags(pins) if component.get("version_ldflags") else [])]
    )
    step.status = f"listing the packages of {', '.join(packages)}"
    deps = step.output(
        ["go", "list", "-deps", "-f", "{{.ImportPath}}", *packages], cwd=module, env=env
    ).split()
    compiled = []

    def count(line: str) -> None:
        # `go build -v` names each package as it compiles it (cached ones are not compiled again)
        if line.strip() in deps_set:
            compiled.append(line)
            step.status = f"{len(compiled)} of {len(deps)} packages compiled"

    deps_set = set(deps)
    step.status = f"0 of {len(deps)} packages compiled"
    names = component.get("binaries")
    if names:
        for package, name in zip(packages, names, strict=True):
            step.run(
                ["go", "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", out / name, package],
                cwd=module,
                env=env,
                watch=count,
            )
    else:
        step.run(
            ["go", "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", f"{out}/", *packages],
            cwd=module,
            env=env,
            watch=count,
        )
    if component.get("version_ldflags") and goarch == host_arch():
        version = step.output([out / "kubeadm", "version", "-o", "short"]).strip()
        if version != pins.kubernetes:
            raise KubelabError(f"kubeadm reports {version!r}, expected {pins.kubernetes}")


def binaries(result: Path) -> dict[str, Path]:
    return {p.name: p for p in (result / "bin").iterdir()} if (result / "bin").is_dir() else {}


def elf_machine(binary: Path) -> str:
    """The architecture an ELF binary is built for (e_machine), to check cross builds."""
    header = binary.read_bytes()[:20]
    if header[:4] != b"\x7fELF":
        raise KubelabError(f"{binary} is not an ELF binary")
    machine = int.from_bytes(header[18:20], "little")
    return {0x3E: "amd64", 0xB7: "arm64"}.get(machine, hex(machine))
