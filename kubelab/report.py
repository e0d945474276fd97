"""The closing summary of a notebook: a table of what each question's answer is and what the run
measured to show it.

    summary = []                                              # in the opening cell
    summary.append(("Q-ARCH-4", "≈50 s to Unknown, then 300 s to eviction",
                    f"Unknown after {unknown_at:.0f} s, evicted after {evicted_at:.0f} s"))
    ...
    kubelab.summary_table(summary)                            # in the closing cell

The evidence column must be built from values measured in the run (f-strings of variables),
never literals; the table shows as Markdown in Jupyter and as aligned text in a terminal.
"""

from dataclasses import dataclass

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
        widths = [min(max(len(str(r[i])) for r in [self.headers, *self.rows]), 60) for i in range(len(self.headers))]
        return "\n".join("  ".join(str(c)[:w].ljust(w) for c, w in zip(row, widths)).rstrip()
                         for row in [self.headers, *self.rows])


def summary_table(rows: list[tuple[str, str, str]], headers: tuple[str, ...] = HEADERS) -> None:
    """Show the closing summary; each row is (spec ID, answer, measured evidence).

    The question column gets the spec's one-line text after the ID."""
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


def build_table(rows: list[tuple[str, str, str]], headers: tuple[str, ...] = HEADERS) -> Table:
    if not rows:
        raise ValueError("the summary has no rows: each part appends (ID, answer, evidence) to it")
    for row in rows:
        if len(row) != len(headers) or not all(str(c).strip() for c in row):
            raise ValueError(f"a summary row needs {len(headers)} non-empty values: {row!r}")
    return Table(tuple(headers), [(_question(row[0]), *map(str, row[1:])) for row in rows])


def _question(spec_id: str) -> str:
    try:
        from . import spec
        entry = spec.load().by_id.get(spec_id)
    except (ImportError, FileNotFoundError, AttributeError):
        entry = None
    return f"{spec_id} {entry.text}" if entry else spec_id
