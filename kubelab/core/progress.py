"""Progress while waiting: a live line in Jupyter, plain lines under papermill and in a terminal.

Plain lines are printed only when what is being waited for changes, so a CI log shows the story
(waiting for X... X done) without thousands of spinner frames; under `kubelab run` those lines go
to the run's log (KUBELAB_RUN_LOG) and the executed notebook keeps one line per wait, its end.

Under `kubelab run` the current wait is also written to the file named by KUBELAB_STATUS, so a
cell that runs past the notebook's budget can be reported with what it was waiting for: the wait
it is in, or else the last one that ended. Work whose detail does not belong in the published
notebook (an add-on's installation, a build) runs inside `to_run_log()`: its lines go to the run's
log (KUBELAB_RUN_LOG, which `kubelab run` copies into its own output), not into the cell.
"""

import contextlib
import os
import sys
import time


def _in_live_jupyter() -> bool:
    if os.environ.get("KUBELAB_PROGRESS") == "plain":  # set by `kubelab run` (papermill)
        return False
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class Progress:
    """One wait's progress: `update(text)` as often as you like, then `done(text)`."""

    def __init__(self, title: str):
        self.title = title
        self.started = time.monotonic()
        self._last = None
        self._widget = None
        self._note("starting")
        if _in_live_jupyter():
            try:
                import ipywidgets
                from IPython.display import display

                self._widget = ipywidgets.HTML(value=f"⏳ {title}")
                display(self._widget)
            except ImportError:
                self._widget = None

    def _note(self, status: str | None) -> None:
        if status is None:
            note(f"{ENDED}{self.title} ({self._last or 'done'}, after {self.elapsed():.0f} s)")
        else:
            note(f"{self.title} (after {self.elapsed():.0f} s; last seen: {status})")

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def update(self, status: str) -> None:
        self._note(status)
        if self._widget is not None:
            self._widget.value = f"⏳ {self.title} ({self.elapsed():.0f} s): {status}"
        elif status != self._last:
            line = f"  … {self.title}: {status} ({self.elapsed():.0f} s)"
            run_log = os.environ.get("KUBELAB_RUN_LOG")
            if (
                run_log
            ):  # under `kubelab run`: the run's log shows the wait live, the notebook only its end
                try:
                    with open(run_log, "a") as log:
                        log.write(line + "\n")
                except OSError:
                    pass
            else:
                print(line, file=sys.stdout, flush=True)
        self._last = status

    def done(self, status: str = "done") -> None:
        self._last = status
        self._note(None)
        line = f"✓ {self.title}: {status} ({self.elapsed():.1f} s)"
        if self._widget is not None:
            self._widget.value = line
        else:
            print(line, flush=True)


ENDED = "ended: "  # a status that names the last wait that ended, not one still going on


def note(status: str) -> None:
    """Write what is going on now to the status file (KUBELAB_STATUS), if there is one."""
    path = os.environ.get("KUBELAB_STATUS")
    if path:
        try:
            with open(path, "w") as f:
                f.write(status)
        except OSError:
            pass  # the status is a courtesy for timeout messages, never a reason to fail


def describe_status(text: str, cell_first_line: str) -> str:
    """What a cell that ran out of time was doing, from the status file's text."""
    text = text.strip()
    if not text:
        return f"running `{cell_first_line}`"
    if text.startswith(ENDED):
        return f"running `{cell_first_line}` after its last wait ended: {text[len(ENDED) :]}"
    return f"waiting for {text}"


@contextlib.contextmanager
def to_run_log():
    """Inside: this process's printed lines go to the run's log (KUBELAB_RUN_LOG) instead of the
    notebook's output, and each also becomes the status a timeout reports. Without a run log (in
    JupyterLab, in a script) nothing changes."""
    path = os.environ.get("KUBELAB_RUN_LOG")
    if not path:
        yield
        return
    with open(path, "a", buffering=1) as log:
        stream = _Noting(log)
        with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
            yield


class _Noting:
    """A text stream that writes to `target` and notes each line as the status."""

    def __init__(self, target):
        self.target = target

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                note(line.strip())
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return False
