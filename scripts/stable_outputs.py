#!/usr/bin/env python3
"""Keep, in a notebook's source, the outputs of its stable cells only (for nbval).

    python scripts/stable_outputs.py notebooks/00-....ipynb out/00-....ipynb

Cells whose source starts with `# NBVAL_CHECK_OUTPUT` get their outputs from the executed copy
(`kubelab run` writes it under out/); every other cell's outputs are cleared, so the committed
notebook holds exactly what nbval compares.
"""

import sys

import nbformat

MARK = "# NBVAL_CHECK_OUTPUT"


def main(source_path: str, executed_path: str) -> None:
    source = nbformat.read(source_path, as_version=4)
    executed = nbformat.read(executed_path, as_version=4)
    ran = [c for c in executed.cells if c.cell_type == "code"]
    mine = [c for c in source.cells if c.cell_type == "code"]
    if [c.source for c in mine] != [c.source for c in ran]:
        sys.exit("the executed notebook's code differs from the source: run it again first")
    kept = 0
    for cell, done in zip(mine, ran):
        stable = cell.source.lstrip().startswith(MARK)
        cell.outputs = [o for o in done.outputs if o.output_type == "stream"] if stable else []
        # nbval compares only cells that were run: a stable cell keeps its execution count.
        cell.execution_count = done.execution_count if stable else None
        kept += stable
    nbformat.write(source, source_path)
    print(f"{source_path}: outputs kept for {kept} stable cell(s)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
