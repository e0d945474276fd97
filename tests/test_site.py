"""The website (kubelab.site): chapter pages marked with their evidence, the question index and the
coverage page, built from run records without a cluster; then, after the notebooks, the real site
from out/ in headless Chromium (tests/browser.py)."""

import base64
import json
import re
import shutil
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import nbformat
import pytest

from kubelab.runner import notebooks
from kubelab import site
from kubelab.core.errors import KubelabError
from kubelab.lab.report import HEADERS, Table
from kubelab.site import chapters

STORAGE = "07-storage"
# a 2x2 PNG: what a notebook's picture output holds
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d494844520000000200000002080200000001f338dd0000000c4944415408d763f8ff"
        "ff3f0305000bf403fd8a4f14710000000049454e44ae426082"
    )
).decode()


def executed_copy(name: str, out: Path) -> nbformat.NotebookNode:
    """The committed notebook as if run: every code cell counted, one with text, one with a picture."""
    nb = nbformat.read(str(notebooks.NOTEBOOKS / f"{name}.ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for count, cell in enumerate(code, start=1):
        cell.execution_count = count
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text=f"✓ cell {count} ran\n")
        ]
    code[2].outputs.append(
        nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})
    )
    summary = Table(HEADERS, [("C-VOL-1", "emptyDir lives in memory", "tmpfs, 64 MiB")])
    code[-1].outputs.append(
        nbformat.v4.new_output(
            "display_data",
            data={"text/markdown": summary._repr_markdown_(), "text/plain": repr(summary)},
        )
    )
    nbformat.write(nb, str(out / f"{name}.ipynb"))
    return nb


def as_failed(name: str, out: Path, cell: int) -> None:
    """What papermill leaves in a notebook that stopped at `cell`: a notice first, a marker above the cell."""
    nb = nbformat.read(str(out / f"{name}.ipynb"), as_version=4)
    tagged = {"tags": [chapters.PAPERMILL_ERROR]}
    notice = nbformat.v4.new_markdown_cell(
        f'<span style="color:red">An Exception was encountered at '
        f'\'<a href="#papermill-error-cell">In [{cell}]</a>\'.</span>',
        metadata=tagged,
    )
    marker = nbformat.v4.new_markdown_cell(
        '<span id="papermill-error-cell">Execution stopped here:</span>', metadata=tagged
    )
    stopped = next(i for i, c in enumerate(nb.cells) if c.get("execution_count") == cell)
    nb.cells.insert(stopped, marker)
    nb.cells.insert(0, notice)
    nbformat.write(nb, str(out / f"{name}.ipynb"))


def run_record(
    name: str, out: Path, status: str = "passed", checks: list[dict] | None = None
) -> dict:
    record = {
        "notebook": name,
        "status": status,
        "seconds": 51.2,
        "version": "v1.37.2",
        "images": "offline",
        "commit": "26fb8d4",
        "finished": "2026-11-28T12:55:03Z",
        "message": ""
        if status == "passed"
        else f"{name}: cell 4: AssertionError: the PVC is bound",
        "checks": checks or [],
    }
    record["checks_passed"] = sum(1 for c in record["checks"] if c["passed"])
    (out / f"{name}.run.json").write_text(json.dumps(record))
    return record


def test_the_verification_line_says_where_when_and_how_many_or_that_it_is_not_evidence(tmp_path):
    passed = chapters.Chapter(
        STORAGE,
        "Storage",
        True,
        tmp_path / "x.ipynb",
        {
            "status": "passed",
            "version": "v1.37.2",
            "images": "offline",
            "commit": "26fb8d4",
            "finished": "2026-11-28T12:55:03Z",
            "checks_passed": 30,
            "seconds": 51.2,
        },
    )
    line = re.sub("<[^>]+>", "", chapters.verification(passed))
    assert line == (
        "Verified on Kubernetes v1.37.2 (offline images), on 2026-11-28 12:55 UTC, at commit 26fb8d4: "
        "30 checks passed in 51 s."
    ), line
    failed = chapters.Chapter(
        STORAGE,
        "Storage",
        True,
        tmp_path / "x.ipynb",
        {**passed.record, "status": "timeout", "checks_passed": 4, "message": "cell 9 ran past"},
    )
    assert failed.state == chapters.NOT_VERIFIED
    assert 'class="kubelab-verification not-verified"' in chapters.verification(failed)
    assert "Not verified." in chapters.verification(
        failed
    ) and "cell 9 ran past" in chapters.verification(failed)
    unrecorded = chapters.Chapter(STORAGE, "Storage", True, tmp_path / "x.ipynb", None)
    assert (
        "No record of a run" in chapters.verification(unrecorded)
        and unrecorded.state == chapters.NOT_VERIFIED
    )
    assert chapters.Chapter(STORAGE, "Storage", True, None, None).state == chapters.NOT_RUN
    assert chapters.Chapter("15-x", "", False, None, None).state == chapters.NOT_WRITTEN


