"""The offline build recipe: kind, Kubernetes and every image a cluster needs, then the node image.

Each step is cached under a key of its inputs (pins, source files, this recipe), so a second
build does nothing and a changed pin rebuilds only what depends on it. Run it with
`kubelab images build`; `kubelab up` runs it when the offline images are chosen and missing.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import KubelabError
from ..paths import OFFLINE, cache_dir
from . import oci
from .pins import Pins, load
from .steps import Step, StepRunner, digest_files, key_of

GO_MODULE = OFFLINE / "go"
ETCD_MODULE = OFFLINE / "etcd"
SHIM_MODULE = OFFLINE / "shim"
NODE_FILES = OFFLINE / "node"
RECIPE = digest_files([Path(__file__), Path(oci.__file__)])
K8S_COMMANDS = ["kubeadm", "kubelet", "kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"]
DEBIAN_MIRROR = os.environ.get("KUBELAB_DEBIAN_MIRROR", "http://deb.debian.org/debian")
LABEL = "dev.kubelab.recipe"


def go_env() -> dict:
    # Static binaries; no VCS stamping (module zips carry no VCS data anyway).
    return {"CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"}


def version_ldflags(pins: Pins) -> str:
    v = pins.kubernetes
    major, minor = v.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        for var, value in (("gitVersion", v), ("gitMajor", major), ("gitMinor", minor),
                           ("gitCommit", f"module-k8s.io/kubernetes@{v}"), ("gitTreeState", "clean"),
                           ("buildDate", pins["kubernetes"]["build_date"])):
            flags.append(f"-X {pkg}.{var}={value}")
    return " ".join(flags)


def build_kubernetes(pins: Pins):
    def build(step: Step) -> None:
        out = step.workdir / "bin"
        pkgs = [f"k8s.io/kubernetes/cmd/{c}" for c in K8S_COMMANDS] + ["k8s.io/kubernetes/test/images/agnhost"]
        step.run(["go", "build", "-trimpath", "-ldflags", version_ldflags(pins), "-o", f"{out}/", *pkgs],
                 cwd=GO_MODULE, env=go_env())
        version = step.output([out / "kubeadm", "version", "-o", "short"]).strip()
        if version != pins.kubernetes:
            raise KubelabError(f"kubeadm reports {version!r}, expected {pins.kubernetes}")
    return "kubernetes", key_of(RECIPE, pins["kubernetes"], pins["agnhost"],
                                digest_files([GO_MODULE / "go.mod", GO_MODULE / "go.sum"])), build


def build_kubelab_commands(pins: Pins):
    def build(step: Step) -> None:
        out = step.workdir / "bin"
        step.run(["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", f"{out}/", "./cmd/kindnetd", "./cmd/pause"],
                 cwd=GO_MODULE, env=go_env())
        step.run(["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out / "kubelab-runc-shim", "."],
                 cwd=SHIM_MODULE, env=go_env())
    return "kubelab-commands", key_of(RECIPE, digest_files(
        [GO_MODULE / "cmd", GO_MODULE / "go.mod", GO_MODULE / "go.sum", SHIM_MODULE])), build


def build_etcd(pins: Pins):
    def build(step: Step) -> None:
        out = step.workdir / "bin"
        for name, pkg in (("etcd", "go.etcd.io/etcd/server/v3"), ("etcdctl", "go.etcd.io/etcd/etcdctl/v3"),
                          ("etcdutl", "go.etcd.io/etcd/etcdutl/v3")):
            step.run(["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out / name, pkg], cwd=ETCD_MODULE, env=go_env())
    return "etcd", key_of(RECIPE, pins["etcd"], digest_files([ETCD_MODULE])), build


def go_install(name: str, package: str, version: str):
    """A command whose module builds with a plain `go install pkg@version`."""
    def build(step: Step) -> None:
        step.run(["go", "install", "-trimpath", "-ldflags", "-s -w", f"{package}@{version}"],
                 env={**go_env(), "GOBIN": str(step.workdir / "bin")})
    return name, key_of(RECIPE, package, version), build


def build_rootfs(pins: Pins):
    debian = pins["debian"]

    def build(step: Step) -> None:
        if os.geteuid() != 0:
            raise KubelabError("debootstrap needs root", "run the offline build as root (sudo make test)")
        install_debian_package(step, "debootstrap", "debootstrap")
        rootfs = step.workdir / "rootfs"
        step.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(debian["packages"]),
                  debian["suite"], rootfs, DEBIAN_MIRROR])
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for f in (rootfs / junk).glob("*"):
                if f.is_file():
                    f.unlink()
    return "rootfs", key_of(RECIPE, debian, DEBIAN_MIRROR), build


def install_debian_package(step: Step, command: str, package: str) -> None:
    """Install a build tool from Debian's packages when it is missing (the build runs as root)."""
    if shutil.which(command):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise KubelabError(f"'{command}' is not installed", f"apt-get install {package}")
    step.log(f"installing {package}")
    step.run(["apt-get", "update"])
    step.run(["apt-get", "install", "-y", "--no-install-recommends", package], env={"DEBIAN_FRONTEND": "noninteractive"})


