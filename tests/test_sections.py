"""Requirements per section (kubelab.lab.sections): a section a cluster cannot show is skipped,
its cells do not run, its IDs are recorded as skipped; the next section runs again. The cluster's
capabilities here are recorded values (what probe() measured on a one-node cluster reached
through a kubeconfig), so the gate is tested without a cluster."""

import json
from types import SimpleNamespace

import pytest
from IPython.core.interactiveshell import InteractiveShell

from kubelab.core import spec
from kubelab.core.errors import KubelabError
from kubelab.lab import ledger, probes, sections

ONE_NODE = probes.Capabilities(
    version="v1.37.2",
    nodes=1,
    workers=0,
    zones=(),
    network_policy=True,
    default_storage_class="standard",
    oom_score_adj_clamped=None,
    images="stock",
    node_access=False,
)


@pytest.fixture
def shell():
    ip = InteractiveShell.instance()
    yield ip
    InteractiveShell.clear_instance()


def lab_on(caps, notebook="03-pods"):
    lab = SimpleNamespace(notebook=notebook, cluster=SimpleNamespace(name="solo"))
    lab._capabilities = caps
    lab.section = lambda key, **needs: sections.start(lab, key, state=state, **needs)
    return lab


state = sections.Skipping()


def test_a_section_the_cluster_lacks_is_skipped_up_to_the_next_section(
    shell, tmp_path, monkeypatch
):
    monkeypatch.setenv(ledger.ENV, str(tmp_path / "ledger.jsonl"))
    shell.user_ns["lab"] = lab_on(ONE_NODE)
    shell.user_ns["ran"] = []
    state.skipped.clear()
    shell.run_cell("lab.section(14)\nran.append(14)")
    shell.run_cell("lab.section(18, node_access=True, workers=2)")
    shell.run_cell("ran.append(18)")
    shell.run_cell("ran.append('18 again')")
    shell.run_cell("runs = lab.section(19)\nran.append(19)")
    shell.run_cell("ran.append('19 again')")
    assert shell.user_ns["ran"] == [14, 19, "19 again"]
    assert shell.user_ns["runs"]
    (entry,) = ledger.read(tmp_path / "ledger.jsonl")
    assert entry["passed"] is None and "node access" in entry["skipped"]
    assert "2 workers (the cluster has 0)" in entry["skipped"]
    assert set(entry["proves"]) == {i.id for i in spec.load().for_sections([18])}
    assert [key for key, _ in state.skipped] == [18]


def test_a_title_starts_a_part_that_always_runs(shell):
    shell.user_ns["lab"] = lab_on(ONE_NODE)
    shell.user_ns["ran"] = []
    shell.run_cell("lab.section(20, nodes=3)")
    shell.run_cell("ran.append(20)")
    shell.run_cell('lab.section("Summary")\nran.append("summary")')
    assert shell.user_ns["ran"] == ["summary"]


def test_a_section_of_another_notebook_or_none_is_refused():
    lab = lab_on(ONE_NODE)
    with pytest.raises(KubelabError, match="belongs to notebook 00-"):
        sections.start(lab, 0, state=sections.Skipping())
    with pytest.raises(KubelabError, match="no section 999"):
        sections.start(lab, 999, state=sections.Skipping())


def test_outside_ipython_an_unmet_section_stops_with_the_reason():
    with pytest.raises(probes.RequirementNotMet, match="§18 needs node access"):
        sections.start(lab_on(ONE_NODE), 18, state=sections.Skipping(), node_access=True)
    assert sections.start(lab_on(ONE_NODE), 18, state=sections.Skipping(), nodes=1)


def test_the_ledger_entry_is_json_lines(tmp_path, monkeypatch, shell):
    monkeypatch.setenv(ledger.ENV, str(tmp_path / "l.jsonl"))
    sections.start(lab_on(ONE_NODE), 21, state=sections.Skipping(), zones=2)
    line = (tmp_path / "l.jsonl").read_text().splitlines()[-1]
    assert json.loads(line)["what"].startswith("§21 skipped on this cluster: 2 zones")


NAMESPACE_ONLY = probes.Capabilities(
    version="v1.37.2",
    nodes=0,
    workers=0,
    zones=(),
    network_policy=False,
    default_storage_class=None,
    oom_score_adj_clamped=None,
    images="stock",
    node_access=False,
    cluster_read=False,
    cluster_admin=False,
)


def test_namespace_bound_credentials_say_why_a_need_is_unknown():
    lab = lab_on(NAMESPACE_ONLY)
    missing, _ = probes.shortfalls(lab, NAMESPACE_ONLY, nodes=2, cluster_admin=True)
    assert missing == [
        "cluster-scoped permissions (it makes cluster-scoped objects, or writes what role edit may not)",
        "2 nodes (unknown: these credentials cannot read nodes)",
    ]
    assert probes.shortfalls(lab, ONE_NODE, cluster_admin=True) == ([], [])


def test_the_closing_table_shows_a_skipped_section_as_a_row(shell, monkeypatch):
    from kubelab.lab import report

    monkeypatch.setattr(ledger, "_in_memory", [])
    sections.start(lab_on(ONE_NODE), 19, state=sections.Skipping(), workers=2)
    assert report.skipped_rows() == [
        ("§19", "skipped on this cluster", "2 workers (the cluster has 0)")
    ]


def test_a_part_of_a_section_records_only_its_own_ids(tmp_path, monkeypatch, shell):
    monkeypatch.setenv(ledger.ENV, str(tmp_path / "l.jsonl"))
    lab = lab_on(NAMESPACE_ONLY, notebook="00-tour-reconcile-and-objects")
    state = sections.Skipping()
    assert not sections.start(
        lab, 0, "kube-proxy", "C-INTRO-4, Q-INTRO-1", state, cluster_read=True
    )
    (entry,) = ledger.read(tmp_path / "l.jsonl")
    assert entry["proves"] == ["C-INTRO-4", "Q-INTRO-1"]
    assert entry["what"].startswith("§0 kube-proxy skipped on this cluster: cluster-wide reads")
    with pytest.raises(KubelabError, match="§0 has no C-POD-1"):
        sections.start(lab, 0, "x", ["C-POD-1"], state, cluster_read=True)
