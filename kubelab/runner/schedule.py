"""Run many notebooks in as little time as their needs allow (`make test`, `kubelab test`).

Notebooks are grouped by the cluster config they declare (`metadata.kubelab.cluster`). For each
config there are up to two lanes, and all lanes run at the same time:

- the quiet lane, on the config's cluster (`kubelab-<config>`): the notebooks that disturb
  nothing run side by side, each in its own namespace and its own `kubelab run` process;
- the disturbing lane: notebooks that stop, reconfigure, taint or cordon nodes run one at a
  time, alone on a cluster. When the config also has quiet notebooks, that is a second cluster of
  the same config (`kubelab-<config>-alone`), so the quiet ones need not wait for them.

Each cluster is brought up once; clusters other than `kubelab-default` are removed at the end
unless asked to keep them (`keep_clusters`, KUBELAB_KEEP_CLUSTERS=1). Each run's whole output is
kept in out/<notebook>.log; `echo` gets a line when a lane or a notebook starts and ends (and,
with `stream=True`, every line of output, marked with the notebook's number). The result is a
table (notebook, cluster, seconds, checks passed, status), also written to out/summary.json.
"""

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kubelab.core.errors import KubelabError
from kubelab.runner.notebooks import Notebook, last_run, out_dir

DEFAULT_CONFIG = "default"
ALONE_SUFFIX = "-alone"
# Quiet notebooks mostly wait on their cluster, but each has a kernel and a kubectl or two: on a
# two-core machine, three at a time keeps the waits honest (KUBELAB_PARALLEL changes it).
PARALLEL = int(os.environ.get("KUBELAB_PARALLEL", "3"))


@dataclass
class Outcome:
    notebook: str
    cluster: str
    seconds: float
    checks_passed: int
    status: str  # passed, failed, not-run, timeout, crashed (the run process itself died)
    message: str = ""
    stable_differences: int = 0


@dataclass
class Lane:
    config: str
    cluster: str  # the kind cluster's name
    batches: list[list[Notebook]]  # notebooks of a batch run together; batches one after another
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def notebooks(self) -> list[Notebook]:
        return [nb for batch in self.batches for nb in batch]


def plan(notebooks: list[Notebook]) -> list[Lane]:
    """The lanes: the default config's first, its quiet lane before its disturbing one."""
    configs: dict[str, list[Notebook]] = {}
    for nb in notebooks:
        configs.setdefault(nb.cluster, []).append(nb)
    lanes = []
    for config in sorted(configs, key=lambda c: (c != DEFAULT_CONFIG, c)):
        quiet = [nb for nb in configs[config] if not nb.disturbs]
        loud = [nb for nb in configs[config] if nb.disturbs]
        name = f"kubelab-{config}"
        if quiet:
            lanes.append(Lane(config, name, [quiet]))
        if loud:
            lanes.append(
                Lane(config, name + ALONE_SUFFIX if quiet else name, [[nb] for nb in loud])
            )
    return lanes


def projected_seconds(notebooks: list[Notebook], parallel: int = PARALLEL) -> float:
    """Wall time if every notebook used its whole budget: the longest lane (lanes run together);
    a batch takes its longest budget, or its budgets shared among `parallel` runs if that is more."""

    def batch_seconds(batch):
        budgets = [nb.budget_seconds for nb in batch]
        return max(max(budgets), sum(budgets) / parallel)

    return max(
        (sum(batch_seconds(batch) for batch in lane.batches) for lane in plan(notebooks)),
        default=0.0,
    )


