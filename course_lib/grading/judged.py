"""nbgrader preprocessors that take every autograded point from the grader's own verdicts.

``JudgedExecute`` runs the notebook in the sandboxed kernel as nbgrader's Execute does. Right after
each autograded test cell, it runs that cell's checks (``spec.Check``) in the same kernel: the
kernel receives the grader's inputs and sends back only data, which the grader judges here. The
verdict is written under the test cell for the student to read (without hidden inputs or code).
A kernel that dies or stops answering ends the run: the verdicts reached so far stand, the
remaining cells fail with the reason. ``BoundOutputs`` caps every output (error values and
tracebacks, display data and images too), and ``SaveVerdicts`` stores the verdicts as the
cells' autograder scores in the gradebook, whatever the test cells printed or raised.
"""
import json
import sys
from pathlib import Path

from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_code_cell, new_output
from nbgrader.preprocessors import Execute, LimitOutput, SaveAutoGrades
from traitlets import Integer, Unicode

from course_lib.grading import spec

def add_note(path: str, text: str) -> None:
    """Append a note for the grading result (the worker reads the file when nbgrader is done)."""
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(text) + "\n")


CALL = "import course_lib.grading.probe as _course_probe; _course_probe.run({code!r}, {payload!r})"


def autograded_cells(nb) -> list[str]:
    """grade_ids of the autograded test cells (grade, not solution: nbgrader scores these)."""
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
            and not c.metadata["nbgrader"].get("solution")]


def verdict_output(verdict: spec.Verdict):
    if verdict.passed:
        return new_output("stream", name="stdout", text="Grader: passed.\n")
    return new_output("error", ename="GraderCheckFailed", evalue="; ".join(verdict.messages),
                      traceback=["Grader: " + m for m in verdict.messages])


class JudgedExecute(Execute):
    checks_file = Unicode("", help="the assignment's checks (spec.load_checks)").tag(config=True)
    notes_file = Unicode("", help="where notes for the grading result go").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        checks = spec.load_checks(Path(self.checks_file))
        if "torch" in sys.modules:  # the references are small: more threads only cost (5-14 s vs 0.3 s)
            sys.modules["torch"].set_num_threads(1)
        NotebookClient.__init__(self, nb, km)  # as nbconvert's ExecutePreprocessor.preprocess does
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        verdicts, stopped = {}, None
        with self.setup_kernel():
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            for index, cell in enumerate(self.nb.cells):
                stopped = self._run_cell(cell, index)
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if stopped is None and grade_id in autograded_cells(self.nb):
                    verdicts[grade_id], stopped = self._judge(checks.get(grade_id, []), index)
                if stopped:
                    break
        self.set_widgets_metadata()
        for grade_id in autograded_cells(self.nb):
            if grade_id not in verdicts:
                verdicts[grade_id] = spec.Verdict(False, [f"not checked: {stopped}"])
        for cell in self.nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in verdicts and cell.cell_type == "code":
                cell.outputs.append(verdict_output(verdicts[grade_id]))
        self.resources["course_verdicts"] = verdicts
        if stopped:
            add_note(self.notes_file, stopped + "; the checks reached before that count")
        return self.nb, self.resources

    def _run_cell(self, cell, index) -> str | None:
        """Run one notebook cell; the reason to stop, or None."""
        try:
            self.preprocess_cell(cell, self.resources, index)
        except DeadKernelError:
            return "the notebook's kernel died (it exited, crashed or ran out of memory)"
        except TimeoutError:
            return self._unresponsive()
        if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
            return self._unresponsive()
        return None

    def _run_extra(self, cell) -> None:
        """Execute a cell of the grader's that is not part of the notebook."""
        self.nb.cells.append(cell)  # nbclient writes the cell back at its index
        try:
            self.execute_cell(cell, len(self.nb.cells) - 1, store_history=False)
        finally:
            self.nb.cells.pop()

    def _unresponsive(self) -> str | None:
        """After a timeout: None if the kernel answers a trivial cell again, else why the run stops."""
        probe, old_timeout = new_code_cell("pass"), self.timeout
        self.timeout = 5  # an interrupted kernel answers at once
        try:
            self._run_extra(probe)
            if not any(o.get("output_type") == "error" for o in probe.outputs):
                return None
        except (TimeoutError, DeadKernelError, RuntimeError):
            pass
        finally:
            self.timeout = old_timeout
        return (f"a cell ran past the {self.timeout} s limit and did not stop when interrupted, "
                f"so the rest of the notebook could not run")

    def _judge(self, checks: list, index: int) -> tuple[spec.Verdict, str | None]:
        """Run one test cell's checks; (verdict, reason to stop or None)."""
        if not checks:
            return spec.Verdict(False, ["no check is declared for this cell (tell your instructor)"]), None
        messages = []
        for check in checks:
            inputs = check.make_inputs()
            cell = new_code_cell(CALL.format(code=check.run, payload=spec.encode_inputs(inputs)))
            old_timeout = self.timeout
            self.timeout = check.timeout or self.timeout
            try:
                self._run_extra(cell)
            except DeadKernelError:
                return spec.Verdict(False, messages + [f"{check.what}: the kernel died"]), \
                    "the notebook's kernel died while the grader checked it"
            except TimeoutError:
                cell.outputs.append(new_output("error", ename="CellTimeoutError", evalue="", traceback=[]))
            finally:
                self.timeout = old_timeout
            if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
                messages.append(f"{check.what}: no answer within {check.timeout or self.timeout} s")
                stopped = self._unresponsive()
                if stopped:
                    return spec.Verdict(False, messages), stopped
                continue
            why = self._read(check, inputs, cell.outputs)
            if why:
                messages.append(f"{check.what}: {why}" if check.what else why)
        return spec.Verdict(not messages, messages), None

    @staticmethod
    def _read(check, inputs, outputs) -> str | None:
        """The verdict on what the kernel sent back (only data is read)."""
        for out in reversed(outputs):
            data = out.get("data", {}) if out.get("output_type") == "display_data" else {}
            if spec.RESULT_MIME in data:
                try:
                    got = spec.decode(str(data[spec.RESULT_MIME]))
                except Exception as err:  # noqa: BLE001 -- whatever the bytes are, they fail
                    return f"the result could not be read as arrays ({str(err)[:200]})"
                try:
                    return check.verdict(inputs, got)
                except Exception as err:  # noqa: BLE001 -- e.g. a structure the judge did not expect
                    return f"the result has the wrong form ({type(err).__name__}: {str(err)[:200]})"
            if spec.ERROR_MIME in data:
                error = data[spec.ERROR_MIME]
                text = error.get("error", "") if isinstance(error, dict) else ""
                return f"raised {str(text)[:500]}"
            if out.get("output_type") == "error":
                return f"raised {str(out.get('ename'))[:100]}: {str(out.get('evalue'))[:400]}"
        return "the grader's call sent nothing back"


