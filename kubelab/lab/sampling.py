"""Observe something every few seconds in the background while the notebook does other things,
then read the samples as a timeline, and show it as a picture.

    with lab.sample_in_background("worker2 down", node_state, interval=2) as timeline:
        worker2.stop()
        ...                                        # other experiments meanwhile
        timeline.wait_until(lambda state: state["evicted"], "the pod evicted", timeout=480)
    timeline.first(lambda state: state["ready"] == "Unknown")   # seconds since sampling began
    timeline.plot({"worker2 Ready": lambda s: s["ready"], ...})

Samples are (seconds since the start, value). An exception raised by `observe` in the background
is kept and raised by the next `wait_until`; an API or connection hiccup is only sampled again
(kubelab.lab.waits.retryable).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kubelab.core.progress import Progress
from kubelab.lab.waits import WaitTimeout, retryable


class Timeline:
    def __init__(self, description: str, observe: Callable[[], Any], interval: float = 2.0):
        self.description, self.observe, self.interval = description, observe, interval
        self.samples: list[tuple[float, Any]] = []
        self.started = time.monotonic()
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(
            target=self._run, daemon=True, name=f"sampling {description}"
        )

    def __enter__(self) -> "Timeline":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "Timeline":
        """Begin sampling (once: lab.sample_in_background has started it already, and a `with`
        block around that does not start it again)."""
        if not self._thread.is_alive() and not self._stop.is_set():
            self.started = time.monotonic()
            self._thread.start()
        return self

    def elapsed(self) -> float:
        """Seconds since sampling started (to mark when something was done, e.g. a node stopped)."""
        return round(time.monotonic() - self.started, 1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 30)

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                value = self.observe()
            except Exception as e:  # noqa: BLE001 - kept for the notebook's thread, see wait_until
                if not retryable(e):
                    self._error = e
                    with self._changed:
                        self._changed.notify_all()
                    return
            else:
                with self._changed:
                    self.samples.append((round(began - self.started, 1), value))
                    self._changed.notify_all()
            self._stop.wait(max(self.interval - (time.monotonic() - began), 0))

    def wait_until(
        self,
        done: Callable[[Any], bool],
        description: str,
        timeout: float = 600,
        status: Callable[[Any], str] | None = None,
    ) -> tuple[float, Any]:
        """Block until a sample satisfies `done`; returns (seconds, value) of that sample."""
        progress = Progress(description)
        seen = 0
        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                if self._error is not None:
                    raise self._error
                fresh = self.samples[seen:]
                seen = len(self.samples)
                if not fresh:
                    self._changed.wait(timeout=self.interval * 2)
            for t, value in fresh:
                if done(value):
                    progress.done(f"at {t:.0f} s")
                    return t, value
                # Plain progress prints a line whenever the status changes: by default it does not.
                progress.update(status(value) if status else "sampling")
            if time.monotonic() > deadline:
                last = self.samples[-1][1] if self.samples else None
                raise WaitTimeout(
                    f"timed out after {timeout:.0f} s waiting for {description}; last sample: {last}"
                )

    def first(self, predicate: Callable[[Any], bool]) -> float | None:
        """Seconds from the start to the first sample that satisfies the predicate."""
        return next((t for t, value in self.samples if predicate(value)), None)

    def last(self) -> Any:
        return self.samples[-1][1] if self.samples else None

    def plot(
        self,
        rows: dict[str, Callable[[Any], str]],
        title: str | None = None,
        marks: dict[str, float] | None = None,
        origin: float = 0.0,
        origin_label: str = "the start",
        colours: dict[str, str] | None = None,
    ):
        """One row per label; each row's segments coloured by the state its function reads from a
        sample (the same state has the same colour in every row). Times are shown from `origin`
        (e.g. the moment a node was stopped); `marks` draws labelled vertical lines at such times."""
        import matplotlib.pyplot as plt

        if not self.samples:
            raise ValueError(f"no samples of {self.description} to plot")
        end = self.samples[-1][0] + self.interval
        states = list(
            dict.fromkeys(str(read(v)) for read in rows.values() for _, v in self.samples)
        )
        spare = iter(plt.cm.tab20b.colors * 3)  # apart from the named colours below (tab10)
        palette = {
            state: (colours or {}).get(state) or STATE_COLOURS.get(state) or next(spare)
            for state in states
        }
        fig, ax = plt.subplots(figsize=(11, 0.8 + 0.5 * len(rows)))
        labelled = set()
        for row, (label, read) in enumerate(rows.items()):
            segment_start, current = self.samples[0][0], str(read(self.samples[0][1]))
            for t, value in [*self.samples[1:], (end, None)]:
                state = str(read(value)) if value is not None else None
                if state != current:
                    ax.barh(
                        row,
                        t - segment_start,
                        left=segment_start - origin,
                        color=palette[current],
                        edgecolor="white",
                        label=current if current not in labelled else None,
                    )
                    labelled.add(current)
                    segment_start, current = t, state
        for name, t in (marks or {}).items():
            ax.axvline(t - origin, color="black", linewidth=0.8, linestyle="--")
            ax.text(t - origin, len(rows) - 0.45, f" {name}", fontsize="small", va="top")
        ax.set_yticks(range(len(rows)), list(rows))
        ax.invert_yaxis()
        ax.set_xlabel(f"seconds after {origin_label}")
        ax.set_title(title or self.description)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", frameon=False)
        fig.tight_layout()
        return fig


# Words that mean the same in every picture: healthy green, lost red or orange, nothing grey.
STATE_COLOURS = {
    "True": "tab:green",
    "running": "tab:green",
    "Running": "tab:green",
    "ready": "tab:green",
    "False": "tab:red",
    "Unknown": "tab:orange",
    "evicted": "dimgray",
    "deleted": "dimgray",
    "none": "gainsboro",
    "Pending": "tab:blue",
}
