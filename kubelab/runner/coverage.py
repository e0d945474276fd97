"""The coverage ledger: which claims and questions of the spec the notebooks have shown, and how.

Every claim and question of the spec (`kubelab.core.spec`) gets one status:

- `proven`: the last run of the notebook that covers its section has a check that passed and
  names it. In a notebook, `check(...)` records which IDs it proves; `kubelab run` writes the
  run's checks to `out/<notebook>.run.json`:

      {"notebook": "01-cluster-architecture", "status": "passed", "finished": "...", "seconds": 31.2,
       "version": "v1.37.2", "checks": [{"what": "...", "proves": ["C-ARCH-1"], "passed": true}]}

- `not-demonstrable`: the notebook says, with a reason, that it cannot show it on kind. That is
  in its metadata, next to the sections it covers:

      "kubelab": {"sections": [1, 2, 3, 4, 5, 6, 7, 8],
                  "not_demonstrable": {"C-MVP-1": "needs two API servers of different versions"}}

- `skipped`: the last run could not show it on the cluster it ran on, and said why (a section
  whose needs that cluster lacks: `lab.section(N, node_access=True)`; or `kubelab.skipped`). The
  reason names what was missing, e.g. "node access". On the default cluster nothing is skipped.

- `missing`: none of these; the entry's `reason` says why (the notebook is not written yet, was not run,
  or its last run had no passing check for it).

A notebook covers every ID of the sections it lists, so a notebook is complete when
`missing_for(name)` is empty. An ID that is proven although declared not demonstrable counts as
proven, and is listed in `conflicts`, because the declaration is then out of date.

    from kubelab import coverage
    c = coverage.compute()
    print(c.render_text())                 # also: kubelab coverage [--json] [--notebook NAME]
    c.missing_for("01-cluster-architecture")
"""

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kubelab.core import spec as spec_module
from kubelab.core.errors import KubelabError
from kubelab.core.spec import Spec

PROVEN, NOT_DEMONSTRABLE, SKIPPED, MISSING = "proven", "not-demonstrable", "skipped", "missing"
STATUSES = (PROVEN, NOT_DEMONSTRABLE, SKIPPED, MISSING)
KINDS = ("claim", "question")
NOT_WRITTEN = "notebook not written yet"


@dataclass(frozen=True)
class Entry:
    """The status of one claim or question."""

    id: str
    kind: str  # claim, question
    section: int
    notebook: str  # the notebook covering its section (or, if none does yet, the spec's)
    status: str  # proven, not-demonstrable, missing
    reason: str | None  # not-demonstrable: the notebook's reason; missing: why; proven: None
    run_status: (
        str | None
    )  # that notebook's last run: passed, failed, not-run, timeout; None: no run


