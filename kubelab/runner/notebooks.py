"""Run one notebook: papermill executes it once, kubelab supplies the cluster and a namespace.

A notebook declares itself in its metadata (`metadata.kubelab`):

    {"title": "...", "sections": [1, 2],          # the spec's sections it answers (kubelab/data/spec.json)
     "cluster": "default",                         # the cluster config it needs (clusters/<name>.yaml)
     "extra_clusters": ["dualstack"],              # configs it brings up beside it (kubelab.extra_cluster)
     "addons": ["traefik"],                        # the add-ons it installs (lab.addon): built before it runs
     "disturbs": true,                             # stops, reconfigures, taints or cordons nodes
     "budget_seconds": 600,                        # its time budget; also every cell's timeout
     "not_demonstrable": {"C-CCM-1": "why"},       # IDs it cannot show, with the reason
     "requires": {"nodes": 3}}                     # what `kubelab list` shows it needs

`run` writes, from that one execution, out/<name>.ipynb, out/<name>.html and out/<name>.run.json
(status, seconds, Kubernetes version, every check with the IDs it proves, the comparison of the
stable cells with the committed outputs); it closes the run (namespaces deleted, node changes
undone) whatever happens: failure, timeout or Ctrl-C.
"""

import ast
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from kubelab.core.errors import KubelabError
from kubelab.core.paths import REPO

NOTEBOOKS = REPO / "notebooks"
DEFAULT_BUDGET = 600
TIMEOUT_ERROR = "CellTimeout"


def out_dir() -> Path:
    path = Path(os.environ.get("KUBELAB_OUT") or REPO / "out")
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Notebook:
    path: Path
    meta: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def sections(self) -> list[int]:
        return list(self.meta.get("sections", []))

    @property
    def cluster(self) -> str:
        return self.meta.get("cluster", "default")

    @property
    def disturbs(self) -> bool:
        return bool(self.meta.get("disturbs", False))

    @property
    def budget_seconds(self) -> float:
        return float(self.meta.get("budget_seconds", DEFAULT_BUDGET))

    @property
    def not_demonstrable(self) -> dict[str, str]:
        return dict(self.meta.get("not_demonstrable", {}))

    @property
    def addons(self) -> list[str]:
        """The add-ons it installs (`lab.addon(...)`): built before it runs, the only ones it may install."""
        return list(self.meta.get("addons", []))

    @property
    def extra_clusters(self) -> list[str]:
        """Configs of the clusters it brings up beside its own (`kubelab.extra_cluster(...)`)."""
        return list(self.meta.get("extra_clusters", []))

    @property
    def requires(self) -> dict:
        return self.meta.get("requires", {})

    @property
    def answers(self) -> list[str]:
        """The spec IDs of its sections (claims and questions)."""
        from kubelab.core import spec

        return [entry.id for entry in spec.load().for_sections(self.sections)]


def load(path: Path) -> Notebook:
    return Notebook(path, json.loads(path.read_text()).get("metadata", {}).get("kubelab", {}))


def discover() -> list[Notebook]:
    return [load(path) for path in sorted(NOTEBOOKS.glob("*.ipynb"))]


def find(name: str) -> Notebook:
    notebooks = discover()
    for nb in notebooks:
        if (
            name in (nb.name, nb.path.name, str(nb.path))
            or nb.name.startswith(name + "-")
            or nb.name.split("-")[0] == name
        ):
            return nb
    if Path(name).suffix == ".ipynb" and Path(name).exists():
        return load(Path(name).resolve())
    known = ", ".join(nb.name for nb in notebooks) or "none"
    raise KubelabError(
        f"no notebook {name!r} in {NOTEBOOKS}", f"use one of: {known} (or its number, e.g. 00)"
    )


def parse_parameters(nb: Notebook, pairs: list[tuple[str, str]]) -> dict:
    """-p KEY VALUE pairs, checked against the notebook's parameters cell; values read as YAML."""
    import papermill

    declared = papermill.inspect_notebook(str(nb.path))
    params = {}
    for key, raw in pairs:
        if key not in declared:
            names = ", ".join(declared) or "none"
            raise KubelabError(
                f"{nb.name} has no parameter {key!r}", f"its parameters are: {names}"
            )
        try:
            params[key] = yaml.safe_load(raw)
        except yaml.YAMLError:
            params[key] = raw
        default = declared[key].get("default")
        try:
            default_value = ast.literal_eval(default) if default is not None else None
        except (ValueError, SyntaxError):
            default_value = None
        if (
            isinstance(default_value, (int, float))
            and not isinstance(default_value, bool)
            and (isinstance(params[key], bool) or not isinstance(params[key], (int, float)))
        ):
            raise KubelabError(
                f"parameter {key} must be a number (got {raw!r})", f"e.g. -p {key} {default}"
            )
    return params


