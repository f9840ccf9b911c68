"""Instructor grading on nbgrader: ``python -m course_lib.grading`` (or ``course grade``, ``make grade``).

batch        the batch: scratch course, parallel workers, resume, CSV and table
cluster      the batch on a Dask cluster (--scheduler): one task per student, results back as data
remote       the task a Dask worker runs for one student, from bytes to data
transfer     what travels: folders as tar bytes, a student's grades as a gradebook record
worker       one student in a process of its own
workdir      the scratch course both share: nbgrader's API on it, its checks, its result files
procs        process hygiene: die with the parent, reap and kill what a kernel left behind
sandbox      the kernel that runs submissions: limits and an audit hook
tamper       a static scan of the student's code for attacks on the grading
spec         declarative checks and what crosses the kernel boundary (data only)
probe        the kernel side of a check: call the student's function, send back arrays
judged       nbgrader preprocessors: checks after each test cell, verdicts as scores, output caps
feedback     feedback without hidden test code
submissions  reading, checking and collecting submissions; demo submissions
"""
import importlib

# Loaded on first use: the sandbox kernel and the probe run inside this package, and importing
# nbgrader (through batch) costs seconds of every graded notebook's time for nothing.
_EXPORTS = {"Result": "batch", "grade": "batch", "make_api": "workdir", "table": "batch", "write_csv": "batch",
            "fill_answers": "submissions", "make_demo_submissions": "submissions",
            "read_notebook": "submissions", "reference_answers": "submissions",
            "source_notebooks": "submissions"}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"course_lib.grading.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'course_lib.grading' has no attribute {name!r}")
