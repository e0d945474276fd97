"""Run the notebooks: papermill executes, kubelab supplies the cluster and a namespace per run.

A notebook declares itself in its metadata:

    "kubelab": {"answers": ["Q-INTRO-1", ...], "claims": ["C-INTRO-1", ...],
                "requires": {"nodes": 3, "zones": 2}, "title": "..."}

`run` writes the executed notebook and an HTML copy under out/, deletes the run's namespace
whatever happens (failure, Ctrl-C), and remembers when and on which Kubernetes version each
notebook last passed.
"""

import ast
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import KubelabError
from .paths import REPO, state_dir

NOTEBOOKS = REPO / "notebooks"


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
    def answers(self) -> list[str]:
        return self.meta.get("answers", [])

    @property
    def requires(self) -> dict:
        return self.meta.get("requires", {})


def discover() -> list[Notebook]:
    found = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        meta = json.loads(path.read_text()).get("metadata", {}).get("kubelab", {})
        found.append(Notebook(path, meta))
    return found


def find(name: str) -> Notebook:
    notebooks = discover()
    for nb in notebooks:
        if name in (nb.name, nb.path.name, str(nb.path)) or nb.name.startswith(name + "-") or nb.name.split("-")[0] == name:
            return nb
    known = ", ".join(nb.name for nb in notebooks) or "none"
    raise KubelabError(f"no notebook {name!r} in {NOTEBOOKS}", f"use one of: {known} (or its number, e.g. 00)")


def parse_parameters(nb: Notebook, pairs: list[tuple[str, str]]) -> dict:
    """-p KEY VALUE pairs, checked against the notebook's parameters cell; values read as YAML."""
    import papermill
    declared = papermill.inspect_notebook(str(nb.path))
    params = {}
    for key, raw in pairs:
        if key not in declared:
            names = ", ".join(declared) or "none"
            raise KubelabError(f"{nb.name} has no parameter {key!r}", f"its parameters are: {names}")
        try:
            params[key] = yaml.safe_load(raw)
        except yaml.YAMLError:
            params[key] = raw
        default = declared[key].get("default")
        try:
            default_value = ast.literal_eval(default) if default is not None else None
        except (ValueError, SyntaxError):
            default_value = None
        if isinstance(default_value, (int, float)) and not isinstance(default_value, bool) \
                and (isinstance(params[key], bool) or not isinstance(params[key], (int, float))):
            raise KubelabError(f"parameter {key} must be a number (got {raw!r})", f"e.g. -p {key} {default}")
    return params


@dataclass
class RunResult:
    notebook: str
    status: str                 # passed, failed, not-run
    seconds: float
    output: Path
    html: Path | None
    message: str = ""
    version: str = ""


def run(nb: Notebook, parameters: dict | None = None, config: str = "default") -> RunResult:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from .lab import Lab, close_run, new_namespace_name
    from .cluster import KindCluster

    cluster = KindCluster(config)
    if not cluster.healthy():
        cluster.up()
    namespace = new_namespace_name(nb.name)
    output = out_dir() / f"{nb.name}.ipynb"
    env_before = {k: os.environ.get(k) for k in ("KUBELAB_NAMESPACE", "KUBELAB_CONFIG", "KUBELAB_PROGRESS")}
    os.environ.update({"KUBELAB_NAMESPACE": namespace, "KUBELAB_CONFIG": config, "KUBELAB_PROGRESS": "plain"})
    started = time.monotonic()
    status, message = "passed", ""
    print(f"kubelab: running {nb.name} in namespace {namespace} (output: {output})", flush=True)
    show_cell_output_live()
    try:
        # The kernel's own log is noise here: a warning about TCP on every start, and a traceback
        # from its sockets when Ctrl-C stops a cell. Cell errors still come back through papermill.
        papermill.execute_notebook(str(nb.path), str(output), parameters=parameters or {}, kernel_name="python3",
                                   progress_bar=False, log_output=True, cwd=str(NOTEBOOKS),
                                   extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
    except PapermillExecutionError as e:
        if e.ename == "RequirementNotMet":
            status, message = "not-run", f"the cluster lacks what it needs: {e.evalue}"
        else:
            status, message = "failed", f"cell {e.exec_count}: {e.ename}: {e.evalue}"
    finally:
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        lab = Lab(cluster, namespace)
        close_run(lab, namespace)
    seconds = time.monotonic() - started
    html = write_html(output)
    version = lab.server_version()
    result = RunResult(nb.name, status, seconds, output, html, message, version)
    remember(result)
    return result


def show_cell_output_live() -> None:
    """papermill logs each cell's output as it comes (log_output=True): print it, plainly."""
    import logging
    logger = logging.getLogger("papermill")
    if not any(getattr(h, "kubelab", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.kubelab = True
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def write_html(notebook_path: Path) -> Path | None:
    if not notebook_path.exists():
        return None
    import nbformat
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(str(notebook_path), as_version=4))
    html = notebook_path.with_suffix(".html")
    html.write_text(body)
    return html


def results_file() -> Path:
    return state_dir() / "notebook-results.json"


def remember(result: RunResult) -> None:
    path = results_file()
    data = json.loads(path.read_text()) if path.exists() else {}
    entry = data.setdefault(result.notebook, {})
    entry.update({"last_status": result.status, "last_run": time.strftime("%Y-%m-%d %H:%M:%S"),
                  "seconds": round(result.seconds, 1)})
    if result.status == "passed":
        entry.update({"last_passed": entry["last_run"], "version": result.version})
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def history() -> dict:
    path = results_file()
    return json.loads(path.read_text()) if path.exists() else {}
