"""The notebook runner's parts that need no cluster: one execution and how it ended (passed,
failed, not run, past its budget), the ledger of checks, the stable-output comparison, the plan."""

import nbformat
import pytest

from kubelab.lab import ledger
from kubelab.runner import notebooks, schedule, stable


def notebook(
    tmp_path, *sources: str, meta: dict | None = None, name: str = "sample"
) -> notebooks.Notebook:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "language": "python",
        "display_name": "Python 3",
    }
    nb.metadata["kubelab"] = meta or {}
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return notebooks.load(path)


def test_a_cell_past_the_budget_fails_with_the_cell_and_what_it_waited_for(tmp_path):
    nb = notebook(
        tmp_path,
        "x = 1",
        "import time\nfrom kubelab.core.progress import Progress\n"
        "wait = Progress('the moon to rise')\nwait.update('below the horizon')\ntime.sleep(60)",
        "print('never')",
        meta={"budget_seconds": 4},
    )
    ended = notebooks.execute(nb, tmp_path / "out.ipynb")
    assert ended.status == "timeout" and ended.cell == 2, ended
    assert "sample: cell 2 ran past the budget of 4 s" in ended.message, ended.message
    assert "the moon to rise" in ended.message and "below the horizon" in ended.message, (
        ended.message
    )
    executed = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert not code[2].outputs, "no cell runs after the one that timed out"


def test_a_cell_with_no_wait_in_progress_says_what_it_was_running(tmp_path):
    nb = notebook(tmp_path, "import time\ntime.sleep(60)", meta={"budget_seconds": 3})
    ended = notebooks.execute(nb, tmp_path / "out.ipynb")
    assert ended.status == "timeout" and "running `import time`" in ended.message, ended.message


def test_requirement_not_met_is_not_run_and_an_error_is_failed(tmp_path):
    missing = notebook(
        tmp_path,
        "from kubelab.lab.probes import RequirementNotMet\nraise RequirementNotMet('3 nodes')",
        name="needs",
    )
    ended = notebooks.execute(missing, tmp_path / "a.ipynb")
    assert ended.status == "not-run" and "3 nodes" in ended.message
    broken = notebook(tmp_path, "1 / 0", name="broken")
    ended = notebooks.execute(broken, tmp_path / "b.ipynb")
    assert ended.status == "failed" and "broken: cell 1: ZeroDivisionError" in ended.message


def test_checks_are_written_to_the_ledger_with_what_they_prove_and_their_cell(tmp_path):
    nb = notebook(
        tmp_path,
        "from kubelab import check",
        "x = 1",
        "check(1 + 1 == 2, 'sums work', proves='C-INTRO-1')\ncheck(True, 'no proof named')",
    )
    path = tmp_path / "ledger.jsonl"
    assert (
        notebooks.execute(nb, tmp_path / "out.ipynb", env={"KUBELAB_LEDGER": str(path)}).status
        == "passed"
    )
    assert ledger.read(path) == [
        {"what": "sums work", "proves": ["C-INTRO-1"], "passed": True, "cell": 3},
        {"what": "no proof named", "proves": [], "passed": True, "cell": 3},
    ]
    executed = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    assert executed.cells[2].execution_count == 3, (
        "the cell number is the executed cell's execution_count"
    )


def test_a_malformed_or_unknown_id_fails_at_once():
    with pytest.raises(ValueError, match="not a spec ID"):
        ledger.ids("ARCH-2")
    with pytest.raises(ValueError, match="the spec does not have"):
        ledger.ids(["C-ARCH-2", "C-ARCH-999"])


def stable_notebook(text: str, run: bool = True) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(
        "# NBVAL_CHECK_OUTPUT\nprint('x')", execution_count=1 if run else None
    )
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    other = nbformat.v4.new_code_cell("print(time.time())", execution_count=2)
    other.outputs = [nbformat.v4.new_output("stream", name="stdout", text="123.4\n")]
    nb.cells = [cell, other]
    return nb


