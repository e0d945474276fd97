"""Record what happens to chosen objects during an experiment, and show it as a timeline.

    with lab.record("pods", selector="app=web") as rec:
        lab.delete("pod", victim)
        lab.wait_ready("deployment", "web")
    rec.table()                      # every change: time, event, object, state
    rec.plot()                       # one line per object, coloured by state, over time
    rec.added(), rec.deleted()       # names of objects that appeared / went during the recording
    rec.first("web-x", "ready")      # the first Event of web-x whose state says "ready"
    rec.max_at_once("terminating")   # most pods terminating at the same time
    rec.intervals("web-x", "Pending", "ready")   # seconds from each Pending to the next ready

The record is a list of Events (`rec.events`), one per change of an object's state, in the
order the API server made the changes. `rec.rows()` gives them as table rows:

    ("   1.23", "MODIFIED", "pod/web-x", "phase Running, ready")
     seconds since the recording started (7.2f), event, kind/name, state

Events: EXISTING (there when the recording started), ADDED, MODIFIED (only when the state
changed), DELETED. States are the one-line summaries of kubelab.core.readiness.readiness:

    pods                    "phase Pending", "phase Pending, ContainerCreating",
                            "phase Running", "phase Running, ready", "phase Succeeded", "phase Failed"
    Deployments, ReplicaSets, StatefulSets:  "3/3 ready, 3 updated"
    DaemonSets              "2/2 ready"
    Jobs                    "active 1", "Complete", "Failed"
    other kinds             "phase Bound", "Ready=True", "present"
    a pod being deleted (it has a deletionTimestamp): "terminating"
    gone                    "deleted"

Each kind is watched in a thread. A watch that ends (the server ends every watch after a while)
is resumed from the last change it saw, so nothing is missed; only when the server no longer
has that point (410 Gone) is the kind listed again, and the differences are recorded as events.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from kubelab.core.readiness import readiness
from kubelab.lab.waits import WATCH_SECONDS, complete_item, list_and_watch

# The same state has the same colour in every picture.
STATE_COLOURS = {
    "phase Pending": "tab:blue",
    "phase Running": "tab:green",
    "terminating": "tab:orange",
    "phase Succeeded": "tab:gray",
    "phase Failed": "tab:red",
}


@dataclass(frozen=True)
class Event:
    t: float  # seconds since the recording started
    type: str  # EXISTING, ADDED, MODIFIED, DELETED
    kind: str
    name: str
    state: str  # a one-line summary (phase, readiness), see the module's docstring


def state_of(obj: dict) -> str:
    """An object's state for the record: readiness(), or "terminating" for a pod being deleted."""
    if obj.get("kind") == "Pod" and (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "terminating"
    return readiness(obj)


class Recorder:
    """A timeline of the objects of some kinds (in the lab's namespace unless `namespace`,
    matching `selector` if given). Use as a context manager, or start() and stop()."""

    def __init__(
        self, lab, kinds, selector=None, namespace=None, watch_seconds: float = WATCH_SECONDS
    ):
        self.lab = lab
        self.kinds = kinds
        self.selector = selector
        self.namespace = namespace
        self.watch_seconds = watch_seconds  # how long one watch request lasts before it is resumed
        self.events: list[Event] = []
        self.errors: list[str] = []  # API errors met (and recovered from) while watching
        self._last_state: dict[tuple[str, str], str] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._watchers: list = []
        self._lock = threading.Lock()
        self.started = None
        self.stopped = None

    def __enter__(self) -> "Recorder":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        """List each kind (EXISTING events) and start watching it; returns once all are listed."""
        from kubernetes import watch

        self.started = time.monotonic()
        for kind in self.kinds:
            resource = self.lab.resource(kind)
            namespace = self.lab._ns(resource, self.namespace)
            # Listed here, not in the thread: what exists when start() returns is EXISTING, and
            # an error (no such namespace, no permission) is raised to the notebook.
            listing = self.lab.dynamic.get(
                resource, namespace=namespace, label_selector=self.selector
            ).to_dict()
            for obj in listing.get("items") or []:
                self._note("EXISTING", complete_item(resource, obj))
            watcher = watch.Watch()
            changes = list_and_watch(
                self.lab,
                resource,
                namespace,
                label_selector=self.selector,
                resource_version=listing["metadata"]["resourceVersion"],
                stop=self._stop,
                watcher=watcher,
                watch_seconds=self.watch_seconds,
                on_error=self.errors.append,
            )
            thread = threading.Thread(
                target=self._follow,
                args=(changes, resource.kind),
                daemon=True,
                name=f"kubelab-record-{resource.name}",
            )
            thread.start()
            self._threads.append(thread)
            self._watchers.append(watcher)

    def stop(self, settle: float = 1.0) -> None:
        """Stop recording after `settle` seconds (for the last events to arrive)."""
        time.sleep(settle)
        self._stop.set()
        deadline = time.monotonic() + 5
        for thread, watcher in zip(self._threads, self._watchers):
            # Closing the watch's connection ends the thread's wait for the next event; repeat
            # in case a new watch request had just begun.
            while thread.is_alive() and time.monotonic() < deadline:
                watcher.stop()
                thread.join(timeout=0.2)
        self.stopped = time.monotonic()

    def _follow(self, changes, kind: str) -> None:
        for what, value in changes:
            if what == "LISTED":  # listed again after 410 Gone: record what changed meanwhile
                self._reconcile(kind, value)
            elif what in ("ADDED", "MODIFIED", "DELETED"):
                self._note(what, value)

    def _reconcile(self, kind: str, items: list[dict]) -> None:
        present = {(kind, obj["metadata"]["name"]): obj for obj in items}
        with self._lock:
            known = {
                key
                for key, state in self._last_state.items()
                if key[0] == kind and state != "deleted"
            }
        for key, obj in present.items():
            self._note("MODIFIED" if key in known else "ADDED", obj)
        for _, name in known - present.keys():
            self._note("DELETED", {"kind": kind, "metadata": {"name": name}})

    def _note(self, type_: str, obj: dict) -> None:
        kind, name = obj.get("kind", "?"), obj["metadata"]["name"]
        state = "deleted" if type_ == "DELETED" else state_of(obj)
        key = (kind, name)
        with self._lock:
            if type_ == "MODIFIED" and self._last_state.get(key) == state:
                return
            self._last_state[key] = state
            self.events.append(
                Event(round(time.monotonic() - self.started, 2), type_, kind, name, state)
            )

    # -- reading the record ------------------------------------------------------------------

    def names(self, type_: str) -> list[str]:
        """Names of the objects with an event of this type (EXISTING, ADDED, ...), first seen first."""
        seen: list[str] = []
        for e in self.events:
            if e.type == type_ and e.name not in seen:
                seen.append(e.name)
        return seen

    def added(self) -> list[str]:
        return self.names("ADDED")

    def deleted(self) -> list[str]:
        return self.names("DELETED")

    def first(self, name: str, state_contains: str) -> Event | None:
        """The first event of `name` whose state contains the text, or None."""
        return next((e for e in self.events if e.name == name and state_contains in e.state), None)

    def max_at_once(self, state_contains: str, kind: str | None = None) -> int:
        """How many objects (of `kind`, e.g. "Pod", if given) were at the same time in a state
        containing the text: max_at_once("terminating"), max_at_once("ready", kind="Pod")."""
        current: dict[tuple[str, str], str] = {}
        most = 0
        for e in self.events:
            if kind and e.kind.lower() != kind.lower():
                continue
            current[(e.kind, e.name)] = e.state
            most = max(most, sum(state_contains in state for state in current.values()))
        return most

    def intervals(self, name: str, from_state: str, to_state: str) -> list[float]:
        """Seconds from each time `name` entered a state containing `from_state` to its next state
        containing `to_state`: intervals("web-x", "Pending", "ready") -> [2.31]."""
        found, since = [], None
        for e in self.events:
            if e.name != name:
                continue
            if since is not None and to_state in e.state:
                found.append(round(e.t - since, 2))
                since = None
            elif since is None and from_state in e.state:
                since = e.t
        return found

    def rows(self) -> list[tuple]:
        """The events as (t, event, kind/name, state) rows, t formatted as seconds 7.2f."""
        return [(f"{e.t:7.2f}", e.type, f"{e.kind.lower()}/{e.name}", e.state) for e in self.events]

    def table(self) -> str:
        """Print the events as a table (and return its text)."""
        header = ("t (s)", "event", "object", "state")
        rows = [header, *self.rows()]
        widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
        text = "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in rows)
        print(text)
        return text

    def plot(self, title: str | None = None):
        """A timeline: one row per object, a segment per state, from the first to the last event."""
        import matplotlib.pyplot as plt

        objects: list[tuple[str, str]] = []
        for e in self.events:
            if (e.kind, e.name) not in objects:
                objects.append((e.kind, e.name))
        end = (self.stopped or time.monotonic()) - self.started
        states = sorted({e.state.split(",")[0] for e in self.events})
        # the rest of tab10 first, then colours no other state has (a long legend repeats none)
        spare = iter((plt.cm.tab10.colors[4:] + plt.cm.tab20b.colors + plt.cm.tab20c.colors) * 5)
        colours = {s: STATE_COLOURS.get(s) or next(spare) for s in states}
        # The legend stands beside the rows: the figure is tall enough for both (a legend taller
        # than the figure leaves tight_layout nothing to fit, and it warns).
        columns = 1 + (len(states) - 1) // 12
        legend_rows = -(-len(states) // columns)
        height = max(0.5 + 0.45 * max(len(objects), 1), 0.9 + 0.2 * legend_rows)
        fig, ax = plt.subplots(figsize=(10, height))
        for row, (kind, name) in enumerate(objects):
            mine = [e for e in self.events if (e.kind, e.name) == (kind, name)]
            for i, e in enumerate(mine):
                if e.type == "DELETED":
                    ax.plot([e.t], [row], marker="x", color="black")
                    break
                stop = mine[i + 1].t if i + 1 < len(mine) else end
                key = e.state.split(",")[0]
                ax.barh(
                    row,
                    max(stop - e.t, 0.05),
                    left=e.t,
                    color=colours[key],
                    edgecolor="white",
                    label=key if key not in ax.get_legend_handles_labels()[1] else None,
                )
        ax.set_yticks(range(len(objects)), [f"{k.lower()}/{n}" for k, n in objects])
        ax.invert_yaxis()
        ax.set_xlabel("seconds since the recording started")
        ax.set_title(title or "timeline")
        ax.legend(
            loc="center left",
            bbox_to_anchor=(1.01, 0.5),
            fontsize="small",
            frameon=False,
            ncols=columns,
        )
        fig.tight_layout()
        return fig
