"""Feedback that says what failed without showing the hidden tests.

nbgrader's feedback is the autograded notebook as HTML, hidden tests and their tracebacks
included. ``HideHiddenTests`` (configured in nbgrader_config.py for GenerateFeedback) cuts the
hidden regions out of test cells and reduces a test cell's traceback to the exception's type and
message. ``add_banner`` puts the grader's notes (holds, sandbox refusals) at the top of a page.
``FeedbackHTML`` is nbconvert's HTMLExporter without its BeautifulSoup pass over the page (seconds
per notebook, more than the template itself); workdir.make_api makes it GenerateFeedback's exporter.
"""
import html
import re
from pathlib import Path

from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

BEGIN = ClearHiddenTests.begin_test_delimeter.default_value
END = ClearHiddenTests.end_test_delimeter.default_value


def strip_hidden(source: str) -> str:
    lines, hidden = [], False
    for line in source.splitlines():
        if BEGIN in line:
            hidden = True
            lines.append(line[: line.index("#")] + "# (the grader checks this outside your notebook)" if "#" in line else "")
        elif END in line:
            hidden = False
        elif not hidden:
            lines.append(line)
    return "\n".join(lines)


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden test code from test cells, and the code lines from their tracebacks."""

    def preprocess_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            cell.source = strip_hidden(cell.source)
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


def add_banner(page: Path, title: str, notes: list[str]) -> None:
    """Insert a box with the grader's notes at the top of an HTML page (created if missing)."""
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    box = (f'<div class="grader-notes" style="border:2px solid #b00;padding:1em;margin:1em">'
           f"<strong>{html.escape(title)}</strong><ul>{items}</ul></div>")
    if page.exists():
        text = page.read_text(encoding="utf-8")
        at = text.find(">", text.find("<body")) + 1 if "<body" in text else 0
        page.write_text(text[:at] + box + text[at:], encoding="utf-8")
    else:
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<!DOCTYPE html><html><body>{box}</body></html>", encoding="utf-8")


NO_ALT = "No description has been provided for this image"  # the text HTMLExporter adds
IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\salt=)(?=[\s/>])", re.IGNORECASE)


class FeedbackHTML(HTMLExporter):
    """HTMLExporter (nbconvert 7.17) less the BeautifulSoup parse and re-serialisation of the page.

    That pass only adds alt text to images without one (done here on the template's output) and
    tabindex to JupyterLab-template cells, which the classic-based feedback template has none of.
    tests/grading/test_feedback.py checks the page against HTMLExporter's, parsed."""

    def from_notebook_node(self, nb, resources=None, **kw):
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        self.register_filter("highlight_code",
                             self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources))
        page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return IMG_WITHOUT_ALT.sub(f'<img alt="{NO_ALT}"', page), resources
