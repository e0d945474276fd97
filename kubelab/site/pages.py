"""The site's own pages, as MyST markdown: home, the question index and the coverage page.

Their tables are HTML (MyST passes an HTML block through as it is) so that every row can carry an
id to link to (`coverage.html#C-POD-3`, `questions.html#Q-POD-1`) and the Japanese cells a `lang`.
"""

import html
import re

from kubelab.runner import coverage as coverage_module
from kubelab.core.spec import Spec
from kubelab.site import questions as questions_module
from kubelab.site.chapters import NOT_VERIFIED, VERIFIED, Chapter, finished

STATUS_LABEL = {
    coverage_module.PROVEN: "proven",
    coverage_module.NOT_DEMONSTRABLE: "not demonstrable",
    coverage_module.SKIPPED: "skipped on this cluster",
    coverage_module.MISSING: "missing",
}


def inline(text: str) -> str:
    """Escaped text with `code` spans, as the spec and the notebooks' headings write them."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


def table(css: str, header: list[str], rows: list[tuple[str | None, list[str]]]) -> str:
    """An HTML table on one block (no blank line, or MyST would end the HTML there); a row's first
    item is its id (or None)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join(
        (f'<tr id="{row_id}">' if row_id else "<tr>")
        + "".join(f"<td>{c}</td>" for c in cells)
        + "</tr>"
        for row_id, cells in rows
    )
    return f'<table class="kubelab-table {css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def chapter_link(chapter: Chapter) -> str:
    label = html.escape(chapter.name)
    return f'<a href="{chapter.page}">{label}</a>' if chapter.page else label


def home(chapters: list[Chapter], ledger: coverage_module.Coverage, built_at: str) -> str:
    totals = ledger.totals()
    verified = sum(1 for c in chapters if c.state == VERIFIED)
    rows = []
    for chapter in chapters:
        record = chapter.record or {}
        # a run's facts: version, images, finish time, commit, checks passed (none without a page)
        facts = (
            [
                html.escape(record.get("version", "")),
                html.escape(record.get("images", "")),
                finished(record).removesuffix(" UTC"),
                html.escape(record.get("commit") or ""),
                str(record.get("checks_passed", "")),
            ]
            if record and chapter.executed
            else [""] * 5
        )
        own = ledger.totals(chapter.name)
        rows.append(
            (
                None,
                [
                    f'{chapter_link(chapter)}<br><span class="kubelab-title">{html.escape(chapter.title)}</span>',
                    f'<span class="kubelab-state {chapter.state.replace(" ", "-")}">{chapter.state}</span>',
                    *facts,
                    f"{own[coverage_module.PROVEN]} / {own['total']}",
                ],
            )
        )
    published = [c.name for c in chapters if c.page]
    return "\n".join(
        [
            "# kubelab: Kubernetes concepts, answered by experiment",
            "",
            "A learner read the Kubernetes *Concepts* documentation and wrote down what they could not work "
            "out (よくわからん). Each chapter here answers those questions by experiment on a real, throwaway "
            "kind cluster, and every answer is checked: a check fails when Kubernetes behaves otherwise.",
            "",
            "**Every chapter page is the notebook exactly as `make test` (or `kubelab run`) executed it**, "
            "outputs and pictures included; nothing was re-run to make this site. The line at the top of a "
            "chapter says on which Kubernetes, when, at which commit, and how many checks passed. A chapter "
            "whose run did not pass says so instead.",
            "",
            f"{verified} of {len(chapters)} chapters verified. Claims and questions of the spec: "
            f"**{totals[coverage_module.PROVEN]} proven**, {totals[coverage_module.NOT_DEMONSTRABLE]} not demonstrable, "
            + (
                f"{totals[coverage_module.SKIPPED]} skipped on the clusters the chapters ran on, "
                if totals[coverage_module.SKIPPED]
                else ""
            )
            + f"{totals[coverage_module.MISSING]} missing, of {totals['total']} "
            "([coverage](coverage.md), [the learner's questions](questions.md)).",
            "",
            table(
                "kubelab-chapters",
                [
                    "chapter",
                    "state",
                    "Kubernetes",
                    "images",
                    "run finished (UTC)",
                    "commit",
                    "checks passed",
                    "IDs proven",
                ],
                rows,
            ),
            "",
            "**Writing a chapter?** [The standard and a worked example](writing.md), and the "
            "[API reference](reference.md) of the names a notebook uses.",
            "",
            f"Site built {built_at} from the executed notebooks in `out/`.",
            "",
            "```{toctree}",
            ":hidden:",
            ":caption: Chapters",
            "",
            *published,
            "```",
            "",
            "```{toctree}",
            ":hidden:",
            ":caption: Indexes",
            "",
            "questions",
            "coverage",
            "```",
            "",
            "```{toctree}",
            ":hidden:",
            ":caption: Writing a chapter",
            "",
            "writing",
            "reference",
            "```",
            "",
        ]
    )