@dataclass
class Coverage:
    entries: list[Entry]
    spec: Spec
    conflicts: list[str] = field(
        default_factory=list
    )  # IDs proven and also declared not demonstrable
    warnings: list[str] = field(
        default_factory=list
    )  # everything else that looks wrong in the inputs

    def select(self, notebook: str | None = None) -> list[Entry]:
        return [e for e in self.entries if notebook is None or e.notebook == notebook]

    def by_section(self, notebook: str | None = None) -> dict[int, Counter]:
        """Per section number, in spec order: how many of its IDs have each status."""
        counts: dict[int, Counter] = {}
        for entry in self.select(notebook):
            counts.setdefault(entry.section, Counter(dict.fromkeys(STATUSES, 0)))[entry.status] += 1
        return counts

    def totals(self, notebook: str | None = None) -> dict:
        """{"proven": n, "not-demonstrable": n, "missing": n, "total": n, "claim": {same}, "question": {same}}."""

        def count(entries: list[Entry]) -> dict:
            found = Counter(e.status for e in entries)
            return {**{status: found[status] for status in STATUSES}, "total": len(entries)}

        selected = self.select(notebook)
        return {
            **count(selected),
            **{kind: count([e for e in selected if e.kind == kind]) for kind in KINDS},
        }

    def missing_for(self, notebook: str) -> list[str]:
        """The IDs notebook `notebook` still owes: neither proven by its last run nor declared."""
        return [e.id for e in self.select(notebook) if e.status == MISSING]

    def to_json(self, notebook: str | None = None) -> list[dict]:
        """One dict per ID, in spec order: id, kind, section, slug, notebook, status, reason."""
        return [
            {
                "id": e.id,
                "kind": e.kind,
                "section": e.section,
                "slug": self.spec.by_id[e.id].slug,
                "notebook": e.notebook,
                "status": e.status,
                "reason": e.reason,
            }
            for e in self.select(notebook)
        ]

    def totals_line(self, notebook: str | None = None) -> str:
        t = self.totals(notebook)
        return (
            f"total: {t[PROVEN]} proven, {t[NOT_DEMONSTRABLE]} not demonstrable, "
            + (f"{t[SKIPPED]} skipped on this cluster, " if t[SKIPPED] else "")
            + f"{t[MISSING]} missing "
            f"of {t['total']} ({t['claim']['total']} claims, {t['question']['total']} questions)"
        )

    def render_text(self, notebook: str | None = None) -> str:
        """One line per section; a notebook with nothing proven or declared yet gets one line for all
        its sections. With `notebook`, a line for each of its sections, then the IDs it still owes."""
        counts = self.by_section(notebook)
        notebook_of = {e.section: e.notebook for e in self.select(notebook)}
        folded = (
            set()
            if notebook
            else {
                name
                for name in set(notebook_of.values())
                if all(c[MISSING] == c.total() for n, c in counts.items() if notebook_of[n] == name)
            }
        )
        lines, done = [], set()
        for number, count in counts.items():
            name = notebook_of[number]
            if name in folded:
                if name not in done:
                    done.add(name)
                    numbers = [n for n in counts if notebook_of[n] == name]
                    missing = sum(counts[n][MISSING] for n in numbers)
                    lines.append(
                        f"§{section_ranges(numbers):<15} {name:<34} missing {missing:>3}"
                        f"  ({self.why_empty(name)})"
                    )
                continue
            slug = self.spec.section(number).slug
            lines.append(
                f"§{number:>3} {slug:<11} {name:<34} proven {count[PROVEN]:>3}  "
                f"not-demonstrable {count[NOT_DEMONSTRABLE]:>3}  "
                + (f"skipped {count[SKIPPED]:>3}  " if count[SKIPPED] else "")
                + f"missing {count[MISSING]:>3}"
            )
        if notebook is not None and (owed := self.missing_for(notebook)):
            lines.append(f"missing in {notebook}: " + ", ".join(owed))
        lines += [f"warning: {w}" for w in self.warnings if notebook is None or notebook in w]
        lines.append(self.totals_line(notebook))
        return "\n".join(lines)

    def why_empty(self, notebook: str) -> str:
        """Why none of a notebook's IDs is covered, when they all share one reason."""
        reasons = {e.reason for e in self.select(notebook)}
        return reasons.pop() if len(reasons) == 1 else "nothing proven or declared yet"


def section_ranges(numbers: list[int]) -> str:
    """[27, 28, 29, 33, 35, 36] -> "27–29,33,35–36"."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ",".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in runs)


def run_file(notebook_name: str) -> Path:
    """Where `kubelab run` leaves the record of a notebook's last run."""
    from kubelab.runner.notebooks import out_dir

    return out_dir() / f"{notebook_name}.run.json"


