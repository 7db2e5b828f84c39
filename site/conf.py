"""Sphinx configuration of the book's static site (built by ``site/build_site.py``).

The site is built from the committed notebooks as they are: nothing is executed. Every
script a page needs (Mermaid, MathJax, the widget embedder) comes from the npm registry at
build time and is served from ``_static/``, so the site works without the internet.

References: Sphinx configuration (https://www.sphinx-doc.org/en/master/usage/configuration.html),
MyST-NB (https://myst-nb.readthedocs.io/en/latest/configuration.html), sphinxcontrib-mermaid
(https://github.com/mgaitan/sphinxcontrib-mermaid#config-values), embedding Jupyter widgets
(https://ipywidgets.readthedocs.io/en/stable/embedding.html).
"""
from pathlib import PurePosixPath

project = "distlab"
author = "distlab contributors"
copyright = "distlab contributors, MIT licence"
language = "en"
smartquotes = False          # prose keeps what the notebooks say: A --> B, X_i', "quotes"

extensions = ["myst_nb", "sphinxcontrib.mermaid", "sphinx.ext.mathjax"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# --- notebooks: the committed outputs, never executed ----------------------------------------
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_fence_as_directive = ["mermaid"]     # ```mermaid in markdown cells becomes a diagram
myst_heading_anchors = 3
# text/vnd.mermaid outputs are staged as text/markdown fences (see build_site.py); render
# them with MyST so the fence becomes a diagram too.
nb_render_markdown_format = "myst"
# The widget embedder of @jupyter-widgets/html-manager, served locally; the plain (non-AMD)
# build carries the core widgets and needs no require.js.
nb_ipywidgets_js = {"widgets/embed.js": {}}
# Chapters open with one "# 0N · title" heading; deeper headings may skip a level.
suppress_warnings = ["myst.header"]

# --- scripts served with the site ------------------------------------------------------------
html_static_path = ["_build/vendor", "static"]   # relative to this folder
mathjax_path = "mathjax/tex-mml-chtml.js"        # relative to _static
mermaid_use_local = "mermaid/mermaid.esm.min.mjs"
mermaid_version = ""                             # never the CDN
mermaid_d3_zoom = False
mermaid_include_elk = False
mermaid_height = "auto"
html_css_files = ["distlab.css"]

# --- the book's look -------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "distlab — 大模型分布式架构 on Dask"
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": False,
    "use_fullscreen_button": False,
}
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
html_context = {"default_mode": "light"}   # the theme's switch starts light, not "auto"

# --- one "launch on Binder" link per page ----------------------------------------------------
# The README's Binder badge; a chapter's link opens that chapter, other pages chapter 00.
BINDER = "https://mybinder.org/v2/gh/distlab/distlab/main"
START = "notebooks/00_start_here.ipynb"


def binder_url(docname: str, source_suffix: str) -> str:
    """The Binder link of a page: its own notebook for a chapter, else chapter 00."""
    path = PurePosixPath(docname)
    notebook = f"{docname}.ipynb" if source_suffix == ".ipynb" and path.parts[0] == "notebooks" \
        else START
    return f"{BINDER}?urlpath=lab/tree/{notebook}"


def add_binder_link(app, pagename, templatename, context, doctree):
    if doctree is None or "body" not in context:
        return
    source = app.env.doc2path(pagename, base=False)
    url = binder_url(pagename, PurePosixPath(str(source)).suffix)
    what = "this chapter" if url.endswith(f"{pagename}.ipynb") else "the book"
    link = (f'<p class="binder-launch"><a class="reference external" href="{url}">'
            f'Launch {what} on Binder — 在 Binder 上运行</a></p>\n')
    context["body"] = link + context["body"]


def setup(app):
    app.connect("html-page-context", add_binder_link)
