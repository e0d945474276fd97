"""Progress while waiting: a live line in Jupyter, plain lines under papermill and in a terminal.

Plain lines are printed only when what is being waited for changes, so an executed notebook or
a CI log shows the story (waiting for X... X done) without thousands of spinner frames.

Under `kubelab run` the current wait is also written to the file named by KUBELAB_STATUS, so a
cell that runs past the notebook's budget can be reported with what it was waiting for.
"""

import os
import sys
import time


def _in_live_jupyter() -> bool:
    if os.environ.get("KUBELAB_PROGRESS") == "plain":   # set by `kubelab run` (papermill)
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
        path = os.environ.get("KUBELAB_STATUS")
        if path:
            try:
                with open(path, "w") as f:
                    f.write(f"{self.title} (after {self.elapsed():.0f} s; last seen: {status})" if status else "")
            except OSError:
                pass   # the status is a courtesy for timeout messages, never a reason to fail

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def update(self, status: str) -> None:
        self._note(status)
        if self._widget is not None:
            self._widget.value = f"⏳ {self.title} ({self.elapsed():.0f} s): {status}"
        elif status != self._last:
            print(f"  … {self.title}: {status} ({self.elapsed():.0f} s)", file=sys.stdout, flush=True)
        self._last = status

    def done(self, status: str = "done") -> None:
        self._note(None)
        line = f"✓ {self.title}: {status} ({self.elapsed():.1f} s)"
        if self._widget is not None:
            self._widget.value = line
        else:
            print(line, flush=True)