class Rootfs:
    """Take files out of the Debian rootfs: binaries with the libraries they load, and the
    symlinks on their way (bookworm's /lib -> usr/lib and the loader's own links)."""

    def __init__(self, step: Step, root: Path):
        self.step, self.root = step, root

    def collect(self, paths: list[str]) -> tuple[dict[str, Path], dict[str, str]]:
        files: dict[str, Path] = {}
        links: dict[str, str] = {}
        for path in paths:
            for p in [path, *self._libraries(path)]:
                self._follow(p, files, links)
        return files, links

    def _follow(self, path: str, files: dict, links: dict) -> None:
        """Walk `path` inside the rootfs, recording each symlink met, and add the file it names."""
        pending = path.strip("/").split("/")
        done: list[str] = []
        for _ in range(64):
            if not pending:
                files["/".join(done)] = self.root.joinpath(*done)
                return
            here = "/".join(done + [pending[0]])
            if (self.root / here).is_symlink():
                target = os.readlink(self.root / here)
                links[here] = target
                base = [] if target.startswith("/") else done
                pending = os.path.normpath("/".join(base + [target.strip("/")])).strip("/").split("/") + pending[1:]
                done = []
            else:
                done.append(pending.pop(0))
        raise KubelabError(f"too many symlinks under {path} in the rootfs")

    def _libraries(self, binary: str) -> list[str]:
        out = self.step.output(["chroot", self.root, "ldd", binary])
        libs = []
        for line in out.splitlines():
            parts = line.split()
            if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
                libs.append(parts[2])
            elif parts and parts[0].startswith("/"):
                libs.append(parts[0])   # the dynamic loader
        return libs


def network_tools(fs: Rootfs) -> oci.Image:
    """iptables (nft backend, as the node uses), conntrack and ip, for kube-proxy and kindnetd."""
    # The match and target extensions are loaded at run time, with libraries of their own (libm).
    extensions = sorted(f"/{p.relative_to(fs.root)}" for p in (fs.root / "usr/lib/x86_64-linux-gnu/xtables").glob("*.so"))
    files, links = fs.collect(["/usr/sbin/xtables-nft-multi", "/usr/sbin/conntrack", "/sbin/ip", *extensions])
    for tool in ("iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"):
        links[f"usr/sbin/{tool}"] = "xtables-nft-multi"
    return oci.Image("", files=files, symlinks=links)


def busybox(fs: Rootfs) -> oci.Image:
    """Debian's static busybox with a link for every applet."""
    applets = fs.step.output(["chroot", fs.root, "/bin/busybox", "--list-full"]).split()
    return oci.Image("", files={"bin/busybox": fs.root / "bin/busybox"},
                     symlinks={a: "/bin/busybox" for a in applets if a != "bin/busybox"})


