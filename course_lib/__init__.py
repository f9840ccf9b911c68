"""course_lib: the library the book and the assignments import.

Shape letters used throughout: N batch, T time steps, D input, H hidden, V vocabulary.

NumPy modules (``gradcheck``) import no framework; PyTorch lives in its own modules
(``device``), so ``import course_lib`` stays light.
"""
from course_lib.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array, rel_error

__all__ = ["eval_numerical_gradient", "eval_numerical_gradient_array", "rel_error"]
