"""The spec as data: every section, claim and question the notebooks must answer.

The spec is `questions.md`, written from the learner's study log (the seed). It lives outside
this repository, so `scripts/generate_spec.py` turns it into `kubelab/data/spec.json`, and this
module is how everything else reads it:

    from kubelab import spec
    s = spec.load()
    s.section(1)                            # Section(number=1, title='Cluster Architecture', slug='ARCH', ...)
    s.by_id["Q-INTRO-5"].quote_ja           # 'kube-node-lease と kube-public は良くわからん'
    s.for_notebook("01-cluster-architecture")   # its claims and questions, in spec order
    s.for_sections([1, 2])

A claim (`C-SLUG-n`) is an observable behaviour a notebook asserts; a question (`Q-SLUG-n`) is
what the learner asked, with `quote_ja`, their own Japanese words, so a notebook can show the
question as it was asked before answering it by experiment.
"""

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class Section:
    """One section of the seed: §0 is its untitled introduction, §1..§96 its `##` headings."""

    number: int
    title: str
    slug: str  # the middle part of its IDs: C-ARCH-1, Q-ARCH-1
    notebook: str  # the notebook that answers it, e.g. "01-cluster-architecture"
    seed_lines: str  # where it is in the seed, e.g. "L39–L68"


@dataclass(frozen=True)
class SpecId:
    """One claim or question."""

    id: str  # "C-ARCH-1" or "Q-ARCH-1"
    kind: str  # "claim" or "question"
    section: int
    slug: str
    notebook: str
    text: str  # one line (the first sentence, markdown kept): what it is about
    quote_ja: str | None  # questions: the learner's words, verbatim; claims: None


@dataclass
class Spec:
    sections: list[Section]
    ids: list[SpecId]
    by_id: dict[str, SpecId] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.by_id = {item.id: item for item in self.ids}
        self._sections = {section.number: section for section in self.sections}

    def section(self, number: int) -> Section:
        try:
            return self._sections[number]
        except KeyError:
            raise KeyError(
                f"the spec has no section {number} (it has 0..{len(self.sections) - 1})"
            ) from None

    def for_sections(self, numbers: Iterable[int]) -> list[SpecId]:
        """The claims and questions of these sections, in spec order (whatever order `numbers` is in)."""
        wanted = set(numbers)
        return [item for item in self.ids if item.section in wanted]

    def for_notebook(self, name: str) -> list[SpecId]:
        """The claims and questions the spec assigns to notebook `name`, in spec order."""
        return [item for item in self.ids if item.notebook == name]

    @property
    def notebooks(self) -> list[str]:
        """The notebooks the spec asks for, in order (00-... to 15-...)."""
        return list(dict.fromkeys(section.notebook for section in self.sections))


DATA = resources.files("kubelab") / "data" / "spec.json"


def parse(data: dict) -> Spec:
    return Spec(
        sections=[Section(**section) for section in data["sections"]],
        ids=[SpecId(**item) for item in data["ids"]],
    )


@functools.cache
def load(path: Path | None = None) -> Spec:
    """The spec, read once per process (from `path`, or the packaged kubelab/data/spec.json).

    The result is shared: treat it as read-only.
    """
    text = Path(path).read_text(encoding="utf-8") if path else DATA.read_text(encoding="utf-8")
    return parse(json.loads(text))