def image_list(pins: Pins, bins: dict[str, Path], fs: Rootfs) -> list[oci.Image]:
    v = pins.kubernetes
    net, bb = network_tools(fs), busybox(fs)
    lpp = pins["local_path_provisioner"]

    def image(name: str, files: dict, base: oci.Image | None = None, **config) -> oci.Image:
        files = {path: bins[b] if isinstance(b, str) else b for path, b in files.items()}
        if base:
            return oci.Image(name, files={**base.files, **files}, symlinks=dict(base.symlinks), trees=dict(base.trees), **config)
        return oci.Image(name, files=files, **config)

    images = [image(f"registry.k8s.io/{c}:{v}", {f"usr/local/bin/{c}": c}, entrypoint=[f"/usr/local/bin/{c}"])
              for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")]
    images += [
        image(f"registry.k8s.io/kube-proxy:{v}", {"usr/local/bin/kube-proxy": "kube-proxy"}, net,
              entrypoint=["/usr/local/bin/kube-proxy"]),
        image(f"registry.k8s.io/etcd:{pins['etcd']['version'].lstrip('v')}-0",
              {f"usr/local/bin/{c}": c for c in ("etcd", "etcdctl", "etcdutl")}, entrypoint=["/usr/local/bin/etcd"]),
        image(f"registry.k8s.io/coredns/coredns:{pins['coredns']['version']}", {"coredns": "coredns"}, entrypoint=["/coredns"]),
        image(f"registry.k8s.io/pause:{pins['pause']['version']}", {"pause": "pause"}, entrypoint=["/pause"]),
        image(pins["kindnetd"]["image"], {"bin/kindnetd": "kindnetd"}, net, entrypoint=["/bin/kindnetd"]),
        image(lpp["image"], {"usr/bin/local-path-provisioner": "local-path-provisioner"}, entrypoint=["local-path-provisioner"]),
        image(lpp["helper_image"], {}, bb, cmd=["sh"]),
        image(pins["busybox"]["image"], {}, bb, cmd=["sh"]),
        image(f"registry.k8s.io/e2e-test-images/agnhost:{pins['agnhost']['version']}", {"agnhost": "agnhost"}, bb,
              entrypoint=["/agnhost"]),
    ]
    return images


def archive_name(reference: str) -> str:
    return reference.replace("/", "_").replace(":", "_") + ".tar"


def build_images(pins: Pins, bin_dirs: list[Path], rootfs: Path, image_names_kubeadm: list[str], key_inputs: list):
    def build(step: Step) -> None:
        bins = {p.name: p for d in bin_dirs for p in (d / "bin").iterdir()}
        fs = Rootfs(step, rootfs)
        images = image_list(pins, bins, fs)
        names = {i.name for i in images}
        missing = [n for n in image_names_kubeadm if n not in names]
        if missing:
            raise KubelabError(f"kubeadm needs images this recipe does not build: {missing}")
        out = step.workdir / "images"
        out.mkdir()
        for image in images:
            step.log(f"writing {image.name}")
            oci.write_archive(image, out / archive_name(image.name))
        (step.workdir / "images.json").write_text(json.dumps(sorted(names), indent=1))
    return "images", key_of(RECIPE, pins.raw, key_inputs), build


def kubeadm_images(kubeadm: Path, pins: Pins) -> list[str]:
    out = subprocess.run([kubeadm, "config", "images", "list", "--kubernetes-version", pins.kubernetes],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


# --- the node image ---------------------------------------------------------------------------

def docker(*args: str, capture: bool = True) -> str:
    result = subprocess.run(["docker", *args], capture_output=capture, text=True)
    if result.returncode != 0:
        raise KubelabError(f"docker {' '.join(args[:2])} failed: {(result.stderr or '').strip()}")
    return result.stdout if capture else ""


def image_label(image: str) -> str | None:
    result = subprocess.run(["docker", "image", "inspect", "-f", "{{ index .Config.Labels \"%s\" }}" % LABEL, image],
                            capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def assemble_node(step: Step, pins: Pins, rootfs: Path, bins: dict[str, Path], images_dir: Path, key: str) -> None:
    root = step.workdir / "rootfs"
    step.run(["cp", "-a", "--reflink=auto", rootfs, root])
    shutil.copytree(NODE_FILES, root, dirs_exist_ok=True, symlinks=True, ignore=shutil.ignore_patterns("README.md"))
    substitutions = {
        "@PAUSE_IMAGE@": f"registry.k8s.io/pause:{pins['pause']['version']}",
        "@LOCAL_PATH_PROVISIONER_IMAGE@": pins["local_path_provisioner"]["image"],
        "@LOCAL_PATH_HELPER_IMAGE@": pins["local_path_provisioner"]["helper_image"],
        "@KINDNETD_IMAGE@": pins["kindnetd"]["image"],
    }
    for rel in ("etc/containerd/config.toml", "kind/manifests/default-storage.yaml", "kind/manifests/default-cni.yaml"):
        path = root / rel
        text = path.read_text()
        for k, val in substitutions.items():
            text = text.replace(k, val)
        path.write_text(text)
    for c in ("kubeadm", "kubelet", "kubectl"):
        install(bins[c], root / "usr/bin" / c)
    install(bins["crictl"], root / "usr/local/bin/crictl")
    # The runc shim in front of Debian's runc; a no-op where the capability is there.
    step.run(["chroot", root, "dpkg-divert", "--local", "--rename", "--divert", "/usr/sbin/runc.real", "--add", "/usr/sbin/runc"])
    install(bins["kubelab-runc-shim"], root / "usr/sbin/runc")
    (root / "opt/cni").mkdir(parents=True, exist_ok=True)
    (root / "opt/cni/bin").symlink_to("/usr/lib/cni")
    (root / "kind/version").write_text(pins.kubernetes + "\n")
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / "kubelet.service").unlink(missing_ok=True)
    (wants / "kubelet.service").symlink_to("/etc/systemd/system/kubelet.service")
    for unit in ("apt-daily.timer", "apt-daily-upgrade.timer", "getty@tty1.service", "console-getty.service",
                 "systemd-firstboot.service", "e2scrub_all.timer", "fstrim.timer"):
        mask = root / "etc/systemd/system" / unit
        mask.unlink(missing_ok=True)
        mask.symlink_to("/dev/null")
    (root / "etc/machine-id").write_text("")
    preload_images(step, root / "var/lib/containerd", images_dir)
    step.log("importing the rootfs into docker")
    temp_tag = f"kubelab/node-build:{key}"
    with subprocess.Popen(["tar", "-C", root, "--numeric-owner", "-cf", "-", "."], stdout=subprocess.PIPE) as tar:
        step.run(["docker", "import",
                  "--change", 'ENTRYPOINT ["/usr/local/bin/entrypoint"]',
                  "--change", "ENV container=docker",
                  "--change", f"LABEL {LABEL}={key}",
                  "-", temp_tag], stdin=tar.stdout)
    docker("tag", temp_tag, pins.node_image)
    docker("rmi", temp_tag)


def install(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)
    dest.chmod(0o755)


def preload_images(step: Step, containerd_root: Path, images_dir: Path) -> None:
    """Import every image into the node's containerd store (namespace k8s.io), unpacked lazily.

    A private containerd on this host writes straight into the node's /var/lib/containerd; the
    node's CRI unpacks an image the first time a container uses it.
    """
    if not shutil.which("containerd") or not shutil.which("ctr"):
        raise KubelabError("containerd and ctr are needed to preload images", "apt-get install containerd")
    state = Path(tempfile.mkdtemp(prefix="kubelab-containerd-"))
    sock = state / "containerd.sock"
    config = state / "config.toml"
    config.write_text(
        'version = 2\n'
        f'root = "{containerd_root}"\nstate = "{state / "state"}"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{sock}"\n'
    )
    log = open(step.log_path, "a")
    daemon = subprocess.Popen(["containerd", "--config", config], stdout=log, stderr=log)
    try:
        for _ in range(100):
            if sock.exists() and subprocess.run(["ctr", "-a", sock, "version"], capture_output=True).returncode == 0:
                break
            if daemon.poll() is not None:
                raise KubelabError("the build's private containerd exited at start")
            time.sleep(0.1)
        for archive in sorted(images_dir.glob("*.tar")):
            step.run(["ctr", "-a", sock, "-n", "k8s.io", "images", "import", "--no-unpack", "--all-platforms", archive])
        listed = step.output(["ctr", "-a", sock, "-n", "k8s.io", "images", "ls", "-q"])
        step.log("preloaded:\n" + listed)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        log.close()
        shutil.rmtree(state, ignore_errors=True)


def build(force_node: bool = False, echo=None) -> str:
    """Build (or reuse) everything; return the node image reference."""
    pins = load()
    runner = StepRunner(cache_dir(), **({"echo": echo} if echo else {}))
    runner.echo(f"offline build for Kubernetes {pins.kubernetes}, kind {pins['kind']['version']} (cache: {runner.root})")
    for tool in ("go", "docker"):
        if not shutil.which(tool):
            raise KubelabError(f"the offline build needs '{tool}' on PATH", "run scripts/prepare-host.sh (it installs Docker); Go >= 1.26 from your OS or go.dev")
    lpp = pins["local_path_provisioner"]
    go_steps = [
        build_kubernetes(pins),
        build_etcd(pins),
        go_install("coredns", "github.com/coredns/coredns", pins["coredns"]["version"]),
        go_install("crictl", "sigs.k8s.io/cri-tools/cmd/crictl", pins["crictl"]["version"]),
        go_install("kind", "sigs.k8s.io/kind", pins["kind"]["version"]),
        go_install("local-path-provisioner", "github.com/rancher/local-path-provisioner", lpp["version"]),
        build_kubelab_commands(pins),
    ]
    started = time.monotonic()
    # debootstrap waits on the network and dpkg while Go keeps both cores busy.
    with ThreadPoolExecutor(max_workers=1) as pool:
        rootfs_future = pool.submit(runner.run, *build_rootfs(pins))
        bin_dirs = [runner.run(*s) for s in go_steps]
        rootfs = rootfs_future.result() / "rootfs"
    go_keys = [d.name for d in bin_dirs]
    kubeadm = bin_dirs[0] / "bin" / "kubeadm"
    needed = kubeadm_images(kubeadm, pins)
    images = runner.run(*build_images(pins, bin_dirs, rootfs, needed, [go_keys, rootfs.parent.name]))
    bins = {p.name: p for d in bin_dirs for p in (d / "bin").iterdir()}

    node_key = key_of(RECIPE, pins.raw, images.name, go_keys, digest_files([NODE_FILES]))
    if not force_node and image_label(pins.node_image) == node_key:
        runner.echo(f"  node-image: cached ({pins.node_image})")
        runner.timings["node-image"] = 0.0
    else:
        work = Path(tempfile.mkdtemp(prefix="node-image-", dir=runner.root))
        try:
            runner.attempt("node-image", node_key, work,
                           lambda step: assemble_node(step, pins, rootfs, bins, images / "images", node_key))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    runner.timings["total"] = time.monotonic() - started
    (runner.root / "last-build.json").write_text(json.dumps({"node_image": pins.node_image, "timings": runner.timings}, indent=1))
    return pins.node_image


def built_tool(name: str) -> Path | None:
    """kind or kubectl from a finished build, if there is one."""
    pins = load()
    step = {"kind": go_install("kind", "sigs.k8s.io/kind", pins["kind"]["version"]),
            "kubectl": build_kubernetes(pins)}[name]
    path = StepRunner(cache_dir(), echo=lambda s: None).result_dir(step[0], step[1]) / "bin" / name
    return path if path.exists() else None