class BoundOutputs(LimitOutput):
    """nbgrader's line limits, plus a cap on characters of every kind of output, per cell and notebook."""

    max_chars = Integer(20_000, help="characters kept of one text field (stream, error, traceback line)"
                        ).tag(config=True)
    max_data = Integer(300_000, help="characters kept of one display item (an image, HTML)").tag(config=True)
    cell_chars = Integer(400_000, help="characters kept of one cell's outputs").tag(config=True)
    notebook_chars = Integer(2_000_000, help="characters kept of the notebook's outputs").tag(config=True)
    notes_file = Unicode("", help="where notes for the grading result go").tag(config=True)

    def preprocess(self, nb, resources):
        self._left = self.notebook_chars
        self._cut = 0
        nb, resources = super().preprocess(nb, resources)
        if self._cut:
            add_note(self.notes_file,
                     f"the grader cut {self._cut:,} characters of output (error messages, tracebacks, "
                f"printed text or images) to keep the feedback small")
        return nb, resources

    def _clip(self, text, budget: int):
        text = "".join(text) if isinstance(text, list) else str(text)
        keep = max(0, min(len(text), self.max_chars, budget))
        if keep < len(text):
            self._cut += len(text) - keep
            return text[:keep] + f"\n[... {len(text) - keep:,} characters cut by the grader ...]"
        return text

    def preprocess_cell(self, cell, resources, index):
        cell, resources = super().preprocess_cell(cell, resources, index)
        if cell.cell_type != "code":
            return cell, resources
        budget = min(self.cell_chars, self._left)
        for out in cell.outputs:
            if out.output_type == "stream":
                out.text = self._clip(out.text, budget)
                budget -= len(out.text)
            elif out.output_type == "error":
                out.ename = self._clip(out.ename, 200)
                out.evalue = self._clip(out.evalue, budget)
                budget -= len(out.evalue)
                lines = []
                for line in out.traceback:
                    lines.append(self._clip(line, budget))
                    budget -= len(lines[-1])
                out.traceback = lines
            elif "data" in out:
                for mime in list(out.data):
                    value = out.data[mime]
                    size = len(value) if isinstance(value, str) else len(str(value))
                    if size > budget or size > self.max_data:
                        self._cut += size
                        del out.data[mime]
                        out.data.setdefault("text/plain", f"[{mime} output of {size:,} characters cut by the grader]")
                    else:
                        budget -= size
            budget = max(budget, 0)
        self._left -= min(self.cell_chars, self._left) - budget
        return cell, resources


class SaveVerdicts(SaveAutoGrades):
    """Autograder scores from the grader's verdicts; manual grade cells keep nbgrader's rules."""

    def preprocess(self, nb, resources):
        self._verdicts = resources.get("course_verdicts", {})
        return super().preprocess(nb, resources)

    def _add_score(self, cell, resources) -> None:
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        if grade_id not in self._verdicts:
            return super()._add_score(cell, resources)
        grade = self.gradebook.find_grade(grade_id, self.notebook_id, self.assignment_id, self.student_id)
        points = float(cell.metadata["nbgrader"]["points"])
        grade.auto_score = points if self._verdicts[grade_id].passed else 0.0
        grade.needs_manual_grade = grade.manual_score is not None
        self.gradebook.db.commit()
