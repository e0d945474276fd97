#!/usr/bin/env python3
"""Keep, in a notebook's source, the outputs of its stable cells only (what nbval's rules compare).

    python scripts/stable_outputs.py notebooks/00-....ipynb out/00-....ipynb

Cells whose source starts with `# NBVAL_CHECK_OUTPUT` get their outputs from the executed copy
(`kubelab run` writes it under out/), found by their source; every other cell's outputs are
cleared, so the committed notebook holds exactly what the next run's stable cells are compared
with. A stable cell whose source is not in the executed copy (it was edited since) is reported.
"""

import sys

import nbformat

MARK = "# NBVAL_CHECK_OUTPUT"


def main(source_path: str, executed_path: str) -> None:
    source = nbformat.read(source_path, as_version=4)
    executed = nbformat.read(executed_path, as_version=4)
    ran = {c.source: c for c in executed.cells if c.cell_type == "code"}
    kept, stale = 0, []
    for cell in (c for c in source.cells if c.cell_type == "code"):
        done = ran.get(cell.source)
        if cell.source.lstrip().startswith(MARK) and done is not None:
            cell.outputs = [o for o in done.outputs if o.output_type == "stream"]
            cell.execution_count = done.execution_count  # nbval compares only cells that were run
            kept += 1
        else:
            if cell.source.lstrip().startswith(MARK):
                stale.append(
                    cell.source.splitlines()[1][:60] if "\n" in cell.source else cell.source
                )
            cell.outputs, cell.execution_count = [], None
    nbformat.write(source, source_path)
    print(f"{source_path}: outputs kept for {kept} stable cell(s)")
    if stale:
        sys.exit(
            "stable cells not in the executed copy (run the notebook again): " + "; ".join(stale)
        )


if __name__ == "__main__":
    main(*sys.argv[1:3])
