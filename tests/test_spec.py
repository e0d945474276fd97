"""The spec as data (kubelab/data/spec.json), the coverage ledger, and what the notebooks owe the spec.

None of these needs a cluster, and none reads ../shared: scripts/generate_spec.py is the only
reader of questions.md, and its parsing is tested here on small inline texts. The learner's words
are checked against the seed's copy it commits (kubelab/data/seed.ja.md).
"""

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from kubelab import cli
from kubelab.runner import coverage, notebooks
from kubelab.core import spec

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "kubelab" / "data" / "seed.ja.md"
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
ARCH = "01-cluster-architecture"


@pytest.fixture(scope="module")
def the_spec() -> spec.Spec:
    return spec.load()


def load_generator():
    path = REPO / "scripts" / "generate_spec.py"
    module_spec = importlib.util.spec_from_file_location("generate_spec", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


# --- the spec ------------------------------------------------------------------------------


def test_the_spec_has_the_totals_questions_md_states(the_spec):
    kinds = Counter(item.kind for item in the_spec.ids)
    assert kinds == {"claim": 428, "question": 188}
    assert [s.number for s in the_spec.sections] == list(range(97))
    assert len(the_spec.notebooks) == 16
    assert [name[:2] for name in the_spec.notebooks] == [f"{n:02d}" for n in range(16)]
    assert the_spec.section(0) == spec.Section(
        0, "Introduction", "INTRO", "00-tour-reconcile-and-objects", "L1–L37"
    )


def test_ids_are_unique_and_in_spec_order(the_spec):
    assert len(the_spec.by_id) == len(the_spec.ids)
    assert [item.section for item in the_spec.ids] == sorted(item.section for item in the_spec.ids)
    numbered: Counter = Counter()
    for item in the_spec.ids:
        section = the_spec.section(item.section)
        assert (item.slug, item.notebook) == (section.slug, section.notebook), item.id
        prefix = "C" if item.kind == "claim" else "Q"
        numbered[(prefix, item.slug)] += 1
        assert item.id == f"{prefix}-{item.slug}-{numbered[(prefix, item.slug)]}"
        assert item.text and "\n" not in item.text and len(item.text) <= 210, item.id


def test_every_question_of_the_written_chapters_quotes_the_learner(the_spec):
    for item in the_spec.for_sections(range(9)):
        if item.kind == "question":
            assert item.quote_ja and JAPANESE.search(item.quote_ja), item.id
    assert all(item.quote_ja is None for item in the_spec.ids if item.kind == "claim")
    assert the_spec.by_id["Q-INTRO-5"].quote_ja == "kube-node-lease と kube-public は良くわからん"


def test_the_spec_answers_by_section_and_by_notebook(the_spec):
    arch = the_spec.for_notebook(ARCH)
    assert {item.section for item in arch} == set(range(1, 9))
    assert the_spec.for_sections([8, 1]) == [i for i in arch if i.section in (1, 8)]
    assert the_spec.for_notebook("no-such-notebook") == []
    with pytest.raises(KeyError, match="no section 97"):
        the_spec.section(97)
    assert spec.load() is the_spec  # read once


# --- the generator, on inline texts ---------------------------------------------------------


def test_the_generator_summarises_claims_and_questions_in_one_line():
    gen = load_generator()
    assert (
        gen.summary_line("There is no workflow engine. Control loops drive it. More here.", "claim")
        == "There is no workflow engine. Control loops drive it."
    )
    assert (
        gen.summary_line(
            "Nodes needed swap off. Can they run with it on? Pointer: NodeSwap.", "question"
        )
        == "Nodes needed swap off. Can they run with it on?"
    )
    assert (
        gen.summary_line("Use `kubectl get -l a.b` here, e.g. with labels. Next.", "claim")
        == "Use `kubectl get -l a.b` here, e.g. with labels. Next."
    )
    long = "A claim about `a very long piece of code " + "x " * 120 + "end` and more."
    short = gen.summary_line(long, "claim")
    assert short.endswith(" …") and short.count("`") % 2 == 0 and len(short) <= 202


def test_the_generator_copies_the_learners_words_from_the_seed():
    gen = load_generator()
    seed = ["# title", "- 一行目の質問？", "  - 二行目", "  > doc text. 私のメモ。関係ない話"]
    assert gen.quote_from_seed(seed, gen.SeedQuote(2, 3)) == "一行目の質問？ … 二行目"
    assert (
        gen.quote_from_seed(seed, gen.SeedQuote(4, starting_at="私の", ending_with="メモ。"))
        == "私のメモ。"
    )
    with pytest.raises(gen.SpecError):
        gen.quote_from_seed(seed, gen.SeedQuote(4, 9))


def test_a_quote_is_the_seeds_words_in_the_seeds_order_with_its_gaps_marked():
    gen = load_generator()
    seed = "# title\n- 一行目の質問？ それから\n  - 二行目   の話\n  > doc text. 私のメモ。\n"
    for quote in (
        "一行目の質問？ それから",
        "質問？",
        "二行目 の話",
        "一行目 … 二行目",
        "一行目...私のメモ。",
        "一行目の質問？ … 二行目 の話 … 私のメモ。",
    ):
        assert gen.missing_fragment(quote, seed) is None, quote
    assert (
        gen.missing_fragment("一行目の質問？ それから 二行目", seed)
        == "一行目の質問？ それから 二行目"
    )  # two lines run into one
    assert gen.missing_fragment("二行目 … 一行目", seed) == "一行目"  # reordered
    assert gen.missing_fragment("一行目の質問 … 三行目", seed) == "三行目"


def test_the_generator_refuses_a_spec_with_the_wrong_totals():
    gen = load_generator()
    text = (
        "## 0. Introduction (untitled)\n`INTRO` · notebook `00-tour` · L1–L2\n"
        "- C-INTRO-1: A claim.\n- **Q-INTRO-1**: A question? (\"質問\")\n\n"
        "## Notebook grouping\n| # | Section | Slug | Notebook |\n|---|---|---|---|\n"
        "| 0 | (Introduction, untitled) | INTRO | 00-tour |\n"
    )
    sections, ids, table = gen.parse_spec(text)
    assert [i["id"] for i in ids] == ["C-INTRO-1", "Q-INTRO-1"] and len(table) == 1
    with pytest.raises(gen.SpecError, match="its header says"):
        gen.build(text, "# seed\n- 質問\n")


def test_the_committed_spec_json_is_what_the_generator_writes(the_spec):
    gen = load_generator()
    committed = (REPO / "kubelab" / "data" / "spec.json").read_text(encoding="utf-8")
    assert (
        gen.to_text(json.loads(committed)) == committed
    )  # the file is in the generator's own format
    assert spec.DATA.is_file()


def test_the_curated_quotes_are_the_learners_words(the_spec):
    """SEED_QUOTES copies seed lines, so each quote_ja it gives is in the committed seed."""
    gen = load_generator()
    seed = SEED.read_text(encoding="utf-8")
    assert len(seed.splitlines()) >= max(q.last or q.first for q in gen.SEED_QUOTES.values())
    wrong = {
        id_: fragment
        for id_ in gen.SEED_QUOTES
        if (fragment := gen.missing_fragment(the_spec.by_id[id_].quote_ja, seed))
    }
    assert not wrong, (
        f"quote_ja not in kubelab/data/seed.ja.md (run scripts/generate_spec.py?): {wrong}"
    )


# --- the coverage ledger, over synthetic notebooks and runs --------------------------------


def notebook(name: str, sections: list[int], not_demonstrable: dict | None = None):
    return SimpleNamespace(
        name=name,
        path=Path(f"/nowhere/{name}.ipynb"),
        meta={"sections": sections, "not_demonstrable": not_demonstrable or {}},
    )


@pytest.fixture
def ledger(tmp_path, monkeypatch, the_spec) -> coverage.Coverage:
    """00 (never run) and 01 (failed half-way), with run files in a temporary out/."""
    monkeypatch.setenv("KUBELAB_OUT", str(tmp_path))
    run = {
        "notebook": ARCH,
        "status": "failed",
        "finished": "2026-11-28T09:00:00Z",
        "seconds": 31.2,
        "version": "v1.37.2",
        "checks": [
            {
                "what": "the node Lease is renewed",
                "proves": ["C-ARCH-1", "Q-ARCH-1"],
                "passed": True,
            },
            {"what": "Ready becomes Unknown", "proves": ["C-ARCH-2"], "passed": False},
            {"what": "no LoadBalancer IP", "proves": ["C-CCM-1"], "passed": True},
            {
                "what": "§1 skipped on this cluster: node access",
                "proves": ["C-ARCH-3"],
                "passed": None,
                "skipped": "node access",
            },
            {"what": "a check of another chapter", "proves": ["C-INTRO-1"], "passed": True},
        ],
    }
    (tmp_path / f"{ARCH}.run.json").write_text(json.dumps(run))
    nbs = [
        notebook("00-tour-reconcile-and-objects", [0]),
        notebook(
            ARCH,
            list(range(1, 9)),
            {
                "C-MVP-1": "needs two API servers of different versions",
                "C-CCM-1": "no cloud provider",
                "C-ARCH-8": " ",
                "C-CTR-1": "not mine",
            },
        ),
    ]
    return coverage.compute(the_spec, nbs)


def test_coverage_tells_proven_declared_and_missing_apart(ledger):
    entry = {e.id: e for e in ledger.entries}
    assert entry["C-ARCH-1"].status == "proven" and entry["C-ARCH-1"].run_status == "failed"
    assert entry["Q-ARCH-1"].status == "proven"
    assert entry["C-ARCH-2"].status == "missing"
    assert (entry["C-ARCH-3"].status, entry["C-ARCH-3"].reason) == (
        "skipped",
        "skipped on this cluster: node access",
    )
    assert entry["C-ARCH-2"].reason == "no passing check in the last run (failed)"
    assert (entry["C-MVP-1"].status, entry["C-MVP-1"].reason) == (
        "not-demonstrable",
        "needs two API servers of different versions",
    )
    assert entry["C-ARCH-8"].status == "missing"  # declared without a reason: not accepted
    assert (entry["C-INTRO-1"].status, entry["C-INTRO-1"].reason) == ("missing", "not run yet")
    assert entry["C-CTR-1"] == coverage.Entry(
        "C-CTR-1", "claim", 9, "02-containers", "missing", coverage.NOT_WRITTEN, None
    )


def test_coverage_reports_conflicts_and_strays(ledger):
    assert ledger.conflicts == ["C-CCM-1"]
    assert next(e for e in ledger.entries if e.id == "C-CCM-1").status == "proven"
    text = "\n".join(ledger.warnings)
    for expected in (
        "C-CCM-1 is proven but also declared",
        "C-ARCH-8 not demonstrable without a reason",
        "declares C-CTR-1 not demonstrable, but it is not in its sections",
        "a check proves C-INTRO-1, which is not in its sections",
    ):
        assert expected in text


def test_coverage_counts_and_what_a_notebook_still_owes(ledger, the_spec):
    assert ledger.totals() == {
        "proven": 3,
        "not-demonstrable": 1,
        "skipped": 1,
        "missing": 611,
        "total": 616,
        "claim": {"proven": 2, "not-demonstrable": 1, "skipped": 1, "missing": 424, "total": 428},
        "question": {
            "proven": 1,
            "not-demonstrable": 0,
            "skipped": 0,
            "missing": 187,
            "total": 188,
        },
    }
    assert ledger.by_section()[1] == Counter(
        {"proven": 2, "not-demonstrable": 0, "skipped": 1, "missing": 9}
    )
    owed = ledger.missing_for(ARCH)
    assert owed == [
        i.id
        for i in the_spec.for_notebook(ARCH)
        if i.id not in {"C-ARCH-1", "Q-ARCH-1", "C-CCM-1", "C-MVP-1", "C-ARCH-3"}
    ]
    assert ledger.missing_for("02-containers") == [
        i.id for i in the_spec.for_notebook("02-containers")
    ]
    assert ledger.totals(ARCH)["total"] == 46


def test_coverage_text_has_a_line_per_section_and_a_total(ledger):
    lines = [" ".join(line.split()) for line in ledger.render_text().splitlines()]
    assert (
        "§ 1 ARCH 01-cluster-architecture proven 2 not-demonstrable 0 skipped 1 missing 9" in lines
    )
    assert "§ 8 MVP 01-cluster-architecture proven 0 not-demonstrable 1 missing 0" in lines
    assert "§9–12 02-containers missing 19 (notebook not written yet)" in lines
    assert "§0 00-tour-reconcile-and-objects missing 15 (not run yet)" in lines
    assert (
        lines[-1]
        == ledger.totals_line()
        == "total: 3 proven, 1 not demonstrable, 1 skipped on this cluster, 611 missing of 616 (428 claims, 188 questions)"
    )
    only_arch = ledger.render_text(ARCH).splitlines()
    assert len([line for line in only_arch if line.startswith("§")]) == 8
    assert only_arch[-2].startswith("warning:") and only_arch[-1].endswith(
        "of 46 (33 claims, 13 questions)"
    )


def test_coverage_json_has_one_object_per_id(ledger, the_spec):
    rows = json.loads(json.dumps(ledger.to_json()))
    assert [r["id"] for r in rows] == [i.id for i in the_spec.ids]
    assert all(
        set(r) == {"id", "kind", "section", "slug", "notebook", "status", "reason"} for r in rows
    )
    assert rows[0] == {
        "id": "C-INTRO-1",
        "kind": "claim",
        "section": 0,
        "slug": "INTRO",
        "notebook": "00-tour-reconcile-and-objects",
        "status": "missing",
        "reason": "not run yet",
    }
    assert {r["notebook"] for r in ledger.to_json(ARCH)} == {ARCH}


def test_coverage_ignores_an_unreadable_run_record(tmp_path, monkeypatch, the_spec):
    monkeypatch.setenv("KUBELAB_OUT", str(tmp_path))
    (tmp_path / f"{ARCH}.run.json").write_text("{not json")
    ledger = coverage.compute(the_spec, [notebook(ARCH, list(range(1, 9)))])
    assert ledger.totals(ARCH)["missing"] == 46
    assert any("unreadable" in w for w in ledger.warnings)


def test_kubelab_coverage_prints_json_for_one_notebook(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KUBELAB_OUT", str(tmp_path))  # no runs: nothing proven
    assert cli.main(["coverage", "--json", "--notebook", "01"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 46 and {r["notebook"] for r in rows} == {ARCH}
    assert cli.main(["coverage"]) == 0
    assert capsys.readouterr().out.rstrip().splitlines()[-1].startswith("total: 0 proven")


# --- the real notebooks ---------------------------------------------------------------------

NOTEBOOKS = notebooks.discover()


def markdown_cells(nb) -> list[str]:
    cells = json.loads(nb.path.read_text(encoding="utf-8"))["cells"]
    return [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in cells
        if c["cell_type"] == "markdown"
    ]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda nb: nb.name)
def test_a_notebook_asks_each_question_in_the_learners_words(nb, the_spec):
    """Each question of its sections appears in a markdown cell, with the learner's Japanese words
    (quote_ja, verbatim) in the same cell, so the reader sees what was asked before the answer."""
    cells = markdown_cells(nb)
    questions = [
        i for i in the_spec.for_sections(nb.meta.get("sections") or []) if i.kind == "question"
    ]
    not_asked = [
        q.id
        for q in questions
        if not any(q.id in cell and (q.quote_ja is None or q.quote_ja in cell) for cell in cells)
    ]
    assert not not_asked, (
        f"{nb.name}: no markdown cell has the ID and its quote_ja for: {', '.join(not_asked)}"
    )


def learners_words(nb) -> list[tuple[str, list[str]]]:
    """Each blockquote of the notebook's markdown cells that quotes the learner: (where, its lines).

    The learner's words are the `> ` lines with Japanese in them, not the English rendering
    (`> *"..."*`); `where` is the questions of the cell, or the cell's number if it asks none."""
    from kubelab.site import questions

    found = []
    cells = json.loads(nb.path.read_text(encoding="utf-8"))["cells"]
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        ids = [id_ for q in questions.in_cell(source, index) for id_ in q.ids]
        where = "/".join(ids) or f"markdown cell {index}"
        block: list[str] = []
        for line in source.splitlines() + [""]:
            text = line[1:].strip() if line.startswith(">") else None
            if text is not None and JAPANESE.search(text) and not questions.ENGLISH.match(text):
                block.append(text)
            elif text is None and block:
                found.append((where, block))
                block = []
    return found


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda nb: nb.name)
def test_a_notebook_quotes_the_learner_exactly(nb):
    """Every Japanese line a notebook quotes is in the seed as the learner wrote it: each fragment
    between ellipses (`…`, `...`) within one seed line, and the fragments (of a line, and of the
    lines of one blockquote) in the seed's order. Leaving words out is marked; running two seed
    lines into one sentence, or reordering them, is not quoting."""
    gen = load_generator()
    seed = SEED.read_text(encoding="utf-8")
    quotes = learners_words(nb)
    assert quotes or not nb.meta.get("sections"), f"{nb.name}: no `> ` line quotes the learner"
    wrong = []
    for where, lines in quotes:
        fragment = gen.missing_fragment(" … ".join(lines), seed)
        if fragment is None:
            continue
        anywhere = gen.missing_fragment(fragment, seed) is None
        wrong.append(
            f"{where}: 「{fragment}」 "
            + (
                "comes before what the quote puts ahead of it in the seed"
                if anywhere
                else "is not in the seed (not within one line)"
            )
        )
    assert not wrong, (
        f"{nb.name}: quotes that are not the learner's words in kubelab/data/seed.ja.md "
        "(quote exactly, mark a gap with …, keep the seed's order):\n" + "\n".join(wrong)
    )


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda nb: nb.name)
def test_each_question_has_a_heading_the_learners_words_and_an_english_rendering(nb, the_spec):
    """The standard's shape (`### Q-… · title`, the quote, its rendering), which the website's
    question index reads: every question of the notebook's sections has a heading of its own."""
    from kubelab.site import questions

    asked = questions.in_notebook(json.loads(nb.path.read_text(encoding="utf-8")))
    headed = {id_ for q in asked for id_ in q.ids}
    owed = [
        i.id for i in the_spec.for_sections(nb.meta.get("sections") or []) if i.kind == "question"
    ]
    assert not [i for i in owed if i not in headed], (
        f"{nb.name}: questions without a `### Q-… · …` heading"
    )
    for q in asked:
        assert q.japanese and q.english, (
            f"{nb.name}: {'/'.join(q.ids)} needs the learner's words and *\"an English rendering\"*"
        )


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda nb: nb.name)
def test_a_section_starts_in_a_cell_of_its_own(nb):
    """`lab.section(..., needs)` is alone in its cell: that cell always runs, so anything after
    the call there would run even where the section is skipped (kubelab.lab.sections). A section
    without needs is never skipped, and may share its cell."""
    import ast

    cells = json.loads(nb.path.read_text(encoding="utf-8"))["cells"]
    crowded = []
    for i, c in enumerate(cells):
        source = "".join(c["source"])
        if c["cell_type"] != "code" or "lab.section(" not in source:
            continue
        body = ast.parse(source).body
        calls = [
            node
            for node in ast.walk(ast.Module(body=body, type_ignores=[]))
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("lab.section")
        ]
        needs = any(k.arg not in ("part", "ids") for call in calls for k in call.keywords)
        if needs and len(body) != 1:
            crowded.append(i)
    assert not crowded, f"{nb.name}: cells where lab.section(..., needs) is not alone: {crowded}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda nb: nb.name)
def test_code_cells_are_short(nb):
    """Notebooks are narratives: a code cell calls the library and checks, in at most 30 lines
    (a longer one is split where the experiment pauses, or its plumbing moves into kubelab)."""
    cells = json.loads(nb.path.read_text(encoding="utf-8"))["cells"]
    too_long = [
        (i, n)
        for i, c in enumerate(cells)
        if c["cell_type"] == "code" and (n := len("".join(c["source"]).splitlines())) > 30
    ]
    assert not too_long, f"{nb.name}: code cells over 30 lines (cell, lines): {too_long}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda nb: nb.name)
def test_a_notebook_says_why_it_cannot_demonstrate_something(nb, the_spec):
    own = {i.id for i in the_spec.for_sections(nb.meta.get("sections") or [])}
    for id_, reason in (nb.meta.get("not_demonstrable") or {}).items():
        assert id_ in own, f"{nb.name}: {id_} is not in its sections"
        assert isinstance(reason, str) and reason.strip(), f"{nb.name}: {id_} needs a reason"