def questions(
    chapters: list[Chapter],
    asked: dict[str, list[questions_module.Question]],
    ledger: coverage_module.Coverage,
    spec: Spec,
) -> str:
    """Every question of the spec: as the published notebook asks it (Japanese beside English,
    linked to its answer), or as the spec has it when no published notebook answers it yet."""
    status = {e.id: e.status for e in ledger.entries}
    lines = [
        "# The learner's questions",
        "",
        f"All {sum(1 for i in spec.ids if i.kind == 'question')} questions of the spec, by chapter: the "
        "learner's own words (Japanese, verbatim from the study log) beside their English rendering, "
        "each linked to the part of the chapter that answers it by experiment.",
        "",
    ]
    for chapter in chapters:
        wanted = [i for i in spec.for_notebook(chapter.name) if i.kind == "question"]
        if not wanted:
            continue
        lines += [f"## {html.escape(chapter.name)}", ""]
        found = {q_id: q for q in asked.get(chapter.name, []) for q_id in q.ids}
        rows = []
        for item in wanted:
            q = found.get(item.id)
            if q and chapter.page:
                rows.append(
                    (
                        item.id,
                        [
                            f'<a href="{chapter.page}#{item.id.lower()}">{item.id}</a>',
                            inline(q.title),
                            f'<span lang="ja">{html.escape(q.japanese)}</span>',
                            html.escape(q.english),
                            STATUS_LABEL[status[item.id]],
                        ],
                    )
                )
            else:
                rows.append(
                    (
                        item.id,
                        [
                            item.id,
                            inline(item.text),
                            f'<span lang="ja">{html.escape(item.quote_ja or "")}</span>',
                            "",
                            f"not answered yet ({chapter.state})",
                        ],
                    )
                )
        lines += [
            table(
                "kubelab-questions",
                ["ID", "question", "the learner's words (日本語)", "English rendering", "status"],
                rows,
            ),
            "",
        ]
    return "\n".join(lines)


def coverage(chapters: list[Chapter], ledger: coverage_module.Coverage, spec: Spec) -> str:
    """The ledger `kubelab coverage` prints, with its evidence: each ID proven links to the cells
    whose passing checks name it."""
    totals = ledger.totals()
    by_name = {c.name: c for c in chapters}
    lines = [
        "# Coverage of the spec",
        "",
        "Every claim (C-…) and question (Q-…) of the spec, as `kubelab coverage` counts it from the "
        "notebooks' last runs: **proven** (a passing check names it; the links go to the cells that made "
        "those checks), **not demonstrable** on kind (the notebook says why) or **missing**.",
        "",
        table(
            "kubelab-totals",
            ["", *(STATUS_LABEL[s] for s in coverage_module.STATUSES), "total"],
            [
                (
                    None,
                    [
                        kind,
                        *(str(totals[kind][s]) for s in coverage_module.STATUSES),
                        str(totals[kind]["total"]),
                    ],
                )
                for kind in ("claim", "question")
            ]
            + [
                (
                    None,
                    [
                        "<strong>all</strong>",
                        *(f"<strong>{totals[s]}</strong>" for s in coverage_module.STATUSES),
                        f"<strong>{totals['total']}</strong>",
                    ],
                )
            ],
        ),
        "",
    ]
    for name in spec.notebooks:
        chapter = by_name.get(name)
        own = ledger.totals(name)
        lines += [
            f"## {html.escape(name)}",
            "",
            f"{chapter_link(chapter) if chapter else html.escape(name)}: {chapter.state if chapter else 'not written'}; "
            f"{own[coverage_module.PROVEN]} proven, {own[coverage_module.NOT_DEMONSTRABLE]} not demonstrable, "
            + (
                f"{own[coverage_module.SKIPPED]} skipped on the cluster it last ran on, "
                if own[coverage_module.SKIPPED]
                else ""
            )
            + f"{own[coverage_module.MISSING]} missing of {own['total']}.",
            "",
        ]
        evidence = _evidence(chapter) if chapter else {}
        for number, counts in ledger.by_section(name).items():
            section = spec.section(number)
            lines += [
                f"### §{number} {html.escape(section.title)}",
                "",
                f"{counts[coverage_module.PROVEN]} proven · {counts[coverage_module.NOT_DEMONSTRABLE]} "
                "not demonstrable · "
                + (
                    f"{counts[coverage_module.SKIPPED]} skipped on this cluster · "
                    if counts[coverage_module.SKIPPED]
                    else ""
                )
                + f"{counts[coverage_module.MISSING]} missing",
                "",
            ]
            rows = []
            for entry in (e for e in ledger.select(name) if e.section == number):
                rows.append(
                    (
                        entry.id,
                        [
                            entry.id,
                            inline(spec.by_id[entry.id].text),
                            f'<span class="kubelab-status {entry.status}">{STATUS_LABEL[entry.status]}</span>',
                            _why(entry, chapter, evidence),
                        ],
                    )
                )
            lines += [
                table("kubelab-coverage", ["ID", "what", "status", "evidence or reason"], rows),
                "",
            ]
    return "\n".join(lines)


def _evidence(chapter: Chapter) -> dict[str, list[int]]:
    """ID -> the cells (execution counts) whose passing checks name it."""
    cells: dict[str, list[int]] = {}
    for cell, checks in sorted(chapter.proving_cells().items()):
        for check in checks:
            for id_ in check["proves"] if check.get("passed") else []:
                if cell not in cells.setdefault(id_, []):
                    cells[id_].append(cell)
    return cells


def _why(
    entry: coverage_module.Entry, chapter: Chapter | None, evidence: dict[str, list[int]]
) -> str:
    if entry.status != coverage_module.PROVEN:
        return inline(entry.reason or "")
    cells = evidence.get(entry.id, [])
    if chapter is None or not chapter.page:
        return "a check of its last run (the notebook is not published)"
    if not cells:  # a run recorded before checks named their cell
        return f'a check in <a href="{chapter.page}">{chapter.name}</a>'
    where = ", ".join(f'<a href="{chapter.page}#cell-{c}">In [{c}]</a>' for c in cells)
    warning = " (that run did not pass)" if chapter.state == NOT_VERIFIED else ""
    return f"checked in {where}{warning}"
