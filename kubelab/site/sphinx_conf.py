# Sphinx configuration of kubelab's website, copied as conf.py into the sources kubelab.site.build
# writes. MyST-NB renders the executed notebooks as they are; Furo is the theme. Nothing here
# may load anything from the network, at build or view time: the browser test holds it to that.
project = "kubelab"
author = "kubelab"
extensions = ["myst_nb"]
nb_execution_mode = "off"        # the pages are what `make test` executed: never run again here
nb_merge_streams = True          # a cell's many progress lines read as one output
nb_render_markdown_format = "gfm"   # text/markdown outputs (the closing summary) with GFM tables; commonmark has none
nb_ipywidgets_js = {}            # no widget manager from a CDN (the stored outputs need none)
myst_heading_anchors = 0
html_theme = "furo"
html_title = "kubelab"
html_static_path = ["_static"]
html_css_files = ["kubelab.css"]
html_favicon = "_static/favicon.svg"   # else the browser asks for /favicon.ico, which is not there
html_copy_source = False         # the notebooks are in out/ already; the site needs no second copy
html_show_sourcelink = False
html_theme_options = {"navigation_with_keys": True}
# Notebook markdown was written for Jupyter, where a page may start at any heading level.
suppress_warnings = ["myst.header", "misc.highlighting_failure"]
