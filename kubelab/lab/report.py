"""The closing summary of a notebook: a table of what each question's answer is and what the run
measured to show it.

    summary = kubelab.Summary()                                          # in the opening cell
    summary.row("Q-ARCH-4", "≈50 s to Unknown, then 300 s to eviction",
                "Unknown after {unknown:.0f} s, evicted after {evicted:.0f} s",
                unknown=unknown_at, evicted=evicted_at)
    ...
    kubelab.summary_table(summary)                                       # in the closing cell

A row restates what the run proved, so the table refuses (with the row's text):
- evidence without a measured value: the template is filled from keyword values only, and a row
  needs at least one (a literal sentence is not a measurement);
- an ID that no passing check in this run named (`C-RTC-1..3` names C-RTC-1, -2 and -3).
The table shows as Markdown in Jupyter and as aligned text in a terminal.
"""

import re
import string
from dataclasses import dataclass, field
from typing import Any

from kubelab.lab import ledger

HEADERS = ("question", "answer", "measured in this run")


@dataclass
class Table:
    headers: tuple[str, ...]
    rows: list[tuple[str, ...]]

    def _repr_markdown_(self) -> str:
        def cell(text: str) -> str:
            return str(text).replace("|", "\\|").replace("\n", " ")

        lines = ["| " + " | ".join(self.headers) + " |", "|" + "---|" * len(self.headers)]
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in self.rows]
        return "\n".join(lines)

    def __repr__(self) -> str:
        widths = [
            min(max(len(str(r[i])) for r in [self.headers, *self.rows]), 60)
            for i in range(len(self.headers))
        ]
        return "\n".join(
            "  ".join(str(c)[:w].ljust(w) for c, w in zip(row, widths)).rstrip()
            for row in [self.headers, *self.rows]
        )


class UnmeasuredRow(ValueError):
    """A summary row that does not rest on this run's measurements or passing checks."""


@dataclass
class Row:
    ids: str  # as shown: "Q-VIP-1" or "C-RTC-1..3, Q-RTC-1"
    answer: str
    evidence: str  # the template filled with the measured values
    values: dict[str, Any] = field(default_factory=dict)


class Summary:
    """The rows of a notebook's closing table, each filled from measured values (see the module)."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def row(self, ids: str, answer: str, evidence: str, **measured: Any) -> None:
        """Add a row: `evidence` is a str.format template over the `measured` values."""
        fields = {name for _, name, _, _ in string.Formatter().parse(evidence) if name}
        if not measured or not fields:
            raise UnmeasuredRow(
                f"summary row {ids}: its evidence has no measured value: {evidence!r}. "
                "Fix: put the run's values in the template, as {name}, and pass them as name=value"
            )
        unused = set(measured) - {f.split(".")[0].split("[")[0] for f in fields}
        if unused:
            raise UnmeasuredRow(
                f"summary row {ids}: the values {sorted(unused)} are not shown in the evidence {evidence!r}"
            )
        empty = [
            name
            for name, value in measured.items()
            if value is None or value == "" or value == [] or value == {}
        ]
        if empty:
            raise UnmeasuredRow(
                f"summary row {ids}: nothing was measured for {empty} (None or empty)"
            )
        self.rows.append(Row(ids, answer, evidence.format(**measured), dict(measured)))

    def unproven(self, passed: set[str]) -> list[tuple[str, list[str]]]:
        """The rows naming IDs that no passing check in `passed` proved."""
        return [
            (r.ids, missing)
            for r in self.rows
            if (missing := [i for i in expand_ids(r.ids) if i not in passed])
        ]


def expand_ids(text: str) -> list[str]:
    """ "C-RTC-1..3, Q-RTC-1" -> [C-RTC-1, C-RTC-2, C-RTC-3, Q-RTC-1]."""
    found = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        if m := re.fullmatch(r"([CQ]-[A-Z0-9]+-)(\d+)\.\.(\d+)", part):
            found += [f"{m[1]}{n}" for n in range(int(m[2]), int(m[3]) + 1)]
        elif ledger.ID_PATTERN.match(part):
            found.append(part)
        else:
            raise UnmeasuredRow(
                f"summary row {text!r}: {part!r} is not a spec ID or a range like C-RTC-1..3"
            )
    return found


def summary_table(summary: Summary, headers: tuple[str, ...] = HEADERS) -> None:
    """Show the closing summary, after checking that every row rests on this run's passing checks.

    The question column gets the spec's one-line text after the ID."""
    if not isinstance(summary, Summary):
        raise UnmeasuredRow(
            "summary_table takes a kubelab.Summary (summary.row(ids, answer, template, **measured)), "
            f"not {type(summary).__name__}: literal rows cannot show what the run measured"
        )
    passed = {i for c in ledger.checks() if c["passed"] for i in c["proves"]}
    if unproven := summary.unproven(passed):
        raise UnmeasuredRow(
            "summary rows name IDs no passing check in this run proved: "
            + "; ".join(f"{ids}: {', '.join(missing)}" for ids, missing in unproven)
            + ". Fix: name only IDs the checks above prove (proves=...)"
        )
    rows = [(r.ids, r.answer, r.evidence) for r in summary.rows] + skipped_rows()
    table = build_table(rows, headers)
    try:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            display(table)
            return
    except ImportError:
        pass
    print(repr(table))


def skipped_rows() -> list[tuple[str, str, str]]:
    """A row for each section this run skipped (its needs were missing on this cluster): the
    probe's finding is what the run measured. Its own rows were never added: their cells did not
    run."""
    from kubelab.lab.sections import SKIPPED

    rows = []
    for c in ledger.checks():
        label, found, _ = c["what"].partition(SKIPPED)
        if c.get("skipped") and found and label:
            rows.append((label, "skipped on this cluster", c["skipped"]))
    return rows


def build_table(rows: list[tuple[str, str, str]], headers: tuple[str, ...] = HEADERS) -> Table:
    if not rows:
        raise ValueError("the summary has no rows: each part appends (ID, answer, evidence) to it")
    for row in rows:
        if len(row) != len(headers) or not all(str(c).strip() for c in row):
            raise ValueError(f"a summary row needs {len(headers)} non-empty values: {row!r}")
    return Table(tuple(headers), [(_question(row[0]), *map(str, row[1:])) for row in rows])


def _question(spec_id: str) -> str:
    try:
        from kubelab.core import spec

        entry = spec.load().by_id.get(spec_id)
    except (ImportError, FileNotFoundError, AttributeError):
        entry = None
    return f"{spec_id} {entry.text}" if entry else spec_id
