"""kubelab.lab.recorder's timeline: a long legend (many states) fits, with no repeated colour and no
tight_layout warning (04's rollout undo, 17 states of two ReplicaSets, printed one)."""

import warnings

import matplotlib

matplotlib.use("Agg")

from kubelab.lab.recorder import Event, Recorder  # noqa: E402


def recording(objects: int, states: int) -> Recorder:
    rec = Recorder.__new__(Recorder)  # no watch: only the events matter to the picture
    rec.started, rec.stopped = 0.0, 10.0
    rec.events = [
        Event(i + j * 0.3, "MODIFIED", "ReplicaSet", f"web-{i}", f"{j}/4 ready")
        for i in range(objects)
        for j in range(states)
    ]
    return rec


def test_long_legend_fits_without_warning():
    for objects, states in ((1, 1), (2, 17), (2, 30), (12, 3)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fig = recording(objects, states).plot("rollout undo")
        legend = fig.axes[0].get_legend()
        colours = [tuple(h.get_facecolor()) for h in legend.legend_handles]
        assert len(legend.get_texts()) == states
        assert len(set(colours)) == states
        matplotlib.pyplot.close(fig)
