"""kubelab's website: the executed notebooks, their coverage and their evidence, as static HTML.

    from kubelab import site
    built = site.build()                  # from out/ into out/site (also: kubelab site, make site)
    with site.serve(built.path) as url:   # http://127.0.0.1:<port>/
        ...

Nothing is executed: each chapter page is a notebook as `kubelab run` left it in out/, under a
verification line from its run record (Kubernetes version, images, date, commit, checks passed).
Beside them: a question index (the learner's Japanese beside the English, linked to the answers)
and the coverage page (every claim and question, linked to the cells that prove it).
"""

from kubelab.site.build import Built, build
from kubelab.site.serve import serve

__all__ = ["Built", "build", "serve"]
