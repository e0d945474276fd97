"""`kubelab new`: the scaffold is in the standard's form, so the site and the static tests read it."""

import json

import nbformat
import pytest

from kubelab.core import spec
from kubelab.core.errors import KubelabError
from kubelab.runner import scaffold
from kubelab.site import questions


def test_the_scaffold_asks_every_question_of_its_sections_in_the_learners_words(tmp_path):
    path = scaffold.new("08", folder=tmp_path)
    assert path.name == "08-configuration.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    meta = json.loads(path.read_text())["metadata"]["kubelab"]
    expected = spec.load().for_notebook("08-configuration")
    assert sorted(meta["sections"]) == sorted({i.section for i in expected})
    asked = questions.in_notebook(nb)
    wanted = {i.id: i.quote_ja for i in expected if i.kind == "question"}
    assert {q.ids[0] for q in asked} == set(wanted)
    assert all("".join(q.japanese.split()) == "".join(wanted[q.ids[0]].split()) for q in asked), (
        "quoted verbatim"
    )
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
    with pytest.raises(KubelabError, match="exists already"):
        scaffold.new("08", folder=tmp_path)


def test_a_chapter_outside_the_spec_is_refused_with_the_names_it_could_have():
    with pytest.raises(KubelabError, match="not one of the spec's chapters") as refused:
        scaffold.spec_name("99-extra")
    assert "08-configuration" in refused.value.fix
