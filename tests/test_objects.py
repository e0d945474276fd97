"""Plain facts read off objects, and a dry-run refusal (kubelab.helpers.objects), on dicts shaped
as the API returns them."""

from kubelab.helpers.objects import (
    admission_refuses,
    annotation,
    by_name,
    label_prefixes,
    live,
    names,
    newcomers,
)


def pod(name: str, **metadata) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, **metadata}, "spec": {"nodeName": "n1"}}


def test_names_newcomers_and_live_objects():
    pods = [pod("b"), pod("a", deletionTimestamp="2026-12-07T00:00:00Z"), pod("c")]
    assert names(pods) == ["b", "a", "c"]
    assert names(newcomers(pods, {"a", "b"})) == ["c"]
    assert names(live(pods)) == ["b", "c"]


def test_by_name_gives_objects_or_one_field_of_each():
    leases = [
        {"metadata": {"name": "w1"}, "spec": {"renewTime": "t1"}},
        {"metadata": {"name": "w2"}, "spec": {"renewTime": "t2"}},
    ]
    assert by_name(leases)["w2"] is leases[1]
    assert by_name(leases, "spec.renewTime") == {"w1": "t1", "w2": "t2"}


def test_label_prefixes_and_annotations():
    labels = {"kubernetes.io/hostname": "w1", "node.k8s.io/x": "", "team": "a"}
    assert label_prefixes(labels) == {"kubernetes.io", "node.k8s.io"}
    revision = "deployment.kubernetes.io/revision"
    assert annotation(pod("d", annotations={revision: "2"}), revision) == "2"
    assert annotation(pod("d"), revision) is None
    assert annotation(pod("d", annotations=None), revision) is None
    assert annotation(None, revision) is None


class FakeLab:
    """create() as the API answers a dry run: refused with this text, or admitted."""

    def __init__(self, refusal: str | None):
        self.refusal, self.calls = refusal, []

    def create(self, manifest, namespace=None, dry_run=False, quiet=False):
        self.calls.append((manifest, namespace, dry_run, quiet))
        if self.refusal:
            raise RuntimeError(self.refusal)
        return manifest


def test_admission_refuses_judges_a_dry_run_by_the_error_words():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    quota = FakeLab('(403) Forbidden: secrets "s" is forbidden: exceeded quota: no-secrets')
    assert admission_refuses(quota, secret, "exceeded quota", namespace="b")
    assert quota.calls == [(secret, "b", True, True)]  # a dry run, quietly
    assert not admission_refuses(quota, secret, "AlreadyExists")
    assert not admission_refuses(FakeLab(None), secret, "exceeded quota")
