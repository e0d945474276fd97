"""The learner's questions as a notebook asks them.

The notebook standard (README, "Writing a notebook") asks each question in a markdown cell:

    ### Q-POD-1 · Are control-plane Pods static to avoid a chicken-and-egg problem?
    > kube-apiserver には監視はさせない。kube-apiserver との鶏卵問題なのかな？
    >
    > *"They are not watched by kube-apiserver. Is it a chicken-and-egg problem with kube-apiserver?"*

    **Answer.** ...

A heading may name several questions (`### Q-INIT-1 / Q-INIT-2 · ...`); they share its words.
"""

import re
from dataclasses import dataclass

HEADING = re.compile(
    r"^#{2,6}\s+(?P<ids>Q-[A-Z0-9]+-\d+(?:[\s,/&]+(?:and\s+)?Q-[A-Z0-9]+-\d+)*)\s*[·:—-]\s*(?P<title>.+)$",
    re.M,
)
QUESTION_ID = re.compile(r"Q-[A-Z0-9]+-\d+")
ENGLISH = re.compile(r'^\*"(?P<text>.+)"\*$')


@dataclass(frozen=True)
class Question:
    ids: tuple[str, ...]  # the questions this heading answers
    title: str  # the heading: the question in one English line
    japanese: str  # the learner's words, verbatim (the quoted lines that are not the rendering)
    english: str  # the English rendering of those words ("" when the notebook gives none)
    cell: int  # index of the markdown cell in the notebook


def in_cell(source: str, cell: int) -> list[Question]:
    """The questions one markdown cell asks: each heading and the quote right under it."""
    found = []
    for heading in HEADING.finditer(source):
        quote = []
        for line in source[heading.end() :].lstrip("\n").splitlines():
            if not line.startswith(">"):
                break
            quote.append(line[1:].strip())
        english = [m["text"] for line in quote if (m := ENGLISH.match(line))]
        japanese = [line for line in quote if line and not ENGLISH.match(line)]
        found.append(
            Question(
                tuple(QUESTION_ID.findall(heading["ids"])),
                heading["title"].strip(),
                " ".join(japanese),
                " ".join(english),
                cell,
            )
        )
    return found


def in_notebook(nb) -> list[Question]:
    """Every question a notebook (an nbformat node or its dict) asks, in order."""
    return [
        q
        for index, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "markdown"
        for q in in_cell(_text(cell["source"]), index)
    ]


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else source
