"""Every notebook, executed once on the cluster it declares (quiet ones side by side), then judged:
it passed, its stable cells match the committed outputs (nbval's rules), and every claim and
question of its sections was proven by a passing check or declared not demonstrable."""

import json

import pytest

from kubelab.runner import notebooks

NOTEBOOKS = notebooks.discover()
# `runs` (conftest.py): every notebook's outcome; the scheduler runs them in the background.


def by_name(nb):
    return nb.name


@pytest.mark.cluster
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=by_name)
def test_notebook_passes(notebook, runs):
    outcome = runs[notebook.name]
    assert outcome.status == "passed", (
        f"{notebook.name}: {outcome.status}: {outcome.message} (see out/{notebook.name}.ipynb)"
    )
    assert outcome.checks_passed > 0, "a notebook that passes made checks"
    assert (notebooks.out_dir() / f"{notebook.name}.html").exists()


@pytest.mark.cluster
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=by_name)
def test_stable_cells_match_the_committed_outputs(notebook, runs):
    record = notebooks.last_run(notebook.name)
    stable_cells = [
        c
        for c in json.loads(notebook.path.read_text())["cells"]
        if c["cell_type"] == "code"
        and "".join(c["source"]).lstrip().startswith("# NBVAL_CHECK_OUTPUT")
        and c.get("execution_count") is not None
    ]
    assert record["stable_compared"] == len(stable_cells), "every stable cell was compared"
    differences = "\n".join(
        f"cell {d['cell']}: {d['detail']}" for d in record["stable_differences"]
    )
    assert not record["stable_differences"], (
        f"{notebook.name}: stable outputs differ (refresh them with "
        f"scripts/stable_outputs.py if the change is intended)\n{differences}"
    )


@pytest.mark.cluster
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=by_name)
def test_every_claim_and_question_is_proven_or_declared_not_demonstrable(notebook, runs):
    from kubelab.runner import coverage

    missing = coverage.compute().missing_for(notebook.name)
    assert not missing, (
        f"{notebook.name}: neither proven in its last run nor declared not demonstrable: {', '.join(missing)}"
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=by_name)
def test_notebook_declares_what_it_answers_and_needs(notebook):
    from kubelab.cluster import config_path

    meta = notebook.meta
    assert notebook.sections, "metadata.kubelab.sections lists the spec sections it answers"
    assert isinstance(meta.get("disturbs"), bool), (
        "metadata.kubelab.disturbs says whether it disturbs nodes"
    )
    assert 0 < notebook.budget_seconds <= 900, "metadata.kubelab.budget_seconds: its time budget"
    config_path(notebook.cluster)  # the cluster config it names exists
    assert set(notebook.not_demonstrable) <= set(notebook.answers), (
        "not_demonstrable names IDs of its own sections"
    )
    assert all(reason.strip() for reason in notebook.not_demonstrable.values()), (
        "every not-demonstrable ID says why"
    )
    cells = json.loads(notebook.path.read_text())["cells"]
    assert cells[0]["cell_type"] == "markdown"
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells), (
        "a papermill parameters cell"
    )
    source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "lab.close()" in source, "the notebook closes its run at the end"
    assert "summary_table(" in source, "the notebook ends with a summary table of measured values"


@pytest.mark.cluster
def test_interrupted_run_leaves_nothing_for_gc(cluster, tmp_path):
    """Ctrl-C in the middle of `kubelab run`: the run's namespace is deleted on the way out."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from kubelab.cli.gc import changed_nodes, leaked_namespaces

    nb = NOTEBOOKS[0]
    # Its own output folder: out/ keeps the executed notebooks of the real runs.
    run = subprocess.Popen(
        [sys.executable, "-m", "kubelab", "run", nb.name],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "KUBELAB_OUT": str(tmp_path)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while (
        time.monotonic() < deadline
        and not cluster.kubectl(
            "get", "namespaces", "-l", "kubelab.dev/notebook", "-o", "name"
        ).strip()
    ):
        time.sleep(0.5)
    time.sleep(3)  # well inside the notebook
    run.send_signal(signal.SIGINT)
    output, _ = run.communicate(timeout=180)
    assert run.returncode != 0 and "kubelab: interrupted" in output, output[-2000:]
    assert "Traceback" not in output, output[-2000:]
    assert leaked_namespaces(cluster) == []
    assert changed_nodes(cluster) == {}
    left = cluster.kubectl("get", "namespaces", "-l", "kubelab.dev/run=true", "-o", "name").split()
    assert not [ns for ns in left if nb.name[:20] in ns], left