def test_a_chapter_page_marks_the_cells_that_prove_and_the_questions_it_asks(tmp_path):
    executed_copy(STORAGE, tmp_path)
    record = run_record(
        STORAGE,
        tmp_path,
        checks=[
            {"what": "emptyDir in memory", "proves": ["C-VOL-1"], "passed": True, "cell": 3},
            {"what": "no proof named", "proves": [], "passed": True, "cell": 4},
        ],
    )
    chapter = chapters.Chapter(STORAGE, "Storage", True, tmp_path / f"{STORAGE}.ipynb", record)
    nb = chapters.prepare(chapter, chapters.read(chapter))
    title = nb.cells[0].source
    assert (
        title.startswith("# ") and 'class="kubelab-verification verified"' in title.split("\n\n")[1]
    )
    anchors = [(i, c.source) for i, c in enumerate(nb.cells) if "kubelab-proves" in c.source]
    assert len(anchors) == 1, "only the cell whose checks name IDs is marked"
    index, anchor = anchors[0]
    assert 'id="cell-3"' in anchor and 'href="coverage.html#C-VOL-1"' in anchor
    assert nb.cells[index + 1].execution_count == 3, (
        "the anchor stands right before the cell it names"
    )
    assert any(
        re.search(r"^\(q-vol-1\)=\n### Q-VOL-1 ", c.source, re.M)
        for c in nb.cells
        if c.cell_type == "markdown"
    )