def load_runs(names: Iterable[str], warnings: list[str]) -> dict[str, dict]:
    """The last run of each named notebook that has one; unreadable records become warnings."""
    runs = {}
    for name in names:
        path = run_file(name)
        if not path.exists():
            continue
        try:
            runs[name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            warnings.append(f"{path}: unreadable, ignored ({e})")
    return runs


def compute(
    spec: Spec | None = None,
    notebooks: Iterable | None = None,
    runs: Mapping[str, dict] | None = None,
) -> Coverage:
    """The ledger for `notebooks` (objects with `.name` and `.meta`, the notebook's `kubelab`
    metadata; default: notebooks/*.ipynb) and `runs` (notebook name -> its run record; default:
    out/<name>.run.json)."""
    spec = spec or spec_module.load()
    if notebooks is None:
        from kubelab.runner.notebooks import discover

        notebooks = discover()
    notebooks = list(notebooks)
    warnings: list[str] = []
    if runs is None:
        runs = load_runs([nb.name for nb in notebooks], warnings)

    covering: dict[int, list[str]] = {}  # section -> notebooks that list it
    declared: dict[str, dict[str, str]] = {}  # notebook -> {ID: reason}
    proven: dict[str, set[str]] = {}  # notebook -> IDs a passing check of its last run names
    skipped: dict[str, dict[str, str]] = {}  # notebook -> {ID: why its last run skipped it}
    for nb in notebooks:
        meta = getattr(nb, "meta", None) or {}
        sections = set(meta.get("sections") or [])
        if not sections:
            warnings.append(f"{nb.name}: its metadata lists no sections, so it covers nothing")
        for number in sorted(sections):
            covering.setdefault(number, []).append(nb.name)
        own = {item.id for item in spec.for_sections(sections)}
        declared[nb.name] = {}
        for id_, reason in (meta.get("not_demonstrable") or {}).items():
            if id_ not in own:
                warnings.append(
                    f"{nb.name}: declares {id_} not demonstrable, but it is not in its sections"
                )
            elif not str(reason or "").strip():
                warnings.append(
                    f"{nb.name}: declares {id_} not demonstrable without a reason (ignored)"
                )
            else:
                declared[nb.name][id_] = str(reason).strip()
        proven[nb.name] = set()
        skipped[nb.name] = {}
        for check in (runs.get(nb.name) or {}).get("checks") or []:
            for id_ in check.get("proves") or []:
                if id_ not in own:
                    warnings.append(
                        f"{nb.name}: a check proves {id_}, which is not in its sections (ignored)"
                    )
                elif check.get("passed") is True:
                    proven[nb.name].add(id_)
                elif check.get("skipped"):
                    skipped[nb.name].setdefault(id_, str(check["skipped"]))

    entries, conflicts = [], []
    for item in spec.ids:
        names = covering.get(item.section, [])
        # The notebook that did most for it: one that proves it, else one that declares it.
        name = (
            next((n for n in names if item.id in proven[n]), None)
            or next((n for n in names if item.id in declared[n]), None)
            or (names[0] if names else item.notebook)
        )
        run_status = (runs.get(name) or {}).get("status")
        if item.id in proven.get(name, ()):
            status, reason = PROVEN, None
            if any(item.id in declared[n] for n in names):
                conflicts.append(item.id)
                warnings.append(f"{name}: {item.id} is proven but also declared not demonstrable")
        elif item.id in declared.get(name, {}):
            status, reason = NOT_DEMONSTRABLE, declared[name][item.id]
        elif item.id in skipped.get(name, {}):
            status, reason = SKIPPED, f"skipped on this cluster: {skipped[name][item.id]}"
        elif not names:
            written = any(nb.name == item.notebook for nb in notebooks)
            status, reason = (
                MISSING,
                (
                    f"{item.notebook} does not list §{item.section} in its sections"
                    if written
                    else NOT_WRITTEN
                ),
            )
        elif name not in runs:
            status, reason = MISSING, "not run yet"
        else:
            status, reason = MISSING, f"no passing check in the last run ({run_status})"
        entries.append(Entry(item.id, item.kind, item.section, name, status, reason, run_status))
    return Coverage(entries, spec, conflicts, warnings)


def resolve_notebook(name: str, spec: Spec | None = None) -> str:
    """A notebook of the spec by its full name, its number ("01") or the start of its name."""
    spec = spec or spec_module.load()
    for candidate in spec.notebooks:
        if name == candidate:
            return candidate
    matches = [c for c in spec.notebooks if c.split("-")[0] == name or c.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    raise KubelabError(
        f"the spec has no notebook {name!r}"
        if not matches
        else f"{name!r} names several notebooks",
        "use one of: " + ", ".join(spec.notebooks) + " (or its number, e.g. 01)",
    )