def test_stable_cells_are_compared_by_nbvals_rules():
    assert stable.compare(stable_notebook("x\n"), stable_notebook("x\n")) == (1, [])
    compared, differences = stable.compare(stable_notebook("x\n"), stable_notebook("y\n"))
    assert compared == 1 and differences[0].cell == 1 and "y" in differences[0].detail
    # an unmarked cell's output may change; a stable cell never run in the committed copy is not compared
    assert stable.compare(stable_notebook("x\n", run=False), stable_notebook("y\n")) == (0, [])


def test_the_plan_runs_quiet_notebooks_together_and_disturbing_ones_alone_on_a_second_cluster(
    tmp_path,
):
    quiet_a = notebook(tmp_path, "", meta={"budget_seconds": 100}, name="00-a")
    quiet_b = notebook(tmp_path, "", meta={"budget_seconds": 200}, name="02-b")
    loud = notebook(tmp_path, "", meta={"disturbs": True, "budget_seconds": 500}, name="01-c")
    louder = notebook(tmp_path, "", meta={"disturbs": True, "budget_seconds": 300}, name="03-e")
    other = notebook(
        tmp_path, "", meta={"cluster": "solo", "disturbs": True, "budget_seconds": 60}, name="09-d"
    )
    lanes = schedule.plan([quiet_a, loud, quiet_b, other, louder])
    assert [
        (lane.config, lane.cluster, [[nb.name for nb in batch] for batch in lane.batches])
        for lane in lanes
    ] == [
        ("default", "kubelab-default", [["00-a", "02-b"]]),
        ("default", "kubelab-default-alone", [["01-c"], ["03-e"]]),
        (
            "solo",
            "kubelab-solo",
            [["09-d"]],
        ),  # no quiet notebook needs that config: its own cluster will do
    ]
    assert schedule.projected_seconds([quiet_a, loud, quiet_b, other, louder]) == 500 + 300
    # six quiet notebooks of 100 s, three at a time: 200 s
    many = [notebook(tmp_path, "", meta={"budget_seconds": 100}, name=f"1{i}-q") for i in range(6)]
    assert schedule.projected_seconds(many, parallel=3) == 200


def test_a_kubelab_process_streams_its_lines_and_gives_its_exit_code():
    lines = []
    assert schedule.kubelab_process(["--help"], None, lines.append) == 0
    assert lines[0].startswith("usage: kubelab") and all(line.endswith("\n") for line in lines)
    assert schedule.kubelab_process(["no-such-command"], None, lines.append) == 2
    assert "invalid choice" in lines[-1]


def test_a_timeout_after_a_finished_wait_names_that_wait_and_the_cell(tmp_path):
    nb = notebook(
        tmp_path,
        "import time\nfrom kubelab.core.progress import Progress\n"
        "wait = Progress('the add-on to serve')\nwait.done('serving')\ntime.sleep(60)",
        meta={"budget_seconds": 4},
    )
    ended = notebooks.execute(nb, tmp_path / "out.ipynb")
    assert ended.status == "timeout", ended
    assert (
        "running `import time` after its last wait ended: the add-on to serve (serving"
        in ended.message
    ), ended.message


def test_lines_sent_to_the_run_log_leave_the_notebook_and_become_the_status(tmp_path, monkeypatch):
    from kubelab.core import progress

    log, status = tmp_path / "run.log", tmp_path / "status"
    monkeypatch.setenv("KUBELAB_RUN_LOG", str(log))
    monkeypatch.setenv("KUBELAB_STATUS", str(status))
    followed = []
    with notebooks.following(log, followed.append, every=0.05):
        with progress.to_run_log():
            print("  traefik: 3m10s, 812 of 2495 packages compiled")
            print("  traefik: done in 1000 s", flush=True)
        print("add-on traefik: ready")
    assert followed == [
        "  traefik: 3m10s, 812 of 2495 packages compiled",
        "  traefik: done in 1000 s",
    ]
    assert status.read_text() == "traefik: done in 1000 s"


