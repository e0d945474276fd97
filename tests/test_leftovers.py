"""What a run leaves on nodes beyond its own changes is recorded there and removed by Node.restore():
images pulled from the run's registry pushes, the pushed tags, a runtime handler's log file."""

import http.server
import json
import shlex
import subprocess
import threading

import pytest

import sys

import kubelab.cluster.node  # noqa: F401  (loads every part of Node)
from kubelab.cluster import leftovers, registry
from kubelab.cluster.node import records
from kubelab.core.errors import KubelabError
from kubelab.cluster.node import Node

GREETING = "registry.kubelab.local:5000/kubelab/greeting"
# `crictl images -o json` as a containerd 1.6 node gives it, trimmed to the fields read
BUSYBOX = {
    "id": "sha256:aaa",
    "repoTags": ["docker.io/library/busybox:1.37.0"],
    "repoDigests": ["docker.io/library/busybox@sha256:a1"],
}
OLD_GREETING = {
    "id": "sha256:old",
    "repoTags": [f"{GREETING}:v0"],
    "repoDigests": [f"{GREETING}@sha256:o1"],
}
PULLED_FIRST = {
    "id": "sha256:one",
    "repoTags": [],
    "repoDigests": [f"{GREETING}@sha256:d1"],
}  # the tag moved on
PULLED_LATEST = {
    "id": "sha256:two",
    "repoTags": [f"{GREETING}:latest"],
    "repoDigests": [f"{GREETING}@sha256:d2"],
}
ALSO_ELSEWHERE = {
    "id": "sha256:shared",
    "repoTags": [f"{GREETING}:x", "kubelab.dev/test/other:1"],
    "repoDigests": [],
}


def set_record(monkeypatch, constant: str, value: str) -> None:
    """Point a node record's path elsewhere, in every part of Node that imported it."""
    for name, module in list(sys.modules.items()):
        if name.startswith("kubelab.cluster.node") and hasattr(module, constant):
            monkeypatch.setattr(module, constant, value)


def test_an_image_reference_names_its_repository_without_tag_or_digest():
    assert leftovers.image_repository(f"{GREETING}:latest") == GREETING
    assert leftovers.image_repository(f"{GREETING}@sha256:d1") == GREETING
    assert (
        leftovers.image_repository("registry.kubelab.local:5000/x")
        == "registry.kubelab.local:5000/x"
    )
    assert leftovers.image_repository("busybox:1.37.0") == "busybox"


def test_a_restore_removes_only_images_of_the_recorded_repository_that_came_after_the_record():
    record = leftovers.pull_record(f"{GREETING}:latest", [BUSYBOX, OLD_GREETING])
    assert record == f"pull {GREETING}\nkeep sha256:old\n"
    now = [BUSYBOX, OLD_GREETING, PULLED_FIRST, PULLED_LATEST, ALSO_ELSEWHERE]
    assert leftovers.removable_images(now, record) == ["sha256:one", "sha256:two"]
    assert leftovers.removable_images(now, "") == []
    with pytest.raises(KubelabError):
        leftovers.pull_record("no spaces; rm -rf /", [])


def test_a_push_record_names_each_push_once_and_refuses_what_is_not_a_name():
    record = leftovers.push_line("172.18.0.4:30500", "kubelab/greeting", "sha256:d1") * 2
    record += leftovers.push_line("172.18.0.4:30500", "kubelab/greeting", "sha256:d2")
    assert leftovers.parse_pushes(record) == [
        ("172.18.0.4:30500", "kubelab/greeting", "sha256:d1"),
        ("172.18.0.4:30500", "kubelab/greeting", "sha256:d2"),
    ]
    with pytest.raises(KubelabError):
        leftovers.push_line("172.18.0.4:30500", "kubelab/greeting", "sha256:d1; reboot")


