"""Build the website from what the last runs left in out/, without executing anything.

    from kubelab import site
    built = site.build()          # out/site/index.html; also `kubelab site`, `make site`
    print(built.summary())

Sources are written to a temporary folder (conf.py, the home, question and coverage pages, and a
marked copy of each executed notebook: kubelab.site.chapters), Sphinx renders them into a fresh
folder, and only a finished build replaces out/site, so a failed build leaves the last site alone.
"""

import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import nbformat

from kubelab.runner import coverage
from kubelab.core import spec as spec_module
from kubelab.core.errors import KubelabError
from kubelab.site import chapters as chapters_module, pages, questions, reference
from kubelab.site.chapters import Chapter

PACKAGE = resources.files("kubelab.site")


@dataclass
class Built:
    path: Path  # the site's folder; open path / "index.html"
    chapters: list[Chapter]
    seconds: float
    size_bytes: int
    pages: int

    def summary(self) -> str:
        published = [c for c in self.chapters if c.page]
        verified = sum(1 for c in published if c.state == chapters_module.VERIFIED)
        return (
            f"site: {self.path / 'index.html'}: {self.pages} pages, {len(published)} chapters "
            f"({verified} verified), {self.size_bytes / 1e6:.1f} MB, built in {self.seconds:.1f} s"
        )


def load_chapters(out: Path, spec, written: dict) -> list[Chapter]:
    """Every chapter the spec plans (and any other notebook written), in order, as the last runs
    left it in `out`; `written`: notebook name -> its Notebook (kubelab.runner.notebooks.discover)."""
    found = []
    for name in [*spec.notebooks, *(n for n in written if n not in spec.notebooks)]:
        nb = written.get(name)
        title = (nb.meta.get("title") if nb else None) or ", ".join(
            s.title for s in spec.sections if s.notebook == name
        )
        found.append(chapters_module.load(name, title, nb is not None, out))
    return found


def build(out: Path | None = None, dest: Path | None = None, echo=print) -> Built:
    """Render the site from `out` (default: out/) into `dest` (default: out/site)."""
    from kubelab.runner.notebooks import discover, out_dir

    started = time.monotonic()
    out = Path(out) if out else out_dir()
    dest = Path(dest) if dest else out / "site"
    spec, written = spec_module.load(), {nb.name: nb for nb in discover()}
    chapters = load_chapters(out, spec, written)
    published = [c for c in chapters if c.page]
    if not published:
        raise KubelabError(
            f"nothing to publish: {out} has no executed notebook (<name>.ipynb written by a run)",
            "run the notebooks first: make test, or kubelab run 00",
        )
    ledger = coverage.compute(
        spec, written.values(), runs={c.name: c.record for c in chapters if c.record}
    )
    echo(
        f"site: {len(published)} executed notebooks from {out} "
        f"({sum(c.state == chapters_module.VERIFIED for c in published)} verified), rendering with Sphinx…"
    )
    with tempfile.TemporaryDirectory(prefix="kubelab-site-") as tmp:
        src = Path(tmp) / "src"
        write_sources(src, chapters, ledger, spec)
        staging = dest.with_name(f".{dest.name}.new")
        shutil.rmtree(staging, ignore_errors=True)
        render(src, staging, Path(tmp) / "doctrees", echo)
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    files = [p for p in dest.rglob("*") if p.is_file()]
    built = Built(
        dest,
        chapters,
        time.monotonic() - started,
        sum(p.stat().st_size for p in files),
        sum(1 for p in files if p.suffix == ".html"),
    )
    echo(built.summary())
    return built


def write_sources(src: Path, chapters: list[Chapter], ledger, spec) -> None:
    (src / "_static").mkdir(parents=True)
    shutil.copyfile(PACKAGE / "sphinx_conf.py", src / "conf.py")
    for asset in (PACKAGE / "static").iterdir():
        shutil.copyfile(asset, src / "_static" / asset.name)
    asked = {}
    for chapter in chapters:
        if chapter.page:
            executed = chapters_module.read(chapter)
            asked[chapter.name] = questions.in_notebook(executed)  # before prepare() marks it
            nbformat.write(
                chapters_module.prepare(chapter, executed), str(src / f"{chapter.name}.ipynb")
            )
    built_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    (src / "index.md").write_text(pages.home(chapters, ledger, built_at), encoding="utf-8")
    (src / "questions.md").write_text(
        pages.questions(chapters, asked, ledger, spec), encoding="utf-8"
    )
    (src / "coverage.md").write_text(pages.coverage(chapters, ledger, spec), encoding="utf-8")
    (src / "reference.md").write_text(reference.page(), encoding="utf-8")
    shutil.copyfile(PACKAGE / "pages" / "writing.md", src / "writing.md")


def render(src: Path, dest: Path, doctrees: Path, echo=print) -> None:
    """Sphinx, in its own process (its state is global), quiet unless something is wrong."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-b",
            "html",
            "-q",
            "-d",
            str(doctrees),
            str(src),
            str(dest),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise KubelabError(
            f"Sphinx could not build the site (exit {done.returncode}):\n{done.stderr.strip()[-2000:]}",
            "if a notebook's markdown is at fault, the message names it; fix it and run again",
        )
    for line in done.stderr.splitlines():
        echo(f"site: sphinx: {line}")
