"""Feedback pages: FeedbackHTML gives nbconvert's HTMLExporter's page, without its re-parsing pass."""
import copy
import os

import nbgrader
from bs4 import BeautifulSoup
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from traitlets.config import Config

from course_lib.grading.feedback import NO_ALT, FeedbackHTML

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def notebook():
    return new_notebook(cells=[
        new_markdown_cell('# Title\n\nText with $x^2$ and <img src="a.png"> and <img alt="a cat" src="b.png">'),
        new_code_cell("import numpy as np\nprint(np.ones(2))", outputs=[
            new_output("stream", name="stdout", text="[1. 1.]\n"),
            new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]),
        new_code_cell("1 / 0", outputs=[new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                                   traceback=["ZeroDivisionError: division by zero"])],
                      metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "test_x", "points": 3,
                                             "score": 0.0}}),
    ], metadata={"language_info": {"name": "python", "pygments_lexer": "ipython3"}})


def feedback_config() -> Config:
    """The template GenerateFeedback configures (nbgrader/converters/generate_feedback.py)."""
    formgrader = os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader")
    c = Config()
    c.HTMLExporter.template_name = "feedback"
    c.HTMLExporter.extra_template_basedirs = [os.path.join(formgrader, "templates")]
    c.HTMLExporter.extra_template_paths = [
        os.path.join(formgrader, "static", "node_modules", "bootstrap", "dist", "css")]
    return c


def resources() -> dict:
    """What nbgrader's GetGrades gives the feedback template."""
    return {"nbgrader": {"notebook": "nb", "score": 2.0, "max_score": 5.0, "late_penalty": 0}}


def canonical(page: str) -> list:
    """Every element with its attributes (in any order) and every piece of text, in document order."""
    soup = BeautifulSoup(page, features="html.parser")
    return [(el.name, sorted((k, str(v)) for k, v in el.attrs.items())) if el.name else str(el)
            for el in soup.descendants]


def test_page_matches_htmlexporter():
    nb = notebook()  # one notebook: cell ids are random
    theirs, _ = HTMLExporter(config=feedback_config()).from_notebook_node(copy.deepcopy(nb), resources())
    ours, _ = FeedbackHTML(config=feedback_config()).from_notebook_node(copy.deepcopy(nb), resources())
    assert theirs.count(f'alt="{NO_ALT}"') == 2  # the markdown image and the plot: the case is exercised
    assert canonical(ours) == canonical(theirs)
    assert len(ours) > 1000 and "ZeroDivisionError" in ours