class FakeRegistry(http.server.BaseHTTPRequestHandler):
    """A registry's manifest deletes and tag lists: the manifests it holds, by (repository, digest)."""

    manifests: dict = {}

    def do_DELETE(self):
        repository, _, digest = self.path[len("/v2/") :].partition("/manifests/")
        found = self.manifests.pop((repository, digest), None)
        self.send_response(202 if found else 404)
        self.end_headers()

    def do_GET(self):
        repository = self.path[len("/v2/") : -len("/tags/list")]
        tags = sorted(
            tag for (repo, _), tag in self.manifests.items() if repo == repository and tag
        )
        body = json.dumps({"name": repository, "tags": tags or None}).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_registry():
    FakeRegistry.manifests = {
        ("kubelab/greeting", "sha256:d1"): None,
        ("kubelab/greeting", "sha256:d2"): "latest",
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_registry_delete_removes_a_manifest_and_its_tags_and_tells_a_missing_one(fake_registry):
    assert registry.tags(fake_registry, "kubelab/greeting") == ["latest"]
    assert registry.delete(fake_registry, "kubelab/greeting", "sha256:d2") is True
    assert registry.tags(fake_registry, "kubelab/greeting") == []
    assert registry.delete(fake_registry, "kubelab/greeting", "sha256:d2") is False


class FakeNodeCluster:
    """A node whose runtime lists `listing`; every other command runs here, in a folder of the test."""

    node_access = True

    def __init__(self, listing):
        self.listing, self.removed = list(listing), []

    def node_running(self, name):
        return True

    def kubectl(self, *args, timeout=None):
        return json.dumps({"metadata": {"name": "n1", "annotations": {}}, "spec": {}})

    def node_exec(self, name, argv, input=None, timeout=None):
        command = argv[-1]
        if command == "crictl images -o json":
            return subprocess.CompletedProcess(
                argv, 0, json.dumps({"images": self.listing}).encode(), b""
            )
        if command.startswith("crictl rmi "):
            image = shlex.split(command)[2]
            self.removed.append(image)
            self.listing = [i for i in self.listing if i["id"] != image]
            return subprocess.CompletedProcess(argv, 0, b"", b"")
        return subprocess.run(argv, input=input, capture_output=True, timeout=timeout)


def test_restore_removes_pulled_images_pushed_tags_and_handler_logs(
    tmp_path, monkeypatch, fake_registry, capsys
):
    saved = tmp_path / "kubelab"
    for constant, file in (
        ("PULLED_IMAGES", "pulled-images.txt"),
        ("REGISTRY_PUSHES", "registry-pushes.txt"),
        ("RUNTIME_LOGS", "runtime-logs.txt"),
        ("ADDED_IMAGES", "added-images.txt"),
    ):
        set_record(monkeypatch, constant, str(saved / file))
    set_record(monkeypatch, "SAVED", str(saved))
    cluster = FakeNodeCluster([BUSYBOX, OLD_GREETING])
    node = Node(cluster, "n1")

    node.will_pull(f"{GREETING}:latest")  # before the pods pull
    node.record_push(fake_registry, "kubelab/greeting", "sha256:d1")
    node.record_push(fake_registry, "kubelab/greeting", "sha256:d2")
    log = tmp_path / "kubelab-kubelab-runc.log"
    log.write_text("1796651623 --root /run/containerd/runc/k8s.io create ...\n")
    node.sh(f"echo {log} >> {records.RUNTIME_LOGS}")
    cluster.listing += [
        PULLED_FIRST,
        PULLED_LATEST,
        ALSO_ELSEWHERE,
    ]  # what the kubelet pulled meanwhile

    assert node.changed() == ["pulled images", "registry tags", "runtime handler logs"]
    assert node.restore() == ["pulled images", "registry tags", "runtime handler logs"]
    assert cluster.removed == ["sha256:one", "sha256:two"]
    assert [i["id"] for i in cluster.listing] == ["sha256:aaa", "sha256:old", "sha256:shared"]
    assert FakeRegistry.manifests == {} and registry.tags(fake_registry, "kubelab/greeting") == []
    assert not log.exists() and not saved.exists()
    assert "undone: pulled images, registry tags, runtime handler logs" in capsys.readouterr().out
    assert node.changed() == [] and node.restore() == []


def test_a_registry_that_is_gone_does_not_keep_the_node_from_being_restored(
    tmp_path, monkeypatch, capsys
):
    set_record(monkeypatch, "SAVED", str(tmp_path / "kubelab"))
    set_record(monkeypatch, "REGISTRY_PUSHES", str(tmp_path / "kubelab" / "registry-pushes.txt"))
    set_record(monkeypatch, "ADDED_IMAGES", str(tmp_path / "kubelab" / "added-images.txt"))
    node = Node(FakeNodeCluster([]), "n1")
    node.record_push("127.0.0.1:9", "kubelab/greeting", "sha256:d1")  # nothing listens on port 9
    assert node.restore() == ["registry tags"]
    assert "could not delete kubelab/greeting@sha256:d1" in capsys.readouterr().out


def test_the_digest_of_an_archive_is_known_before_it_is_pushed(tmp_path):
    from kubelab.cluster.offline.oci import Image, write_archive

    content = tmp_path / "greeting"
    content.write_text("one\n")
    archive = tmp_path / "image.tar"
    write_archive(Image(f"{GREETING}:latest", files={"greeting": content}), archive)
    digest = registry.manifest_digest(archive)
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
