"""`kubelab new`: a chapter notebook in the standard's form, ready to be filled in.

    path = scaffold.new("08")        # notebooks/08-configuration.ipynb, its sections from the spec

What it writes is what the static tests and the website read: metadata.kubelab (title, sections,
cluster, budget, add-ons, not_demonstrable), a cell tagged `parameters`, the opening cell
(connect, requires, summary), one markdown cell per question in the exact form the site parses
(heading, the learner's Japanese from the spec, a line for the English rendering, **Answer.**),
the claims of each section listed where their experiments go, and the closing cell. Writing a
chapter: see the website's "Writing a chapter" page.
"""

import json
import uuid
from pathlib import Path

from kubelab.core import spec as spec_module
from kubelab.core.errors import KubelabError


def spec_name(name: str) -> str:
    """The spec's name for a chapter given by number ("08") or name; refused when the spec's
    grouping has no such chapter (a notebook outside it has no IDs to prove)."""
    names = spec_module.load().notebooks
    for known in names:
        if name in (known, known.split("-")[0]) or known.startswith(name + "-"):
            return known
    raise KubelabError(
        f"{name!r} is not one of the spec's chapters",
        f"name a chapter as questions.md groups them: {', '.join(names)} (or its number, e.g. 08)",
    )


def _cell(kind: str, source: str, **metadata) -> dict:
    cell = {
        "cell_type": kind,
        "id": uuid.uuid4().hex[:8],
        "metadata": metadata,
        "source": source.splitlines(True),
    }
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def notebook(name: str) -> dict:
    """The scaffold of chapter `name` (a spec name), as notebook JSON."""
    spec = spec_module.load()
    sections = [s for s in spec.sections if s.notebook == name]
    title = " / ".join(s.title for s in sections)
    cells = [
        _cell(
            "markdown",
            f"# {name.split('-')[0]} · {title}\n\nWhat this chapter shows, in two or three "
            "sentences, and what it changes outside its namespace (undone at the end).",
        ),
        _cell(
            "code", "# Parameters (papermill: kubelab run NN -p name value)\n", tags=["parameters"]
        ),
        _cell(
            "code",
            "import kubelab\nfrom kubelab import check, expect, AGNHOST\n\n"
            f'lab = kubelab.connect(notebook="{name}")\n'
            "caps = kubelab.requires(lab)  # what the cluster is; each section states its needs\n"
            "summary = kubelab.Summary()\n",
        ),
    ]
    for section in sections:
        items = spec.for_sections([section.number])
        claims = [i for i in items if i.kind == "claim"]
        cells.append(
            _cell(
                "markdown",
                f"## {section.title} ({', '.join(i.id for i in claims) or 'questions only'})\n\n"
                + "".join(f"- {c.id}: {c.text}\n" for c in claims),
            )
        )
        cells.append(
            _cell(
                "code",
                f"lab.section({section.number})  # and what it needs, e.g. node_access=True, "
                "workers=2, cluster_admin=True\n",
            )
        )
        for question in (i for i in items if i.kind == "question"):
            quote = "\n".join(f"> {line}" for line in (question.quote_ja or "").splitlines())
            cells.append(
                _cell(
                    "markdown",
                    f"### {question.id} · {question.text}\n{quote}\n>\n"
                    '> *"The learner\'s words in English."*\n\n**Answer.** ...',
                )
            )
            cells.append(
                _cell(
                    "code",
                    f'# the experiment; its checks name what they prove: proves="{question.id}"\n',
                )
            )
    cells += [
        _cell("markdown", "## Summary"),
        _cell("code", 'lab.section("Summary")\nkubelab.summary_table(summary)\nlab.close()\n'),
    ]
    meta = {
        "title": title,
        "sections": [s.number for s in sections],
        "cluster": "default",
        "disturbs": False,
        "addons": [],
        "extra_clusters": [],
        "budget_seconds": 300,
        "not_demonstrable": {},
        "requires": {"nodes": 3},
    }
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "kubelab": meta,
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def new(name: str, folder: Path | None = None) -> Path:
    """Write the scaffold of a chapter into notebooks/ (never over an existing notebook)."""
    from kubelab.runner.notebooks import NOTEBOOKS

    name = spec_name(name)
    path = (folder or NOTEBOOKS) / f"{name}.ipynb"
    if path.exists():
        raise KubelabError(f"{path} exists already", "edit it, or move it away to start again")
    path.write_text(
        json.dumps(notebook(name), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return path