@dataclass
class Execution:
    """How one papermill execution ended."""

    status: str  # passed, failed, not-run (the cluster lacks something), timeout
    message: str = ""
    cell: int | None = None  # the execution count of the cell that stopped it


@dataclass
class RunResult:
    notebook: str
    status: str  # passed, failed, not-run, timeout
    seconds: float
    output: Path
    html: Path | None
    message: str = ""
    version: str = ""
    cluster: str = ""
    checks: list[dict] = field(default_factory=list)
    stable_compared: int = 0
    stable_differences: list[dict] = field(default_factory=list)
    budget_seconds: float = DEFAULT_BUDGET
    images: str = ""  # the cluster's images: "offline" (built here, preloaded) or "stock"
    commit: str | None = None  # the kubelab checkout that ran it (kubelab.runner.provenance)

    @property
    def checks_passed(self) -> int:
        return sum(1 for c in self.checks if c.get("passed"))

    def record(self) -> dict:
        data = asdict(self)
        data.update(
            output=str(self.output),
            html=str(self.html) if self.html else None,
            finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            checks_passed=self.checks_passed,
        )
        return data


def execute(
    nb: Notebook,
    output: Path,
    parameters: dict | None = None,
    env: dict | None = None,
    budget: float | None = None,
) -> Execution:
    """Execute the notebook once with papermill, every cell bounded by the budget; say how it ended.

    A cell that runs past the budget is interrupted (its `finally` blocks run) and the result says
    which cell and what it was waiting for (the last progress line kubelab.core.progress wrote)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    budget = budget or nb.budget_seconds
    status_file = Path(tempfile.mkstemp(prefix="kubelab-status-")[1])
    saved = {k: os.environ.get(k) for k in [*(env or {}), "KUBELAB_STATUS", "KUBELAB_PROGRESS"]}
    os.environ.update(
        {**(env or {}), "KUBELAB_STATUS": str(status_file), "KUBELAB_PROGRESS": "plain"}
    )
    show_cell_output_live()
    try:
        # The kernel's own log is noise here: a warning about TCP on every start, and a traceback
        # from its sockets when Ctrl-C stops a cell. Cell errors still come back through papermill.
        papermill.execute_notebook(
            str(nb.path),
            str(output),
            parameters=parameters or {},
            kernel_name="python3",
            progress_bar=False,
            log_output=True,
            cwd=str(nb.path.parent),
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            execution_timeout=int(budget),
            interrupt_on_timeout=True,
            error_on_timeout={
                "ename": TIMEOUT_ERROR,
                "evalue": f"the cell ran past the notebook's budget of {budget:.0f} s",
                "traceback": [],
            },
        )
        return Execution("passed")
    except PapermillExecutionError as e:
        if e.ename in ("RequirementNotMet", "NodeAccessUnavailable"):
            return Execution(
                "not-run", f"the cluster lacks what it needs: {e.evalue}", e.exec_count
            )
        # The kernel is interrupted at the deadline; its KeyboardInterrupt is what comes back.
        # (A Ctrl-C of kubelab itself stops papermill here instead, with KeyboardInterrupt.)
        if e.ename in (TIMEOUT_ERROR, "KeyboardInterrupt"):
            from kubelab.core.progress import describe_status

            doing = describe_status(
                status_file.read_text() if status_file.exists() else "", _first_line(e.source)
            )
            return Execution(
                "timeout",
                f"{nb.name}: cell {e.exec_count} ran past the budget of {budget:.0f} s, {doing}",
                e.exec_count,
            )
        return Execution(
            "failed", f"{nb.name}: cell {e.exec_count}: {e.ename}: {e.evalue}", e.exec_count
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        status_file.unlink(missing_ok=True)


def _first_line(source: str) -> str:
    lines = [
        line
        for line in (source or "").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return lines[0].strip()[:100] if lines else "?"


def run(
    nb: Notebook,
    parameters: dict | None = None,
    *,
    cluster=None,
    config: str | None = None,
    cluster_name: str | None = None,
    namespace: str | None = None,
) -> RunResult:
    """Run a notebook on a cluster kubelab made (`config`, default: the notebook's own; `cluster_name`,
    default kubelab-<config>) or on the given backend (e.g. an ExistingCluster), in a fresh
    namespace, or in `namespace`, which must exist and stays (a workshop attendee's); close the
    run whatever happens."""
    from kubelab.cluster import ExistingCluster, KindCluster
    from kubelab.lab.lab import Lab, close_run, new_namespace_name

    from kubelab.cluster import prepare

    if cluster is None:
        cluster = KindCluster(config or nb.cluster, name=cluster_name)
        # Before its budget starts: whatever the notebook declares it will bring up or install.
        prepare.build(
            prepare.of_notebooks([nb]) | prepare.of_configs({config or nb.cluster}),
            images=cluster.choice.mode,
        )
        if not cluster.healthy():
            cluster.up(repair=False)  # never recreated under other runs' feet
    else:
        prepare.build(prepare.Needs(addons=prepare.with_requirements(nb.addons)), images="stock")
    run_id = new_namespace_name(nb.name)
    given = namespace is not None
    namespace = namespace or run_id
    output = out_dir() / f"{nb.name}.ipynb"
    ledger_file = out_dir() / f".{nb.name}.ledger.jsonl"
    ledger_file.unlink(missing_ok=True)
    run_log = out_dir() / f".{nb.name}.run.log"
    run_log.write_text("")
    env = {
        "KUBELAB_NAMESPACE": namespace,
        "KUBELAB_LEDGER": str(ledger_file),
        "KUBELAB_RUN_LOG": str(run_log),
        "KUBELAB_DECLARED_ADDONS": ",".join(nb.addons),
        "KUBELAB_DECLARED_EXTRA_CLUSTERS": ",".join(nb.extra_clusters),
        **({"KUBELAB_NAMESPACE_GIVEN": "1", "KUBELAB_RUN_ID": run_id} if given else {}),
    }
    if isinstance(cluster, ExistingCluster):
        env.update(
            KUBELAB_EXISTING_CLUSTER="1",
            KUBELAB_KUBECONFIG=str(cluster.kubeconfig),
            KUBELAB_CONTEXT=cluster.context or "",
        )
    else:
        env.update(KUBELAB_CONFIG=str(cluster.config_file), KUBELAB_CLUSTER_NAME=cluster.name)
    print(
        f"kubelab: running {nb.name} on {cluster.name} in namespace {namespace} "
        f"(budget {nb.budget_seconds:.0f} s; output: {output})",
        flush=True,
    )
    from kubelab.cluster import images
    from kubelab.lab import ledger
    from kubelab.runner import provenance

    commit = provenance.commit()  # what runs: the checkout as the run starts
    started = time.monotonic()
    try:
        with following(run_log, lambda line: print(f"  [log] {line}", flush=True)):
            ended = execute(nb, output, parameters, env)
    finally:
        run_log.unlink(missing_ok=True)
        close_run(Lab(cluster, namespace, given_namespace=given, run_id=run_id), namespace)
    seconds = time.monotonic() - started
    result = RunResult(
        nb.name,
        ended.status,
        seconds,
        output,
        write_html(output),
        ended.message,
        Lab(cluster, namespace).server_version(),
        cluster.name,
        ledger.read(ledger_file),
        budget_seconds=nb.budget_seconds,
        images=images.mode_of(cluster),
        commit=commit,
    )
    ledger_file.unlink(missing_ok=True)
    # Stable outputs are the default cluster's: elsewhere (someone else's cluster, where sections
    # may be skipped) they legitimately differ, and are not compared.
    if output.exists() and not isinstance(cluster, ExistingCluster):
        import nbformat
        from kubelab.runner import stable

        result.stable_compared, differences = stable.compare(
            nbformat.read(str(nb.path), as_version=4), nbformat.read(str(output), as_version=4)
        )
        result.stable_differences = [asdict(d) for d in differences]
    (out_dir() / f"{nb.name}.run.json").write_text(
        json.dumps(result.record(), indent=1, ensure_ascii=False)
    )
    return result


@contextmanager
def following(path: Path, emit: Callable[[str], None], every: float = 0.5):
    """While inside, every line appended to `path` goes to `emit` (the notebook's kernel writes
    there what belongs in the run's log and not in the notebook: see progress.to_run_log)."""
    stop = threading.Event()
    path.touch()

    def follow() -> None:
        with open(path, errors="replace") as f:
            pending = ""
            while True:
                stopping = stop.is_set()
                pending += f.read()
                *lines, pending = pending.split("\n")
                for line in lines:
                    if line.strip():
                        emit(line.rstrip())
                if stopping:
                    if pending.strip():
                        emit(pending.rstrip())
                    return
                stop.wait(every)

    thread = threading.Thread(target=follow, daemon=True, name="run-log")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def show_cell_output_live() -> None:
    """papermill logs each cell's output as it comes (log_output=True): print it, plainly."""
    import logging

    logger = logging.getLogger("papermill")
    if not any(getattr(h, "kubelab", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(OneLineEach())
        handler.kubelab = True
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


class OneLineEach:
    """A cell's output already ends with a newline; papermill's own messages do not."""

    def format(self, record) -> str:
        return record.getMessage().rstrip("\n")


def write_html(notebook_path: Path) -> Path | None:
    if not notebook_path.exists():
        return None
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(str(notebook_path), as_version=4))
    html = notebook_path.with_suffix(".html")
    html.write_text(body)
    return html


def last_run(name: str, out: Path | None = None) -> dict | None:
    """The record of a notebook's last run (out/<name>.run.json, or in `out`), if any."""
    path = (out or out_dir()) / f"{name}.run.json"
    return json.loads(path.read_text()) if path.exists() else None
