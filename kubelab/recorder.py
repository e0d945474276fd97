"""Record what happens to chosen objects during an experiment, and show it as a timeline.

    with lab.record("pods", selector="app=web") as rec:
        lab.delete("pod", victim)
        lab.wait_ready("deployment", "web")
    rec.table()          # every change: time, event, object, state
    rec.plot()           # one line per object, coloured by state, over time
    rec.added()          # names of objects that appeared during the recording
"""

import threading
import time
from dataclasses import dataclass

from .lab import readiness


# The same state has the same colour in every picture.
STATE_COLOURS = {"phase Pending": "tab:blue", "phase Running": "tab:green", "terminating": "tab:orange",
                 "phase Succeeded": "tab:gray", "phase Failed": "tab:red"}


@dataclass(frozen=True)
class Event:
    t: float          # seconds since the recording started
    type: str         # EXISTING, ADDED, MODIFIED, DELETED
    kind: str
    name: str
    state: str        # a one-line summary (phase, readiness)


class Recorder:
    def __init__(self, lab, kinds, selector=None, namespace=None):
        self.lab = lab
        self.kinds = kinds
        self.selector = selector
        self.namespace = namespace
        self.events: list[Event] = []
        self._last_state: dict[tuple[str, str], str] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.started = None
        self.stopped = None

    def __enter__(self) -> "Recorder":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.started = time.monotonic()
        for kind in self.kinds:
            resource = self.lab.resource(kind)
            ns = self.lab._ns(resource, self.namespace)
            listing = self.lab.dynamic.get(resource, namespace=ns, label_selector=self.selector)
            for item in listing.items:
                self._note("EXISTING", item.to_dict())
            thread = threading.Thread(target=self._watch, args=(resource, ns, listing.metadata.resourceVersion), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, settle: float = 1.0) -> None:
        time.sleep(settle)  # let the last events arrive
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.stopped = time.monotonic()

    def _watch(self, resource, namespace, resource_version) -> None:
        while not self._stop.is_set():
            try:
                for event in self.lab.dynamic.watch(resource, namespace=namespace, label_selector=self.selector,
                                                    resource_version=resource_version, timeout=2):
                    obj = event["raw_object"]
                    resource_version = obj["metadata"].get("resourceVersion", resource_version)
                    self._note(event["type"], obj)
                    if self._stop.is_set():
                        return
            except Exception:  # noqa: BLE001 - an expired resourceVersion: start from now
                resource_version = None
                time.sleep(0.2)

    def _note(self, type_: str, obj: dict) -> None:
        if type_ not in ("EXISTING", "ADDED", "MODIFIED", "DELETED"):
            return
        kind, name = obj.get("kind", "?"), obj["metadata"]["name"]
        state = "deleted" if type_ == "DELETED" else ("terminating" if obj["metadata"].get("deletionTimestamp")
                                                      and kind == "Pod" else readiness(obj))
        key = (kind, name)
        with self._lock:
            if type_ == "MODIFIED" and self._last_state.get(key) == state:
                return
            self._last_state[key] = state
            self.events.append(Event(round(time.monotonic() - self.started, 2), type_, kind, name, state))

    # -- reading the record ------------------------------------------------------------------

    def names(self, type_: str) -> list[str]:
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
        return next((e for e in self.events if e.name == name and state_contains in e.state), None)

    def rows(self) -> list[tuple]:
        return [(f"{e.t:7.2f}", e.type, f"{e.kind.lower()}/{e.name}", e.state) for e in self.events]

    def table(self) -> str:
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
        spare = iter(plt.cm.tab10.colors[4:] * 5)
        colours = {s: STATE_COLOURS.get(s) or next(spare) for s in states}
        fig, ax = plt.subplots(figsize=(10, 0.5 + 0.45 * max(len(objects), 1)))
        for row, (kind, name) in enumerate(objects):
            mine = [e for e in self.events if (e.kind, e.name) == (kind, name)]
            for i, e in enumerate(mine):
                if e.type == "DELETED":
                    ax.plot([e.t], [row], marker="x", color="black")
                    break
                stop = mine[i + 1].t if i + 1 < len(mine) else end
                key = e.state.split(",")[0]
                ax.barh(row, max(stop - e.t, 0.05), left=e.t, color=colours[key], edgecolor="white",
                        label=key if key not in ax.get_legend_handles_labels()[1] else None)
        ax.set_yticks(range(len(objects)), [f"{k.lower()}/{n}" for k, n in objects])
        ax.invert_yaxis()
        ax.set_xlabel("seconds since the recording started")
        ax.set_title(title or "timeline")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", frameon=False)
        fig.tight_layout()
        return fig
