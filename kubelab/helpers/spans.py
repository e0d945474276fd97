"""Timestamps written inside containers, read back as spans for checks and a picture.

Hooks, handlers and entrypoints append lines "<event> <seconds>" to a file (a container's
/dev/termination-log, say); `STAMP` is the shell snippet that prints the node's clock with 10 ms
resolution (busybox `date` has no %N; every container of a node shares its /proc/uptime).

    command: [sh, -c, 'echo start $(STAMP) >> /dev/termination-log; ...']   # use kubelab.helpers.spans.STAMP
    events = spans.parse(pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["message"])
    spans.plot([("preStop hook", events["prestop-start"], events.get("prestop-end"))], marks={...})
"""

from __future__ import annotations

# Seconds since the node booted, 10 ms resolution. No quotes in it, so it fits inside a trap '...'.
STAMP = "$(read up rest < /proc/uptime; echo $up)"


def parse(text: str) -> dict[str, float]:
    """{event: seconds} from "<event> <seconds>" lines (the first time each event appears)."""
    events: dict[str, float] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                events.setdefault(parts[0], float(parts[1]))
            except ValueError:
                continue
    return events


def plot(
    bars: list[tuple[str, float, float | None]],
    marks: dict[str, float] | None = None,
    title: str = "",
    origin: float | None = None,
):
    """One bar per (label, start, end) on a shared time axis (seconds after `origin`, the earliest
    start by default); an end of None is drawn hatched to the right edge: it never came.
    `marks` are labelled vertical lines (e.g. {"TERM": t})."""
    import matplotlib.pyplot as plt

    marks = marks or {}
    origin = min(s for _, s, _ in bars) if origin is None else origin
    right = (
        max(
            [e for _, _, e in bars if e is not None]
            + [s for _, s, _ in bars]
            + list(marks.values())
        )
        - origin
    )
    right = right * 1.1 + 0.5
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(bars) + 1.4))
    for row, (label, start, end) in enumerate(reversed(bars)):
        left = start - origin
        if end is None:
            ax.barh(row, right - left, left=left, color="#f4b183", hatch="//", edgecolor="#c55a11")
            ax.text(right, row, " never ended", va="center", fontsize=8)
        else:
            ax.barh(row, max(end - start, 0.05), left=left, color="#9dc3e6", edgecolor="#2e75b6")
            ax.text(end - origin, row, f" {end - start:.1f} s", va="center", fontsize=8)
    for i, (label, t) in enumerate(sorted(marks.items(), key=lambda m: m[1])):
        ax.axvline(t - origin, color="#c00000", linestyle="--", linewidth=1)
        # staggered, so the labels of marks close in time do not overprint each other
        ax.text(
            t - origin,
            len(bars) - 0.4 - (i % 3) * 0.3,
            f" {label}",
            color="#c00000",
            fontsize=8,
            va="bottom",
        )
    ax.set_yticks(range(len(bars)), [label for label, _, _ in reversed(bars)])
    ax.set_xlim(0, right + 1)
    ax.set_ylim(-0.6, len(bars) + 0.2)
    ax.set_xlabel("seconds")
    ax.set_title(title)
    fig.tight_layout()
    return fig
