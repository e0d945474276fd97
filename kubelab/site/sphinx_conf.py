# Sphinx configuration of kubelab's website, copied as conf.py into the sources kubelab.site.build
# writes. MyST-NB renders the executed notebooks as they are; Furo is the theme. Nothing here
# may load anything from the network, at build or view time: the browser test holds it to that.
project = "kubelab"
author = "kubelab"
extensions = ["myst_nb", "sphinx.ext.autodoc"]  # autodoc: the API reference, from the docstrings
autodoc_member_order = "bysource"
autodoc_typehints = "description"
default_role = "literal"  # docstrings write `name` for code, as Markdown does
nb_execution_mode = "off"  # the pages are what `make test` executed: never run again here
nb_merge_streams = True  # a cell's many progress lines read as one output
nb_render_markdown_format = (
    "gfm"  # text/markdown outputs (the closing summary) with GFM tables; commonmark has none
)
nb_ipywidgets_js = {}  # no widget manager from a CDN (the stored outputs need none)
myst_heading_anchors = 0
html_theme = "furo"
html_title = "kubelab"
html_static_path = ["_static"]
html_css_files = ["kubelab.css"]
html_favicon = "_static/favicon.svg"  # else the browser asks for /favicon.ico, which is not there
html_copy_source = False  # the notebooks are in out/ already; the site needs no second copy
html_show_sourcelink = False
html_theme_options = {"navigation_with_keys": True}
# Notebook markdown was written for Jupyter, where a page may start at any heading level.
suppress_warnings = ["myst.header", "misc.highlighting_failure"]


def plain_docstring(app, what, name, obj, options, lines):
    """kubelab's docstrings are plain text, not reST: an indented block (an example) is shown as
    code, as a reader of the source sees it, a word ending in "_" is not a reST link and a "*"
    is not emphasis."""
    import re

    out, in_block = [], False
    for line in lines:
        indented = line.startswith("    ") or (in_block and not line.strip())
        if indented and not in_block:
            if out and out[-1].strip():
                out.append("")
            out += ["::", ""]
            in_block = True
        elif not indented and in_block:
            if out and out[-1].strip():
                out.append("")
            in_block = False
        if (
            not in_block
            and line.startswith("- ")
            and out
            and out[-1].strip()
            and not out[-1].startswith(("- ", "  "))
        ):
            out.append("")  # reST needs a blank line before a list
        if not in_block:  # plain text: a "*" (as in *args) is not reST emphasis
            line = re.sub(r"(\w)_(?=\W|$)", r"\1\\_", line).replace("*", "\\*")
        out.append(line)
    lines[:] = out


def setup(app):
    app.connect("autodoc-process-docstring", plain_docstring)
