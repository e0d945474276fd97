"""Requirements per section: each section of a notebook says, where it starts, what it needs.

    lab.section(14)                                  # §14 needs only the API
    lab.section(18, node_access=True, workers=2)     # §18 runs commands inside nodes

On a cluster that has what a section needs, the call does nothing visible. On one that lacks
it, the call prints one line saying what is missing, records the section's IDs in the run's
ledger as skipped on this cluster (with that reason: never as failed, never as proven), and the
section's following cells do not run, up to the next `lab.section(...)` cell: each becomes
`pass` before IPython compiles it. `lab.section("Summary")` starts a part that always runs and
names no spec section.

Cells are skipped by an IPython input transformer, installed by the first `lab.section` call; a
cell whose code calls `lab.section(` always runs (it is where a section starts), so that call is
alone in its cell (the notebook standard's tests hold it to that). A later section must not read
what a skipped one built, or it declares the same needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kubelab.core import spec as spec_data
from kubelab.core.errors import KubelabError
from kubelab.lab import ledger, probes

# The ledger entry of a skipped section reads "<label> skipped on this cluster: <reason>"; the
# closing table takes its rows from such entries (kubelab.lab.report.skipped_rows).
SKIPPED = " skipped on this cluster: "
SECTION_START = re.compile(r"^\s*(?:[\w, ]+=\s*)?lab\.section\(", re.MULTILINE)


@dataclass
class Skipping:
    """The section whose cells are being skipped now (None: cells run), and what was skipped."""

    section: int | str | None = None
    skipped: list[tuple[int | str, str]] = field(default_factory=list)

    def transform(self, lines: list[str]) -> list[str]:
        """IPython input transformer: a cell of a skipped section becomes `pass`."""
        if self.section is None or SECTION_START.search("".join(lines)):
            return lines
        return ["pass\n"]


_state = Skipping()


@dataclass(frozen=True)
class Started:
    """What lab.section returns: true when the section runs. A cell that ends with the call
    displays nothing (its one line, when skipped, says it already)."""

    runs: bool

    def __bool__(self) -> bool:
        return self.runs

    def _ipython_display_(self) -> None:
        pass


def _install(state: Skipping) -> bool:
    """Put the transformer into the running IPython (once); False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    if state.transform not in shell.input_transformers_post:
        shell.input_transformers_post.append(state.transform)
    return True


def section_ids(notebook: str | None, number: int) -> list[str]:
    """The IDs of spec section `number`; it must be one of `notebook`'s sections, if named."""
    spec = spec_data.load()
    try:
        found = spec.section(number)
    except KeyError as e:
        raise KubelabError(str(e.args[0]), "name a section by its § number in the spec") from None
    if notebook and found.notebook != notebook:
        raise KubelabError(
            f"§{number} ({found.title}) belongs to notebook {found.notebook}, not {notebook}",
            "declare only the sections this notebook answers (kubelab/data/spec.json)",
        )
    return [item.id for item in spec.for_sections([number])]


def start(
    lab,
    key: int | str,
    part: str | None = None,
    ids: str | list[str] | None = None,
    state: Skipping = _state,
    **needs,
) -> Started:
    """Start section `key` (a spec section's § number, or a title such as "Summary" for a part
    that names no section); True when its cells run, False when this cluster lacks its needs.

    A section answered in parts (each with its own needs) names each `part` ("kube-proxy") and
    the `ids` it answers ("C-INTRO-4, Q-INTRO-1"), so that a skipped part records only those."""
    ids_of_section = section_ids(lab.notebook, key) if isinstance(key, int) else []
    if ids is not None:
        from kubelab.lab.report import expand_ids

        wanted = expand_ids(ids) if isinstance(ids, str) else list(ids)
        if stray := [i for i in wanted if i not in ids_of_section]:
            raise KubelabError(
                f"§{key} has no {', '.join(stray)}", "name IDs of this section only (spec.json)"
            )
        ids_of_section = wanted
    ids = ids_of_section
    state.section = None
    if not needs:
        return Started(True)
    missing, fixes = probes.shortfalls(lab, probes.probe(lab), **needs)
    if not missing:
        return Started(True)
    reason = "; ".join(missing)
    if not _install(state):
        raise probes.RequirementNotMet(
            f"§{key} needs {reason}", "; or ".join(fixes) or "run it on the default cluster"
        )
    label = (f"§{key}" if isinstance(key, int) else str(key)) + (f" {part}" if part else "")
    ledger.record(f"{label}{SKIPPED}{reason}", ids, passed=None, skipped=reason)
    state.section = key
    state.skipped.append((key, reason))
    print(f"– {label} skipped on this cluster: it needs {reason}")
    return Started(False)
