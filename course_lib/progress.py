"""Progress bars for the training loops: tqdm's, shown in JupyterLab, hidden in the built book.

In Jupyter, ``tqdm.auto`` draws a widget; the built book has no widget manager (its pages are
static), so a bar there would render as nothing. The book build (``course_lib.book_build``, and
the test suite's build) sets ``COURSE_PROGRESS=0``.
"""
import os

from tqdm.auto import tqdm

ENV_VAR = "COURSE_PROGRESS"


def progress_bar(iterable=None, *, show: bool = True, **kwargs):
    """``tqdm(iterable, **kwargs)``, disabled when ``show`` is False or ``$COURSE_PROGRESS`` is 0."""
    return tqdm(iterable, disable=not show or os.environ.get(ENV_VAR) == "0", **kwargs)
