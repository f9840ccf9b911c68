"""Sphinx extension of the book: every executed page offers itself as a Jupyter notebook, and the
build ships no source maps.

The pages are MyST markdown notebooks (``book/*.md``). At build time each one is converted with
Jupytext into ``_sources/<page>.ipynb`` of the built book, without outputs, and sphinx-book-theme's
download menu lists it (".ipynb", next to ".md" and ".pdf"). A student downloads it and opens it
in JupyterLab with ``course_lib`` installed (the student pack's ``make lab``).

Enabled in ``_config.yml`` (``sphinx: config: extensions``).
"""
from pathlib import Path

import jupytext
import nbformat


def page_notebook(source: Path) -> nbformat.NotebookNode | None:
    """The notebook of a MyST markdown page, or None for a page that is not a notebook."""
    text = source.read_text(encoding="utf-8")
    if source.suffix != ".md" or "kernelspec:" not in text.split("\n---", 1)[0]:
        return None
    notebook = jupytext.reads(text, fmt="md:myst")
    notebook.metadata.pop("jupytext", None)  # a plain .ipynb, not a paired Jupytext file
    return notebook


def add_notebook_download(app, pagename, templatename, context, doctree):
    """Point the theme's download menu at ``_sources/<page>.ipynb`` (written at the end)."""
    if app.builder.format != "html" or doctree is None:
        return
    source = Path(app.env.doc2path(pagename))
    if source.is_file() and page_notebook(source) is not None:
        context["ipynb_source"] = f"{pagename}.ipynb"  # read by sphinx-book-theme (priority 501)
        app.env.course_notebooks = getattr(app.env, "course_notebooks", set()) | {pagename}


def write_notebooks(app, exception):
    """Write the notebooks last: with a launch button on, the theme copies the executed notebook
    (with outputs and myst-nb's metadata) to the same place; the download is the clean conversion."""
    if exception is not None or app.builder.format != "html":
        return
    for source_map in Path(app.outdir, "_static").rglob("*.map"):  # the theme's, for its developers:
        source_map.unlink()                                         # 3.4 MB no reader loads
    for pagename in sorted(getattr(app.env, "course_notebooks", ())):
        target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(page_notebook(Path(app.env.doc2path(pagename))), str(target))


def setup(app):
    app.connect("html-page-context", add_notebook_download, priority=500)
    app.connect("build-finished", write_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": False}
