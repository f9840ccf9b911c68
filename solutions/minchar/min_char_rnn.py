"""min-char-rnn's hand-written backward pass, for instructors: the answer to Assignment 1 in the
column-vector layout of Karpathy's original.

Original: Andrej Karpathy, "Minimal character-level Vanilla RNN model" (2015),
https://gist.github.com/karpathy/d4dee566867f8291f086, BSD License. Everything except this
backward lives in course_lib.min_char_rnn (initialisation, forward, sampling, Adagrad training
with the elementwise clip, evaluation), re-exported here. ``course_lib.min_char_rnn.train``
computes its gradients with autograd by default; pass ``loss_fun=loss_fun`` from this file to
train with the original's hand-written backward instead:

    import min_char_rnn  # with solutions/minchar on sys.path
    history = min_char_rnn.train(text, max_steps=1000, loss_fun=min_char_rnn.loss_fun)

Shapes: V vocabulary, H hidden; Wxh (H, V), Whh (H, H), Why (V, H), bh (H, 1), by (V, 1);
x_t is a one-hot (V, 1), h_t (H, 1).
"""
import numpy as np

from course_lib.min_char_rnn import (PARAM_NAMES, autograd_loss_fun, evaluate,  # noqa: F401
                                     forward_loss, init_params, sample, train)


def loss_fun(inputs, targets, hprev, params: dict):
    """Forward and hand-written backward over one sequence.

    Inputs and outputs as course_lib.min_char_rnn.autograd_loss_fun: (loss, grads, h_T), with grads
    holding dWxh, dWhh, dWhy, dbh, dby (shaped like the parameters) and dhprev (H, 1).
    """
    Wxh, Whh, Why, bh, by = (params[k] for k in PARAM_NAMES)
    xs, hs, ps = {}, {-1: np.copy(hprev)}, {}
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = np.zeros((Wxh.shape[1], 1))  # (V, 1) one-hot
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)  # (H, 1)
        ys = Why @ hs[t] + by  # (V, 1) unnormalised log-probabilities
        ps[t] = np.exp(ys - ys.max()) / np.sum(np.exp(ys - ys.max()))  # (V, 1)
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1  # softmax + cross-entropy
        dWhy += dy @ hs[t].T
        dby += dy
        dh = Why.T @ dy + dhnext  # from the output at t and from step t+1
        dhraw = (1 - hs[t] * hs[t]) * dh  # through tanh
        dbh += dhraw
        dWxh += dhraw @ xs[t].T
        dWhh += dhraw @ hs[t - 1].T
        dhnext = Whh.T @ dhraw
    grads = {"dWxh": dWxh, "dWhh": dWhh, "dWhy": dWhy, "dbh": dbh, "dby": dby, "dhprev": dhnext}
    return float(loss), grads, hs[len(inputs) - 1]
