"""A chapter page: an executed notebook as `kubelab run` left it, with its evidence marked.

Nothing in the notebook's outputs is changed. Three kinds of markdown cell are added to a copy:

- the verification line, under the title, from the run's record (out/<name>.run.json):
  "Verified on Kubernetes v1.37.2 (offline images) on 2026-11-28 12:55 UTC at commit 26fb8d4:
  65 checks passed". A run that did not pass gets a warning instead, which says so prominently;
- an anchor before each code cell whose checks prove IDs (`#cell-12`, the cell's execution count),
  naming them, so the coverage page can link a claim to the cell that proves it;
- a target before each question's heading (`#q-pod-1`), for the question index.
"""

import html
from datetime import datetime
from dataclasses import dataclass
from pathlib import Path

import nbformat

from kubelab.site import questions

VERIFIED, NOT_VERIFIED, NOT_RUN, NOT_WRITTEN = "verified", "not verified", "not run", "not written"
PAPERMILL_ERROR = "papermill-error-cell-tag"


@dataclass
class Chapter:
    name: str  # "03-pods"
    title: str
    written: bool  # notebooks/<name>.ipynb exists (the spec names all sixteen)
    executed: Path | None  # out/<name>.ipynb, when a run left one
    record: dict | None  # out/<name>.run.json, when a run left one

    @property
    def state(self) -> str:
        if not self.written:
            return NOT_WRITTEN
        if self.executed is None:
            return NOT_RUN
        return VERIFIED if (self.record or {}).get("status") == "passed" else NOT_VERIFIED

    @property
    def page(self) -> str | None:
        """Its page in the site, when it has one (only executed notebooks are published)."""
        return f"{self.name}.html" if self.executed else None

    def proving_cells(self) -> dict[int, list[dict]]:
        """Execution count -> the checks that cell made (those that name IDs)."""
        cells: dict[int, list[dict]] = {}
        for check in (self.record or {}).get("checks") or []:
            if check.get("proves") and isinstance(check.get("cell"), int):
                cells.setdefault(check["cell"], []).append(check)
        return cells


def load(name: str, title: str, written: bool, out: Path) -> Chapter:
    """The chapter as the last run left it in `out` (a notebook not written has no run)."""
    if not written:
        return Chapter(name, title, False, None, None)
    from kubelab.runner.notebooks import last_run

    executed = out / f"{name}.ipynb"
    return Chapter(name, title, True, executed if executed.exists() else None, last_run(name, out))


def verification(chapter: Chapter) -> str:
    """The line at the top of a chapter page, as HTML (class kubelab-verification)."""
    record = chapter.record or {}
    facts = (
        f"Kubernetes {record.get('version') or 'of unknown version'} "
        f"({record.get('images') or 'unknown'} images), on {finished(record)}, "
        f"at commit {record.get('commit') or 'unknown'}"
    )
    passed = record.get("checks_passed", 0)
    if chapter.state == VERIFIED:
        text = (
            f"<strong>Verified</strong> on {facts}: <strong>{passed} checks passed</strong> "
            f"in {record.get('seconds', 0):.0f} s."
        )
    elif record:
        text = (
            f"<strong>Not verified.</strong> Its last run <strong>{html.escape(record.get('status', '?'))}"
            f"</strong> on {facts}, after {passed} checks passed: "
            f"{html.escape(record.get('message') or 'no message')}. What follows is that run's output, "
            f"up to where it stopped; it is not evidence."
        )
    else:
        text = (
            "<strong>Not verified.</strong> No record of a run goes with this notebook "
            "(out/" + html.escape(chapter.name) + ".run.json is missing); it is not evidence."
        )
    return f'<div class="kubelab-verification {chapter.state.replace(" ", "-")}">{text}</div>'


def finished(record: dict) -> str:
    """ "2026-11-28T12:55:03Z" -> "2026-11-28 12:55 UTC"."""
    try:
        return datetime.strptime(record.get("finished") or "", "%Y-%m-%dT%H:%M:%SZ").strftime(
            "%Y-%m-%d %H:%M UTC"
        )
    except ValueError:
        return record.get("finished") or "an unknown date"


def read(chapter: Chapter) -> nbformat.NotebookNode:
    """The notebook as its run left it (out/<name>.ipynb)."""
    return nbformat.read(str(chapter.executed), as_version=4)


def prepare(chapter: Chapter, nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The page's notebook: `nb`, the chapter's executed notebook (`read(chapter)`), marked in place
    with the verification line and the anchors, and returned."""
    proving = chapter.proving_cells()
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = with_question_targets(cell.source)
        if cell.cell_type == "code" and cell.get("execution_count") in proving:
            cells.append(
                nbformat.v4.new_markdown_cell(
                    proves_anchor(cell.execution_count, proving[cell.execution_count])
                )
            )
        cells.append(cell)
    # papermill puts a notice first in a notebook that failed ("An Exception was encountered at
    # In [6]", linking to the cell): it goes under the title and the verification line instead.
    notice = [c for c in cells[:1] if PAPERMILL_ERROR in c.get("metadata", {}).get("tags", [])]
    cells = cells[len(notice) :]
    line = verification(chapter)
    title_cell = (
        cells[0]
        if cells and cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")
        else None
    )
    if title_cell is not None:
        title, _, rest = title_cell.source.partition("\n")
        title_cell.source = f"{title}\n\n{line}\n\n{rest.lstrip()}"
        cells[1:1] = notice
    else:
        cells[0:0] = [nbformat.v4.new_markdown_cell(line), *notice]
    nb.cells = cells
    return nb


def with_question_targets(source: str) -> str:
    """A MyST target (`(q-pod-1)=`) on the line before each question's heading: the heading's
    section then has that id, whatever its title."""
    for heading in reversed(list(questions.HEADING.finditer(source))):
        targets = "".join(
            f"({q_id.lower()})=\n" for q_id in questions.QUESTION_ID.findall(heading["ids"])
        )
        source = source[: heading.start()] + targets + source[heading.start() :]
    return source


def proves_anchor(cell: int, checks: list[dict]) -> str:
    ids = list(dict.fromkeys(i for c in checks for i in c["proves"]))
    links = ", ".join(f'<a href="coverage.html#{i}">{i}</a>' for i in ids)
    failed = sum(1 for c in checks if not c.get("passed"))
    verdict = f" ({failed} of its checks failed)" if failed else ""
    return (
        f'<p class="kubelab-proves" id="cell-{cell}"><a href="#cell-{cell}">In [{cell}]</a> '
        f'proves {links}{verdict}</p>'
    )