def test_the_site_is_built_from_the_runs_in_out(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    executed_copy(STORAGE, out)
    run_record(
        STORAGE,
        out,
        checks=[
            {
                "what": "emptyDir in memory",
                "proves": ["C-VOL-1", "Q-VOL-1"],
                "passed": True,
                "cell": 3,
            }
        ],
    )
    executed_copy("02-containers", out)
    as_failed("02-containers", out, cell=4)
    run_record("02-containers", out, status="failed")
    said = []
    built = site.build(out=out, echo=said.append)
    docstring_warnings = [line for line in said if "docstring of" in line]
    assert not docstring_warnings, f"the API reference has reST problems: {docstring_warnings}"
    assert built.path == out / "site" and (built.path / "index.html").exists()
    page = (built.path / f"{STORAGE}.html").read_text()
    assert (
        'class="kubelab-verification verified"' in page
        and 'id="cell-3"' in page
        and 'id="q-vol-1"' in page
    )
    assert re.search(r'<img[^>]+src="_images/', page), "the picture output is shown as a picture"
    assert re.search(r"<table.*?<th[^>]*>(<p>)?question.*?tmpfs, 64 MiB.*?</table>", page, re.S), (
        "the closing summary (text/markdown) is rendered as a table"
    )
    assert not re.search(r"<p>\| question", page), "no Markdown table left as text"
    failed = (built.path / "02-containers.html").read_text()
    assert (
        'class="kubelab-verification not-verified"' in failed and "cell 4: AssertionError" in failed
    )
    title, line, notice = (
        failed.index(s)
        for s in ("<h1>02 ·", "kubelab-verification", "An Exception was encountered")
    )
    assert title < line < notice, "the title, then the verification line, then papermill's notice"
    coverage = (built.path / "coverage.html").read_text()
    assert re.search(r'<tr id="C-VOL-1">.*?href="07-storage.html#cell-3"', coverage)
    assert '<tr id="C-ARCH-1">' in coverage and "notebook not written yet" in coverage, (
        "every ID, run or not"
    )
    index = (built.path / "questions.html").read_text()
    assert re.search(r'<tr id="Q-VOL-1"><td><a href="07-storage.html#q-vol-1">', index)
    assert "emptyDir" in index and re.search(r'<span lang="ja">[^<]*削除', index), (
        "Japanese beside English"
    )
    home = (built.path / "index.html").read_text()
    assert "not-verified" in home and "not run" in home and "not written" in home
    assert not list(out.glob(".site.new")), "the staging folder is gone"


def test_nothing_to_publish_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(KubelabError, match="nothing to publish") as caught:
        site.build(out=tmp_path, echo=lambda line: None)
    assert "make test" in caught.value.fix
    from kubelab import cli

    assert cli.main(["site", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "kubelab: error: nothing to publish" in err and "Traceback" not in err


# --- the real site, after the notebooks ran (make test) ----------------------------------------


def crawl(browser, start: str) -> dict[str, "object"]:
    """Every page reachable from `start` through links to the same host, visited once."""
    import urllib.request

    origin = urlparse(start).netloc
    pages, queue = {}, [start]
    while queue:
        url = queue.pop(0)
        if url in pages:
            continue
        with urllib.request.urlopen(url) as response:  # a missing page raises HTTPError 404 here
            assert response.status == 200, url
        pages[url] = page = browser.visit(url)
        for link in page.links:
            target, _ = urldefrag(link)
            if (
                urlparse(target).netloc == origin
                and target.endswith(".html")
                and target not in pages
            ):
                queue.append(target)
    return pages


def check_site_in_browser(built: "site.Built", shots: Path) -> dict:
    """What the browser test asserts, and the figures it measures (returned)."""
    from browser import Browser

    published = {c.name: c for c in built.chapters if c.page}
    with site.serve(built.path) as url, Browser() as browser:
        pages = crawl(browser, url + "index.html")
        origin = urlparse(url).netloc
        for page in pages.values():
            assert not page.console_errors, f"{page.url}: console errors: {page.console_errors}"
            outside = [
                r
                for r in page.requests
                if urlparse(r).scheme in ("http", "https", "ws", "wss")
                and urlparse(r).netloc != origin
            ]
            assert not outside, f"{page.url} requested outside localhost: {outside}"
            broken = [i["src"] for i in page.images if not i["complete"] or not i["width"]]
            assert not broken, f"{page.url}: images that did not decode: {broken}"
            assert not page.raw_pipes, (
                f"{page.url}: Markdown tables published as text: {page.raw_pipes[:2]}"
            )
            for link in page.links:
                target, fragment = urldefrag(link)
                if urlparse(target).netloc != origin:
                    continue
                assert target in pages or not target.endswith(".html"), (
                    f"{page.url}: link to a missing page {link}"
                )
                if fragment and target in pages:
                    assert fragment in pages[target].ids, (
                        f"{page.url}: {link}: no element with id {fragment!r}"
                    )
        for name, chapter in published.items():
            page = pages.get(url + chapter.page)
            assert page, f"{name} is not reachable from the home page"
            assert len(page.verification) == 1, f"{name}: one verification line at the top"
            line = page.verification[0]
            if chapter.state == chapters.VERIFIED:
                record = chapter.record
                assert (
                    f"Verified on Kubernetes {record['version']} ({record['images']} images)"
                    in line["text"]
                ), line
                assert (
                    f"{record['checks_passed']} checks passed" in line["text"]
                    and str(record["commit"]) in line["text"]
                )
            else:
                assert "not-verified" in line["state"] and "Not verified" in line["text"], line
            pictures = sum(
                1
                for c in nbformat.read(str(chapter.executed), as_version=4).cells
                if c.cell_type == "code"
                for o in c.outputs
                if "image/png" in o.get("data", {})
            )
            assert sum(1 for i in page.images if "/_images/" in i["src"]) == pictures, (
                f"{name}: every picture is shown"
            )
            if chapter.state == chapters.VERIFIED:
                assert any(headers[:1] == ["question"] for headers in page.tables), (
                    f"{name}: the closing summary is not rendered as a table (tables: {page.tables})"
                )
        for page_name, shows in (
            ("writing.html", "A worked section"),
            ("reference.html", "kubelab.connect"),
        ):
            page = pages.get(url + page_name)
            assert page, f"{page_name} is not reachable from the home page"
            assert shows in browser.visit(url + page_name).text, (
                f"{page_name} does not show {shows!r}"
            )
        # the screenshots come before the search, whose terms Sphinx would then highlight on every page
        chapter_page = next(c.page for c in published.values() if c.state == chapters.VERIFIED)
        for label, page in (
            ("home", "index.html"),
            ("chapter", chapter_page),
            ("coverage", "coverage.html"),
        ):
            browser.visit(url + page)
            browser.screenshot(shots / f"{label}.png")
        # search, across pages: Sphinx's index, loaded by the browser from the site itself
        browser.visit(url + "search.html?q=kube-proxy", settle=0.5)
        found = browser.wait_for(
            "const r = [...document.querySelectorAll('#search-results a')].map(a => a.href);"
            "return r.length ? r : null;"
        )
        assert found and len({urldefrag(h)[0] for h in found}) >= 2, (
            f"search for kube-proxy found {found}"
        )
    return {"pages": len(pages), "search_results": len(found)}


@pytest.mark.cluster
def test_the_website_of_the_runs_in_a_real_browser(runs):
    """After every notebook ran: `kubelab site` from out/, served on localhost, opened in Chromium."""
    built = site.build()
    assert {c.name for c in built.chapters if c.page} >= set(runs), (
        "every notebook that ran has a page"
    )
    shots = notebooks.out_dir() / "screenshots"
    shutil.rmtree(shots, ignore_errors=True)
    figures = check_site_in_browser(built, shots)
    assert {p.name for p in shots.iterdir()} == {"home.png", "chapter.png", "coverage.png"}
    print(
        f"{built.summary()}; {figures['pages']} pages checked in Chromium; screenshots in {shots}"
    )


def test_the_reference_documents_exactly_the_notebook_api():
    """Every name `kubelab` exports is on the reference page, and every helper module."""
    import kubelab
    from kubelab.site import reference

    page = reference.page()
    assert all(f":: {name}" in page or f"`kubelab.{name}`" in page for name in kubelab.__all__)
    assert all(f"kubelab.helpers.{m}" in page for m in reference.helper_modules())
    assert "kubelab.lab.lab.Lab" in page and "kubelab.cluster.node.Node" in page