class Run:
    """Notebooks running in the background, lane by lane: `wait_for_cluster(name)` returns once
    every lane on that cluster has finished; `wait()` returns every outcome."""

    def __init__(
        self,
        notebooks: list[Notebook],
        keep_clusters: bool | None = None,
        echo: Callable[[str], None] = print,
        stream: bool = False,
    ):
        self.lanes = plan(notebooks)
        self.echo, self.stream = echo, stream
        self.keep = (
            keep_clusters
            if keep_clusters is not None
            else os.environ.get("KUBELAB_KEEP_CLUSTERS") == "1"
        )
        self.outcomes: list[Outcome] = []
        # The environment as it is now: under pytest, tests that run meanwhile change os.environ
        # (a state or output folder of their own), and nothing a lane does may follow them. So every
        # lane works in processes given this environment, and writes where it says.
        self.env = dict(os.environ)
        self.out = out_dir()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(
            max_workers=max(len(self.lanes), 1), thread_name_prefix="lane"
        )
        self._futures = [self._pool.submit(self._run_lane, lane) for lane in self.lanes]

    def _kubelab(self, *args: str) -> subprocess.CompletedProcess:
        """A kubelab command in a process with the run's environment; its lines are echoed as
        they come (a cold cluster start builds images for minutes) and returned."""
        lines: list[str] = []

        def on_line(line: str) -> None:
            lines.append(line)
            self.echo(f"[{args[0]}] {line.rstrip()}")

        return subprocess.CompletedProcess(
            args, kubelab_process(args, self.env, on_line), "".join(lines), ""
        )

    def _run_lane(self, lane: Lane) -> None:
        try:
            self.echo(
                f"kubelab: {lane.cluster}: bringing it up for {', '.join(nb.name for nb in lane.notebooks)}"
            )
            started = time.monotonic()
            up = self._kubelab("up", "--config", lane.config, "--name", lane.cluster)
            if up.returncode != 0:
                raise KubelabError(
                    f"bringing up {lane.cluster} failed: {(up.stdout + up.stderr).strip()[-1500:]}"
                )
            self.echo(f"kubelab: {lane.cluster}: up after {time.monotonic() - started:.0f} s")
            try:
                for batch in lane.batches:
                    with ThreadPoolExecutor(max_workers=min(len(batch), PARALLEL)) as pool:
                        results = list(pool.map(lambda nb: self._run(nb, lane), batch))
                    with self._lock:
                        self.outcomes += results
            finally:
                if lane.cluster != f"kubelab-{DEFAULT_CONFIG}" and not self.keep:
                    self.echo(
                        f"kubelab: {lane.cluster}: removing it (KUBELAB_KEEP_CLUSTERS=1 keeps it)"
                    )
                    down = self._kubelab("down", "--config", lane.config, "--name", lane.cluster)
                    if down.returncode != 0:
                        self.echo(
                            f"kubelab: {lane.cluster}: removing it failed: {(down.stdout + down.stderr).strip()[-500:]}"
                        )
        finally:
            lane.done.set()

    def _run(self, nb: Notebook, lane: Lane) -> Outcome:
        self.echo(
            f"kubelab: {nb.name}: running on {lane.cluster} (budget {nb.budget_seconds:.0f} s; "
            f"output in {self.out / (nb.name + '.log')})"
        )
        tag = f"[{nb.name.split('-')[0]}] "
        outcome = run_in_process(
            nb,
            lane,
            on_line=(lambda line: self.echo(tag + line)) if self.stream else None,
            env=self.env,
            out=self.out,
        )
        self.echo(
            f"kubelab: {nb.name}: {outcome.status} in {outcome.seconds:.0f} s, {outcome.checks_passed} checks passed"
            + (f" ({outcome.message})" if outcome.message else "")
        )
        return outcome

    def wait_for_cluster(self, name: str) -> None:
        for lane in self.lanes:
            if lane.cluster == name:
                lane.done.wait()

    def wait(self) -> list[Outcome]:
        for future in self._futures:
            future.result()  # a lane that could not even start its cluster raises here
        self._pool.shutdown()
        order = {
            nb.name: i for i, nb in enumerate(nb for lane in self.lanes for nb in lane.notebooks)
        }
        self.outcomes.sort(key=lambda o: order.get(o.notebook, 0))
        write_summary(self.outcomes, self.out)
        return self.outcomes


def run_all(
    notebooks: list[Notebook], keep_clusters: bool | None = None, stream: bool = True
) -> list[Outcome]:
    return Run(notebooks, keep_clusters, echo=_print_line, stream=stream).wait()


_print_lock = threading.Lock()


def _print_line(line: str) -> None:
    with _print_lock:
        print(line.rstrip("\n"), flush=True)


def kubelab_process(
    args: list[str] | tuple[str, ...], env: dict | None, on_line: Callable[[str], None]
) -> int:
    """`python -m kubelab ARGS` in a process of its own; each line of its output (stdout and stderr
    together) goes to `on_line` as it comes. Returns its exit code."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kubelab", *args],
        env=env,
        text=True,
        bufsize=1,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    for line in process.stdout:
        on_line(line)
    return process.wait()


def run_in_process(
    nb: Notebook,
    lane: Lane,
    on_line: Callable[[str], None] | None = None,
    env: dict | None = None,
    out: Path | None = None,
) -> Outcome:
    """`kubelab run` in a process of its own (its environment, its kernel, its Ctrl-C handling);
    its output goes to out/<notebook>.log, and to `on_line` line by line if given."""
    started = time.monotonic()
    out = out or out_dir()
    before = (last_run(nb.name, out) or {}).get("finished")
    with open(out / f"{nb.name}.log", "w") as log:

        def to_log(line: str) -> None:
            log.write(line)
            log.flush()
            if on_line:
                on_line(line)

        returncode = kubelab_process(
            ["run", str(nb.path), "--config", lane.config, "--cluster-name", lane.cluster],
            env,
            to_log,
        )
    record = last_run(nb.name, out) or {}
    if not record or record.get("finished") == before:
        return Outcome(
            nb.name,
            lane.cluster,
            time.monotonic() - started,
            0,
            "crashed",
            f"`kubelab run {nb.name}` exited {returncode} without a result",
        )
    return Outcome(
        nb.name,
        record.get("cluster", lane.cluster),
        record["seconds"],
        record.get("checks_passed", 0),
        record["status"],
        record.get("message", ""),
        len(record.get("stable_differences", [])),
    )


def table(outcomes: list[Outcome]) -> str:
    rows = [("notebook", "cluster", "seconds", "checks passed", "status")]
    rows += [
        (
            o.notebook,
            o.cluster,
            f"{o.seconds:.0f}",
            str(o.checks_passed),
            o.status
            + (f" ({o.stable_differences} stable cells differ)" if o.stable_differences else ""),
        )
        for o in outcomes
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def write_summary(outcomes: list[Outcome], out: Path | None = None) -> None:
    path = (out or out_dir()) / "summary.json"
    path.write_text(json.dumps([o.__dict__ for o in outcomes], indent=1, ensure_ascii=False))
