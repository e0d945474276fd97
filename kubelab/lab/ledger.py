"""The run's ledger: every check a notebook makes, passed or failed, and the spec IDs it proves.

A check (kubelab.check, expect, expect_error) calls `record()`. Under `kubelab run` the runner
sets KUBELAB_LEDGER to a file and reads it back when the notebook ends, so the run's record
(out/<notebook>.run.json) says which claims and questions were proven, and `kubelab coverage`
can total them. In a live Jupyter session nothing is written; `checks()` lists them in memory.
"""

import json
import os
import re
from pathlib import Path

ID_PATTERN = re.compile(r"^[CQ]-[A-Z0-9]+-\d+$")
ENV = "KUBELAB_LEDGER"

_in_memory: list[dict] = []


def ids(proves: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """`proves` as a list of IDs, each checked against the spec (a typo fails at once, not in coverage)."""
    if proves is None:
        return []
    found = [proves] if isinstance(proves, str) else list(proves)
    for spec_id in found:
        if not ID_PATTERN.match(spec_id):
            raise ValueError(f"proves={spec_id!r} is not a spec ID (like C-ARCH-2 or Q-GC-3)")
    known = _known_ids()
    unknown = [i for i in found if known and i not in known]
    if unknown:
        raise ValueError(
            f"proves names IDs the spec does not have: {', '.join(unknown)} (see kubelab/data/spec.json)"
        )
    return found


def _known_ids() -> set[str]:
    try:
        from kubelab.core import spec

        return set(spec.load().by_id)
    except (ImportError, FileNotFoundError, AttributeError):
        return set()  # no spec data yet: the format check above still applies


def record(what: str, proves: list[str], passed: bool | None, skipped: str | None = None) -> None:
    """passed: True or False for a check; None with `skipped` (the reason) for checks this cluster cannot make."""
    entry = {"what": what, "proves": proves, "passed": passed}
    if skipped:
        entry["skipped"] = skipped
    if (cell := _cell()) is not None:
        entry["cell"] = cell
    _in_memory.append(entry)
    path = os.environ.get(ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def _cell() -> int | None:
    """The execution count of the notebook cell running now (None outside IPython): in an executed
    notebook it names the cell, so the website can link a claim to the cell that proves it."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    count = getattr(shell, "execution_count", None)
    # IPython counts a cell as soon as it stores its input, before running it: the running cell is
    # the one before the counter (tests/test_runner.py holds it to that).
    return count - 1 if isinstance(count, int) and count > 1 else None


def checks() -> list[dict]:
    """The checks made in this process so far."""
    return list(_in_memory)


def read(path: Path) -> list[dict]:
    """The checks a run wrote to its ledger file (none if it wrote nothing)."""
    if not path.exists():
        return []
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
