import uuid

import pytest

from kubelab.cluster import KindCluster
from kubelab.lab.lab import Lab


@pytest.fixture(scope="session")
def cluster() -> KindCluster:
    """The default cluster, created once (or reused) for the whole run. Never repaired here:
    notebooks may be running on it, and a Node one of them made for a moment, or a kube-system Pod
    restarting, must not get it recreated under them (a CI run lost 05 and 06 that way)."""
    return KindCluster("default").up(repair=False)


@pytest.fixture
def namespace(cluster):
    """A fresh namespace for one test, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    Lab(
        cluster, name, notebook="pytest"
    ).create_namespace()  # labelled: `kubelab gc` finds leftovers
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


# -- the notebooks run in the background while the other tests run ------------------------------
#
# The scheduler (kubelab.runner.schedule) starts once collection is done, so the notebooks' minutes of
# waiting (a node failure takes six) overlap the unit and cluster tests. Tests that disturb the
# default cluster are marked `disturbs` and wait until the notebooks that share it are done.

NOTEBOOK_RUN = None


def _runs_notebooks(item) -> bool:
    return "runs" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config, items):
    """Tests without a cluster first, then the cluster's quiet tests, then the ones that disturb it,
    then the notebooks' verdicts (which wait for the notebooks)."""

    def rank(item):
        if _runs_notebooks(item):
            return 3
        if item.get_closest_marker("disturbs"):
            return 2
        return 1 if item.get_closest_marker("cluster") else 0

    items.sort(key=rank)


def pytest_collection_finish(session):
    global NOTEBOOK_RUN
    if session.config.option.collectonly or not any(
        _runs_notebooks(item) for item in session.items
    ):
        return
    from kubelab.runner import notebooks, schedule
    from kubelab.cluster import prepare

    echo = _around_capture(session.config)
    # Everything the notebooks and tests will bring up or install, built before any of them starts
    # (`make test` has done it already: then this only finds it cached).
    prepare.build(prepare.of_notebooks(notebooks.discover()) | prepare.of_tests(), echo=echo)
    NOTEBOOK_RUN = schedule.Run(notebooks.discover(), echo=echo)


def _around_capture(config):
    """A line on the terminal while pytest captures the tests' output: the notebooks' progress."""
    import threading

    terminal = config.pluginmanager.getplugin("terminalreporter")
    capture = config.pluginmanager.getplugin("capturemanager")
    lock = threading.Lock()

    def echo(line: str) -> None:
        with lock, capture.global_and_fixture_disabled():
            terminal.write_line(line.rstrip("\n"))

    return echo


@pytest.fixture(scope="session")
def runs(cluster) -> dict:
    """Every notebook's outcome, by name (the scheduler started after collection)."""
    outcomes = NOTEBOOK_RUN.wait()
    return {o.notebook: o for o in outcomes}


@pytest.fixture(autouse=True)
def _alone_on_the_default_cluster(request):
    """A test marked `disturbs` (it stops, reconfigures or taints nodes) waits until no notebook
    runs on the default cluster."""
    if request.node.get_closest_marker("disturbs") and NOTEBOOK_RUN is not None:
        NOTEBOOK_RUN.wait_for_cluster("kubelab-default")


def pytest_terminal_summary(terminalreporter):
    """After the tests: the notebooks' table and the coverage totals, when notebooks ran."""
    if NOTEBOOK_RUN is None or not NOTEBOOK_RUN.outcomes:
        return
    from kubelab.runner import coverage, notebooks, schedule

    terminalreporter.section("notebooks")
    terminalreporter.write_line(schedule.table(NOTEBOOK_RUN.outcomes))
    terminalreporter.write_line(f"(also in {notebooks.out_dir() / 'summary.json'})")
    terminalreporter.section("coverage of the spec")
    terminalreporter.write_line(coverage.compute().totals_line())


# api_lab and control_plane: a real API server without nodes (tests/apiserver.py).
pytest_plugins = ["apiserver"]
