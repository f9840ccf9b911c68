"""course_lib: the library the book and the assignments import.

Shape letters used throughout: N batch, T time steps, D input, H hidden, V vocabulary (see the
book's Notation page).

NumPy:      gradcheck (numerical gradients, rel_error)
PyTorch layers, from the equations, in the NumPy assignments' parameter layout (gradients by autograd):
            rnn, lstm, gru (converted to and from torch.nn in one place each), layer_utils (what the
            three share), attention, captioning
Language models and sequences:
            charlm, charlm_recipes, min_char_rnn (Karpathy's, backward by autograd), text,
            code_features, sequences, adding, decoding
Gradient flow: gradient_flow (step Jacobians by autograd, their products, spectra)
Captioning data and training:
            scenes, scene_text, caption_data, caption_training, caption_recipes
Infrastructure: device, model_cache, diagrams, cli, grading/ (the instructor's grading command)

Only gradcheck is imported here, so ``import course_lib`` stays light (no torch).
"""
from course_lib.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array, rel_error

__all__ = ["eval_numerical_gradient", "eval_numerical_gradient_array", "rel_error"]
