"""The API reference page: exactly the names a notebook author uses, grouped as the package's
layers are, rendered by Sphinx autodoc from their docstrings (nothing is written twice).

Its top names are kubelab.__all__, the names a notebook imports.
"""

import pkgutil

import kubelab

# The pinned images are listed in a sentence; every other exported name gets its autodoc entry,
# in kubelab.__all__'s order (the package's own list is the one source of the names).
IMAGES = [n for n in kubelab.__all__ if kubelab._LAZY[n] == "cluster.pinned"]
TOP = [n for n in kubelab.__all__ if n not in IMAGES]


def helper_modules() -> list[str]:
    import kubelab.helpers

    return sorted(
        m.name for m in pkgutil.iter_modules(kubelab.helpers.__path__) if not m.name.startswith("_")
    )


def page() -> str:
    """reference.md: MyST with autodoc directives."""
    lines = [
        "# API reference",
        "",
        "What a chapter author uses, from the docstrings of the code that runs. The package's",
        "folders are its layers (`kubelab.core` < `kubelab.cluster` < `kubelab.lab` < `kubelab.helpers`",
        "< `kubelab.runner` < `kubelab.site` < `kubelab.cli`); a notebook needs the first three",
        "sections below. See also [Writing a chapter](writing.md).",
        "",
        "## kubelab: the notebook API",
        "",
        "```python",
        "import kubelab",
        "from kubelab import check, expect, AGNHOST",
        "```",
        "",
        "```{eval-rst}",
        ".. currentmodule:: kubelab",
        "",
    ]
    for name in TOP:
        kind = "autoclass" if name[0].isupper() else "autofunction"
        lines += [f".. {kind}:: {name}", *(["   :members:"] if name == "Summary" else []), ""]
    lines += [
        "```",
        "",
        "The images every cluster has (their names come from `clusters/offline/pins.toml`): "
        + ", ".join(f"`kubelab.{n}`" for n in IMAGES)
        + ".",
        "",
        "## The lab: `lab = kubelab.connect()`",
        "",
        "```{eval-rst}",
        ".. autoclass:: kubelab.lab.lab.Lab",
        "   :members:",
        "   :inherited-members:",
        "",
        ".. autoclass:: kubelab.lab.recorder.Recorder",
        "   :members:",
        "",
        ".. autoclass:: kubelab.lab.sampling.Timeline",
        "   :members:",
        "",
        "```",
        "",
        "## A node: `worker = lab.node(\"worker\")`",
        "",
        "```{eval-rst}",
        ".. autoclass:: kubelab.cluster.node.Node",
        "   :members:",
        "   :inherited-members:",
        "",
        "```",
        "",
        "## Helpers: `from kubelab.helpers import spans, times, ...`",
        "",
    ]
    for module in helper_modules():
        lines += [
            f"### kubelab.helpers.{module}",
            "",
            "```{eval-rst}",
            f".. automodule:: kubelab.helpers.{module}",
            "   :members:",
            "```",
            "",
        ]
    return "\n".join(lines)
