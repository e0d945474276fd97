"""Tests of the parts that need no cluster: the image writer, the cached steps, choices, errors."""

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from kubelab import cli
from kubelab.cluster import config_path, load_config
from kubelab.cli.doctor import run_checks
from kubelab.core.errors import KubelabError
from kubelab.cluster.images import choose
from kubelab.cluster.offline import oci
from kubelab.cluster.offline.debian import Rootfs
from kubelab.cluster.offline.steps import StepRunner


def test_oci_archive_names_the_image_for_containerd_and_docker(tmp_path):
    binary = tmp_path / "hello"
    binary.write_bytes(b"#!/bin/sh\necho hi\n")
    binary.chmod(0o755)
    out = tmp_path / "image.tar"
    oci.write_archive(
        oci.Image(
            "docker.io/library/busybox:1.37.0",
            files={"bin/hello": binary},
            symlinks={"usr/bin/hi": "/bin/hello"},
            entrypoint=["/bin/hello"],
        ),
        out,
    )
    with tarfile.open(out) as tar:
        index = json.load(tar.extractfile("index.json"))
        docker_manifest = json.load(tar.extractfile("manifest.json"))
        (entry,) = index["manifests"]
        assert (
            entry["annotations"]["io.containerd.image.name"] == "docker.io/library/busybox:1.37.0"
        )
        assert docker_manifest[0]["RepoTags"] == ["busybox:1.37.0"]
        manifest = json.load(tar.extractfile(f"blobs/sha256/{entry['digest'].split(':')[1]}"))
        config = json.load(
            tar.extractfile(f"blobs/sha256/{manifest['config']['digest'].split(':')[1]}")
        )
        assert config["config"]["Entrypoint"] == ["/bin/hello"]
        layer_gz = tar.extractfile(
            f"blobs/sha256/{manifest['layers'][0]['digest'].split(':')[1]}"
        ).read()
    import gzip

    layer = gzip.decompress(layer_gz)
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer).hexdigest()]
    with tarfile.open(fileobj=io.BytesIO(layer)) as files:
        members = {m.name: m for m in files.getmembers()}
    assert members["bin/hello"].mode & 0o111 and members["usr/bin/hi"].linkname == "/bin/hello"
    assert members["tmp"].mode == 0o1777 and "etc/passwd" in members