def test_a_notebook_may_install_only_the_addons_and_clusters_it_declares(monkeypatch):
    from kubelab.core.errors import KubelabError
    from kubelab.lab.lab import refuse_undeclared

    monkeypatch.delenv("KUBELAB_DECLARED_ADDONS", raising=False)
    refuse_undeclared("addons", "traefik", "lab.addon")  # outside `kubelab run`: anything goes
    monkeypatch.setenv("KUBELAB_DECLARED_ADDONS", "dnsutils")
    refuse_undeclared("addons", "dnsutils", "lab.addon")
    with pytest.raises(
        KubelabError, match=r"does not declare it in metadata.kubelab.addons \(declared: dnsutils\)"
    ):
        refuse_undeclared("addons", "traefik", "lab.addon")
    monkeypatch.setenv("KUBELAB_DECLARED_EXTRA_CLUSTERS", "")
    with pytest.raises(KubelabError, match="declared: none"):
        refuse_undeclared("extra_clusters", "dualstack", "kubelab.extra_cluster")


def test_what_a_run_needs_is_known_from_the_metadata_without_executing(tmp_path):
    from kubelab.cluster import prepare

    nb = notebook(
        tmp_path,
        "x = 1",
        meta={"cluster": "default", "extra_clusters": ["dualstack"], "addons": ["traefik"]},
    )
    needs = prepare.of_notebooks([nb])
    assert needs.configs == {"default", "dualstack"}
    assert needs.addons == {"traefik", "gateway-api"}, "an add-on brings the ones it requires"
    assert prepare.of_tests().configs >= {"default", "solo"}


def test_every_addon_and_extra_cluster_a_notebook_calls_is_declared():
    import json
    import re

    for nb in notebooks.discover():
        source = "\n".join(
            "".join(c["source"])
            for c in json.loads(nb.path.read_text())["cells"]
            if c["cell_type"] == "code"
        )
        assert set(re.findall(r"\.addon\(\s*\"([^\"]+)\"", source)) <= set(nb.addons), nb.name
        assert set(re.findall(r"extra_cluster\(\s*\"([^\"]+)\"", source)) <= set(
            nb.extra_clusters
        ), nb.name
        if "runimages.push(" in source:  # it installs the registry add-on
            assert "registry" in nb.addons, nb.name


def test_every_addon_and_cluster_a_test_uses_is_in_tests_needs():
    import re
    from pathlib import Path

    from kubelab.cluster import prepare

    needs = prepare.of_tests()
    source = "\n".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    assert set(re.findall(r"lab\.addon\(\"([^\"]+)\"\)", source)) <= needs.addons
    used = set(re.findall(r"KindCluster\(\"([^\"]+)\"", source))
    assert used <= needs.configs, used - needs.configs


def test_prepare_shows_the_builds_work_and_counts_what_was_cached():
    from kubelab.cluster.prepare import _QuietWhenCached

    shown = []
    echo = _QuietWhenCached(shown.append)
    for line in [
        "offline build for Kubernetes v1.37.2 (cache: /x)",
        "  kind: cached",
        "  node: cached (kindest/node:v1.37.2)",
        "add-on dnsutils: jessie-dnsutils:1.3",
        "  dnsutils: cached",
        "add-on traefik: traefik:v3.6.12",
        "  traefik: building (log: /x/traefik.log)",
        "  traefik: done in 868 s",
    ]:
        echo(line)
    assert echo.cached == 3
    assert shown == [
        "add-on traefik: traefik:v3.6.12",
        "  traefik: building (log: /x/traefik.log)",
        "  traefik: done in 868 s",
    ]


def test_under_a_run_a_wait_leaves_one_line_in_the_notebook(tmp_path, monkeypatch, capsys):
    from kubelab.core.progress import Progress

    log = tmp_path / "run.log"
    monkeypatch.setenv("KUBELAB_RUN_LOG", str(log))
    monkeypatch.setenv("KUBELAB_PROGRESS", "plain")
    wait = Progress("pod/web ready")
    wait.update("phase Pending")
    wait.update("phase Pending, ContainerCreating")
    wait.done("phase Running, ready")
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 1 and printed[0].startswith("✓ pod/web ready: phase Running, ready"), (
        printed
    )
    assert [line.split(" (")[0] for line in log.read_text().splitlines()] == [
        "  … pod/web ready: phase Pending",
        "  … pod/web ready: phase Pending, ContainerCreating",
    ]
