"""nbgrader settings for students (nbgrader==0.9.6): what `nbgrader validate` says and allows.

nbgrader reads this file from the folder it runs in: this folder, where `make lab` starts
JupyterLab (its Validate button) and where `nbgrader validate assignments/rnn/rnn.ipynb` runs.
"""
c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

# nbgrader's own summary says that validation failed, not what to do about it.
c.Validator.failed_warning = (
    "VALIDATION FAILED ON {num_failed} CELL(S)! If you submit your assignment as it is, you WILL "
    "NOT receive full credit. What to do: each failing cell is listed below with its error. "
    "NotImplementedError means an answer cell still holds `raise NotImplementedError()` under "
    "`# YOUR CODE HERE`: replace that line with your code. 'You did not provide a response' means "
    "a written answer still says YOUR ANSWER HERE. Any other error comes from the answer cell "
    "above that test. Fix it, restart the kernel and run all cells, then validate again.\n")
# Per-cell wall-time limit while validating (seconds), as when the notebook is graded.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