def test_oci_archive_names_its_architecture(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    out = tmp_path / "arm.tar"
    oci.write_archive(oci.Image("example.com/x:1", files={"f": f}, architecture="arm64"), out)
    with tarfile.open(out) as tar:
        (entry,) = json.load(tar.extractfile("index.json"))["manifests"]
    assert entry["platform"] == {"architecture": "arm64", "os": "linux"}
    assert oci.host_arch() in ("amd64", "arm64")


def test_oci_archive_is_reproducible(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    a, b = tmp_path / "a.tar", tmp_path / "b.tar"
    for out in (a, b):
        oci.write_archive(oci.Image("example.com/x:1", files={"f": f}), out)
    assert a.read_bytes() == b.read_bytes()


def test_steps_are_cached_by_key(tmp_path):
    runner = StepRunner(tmp_path, echo=lambda s: None)
    calls = []

    def build(step):
        calls.append(1)
        (step.workdir / "out").write_text("done")

    first = runner.run("thing", "0123456789abcdef", build)
    second = runner.run("thing", "0123456789abcdef", build)
    assert first == second and (first / "out").read_text() == "done" and len(calls) == 1
    # A new key replaces the old result instead of piling up.
    third = runner.run("thing", "fedcba9876543210", build)
    assert third.exists() and not first.exists() and len(calls) == 2


def test_failed_step_leaves_nothing_and_shows_its_log(tmp_path):
    runner = StepRunner(tmp_path, echo=lambda s: None)

    def build(step):
        (step.workdir / "half").write_text("x")
        step.run(["sh", "-c", "echo compiling; echo 'error: it broke' >&2; exit 3"])

    with pytest.raises(KubelabError) as failure:
        runner.run("broken", "0123456789abcdef", build)
    message = str(failure.value)
    assert "build step 'broken' failed" in message and "error: it broke" in message
    assert str(tmp_path / "logs" / "broken.log") in message
    assert not any(p.name.startswith("broken-") for p in (tmp_path / "offline").iterdir())


def test_rootfs_follows_merged_usr_links(tmp_path):
    root = tmp_path / "rootfs"
    (root / "usr/lib/x86_64-linux-gnu").mkdir(parents=True)
    (root / "usr/lib64").mkdir(parents=True)
    (root / "lib").symlink_to("usr/lib")
    (root / "lib64").symlink_to("usr/lib64")
    (root / "usr/lib/x86_64-linux-gnu/ld-2.so").write_text("loader")
    (root / "usr/lib64/ld-linux.so.2").symlink_to("../lib/x86_64-linux-gnu/ld-2.so")
    files, links = {}, {}
    Rootfs(None, root)._follow("/lib64/ld-linux.so.2", files, links)
    assert links == {
        "lib64": "usr/lib64",
        "usr/lib64/ld-linux.so.2": "../lib/x86_64-linux-gnu/ld-2.so",
    }
    assert files == {"usr/lib/x86_64-linux-gnu/ld-2.so": root / "usr/lib/x86_64-linux-gnu/ld-2.so"}


def test_image_mode_is_validated_and_explicit_modes_need_no_probe(monkeypatch):
    with pytest.raises(KubelabError, match="unknown image mode"):
        choose("fast")
    offline = choose("offline")
    assert offline.mode == "offline" and offline.node_image.startswith("kindest/node:v1.")
    assert choose("stock").node_image is None
    monkeypatch.setenv("KUBELAB_IMAGES", "offline")
    assert choose().mode == "offline"


def test_cluster_configs_are_checked(tmp_path):
    with pytest.raises(KubelabError, match="use one of: default"):
        config_path("no-such-config")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Cluster\nnodes: [\n")
    with pytest.raises(KubelabError, match="not valid YAML"):
        load_config(bad)
    other = tmp_path / "other.yaml"
    other.write_text("kind: Pod\n")
    with pytest.raises(KubelabError, match="not a kind Cluster config"):
        load_config(other)
    default = load_config(config_path("default"))
    zones = [n.get("labels", {}).get("topology.kubernetes.io/zone") for n in default["nodes"]]
    assert zones == [None, "zone-a", "zone-b"]


def test_cli_reports_bad_input_in_one_line_without_traceback(capsys):
    assert cli.main(["up", "--config", "no-such-config"]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("kubelab: error: no cluster config 'no-such-config'")
        and "Traceback" not in err
    )
    assert "fix: use one of: default" in err


def test_doctor_prints_each_problem_with_its_fix(capsys):
    def broken():
        raise KubelabError("the thing is off", "turn it on")

    assert run_checks([("fine", lambda: "all good"), ("thing", broken)]) is False
    out = capsys.readouterr().out
    assert (
        "ok       fine: all good" in out
        and "PROBLEM  thing: the thing is off" in out
        and "fix: turn it on" in out
    )


def test_the_pins_describe_every_component_and_the_kubernetes_module_matches():
    from kubelab.cluster.offline.pins import load

    pins = load()
    kinds = {name: c.kind for name, c in pins.components.items()}
    assert set(kinds.values()) == {"go", "debian", "image", "node", "files"}
    assert {"kubernetes", "etcd", "coredns", "crictl", "kind", "local-path-provisioner"} <= {
        n for n, k in kinds.items() if k == "go"
    }
    assert pins.staging_version == "v0." + pins.kubernetes.split(".", 1)[1]
    go_mod = (Path(__file__).parent.parent / "clusters/offline/go/go.mod").read_text()
    assert (
        f"k8s.io/kubernetes {pins.kubernetes}" in go_mod
        and f"k8s.io/api => k8s.io/api {pins.staging_version}" in go_mod
    )


def test_a_bad_block_is_refused_with_its_name(tmp_path):
    from kubelab.cluster.offline.pins import load

    bad = tmp_path / "pins.toml"
    bad.write_text('[thing]\nkind = "image"\nname = "example.com/thing:latest"\n')
    with pytest.raises(KubelabError, match=r"\[thing\] uses the tag 'latest'"):
        load(bad)
    bad.write_text(
        '[thing]\nkind = "image"\nname = "example.com/thing:1"\nfiles = {"x" = "nowhere:x"}\n'
    )
    with pytest.raises(
        KubelabError,
        match="takes 'nowhere:x' from 'nowhere', which is neither a go nor a files component",
    ):
        load(bad)
    bad.write_text('[thing]\nkind = "rpm"\n')
    with pytest.raises(KubelabError, match="use one of: go, debian, image, node, files"):
        load(bad)


def test_editing_one_block_rebuilds_that_step_and_what_depends_on_it_only():
    import copy
    import dataclasses

    from kubelab.cluster.offline import build
    from kubelab.cluster.offline.pins import load

    pins = load()
    before = {name: p.key for name, p in build.plan(pins, goarch="amd64").items()}
    edited = copy.deepcopy(pins.raw)
    edited["coredns"]["version"] = "v1.14.7"
    after = {
        name: p.key
        for name, p in build.plan(dataclasses.replace(pins, raw=edited), goarch="amd64").items()
    }
    changed = sorted(name for name in before if before[name] != after[name])
    assert changed == ["coredns", "coredns-image", "node"], changed
    # an image's own block: that image and the node
    edited = copy.deepcopy(pins.raw)
    edited["busybox"]["cmd"] = ["/bin/sh"]
    after = {
        name: p.key
        for name, p in build.plan(dataclasses.replace(pins, raw=edited), goarch="amd64").items()
    }
    assert sorted(name for name in before if before[name] != after[name]) == ["busybox", "node"]
    # another architecture: every Go step and everything made of them, the rootfs aside
    other = {name: p.key for name, p in build.plan(pins, goarch="arm64").items()}
    assert before["rootfs"] == other["rootfs"] and before["kubernetes"] != other["kubernetes"]


def test_a_second_kubernetes_minor_shares_every_component_it_does_not_change():
    from kubelab.cluster.offline import build
    from kubelab.cluster.offline.pins import load

    default, variant = load(), load(kubernetes="v1.36")
    assert (
        variant.variant == "v1.36"
        and variant.kubernetes.startswith("v1.36.")
        and default.variant is None
    )
    assert (
        load(kubernetes=variant.kubernetes) == variant
        and load(kubernetes=default.kubernetes) == default
    )
    ours = {name: p.key for name, p in build.plan(default, goarch="amd64").items()}
    theirs = {name: p.key for name, p in build.plan(variant, goarch="amd64").items()}
    changed = sorted(name for name in ours if ours[name] != theirs[name])
    # what the variant names, what takes files from it, and what carries the version in its name
    assert changed == [
        "coredns",
        "coredns-image",
        "etcd",
        "etcd-image",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-proxy",
        "kube-scheduler",
        "kubernetes",
        "node",
    ], changed
    # a test image keeps its version whatever Kubernetes runs: agnhost is the default's in both
    assert (
        variant.image("agnhost") == default.image("agnhost")
        and variant.node_image != default.node_image
    )
    with pytest.raises(KubelabError, match="has no Kubernetes v1.20"):
        load(kubernetes="v1.20")
    with pytest.raises(KubelabError, match=f"pins Kubernetes {variant.kubernetes}, not v1.36.0"):
        load(kubernetes="v1.36.0")


def test_the_variants_go_module_matches_its_pins():
    from kubelab.cluster.offline.pins import load

    variant = load(kubernetes="v1.36")
    go_mod = (
        Path(__file__).parent.parent
        / "clusters/offline"
        / variant["kubernetes"]["wrapper"]
        / "go.mod"
    ).read_text()
    assert f"k8s.io/kubernetes {variant.kubernetes}" in go_mod
    assert f"k8s.io/api => k8s.io/api {variant.staging_version}" in go_mod
    etcd_mod = (
        Path(__file__).parent.parent / "clusters/offline" / variant["etcd"]["wrapper"] / "go.mod"
    ).read_text()
    assert f"go.etcd.io/etcd/server/v3 {variant['etcd']['version']}" in etcd_mod
    assert variant.image("etcd-image").endswith(":" + variant["etcd"]["version"].lstrip("v") + "-0")


def test_a_cluster_config_names_its_kubernetes_and_a_wrong_one_is_refused(tmp_path):
    from kubelab.cluster.backends.kind import load_config
    from kubelab.cluster.images import choose

    good = tmp_path / "k136.yaml"
    good.write_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubernetes: v1.36\n")
    assert load_config(good)["kubernetes"] == "v1.36"
    offline, stock = choose("offline", "v1.36"), choose("stock", "v1.36")
    assert offline.node_image.startswith("kindest/node:v1.36.") and offline.kubernetes == "v1.36"
    assert stock.node_image == offline.node_image  # stock kind: the same repository and tag, pulled
    assert choose("stock").node_image is None  # the default: kind's own default image
    bad = tmp_path / "k120.yaml"
    bad.write_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubernetes: v1.20\n")
    with pytest.raises(
        KubelabError, match=r"k120.yaml: kubernetes: the offline build has no Kubernetes v1.20"
    ):
        load_config(bad)


def test_the_cache_keeps_the_results_of_every_declared_version(tmp_path):
    from kubelab.cluster.offline.steps import StepRunner

    runner = StepRunner(tmp_path, echo=lambda s: None, keep=frozenset({"thing-" + "a" * 16}))
    old = runner.run("thing", "a" * 16, lambda step: None)
    other = runner.run("thing", "b" * 16, lambda step: None)
    newer = runner.run("thing", "c" * 16, lambda step: None)
    assert old.is_dir() and not other.exists() and newer.is_dir()
    (tmp_path / "offline" / "gone-step-0123456789abcdef").mkdir()
    (tmp_path / "offline" / "thing-cccc.partial").mkdir()
    from kubelab.cluster.offline.build import remove_unplanned_results

    remove_unplanned_results(runner.root, frozenset({old.name, newer.name}))
    assert sorted(p.name for p in runner.root.iterdir()) == sorted(
        [old.name, newer.name, "thing-cccc.partial"]
    )


def test_every_image_a_manifest_or_notebook_names_is_a_pinned_component():
    import re

    from kubelab.cluster.offline.pins import load

    pins = load()
    pinned = set(pins.images().values())
    repo = Path(__file__).parent.parent
    named = set()
    texts = [
        p.read_text(errors="replace")
        for p in (repo / "clusters").rglob("*")
        if p.is_file() and p.suffix in (".yaml", ".yml", ".toml", ".json") and p.name != "pins.toml"
    ]
    texts += [p.read_text() for p in (repo / "notebooks").glob("*.ipynb")]
    texts += [p.read_text() for p in (repo / "tests").rglob("*.py")]
    reference = re.compile(r"\b((?:registry\.k8s\.io|docker\.io)/[a-z0-9./_-]+:[A-Za-z0-9._-]+)")
    for text in texts:
        named |= set(reference.findall(text))
    named = {n for n in named if "kubelab-no-such-image" not in n}  # the test of a missing image
    assert named, "the scan found image references"
    assert named <= pinned, f"images named but not pinned: {sorted(named - pinned)}"
    placeholders = {
        m
        for p in (repo / "clusters/offline/node").rglob("*")
        if p.is_file()
        for m in re.findall(r"@IMAGE:([a-z0-9-]+)@", p.read_text(errors="replace"))
    }
    assert placeholders and all(pins.image(c) for c in placeholders)


def test_go_components_build_for_another_architecture(tmp_path):
    """Nothing hard-codes amd64: the pause command, built for arm64 by the go step kind."""
    from kubelab.cluster.offline import gobuild
    from kubelab.cluster.offline.pins import load
    from kubelab.cluster.offline.steps import StepRunner

    pins = load()
    component = pins.components["kubelab-commands"]
    runner = StepRunner(tmp_path, echo=lambda s: None)
    arm = dataclasses_replace(component, packages=["./cmd/pause"])
    result = runner.run(
        "pause-arm64", "0123456789abcdef", lambda step: gobuild.build(step, arm, pins, "arm64")
    )
    assert gobuild.elf_machine(result / "bin" / "pause") == "arm64"
    assert gobuild.host_arch() in ("amd64", "arm64")


def dataclasses_replace(component, **fields):
    import dataclasses

    return dataclasses.replace(component, block={**component.block, **fields})


def test_one_process_at_a_time_changes_a_cluster(tmp_path, monkeypatch):
    from kubelab.cluster import KindCluster

    monkeypatch.setenv("KUBELAB_STATE", str(tmp_path))
    first, second = (
        KindCluster("default", name="kubelab-locktest"),
        KindCluster("default", name="kubelab-locktest"),
    )
    with first.locked():
        with first.locked():  # re-entrant within one handle (up() calls down())
            with pytest.raises(BlockingIOError):
                with second.locked(wait=False):
                    pass
    with second.locked(wait=False):  # released: now free
        pass


# -- cluster backends, node access, CLI errors -----------------------------------------------


def an_existing_cluster(tmp_path, monkeypatch):
    from kubelab.cluster import ExistingCluster

    monkeypatch.setenv("KUBELAB_STATE", str(tmp_path / "state"))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: theirs\nclusters: []\ncontexts: []\nusers: []\n"
    )
    return ExistingCluster(kubeconfig)


def test_an_existing_cluster_has_no_node_access_and_says_how_to_get_it(tmp_path, monkeypatch):
    from kubelab.cli import gc
    from kubelab.cluster import NodeAccessUnavailable
    from kubelab.cluster.node import Node, restore_nodes

    cluster = an_existing_cluster(tmp_path, monkeypatch)
    assert cluster.name == "theirs" and cluster.node_access is False and cluster.record() is None
    assert cluster.dir.is_relative_to(
        tmp_path / "state"
    )  # kubectl's cache: kubelab's folder, not ~/.kube
    assert cluster.kubectl_command("get", "pods")[-4:] == [
        "--cache-dir",
        str(cluster.dir / "kube-cache"),
        "get",
        "pods",
    ]
    for attempt in (
        lambda: cluster.node_exec("n1", ["true"]),
        lambda: cluster.node_container("n1", "stop"),
        lambda: cluster.node_running("n1"),
        lambda: Node(cluster, "n1").sh("true"),
        lambda: Node(cluster, "n1").cordon(),
    ):
        with pytest.raises(
            NodeAccessUnavailable, match="cluster theirs .*ExistingCluster.* has no node access"
        ) as e:
            attempt()
        assert "a cluster kubelab created" in e.value.fix
    # Nothing kubelab could have changed on its nodes: nothing to find or undo, and no error.
    assert restore_nodes(cluster) == {} and gc.changed_nodes(cluster) == {}


def test_an_existing_cluster_that_does_not_answer_is_a_problem_not_a_crash(tmp_path, monkeypatch):
    cluster = an_existing_cluster(tmp_path, monkeypatch)
    assert cluster.problem().startswith("not reachable")
    with pytest.raises(KubelabError, match="using cluster theirs .* failed: not reachable"):
        cluster.up()
    with pytest.raises(KubelabError, match="no kubeconfig at"):
        type(cluster)(tmp_path / "missing")
    # An empty KUBELAB_CONTEXT means the kubeconfig's current context, not a context named "".
    assert type(cluster)(cluster.kubeconfig, "").context is None


class FakeLab:
    """What probe() reads of a lab: two workers and a control plane, through an ExistingCluster."""

    def __init__(self, cluster):
        self.cluster = cluster

    def nodes(self):
        return self.list("nodes")

    def list(self, kind):
        if kind == "storageclasses":
            return []
        runtime = {"status": {"nodeInfo": {"containerRuntimeVersion": "containerd://2.1"}}}
        return [
            {
                "metadata": {"name": "cp", "labels": {"node-role.kubernetes.io/control-plane": ""}},
                **runtime,
            },
            {"metadata": {"name": "w1", "labels": {}}, **runtime},
            {"metadata": {"name": "w2", "labels": {}}, **runtime},
        ]

    def get(self, kind, name, namespace=None):
        return None

    def server_version(self):
        return "v1.37.2"


def test_requires_node_access_stops_a_notebook_on_a_cluster_without_it(tmp_path, monkeypatch):
    from kubelab.lab import probes
    from kubelab.lab.probes import RequirementNotMet, probe, requires

    # admin's credentials: every SelfSubjectAccessReview says allowed
    monkeypatch.setattr(probes, "allowed", lambda lab, *args, **kwargs: True)
    lab = FakeLab(an_existing_cluster(tmp_path, monkeypatch))
    caps = probe(lab)  # no command runs inside a node: there is no way to
    assert (caps.node_access, caps.cgroup_version, caps.swap_bytes, caps.oom_score_adj_clamped) == (
        False,
        None,
        None,
        None,
    )
    assert caps.runtime == "containerd://2.1" and caps.workers == 2
    assert requires(lab, nodes=3).nodes == 3
    with pytest.raises(RequirementNotMet) as e:
        requires(lab, nodes=3, node_access=True)
    assert (
        "node access" in e.value.what
        and "cluster theirs is reached through a kubeconfig only" in e.value.what
    )
    assert "a cluster kubelab created" in e.value.fix


def test_a_kind_cluster_only_reaches_its_own_node_containers(tmp_path, monkeypatch):
    from kubelab.cluster import KindCluster

    monkeypatch.setenv("KUBELAB_STATE", str(tmp_path))
    with pytest.raises(
        KubelabError, match="'some-other-container' is not a node of cluster kubelab-default"
    ):
        KindCluster("default").node_exec("some-other-container", ["true"])


def test_a_failed_kind_delete_keeps_the_record_and_shows_kinds_output(tmp_path, monkeypatch):
    from kubelab.cluster import KindCluster

    monkeypatch.setenv("KUBELAB_STATE", str(tmp_path))
    fake_kind = tmp_path / "kind"
    fake_kind.write_text(
        "#!/bin/sh\necho 'ERROR: failed to delete cluster: docker is gone' >&2\nexit 1\n"
    )
    fake_kind.chmod(0o755)
    monkeypatch.setenv("KUBELAB_KIND", str(fake_kind))
    cluster = KindCluster("default", name="kubelab-deltest", images="stock")
    cluster.dir.mkdir(parents=True)
    cluster._write_record()
    with pytest.raises(
        KubelabError, match="deleting cluster kubelab-deltest failed .*docker is gone"
    ):
        cluster.down()
    assert cluster.record() is not None  # so `kubelab down` or `kubelab gc` can try again


def test_cli_writes_the_traceback_of_any_error_to_a_log_and_prints_one_message(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("KUBELAB_STATE", str(tmp_path))

    def unexpected(args):
        raise ValueError("a bug, deep down")

    monkeypatch.setattr(cli, "cmd_doctor", unexpected)
    assert cli.main(["doctor"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "kubelab: error: unexpected error while running `kubelab doctor`: ValueError: a bug, deep down"
    )
    assert "Traceback" not in err and "please report it with the log" in err
    logs = list((tmp_path / "logs").glob("*-doctor.log"))
    assert len(logs) == 1 and str(logs[0]) in err
    assert "Traceback" in logs[0].read_text() and "in unexpected" in logs[0].read_text()

    def understood(args):
        raise KubelabError("Docker is not running", "start it")

    monkeypatch.setattr(cli, "cmd_doctor", understood)
    assert cli.main(["doctor"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[:2] == ["kubelab: error: Docker is not running", "  fix: start it"]
    assert "Traceback" not in err and len(list((tmp_path / "logs").glob("*-doctor.log"))) == 2

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_doctor", interrupted)
    assert cli.main(["doctor"]) == 130
    assert capsys.readouterr().err == "kubelab: interrupted\n"


def test_a_scratch_dir_name_cannot_leave_the_runs_folder():
    from kubelab.lab.namespaces import scratch_dir

    class NoCluster:  # never reached: the name is refused first
        def node_exec(self, *args, **kwargs):
            raise AssertionError("ran a command for a refused name")

    for name in ("../etc", "a/../../b", "", "with space", "/abs"):
        with pytest.raises(KubelabError, match="not a plain directory name"):
            scratch_dir(NoCluster(), "n1", "ns", name, "0755")


def test_a_started_timeline_can_be_used_as_a_with_block():
    from kubelab.lab.sampling import Timeline

    counter = iter(range(1000))
    timeline = Timeline(
        "a counter", lambda: next(counter), interval=0.01
    ).start()  # as lab.sample_in_background returns it
    with timeline:
        timeline.wait_until(lambda n: n >= 3, "three samples", timeout=5)
    assert [value for _, value in timeline.samples][:4] == [0, 1, 2, 3]


def test_an_addon_serves_only_once_its_node_ports_take_connections_on_every_node():
    import socket

    from kubelab.cluster.addons import refuse_unless_node_ports_answer

    class Nodes:  # the node list as the API gives it: names and InternalIPs
        def nodes(self):
            return json.loads(self.kubectl())["items"]

        def kubectl(self, *args, timeout=None):
            return json.dumps(
                {
                    "items": [
                        {
                            "metadata": {"name": "n1"},
                            "status": {
                                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]
                            },
                        }
                    ]
                }
            )

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        refuse_unless_node_ports_answer(Nodes(), [port])
    with pytest.raises(KubelabError, match=rf"node n1 \(127.0.0.1\) port {port}"):
        refuse_unless_node_ports_answer(Nodes(), [port])  # closed now: refused

    class Unaddressed:  # a node not yet reporting its address is not probed on this machine's loopback
        def nodes(self):
            return json.loads(self.kubectl())["items"]

        def kubectl(self, *args, timeout=None):
            return json.dumps({"items": [{"metadata": {"name": "n2"}, "status": {}}]})

    with pytest.raises(KubelabError, match="node n2 reports no InternalIP"):
        refuse_unless_node_ports_answer(Unaddressed(), [port])


def test_containment_redirects_the_resolvers_docker_forwards_to(monkeypatch, tmp_path):
    """Docker's DNS forwards to the host's IPv4 resolvers, or to its fallback when the host has only
    loopback ones: those are the queries kubelab's responder must answer."""
    import builtins

    from kubelab.cluster import containment

    real_open = builtins.open

    def resolv_conf(text):
        path = tmp_path / "resolv.conf"
        path.write_text(text)
        monkeypatch.setattr(
            builtins,
            "open",
            lambda p, *a, **k: real_open(path if p == "/etc/resolv.conf" else p, *a, **k),
        )

    resolv_conf(
        "nameserver 10.255.255.53\nnameserver fe80::1%eth0\nnameserver 127.0.0.53\noptions ndots:0\n"
    )
    assert containment.resolvers() == ["10.255.255.53"]
    resolv_conf("nameserver 127.0.0.53\n")
    assert containment.resolvers() == ["8.8.8.8", "8.8.4.4"]


def test_a_cell_ending_with_apply_shows_only_its_applied_lines():
    """lab.apply returns the stored objects, but a notebook does not dump them (managedFields and all)."""
    from IPython.core.formatters import DisplayFormatter

    from kubelab.lab.objects import Applied, _observed

    stored = Applied([{"metadata": {"name": "web", "managedFields": [{"manager": "kubelab"}]}}])
    assert stored[0]["metadata"]["name"] == "web"
    assert DisplayFormatter().format(stored) == ({}, {})
    ready = _observed(stored[0])  # what lab.wait_ready and the other object waits return
    assert ready == stored[0] and DisplayFormatter().format(ready) == ({}, {})


def test_a_node_that_will_not_freeze_at_once_is_frozen_on_a_later_attempt(monkeypatch):
    from kubelab.cluster.backends import kind
    from kubelab.core.errors import KubelabError

    calls = []

    def fake_run(argv, doing, timeout=None):
        calls.append(argv[1])
        if argv[1] == "pause" and calls.count("pause") < 3:
            raise KubelabError(
                f"{doing} failed: OCI runtime pause failed: unable to freeze: unknown"
            )
        return ""

    monkeypatch.setattr(kind, "run", fake_run)
    monkeypatch.setattr(kind.time, "sleep", lambda s: None)
    cluster = kind.KindCluster("default", name="kubelab-freezetest")
    cluster._freeze("worker", "kubelab-freezetest-worker")
    assert calls == ["pause"] * 3
    calls.clear()
    monkeypatch.setattr(
        kind,
        "run",
        lambda argv, doing, timeout=None: (_ for _ in ()).throw(
            KubelabError(f"{doing} failed: no such container")
        ),
    )
    with pytest.raises(KubelabError, match="no such container"):  # other errors are not retried
        cluster._freeze("worker", "kubelab-freezetest-worker")


def test_a_run_does_not_see_the_nodes_another_run_made():
    from kubelab.lab.lab import Lab

    nodes = [
        {"metadata": {"name": "worker", "labels": {}}},
        {"metadata": {"name": "run-a-nowhere", "labels": {"kubelab.dev/run-namespace": "run-a"}}},
        {"metadata": {"name": "run-b-nowhere", "labels": {"kubelab.dev/run-namespace": "run-b"}}},
    ]
    lab = Lab.__new__(Lab)
    lab.namespace = "run-b"
    lab.list = lambda kind: nodes
    assert [n["metadata"]["name"] for n in lab.nodes()] == ["worker", "run-b-nowhere"]


def test_expect_error_gives_back_the_apis_own_message_and_reason():
    """An ApiException carries the API's Status as JSON: expect_error hands back its message and
    reason, not the exception's name and raw JSON."""
    import json as json_module

    from kubernetes.client.exceptions import ApiException

    from kubelab.lab.checks import expect_error

    error = ApiException(status=409, reason="Conflict")
    error.body = json_module.dumps(
        {
            "kind": "Status",
            "status": "Failure",
            "reason": "AlreadyExists",
            "code": 409,
            "message": 'pods "web" already exists',
        }
    )
    with expect_error("AlreadyExists", "409") as seen:
        raise error
    assert seen["message"] == 'pods "web" already exists' and seen["reason"] == "AlreadyExists"
    assert seen["status"] == 409 and seen["type"] == "ApiException"
    eviction = ApiException(status=429, reason="Too Many Requests")
    eviction.body = json_module.dumps(
        {
            "kind": "Status",
            "reason": "TooManyRequests",
            "code": 429,
            "message": "Cannot evict pod as it would violate the pod's disruption budget.",
            "details": {
                "causes": [
                    {
                        "reason": "DisruptionBudget",
                        "message": "The disruption budget quorum needs 2 healthy pods and has 2 currently",
                    }
                ]
            },
        }
    )
    with expect_error("429", "disruption budget") as refused:
        raise eviction
    assert refused["message"].endswith(
        ": The disruption budget quorum needs 2 healthy pods and has 2 currently"
    )


def test_the_judgements_notebooks_repeat_are_verbs():
    import kubelab

    pod = {
        "status": {
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
            "containerStatuses": [
                {"name": "a", "restartCount": 2, "lastState": {"terminated": {"exitCode": 1}}},
                {"name": "b", "restartCount": 0, "lastState": {}},
            ],
        }
    }
    assert kubelab.has_condition(pod, "PodScheduled", "False", "Unschedulable")
    assert not kubelab.has_condition(pod, "PodScheduled") and not kubelab.has_condition(
        pod, "Ready"
    )
    assert kubelab.condition(pod, "PodScheduled")["reason"] == "Unschedulable"
    assert kubelab.restarts(pod) == 2 and kubelab.restarts(pod, "b") == 0
    assert kubelab.restarted(pod) and not kubelab.restarted(pod, "b")
    bumped = {"status": {"containerStatuses": [{"name": "a", "restartCount": 1, "lastState": {}}]}}
    assert not kubelab.restarted(bumped), "a restart without its ended run recorded is not yet one"
    node = {"spec": {"taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]}}
    assert kubelab.has_taint(node, "node.kubernetes.io/not-ready", "NoExecute")
    assert not kubelab.has_taint(node, "node.kubernetes.io/not-ready", "NoSchedule")


def test_a_node_object_a_run_made_is_not_a_node_of_the_cluster():
    """A run's kubelet-less Node (labelled with its namespace) must not make the cluster look
    unhealthy (a CI run's session fixture recreated the cluster under two notebooks for it), nor be
    restored as if it were a machine."""
    import json as json_module

    from kubelab.cluster.backends.base import RUN_NAMESPACE_LABEL, ClusterBackend

    class Listed(ClusterBackend):
        name = "fake"

        def kubectl(self, *args, **kwargs):
            ready = {"conditions": [{"type": "Ready", "status": "True"}]}
            return json_module.dumps(
                {
                    "items": [
                        {"metadata": {"name": "fake-worker", "labels": {}}, "status": ready},
                        {
                            "metadata": {
                                "name": "run-nowhere",
                                "labels": {RUN_NAMESPACE_LABEL: "ns"},
                            },
                            "status": {},
                        },
                    ]
                }
            )

        def problem(self):
            return ""

        def up(self, *args, **kwargs):
            return self

        def record(self):
            return None

        def kubectl_binary(self):
            return "kubectl"

    assert Listed.__new__(Listed).node_status() == {"fake-worker": True}


def test_a_daemonset_pod_for_another_runs_node_names_its_target():
    from kubelab.cluster.backends.kind import pod_target

    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["f"]}]}
                ]
            }
        }
    }
    assert pod_target({"spec": {"affinity": affinity}}) == "f"
    assert pod_target({"spec": {"nodeName": "w"}}) == "w"
    assert pod_target({"spec": {}}) is None
