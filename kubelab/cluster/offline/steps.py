"""Cached build steps: each result lives in the cache under a key of everything it was made from.

A step whose key is already built is skipped. A step builds into a temporary folder that is
renamed into place only on success, so a failed or interrupted step leaves nothing that looks
finished. A failure names the step, shows the end of its log and says where the full log is.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from kubelab.core.errors import KubelabError


def digest_files(paths: Iterable[Path]) -> str:
    """A hash of the files' names and contents (folders are walked), for cache keys."""
    h = hashlib.sha256()
    for root in sorted(Path(p) for p in paths):
        files = sorted(f for f in root.rglob("*") if f.is_file()) if root.is_dir() else [root]
        for f in files:
            h.update(str(f.relative_to(root.parent)).encode())
            h.update(b"\0")
            h.update(f.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def key_of(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class StepFailed(KubelabError):
    pass


class Step:
    """One running step: its log, and commands whose output goes to that log. `status` says how
    far it is (e.g. "812 of 2301 packages compiled"); the runner shows it, or the log's last line."""

    def __init__(self, name: str, workdir: Path, log_path: Path):
        self.name = name
        self.workdir = workdir
        self.log_path = log_path
        self._log = open(log_path, "a", buffering=1)
        self.status: str | None = None
        self.last_line = ""

    def log(self, message: str) -> None:
        self._log.write(message + "\n")
        self.last_line = message

    def run(
        self,
        args: list,
        *,
        cwd: Path | None = None,
        env: dict | None = None,
        stdin=None,
        stdout=None,
        watch: Callable[[str], None] | None = None,
    ) -> None:
        """Run a command; its output goes to the log (and each line to `watch`, if given)."""
        self.log(f"$ {' '.join(map(str, args))}")
        full_env = {**os.environ, **(env or {})}
        process = subprocess.Popen(
            [str(a) for a in args],
            cwd=cwd,
            env=full_env,
            stdin=stdin,
            stdout=stdout if stdout is not None else subprocess.PIPE,
            stderr=subprocess.STDOUT if stdout is None else self._log,
            text=stdout is None,
        )
        if stdout is None:
            for line in process.stdout:
                self._log.write(line)
                if line.strip():
                    self.last_line = line.rstrip()
                if watch:
                    watch(line)
        if process.wait() != 0:
            raise subprocess.CalledProcessError(process.returncode, args)

    def output(self, args: list, *, cwd: Path | None = None, env: dict | None = None) -> str:
        self.log(f"$ {' '.join(map(str, args))}")
        result = subprocess.run(
            [str(a) for a in args],
            cwd=cwd,
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._log.write(result.stderr)
        if result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, args, result.stdout, result.stderr
            )
        return result.stdout

    def close(self) -> None:
        self._log.close()


RESULT = re.compile(
    r"(?P<step>.+)-[0-9a-f]{16}"
)  # a step's result folder: <step>-<16 hex digits of its key>


def stale_results(root: Path, keep: frozenset[str], step: str | None = None) -> list[Path]:
    """The result folders under `root` that are not in `keep`: of one step, or of every step."""
    return [
        path
        for path in root.iterdir()
        if (found := RESULT.fullmatch(path.name))
        and path.is_dir()
        and path.name not in keep
        and (step is None or found["step"] == step)
    ]


class StepRunner:
    """Runs steps into `<cache>/offline/<name>-<key>/`, reusing any that are already there."""

    def __init__(
        self,
        cache: Path,
        echo: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
        keep: frozenset[str] = frozenset(),
    ):
        self.root = cache / "offline"
        self.keep = (
            keep  # results never removed as "older": those of the other versions the pins declare
        )
        self.logs = cache / "logs"
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.echo = echo
        self.timings: dict[str, float] = {}

    def result_dir(self, name: str, key: str) -> Path:
        return self.root / f"{name}-{key}"

    def run(self, name: str, key: str, build: Callable[[Step], None]) -> Path:
        """Build into `<cache>/offline/<name>-<key>/` unless it is there already."""
        final = self.result_dir(name, key)
        if final.is_dir():
            self.echo(f"  {name}: cached")
            self.timings[name] = 0.0
            return final
        work = final.with_name(final.name + ".partial")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        self.attempt(name, key, work, build)
        # Remove an older result of the same step: keep the cache from growing with every pin change.
        for old in stale_results(self.root, self.keep, step=name):
            shutil.rmtree(old, ignore_errors=True)
        work.rename(final)
        return final

    def attempt(self, name: str, key: str, work: Path, build: Callable[[Step], None]) -> None:
        """Run one step in `work` with its own log; on failure remove `work` and say what failed."""
        log_path = self.logs / f"{name}.log"
        log_path.write_text(f"# {name} (key {key}) started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        step = Step(name, work, log_path)
        self.echo(f"  {name}: building (log: {log_path})")
        started = time.monotonic()
        ticker = Ticker(step, started, self.echo)
        try:
            build(step)
        except BaseException as e:
            ticker.stop()
            step.close()
            shutil.rmtree(work, ignore_errors=True)
            if isinstance(e, KeyboardInterrupt):
                raise
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
            raise StepFailed(
                f"build step '{name}' failed: {e}\n--- last lines of {log_path} ---\n{tail}\n--- end ---",
                f"read the full log at {log_path}; fix the cause and run the build again (finished steps are kept)",
            ) from e
        ticker.stop()
        step.close()
        self.timings[name] = time.monotonic() - started
        self.echo(f"  {name}: done in {self.timings[name]:.0f} s")


class Ticker:
    """Every 10 s, a line saying that a step is alive: its elapsed time and its status, or the last
    line of its log. In a terminal the line is rewritten in place; in CI each is a plain line."""

    EVERY = 10.0

    def __init__(self, step: Step, started: float, echo: Callable[[str], None]):
        import threading

        self.step, self.started, self.echo = step, started, echo
        self.tty = sys.stderr.isatty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.EVERY):
            elapsed = int(time.monotonic() - self.started)
            what = self.step.status or f"last: {self.step.last_line[:100]}"
            line = f"  {self.step.name}: {elapsed // 60}m{elapsed % 60:02d}s, {what}"
            if self.tty:
                sys.stderr.write("\r\033[K" + line)
                sys.stderr.flush()
            else:
                self.echo(line)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        if self.tty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
