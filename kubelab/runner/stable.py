"""Stable outputs: the cells whose printed output must be the same on every run, compared with
the outputs committed in the notebook by nbval's own comparison and sanitizing rules.

A cell is stable when its source starts with `# NBVAL_CHECK_OUTPUT` (nbval's marker). The
notebook is executed once (papermill); this module then compares that execution's outputs with
the committed ones, so nothing runs twice. `scripts/stable_outputs.py` refreshes the committed
outputs from an executed copy.
"""

from dataclasses import dataclass

import nbformat

MARK = "# NBVAL_CHECK_OUTPUT"


@dataclass(frozen=True)
class Difference:
    cell: int  # the code cell's number, counting code cells from 1 (as Jupyter's In [n])
    detail: str


def is_stable(cell) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith(MARK)


def compare(
    committed: nbformat.NotebookNode, executed: nbformat.NotebookNode
) -> tuple[int, list[Difference]]:
    """(how many stable cells were compared, the differences). A committed stable cell that was
    never run (no execution_count) has nothing to compare, as in nbval."""
    from nbval.plugin import coalesce_streams

    mine = [c for c in committed.cells if c.cell_type == "code"]
    ran = [c for c in executed.cells if c.cell_type == "code"]
    if [c.source for c in mine] != [c.source for c in ran][: len(mine)]:
        return 0, [
            Difference(0, "the executed notebook's code differs from the committed notebook")
        ]
    compared, differences = 0, []
    for number, (reference, done) in enumerate(zip(mine, ran), start=1):
        if not is_stable(reference) or reference.get("execution_count") is None:
            continue
        compared += 1
        comparer = _comparer()
        if not comparer.compare_outputs(
            coalesce_streams(_copy(done.outputs)), coalesce_streams(_copy(reference.outputs))
        ):
            differences.append(Difference(number, "\n".join(comparer.comparison_traceback)))
    return compared, differences


def _indent(text) -> str:
    return "\n".join("    " + line for line in str(text).splitlines())


def _copy(outputs) -> list:
    # nbval's coalescing edits outputs in place; keep the notebooks as they were.
    return [nbformat.from_dict(dict(o)) for o in outputs]


class _Parent:
    # nbval's defaults for --nbval-lax: metadata, counts and pictures are not compared.
    skip_compare = (
        "metadata",
        "traceback",
        "prompt_number",
        "output_type",
        "name",
        "execution_count",
        "application/vnd.jupyter.widget-view+json",
        "image/png",
        "image/jpeg",
    )
    sanitize_patterns: dict = {}


def _comparer():
    from nbval.plugin import IPyNbCell, nocolors

    class Comparer:
        """Just the comparison of nbval's cell item, without pytest or a kernel."""

        parent = _Parent()
        colors = nocolors
        compare_outputs = IPyNbCell.compare_outputs
        sanitize = IPyNbCell.sanitize

        def __init__(self):
            self.comparison_traceback = []

        def format_output_compare(self, key, left, right):
            # nbval's own version asks pytest for the diff; this one needs no pytest session.
            self.comparison_traceback.append(
                f"{key}: committed output\n{_indent(left)}\nexecuted output\n{_indent(right)}"
            )

    return Comparer()
