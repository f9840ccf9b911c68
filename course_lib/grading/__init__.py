"""Instructor grading on nbgrader: ``python -m course_lib.grading`` (or ``course grade``, ``make grade``).

batch        the batch: scratch course, parallel workers, resume, CSV and table
worker       one student in a process of its own
sandbox      the kernel that runs submissions: limits and an audit hook
tamper       a static scan of the student's code for attacks on the grading
feedback     feedback without hidden test code
submissions  reading, checking and collecting submissions; demo submissions
"""
from course_lib.grading.batch import Result, grade, make_api, table, write_csv  # noqa: F401
from course_lib.grading.submissions import (fill_answers, make_demo_submissions, read_notebook,  # noqa: F401
                                            reference_answers, source_notebooks)
