"""Every notebook in notebooks/ runs to the end on the real cluster (papermill, as `kubelab run`).

nbval, run on notebooks/ by `make test`, also compares the outputs of cells marked stable
(`# NBVAL_CHECK_OUTPUT`) with the ones committed.
"""

import json

import pytest

from kubelab import notebooks

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize("notebook", notebooks.discover(), ids=lambda nb: nb.name)
def test_notebook_runs_and_passes(notebook, cluster):
    result = notebooks.run(notebook)
    assert result.status == "passed", f"{notebook.name}: {result.status}: {result.message} (see {result.output})"
    assert result.html and result.html.exists()


@pytest.mark.parametrize("notebook", notebooks.discover(), ids=lambda nb: nb.name)
def test_notebook_declares_what_it_answers_and_needs(notebook):
    assert notebook.answers, "metadata.kubelab.answers lists the question IDs it answers"
    assert "requires" in notebook.meta
    cells = json.loads(notebook.path.read_text())["cells"]
    assert cells[0]["cell_type"] == "markdown" and "Answers" in "".join(cells[0]["source"])
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells), "a papermill parameters cell"
    source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    for qid in notebook.answers + notebook.meta.get("claims", []):
        assert qid in "\n".join("".join(c["source"]) for c in cells), f"{qid} is named in the notebook"
    assert "lab.close()" in source, "the notebook deletes its namespace at the end"


def test_interrupted_run_leaves_nothing_for_gc(cluster):
    """Ctrl-C in the middle of `kubelab run`: the run's namespace is deleted on the way out."""
    import signal
    import subprocess
    import sys
    import time

    from kubelab.gc import changed_nodes, leaked_namespaces

    nb = notebooks.discover()[0]
    run = subprocess.Popen([sys.executable, "-m", "kubelab", "run", nb.name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not cluster.kubectl("get", "namespaces", "-l", "kubelab.dev/notebook", "-o", "name").strip():
        time.sleep(0.5)
    time.sleep(3)   # well inside the notebook
    run.send_signal(signal.SIGINT)
    output, _ = run.communicate(timeout=180)
    assert run.returncode != 0 and "kubelab: interrupted" in output, output[-2000:]
    assert "Traceback" not in output, output[-2000:]
    assert leaked_namespaces(cluster) == []
    assert changed_nodes(cluster) == {}
    left = cluster.kubectl("get", "namespaces", "-l", "kubelab.dev/run=true", "-o", "name").split()
    assert not [ns for ns in left if nb.name[:20] in ns], left
