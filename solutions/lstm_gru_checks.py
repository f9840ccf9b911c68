"""Grading checks of Assignment 3 ("lstm_gru"), judged in the grader's process (course_lib.grading.spec).

Every reference is computed here, with autograd through torch.nn.LSTM / GRU / RNN in float64 (run
by course_lib's LSTM.fast_forward and GRU.fast_forward, whose weights go through course_lib's
converters), never with the student's functions. The kernel only
calls the student's functions on the inputs made here and sends back arrays. Hidden checks keep the
shapes, seeds, special cases and tolerances of the former in-notebook hidden tests.
"""
import functools
from dataclasses import replace
from typing import NamedTuple

import numpy as np
import torch

from course_lib.grading.spec import Check, compare
from course_lib.gru import GRU
from course_lib.lstm import GATES as LSTM_GATES
from course_lib.lstm import LSTM
from course_lib.rnn import to_torch_rnn_state_dict

F64 = torch.float64


# ---- torch references (float64, autograd) -----------------------------------------------------
# course_lib's LSTM and GRU hold the weights in the NumPy layout; their fast_forward runs
# torch.nn.LSTM / GRU through course_lib's converters, so the references are torch's own functions and
# the weight gradients come back in the NumPy layout (dWx = Wx.grad) with no conversion written here.

def lstm_module(Wx, Wh, b) -> LSTM:
    """course_lib's LSTM in float64 holding Wx (D, 4H), Wh (H, 4H), b (4H,), gate blocks i, f, g, o."""
    m = LSTM(Wx.shape[0], Wh.shape[0], dtype=F64)
    m.load_state_dict({"Wx": torch.tensor(Wx), "Wh": torch.tensor(Wh), "b": torch.tensor(b)})
    return m


def gru_module(Wx, Wh, b_x, b_h) -> GRU:
    """course_lib's GRU (torch's reset-after form) in float64, gate blocks r, z, n."""
    m = GRU(Wx.shape[0], Wh.shape[0], dtype=F64)
    m.load_state_dict({"Wx": torch.tensor(Wx), "Wh": torch.tensor(Wh), "b_x": torch.tensor(b_x),
                       "b_h": torch.tensor(b_h)})
    return m


def torch_rnn(Wx, Wh, b) -> torch.nn.RNN:
    """torch.nn.RNN (tanh) computing h_t = tanh(x_t Wx + h_(t-1) Wh + b)."""
    m = torch.nn.RNN(Wx.shape[0], Wh.shape[0], batch_first=True, dtype=F64)
    m.load_state_dict(to_torch_rnn_state_dict(Wx, Wh, b))
    return m


def one_thread(reference):
    """A torch reference on tiny tensors runs on one thread: more only contend on a shared machine."""
    @functools.wraps(reference)
    def run(*args, **kw):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return reference(*args, **kw)
        finally:
            torch.set_num_threads(threads)
    return run


def leaf(a) -> torch.Tensor:
    return torch.tensor(a, dtype=F64, requires_grad=True)


def arrays(*tensors) -> tuple:
    return tuple(t.detach().numpy().copy() for t in tensors)


def grads(m) -> list:
    """The parameter gradients of a course_lib layer, in its order: dWx, dWh, db (or db_x, db_h)."""
    return [p.grad for p in m.parameters()]


@one_thread
def lstm_step(x, h_prev, c_prev, Wx, Wh, b, **_):
    """(h_next, c_next) of one LSTM step."""
    with torch.no_grad():
        _, (h, c) = lstm_module(Wx, Wh, b).fast_forward(torch.tensor(x)[:, None],
                                                        (torch.tensor(h_prev), torch.tensor(c_prev)))
    return arrays(h, c)


@one_thread
def lstm_step_grads(x, h_prev, c_prev, Wx, Wh, b, dh_next, dc_next):
    """(dx, dh_prev, dc_prev, dWx, dWh, db) of one LSTM step, upstream (dh_next, dc_next)."""
    xt, ht, ct = leaf(x), leaf(h_prev), leaf(c_prev)
    m = lstm_module(Wx, Wh, b)
    _, (h, c) = m.fast_forward(xt[:, None], (ht, ct))
    torch.autograd.backward([h, c], [torch.tensor(dh_next), torch.tensor(dc_next)])
    return arrays(xt.grad, ht.grad, ct.grad, *grads(m))


@one_thread
def lstm_seq(x, h0, Wx, Wh, b, **_):
    """h (N, T, H) of an LSTM from h0 and c0 = 0."""
    with torch.no_grad():
        h, _ = lstm_module(Wx, Wh, b).fast_forward(torch.tensor(x), (torch.tensor(h0), torch.zeros(h0.shape, dtype=F64)))
    return arrays(h)[0]


@one_thread
def lstm_seq_grads(x, h0, Wx, Wh, b, dh):
    """(dx, dh0, dWx, dWh, db) of an LSTM from h0 and c0 = 0, upstream dh on every h_t."""
    xt, h0t = leaf(x), leaf(h0)
    m = lstm_module(Wx, Wh, b)
    h, _ = m.fast_forward(xt, (h0t, torch.zeros(h0.shape, dtype=F64)))
    h.backward(torch.tensor(dh))
    return arrays(xt.grad, h0t.grad, *grads(m))


@one_thread
def gru_step(x, h_prev, Wx, Wh, b_x, b_h, **_):
    """h_next of one GRU step (torch's form)."""
    with torch.no_grad():
        _, h = gru_module(Wx, Wh, b_x, b_h).fast_forward(torch.tensor(x)[:, None], torch.tensor(h_prev))
    return arrays(h)[0]


@one_thread
def gru_step_grads(x, h_prev, Wx, Wh, b_x, b_h, dh_next):
    """(dx, dh_prev, dWx, dWh, db_x, db_h) of one GRU step."""
    xt, ht = leaf(x), leaf(h_prev)
    m = gru_module(Wx, Wh, b_x, b_h)
    _, h = m.fast_forward(xt[:, None], ht)
    h.backward(torch.tensor(dh_next))
    return arrays(xt.grad, ht.grad, *grads(m))


@one_thread
def gru_seq(x, h0, Wx, Wh, b_x, b_h, **_):
    """h (N, T, H) of a GRU from h0."""
    with torch.no_grad():
        h, _ = gru_module(Wx, Wh, b_x, b_h).fast_forward(torch.tensor(x), torch.tensor(h0))
    return arrays(h)[0]


@one_thread
def gru_seq_grads(x, h0, Wx, Wh, b_x, b_h, dh):
    """(dx, dh0, dWx, dWh, db_x, db_h) of a GRU from h0, upstream dh on every h_t."""
    xt, h0t = leaf(x), leaf(h0)
    m = gru_module(Wx, Wh, b_x, b_h)
    h, _ = m.fast_forward(xt, h0t)
    h.backward(torch.tensor(dh))
    return arrays(xt.grad, h0t.grad, *grads(m))


@one_thread
def cell_gradient(x, Wx, Wh, b):
    """(jacobian (N, H, H) = d c_T / d c_0 per example, product of the forget gates (N, H)), from h0 = c0 = 0."""
    N, H = x.shape[0], Wh.shape[0]
    m, xt, h0 = lstm_module(Wx, Wh, b), torch.tensor(x), torch.zeros(N, H, dtype=F64)
    J = torch.autograd.functional.jacobian(lambda c0: m.fast_forward(xt, (h0, c0))[1][1], torch.zeros(N, H, dtype=F64))
    with torch.no_grad():
        hs, _ = m.fast_forward(xt, (h0, torch.zeros(N, H, dtype=F64)))
    h_prev = torch.cat([h0[:, None], hs[:, :-1]], dim=1)  # (N, T, H): h_(t-1)
    k = LSTM_GATES.index("f")
    fb = slice(k * H, (k + 1) * H)  # the forget block
    f = torch.sigmoid(xt @ torch.tensor(Wx[:, fb]) + h_prev @ torch.tensor(Wh[:, fb]) + torch.tensor(b[fb]))
    return arrays(torch.stack([J[n, :, n, :] for n in range(N)]), f.prod(dim=1))


@one_thread
def norms_vs_lag(x, lstm_Wx, lstm_Wh, lstm_b, rnn_Wx, rnn_Wh, rnn_b):
    """(lstm_norms, rnn_norms): ||dL/dx[:, T-1-k]|| for L = sum(h_T), both models from a zero state."""
    norms = []
    for run in [lstm_module(lstm_Wx, lstm_Wh, lstm_b).fast_forward, torch_rnn(rnn_Wx, rnn_Wh, rnn_b)]:
        xt = leaf(x)
        run(xt)[0][:, -1].sum().backward()  # no state given: zeros
        norms.append(torch.linalg.vector_norm(xt.grad.flip(1), dim=(0, 2)))
    return arrays(*norms)


# ---- the graded functions: arguments, outputs, reference, shapes of the inputs ----------------

LSTM_STEP = ["x", "h_prev", "c_prev", "Wx", "Wh", "b"]
LSTM_SEQ = ["x", "h0", "Wx", "Wh", "b"]
GRU_STEP = ["x", "h_prev", "Wx", "Wh", "b_x", "b_h"]
GRU_SEQ = ["x", "h0", "Wx", "Wh", "b_x", "b_h"]
NORMS_ARGS = ["x", "lstm_Wx", "lstm_Wh", "lstm_b", "rnn_Wx", "rnn_Wh", "rnn_b"]
# gradient_norms_vs_lag takes its parameters as tuples: the kernel calls it through this wrapper,
# so that Check.of hands it copies of every array and reports any it modified.
NORMS_WRAPPER = ("def _gradient_norms_vs_lag(x, lstm_Wx, lstm_Wh, lstm_b, rnn_Wx, rnn_Wh, rnn_b):\n"
                 "    return gradient_norms_vs_lag(x, (lstm_Wx, lstm_Wh, lstm_b), (rnn_Wx, rnn_Wh, rnn_b))")


def lstm_step_shapes(N, D, H):
    return {"x": (N, D), "h_prev": (N, H), "c_prev": (N, H), "Wx": (D, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,)}


def lstm_seq_shapes(N, T, D, H):
    return {"x": (N, T, D), "h0": (N, H), "Wx": (D, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,)}


def gru_step_shapes(N, D, H):
    return {"x": (N, D), "h_prev": (N, H), "Wx": (D, 3 * H), "Wh": (H, 3 * H), "b_x": (3 * H,), "b_h": (3 * H,)}


def gru_seq_shapes(N, T, D, H):
    return {"x": (N, T, D), "h0": (N, H), "Wx": (D, 3 * H), "Wh": (H, 3 * H), "b_x": (3 * H,), "b_h": (3 * H,)}


class Graded(NamedTuple):
    call: dict          # Check.of's args, outputs and before (and function, when not the name)
    reference: object   # the torch reference: inputs as keywords -> the compared outputs
    shapes: object      # dims -> {input name: shape}, in the order the hidden tests drew them


FUNCTIONS = {
    "lstm_step_forward": Graded(dict(args=LSTM_STEP, outputs=["h_next", "c_next", None]), lstm_step, lstm_step_shapes),
    "lstm_step_backward": Graded(
        dict(args=["dh_next", "dc_next", "cache"], outputs=["dx", "dh_prev", "dc_prev", "dWx", "dWh", "db"],
             before="_, _, cache = lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)"),
        lstm_step_grads, lambda N, D, H: lstm_step_shapes(N, D, H) | {"dh_next": (N, H), "dc_next": (N, H)}),
    "lstm_forward": Graded(dict(args=LSTM_SEQ, outputs=["h", None]), lstm_seq, lstm_seq_shapes),
    "lstm_backward": Graded(
        dict(args=["dh", "cache"], outputs=["dx", "dh0", "dWx", "dWh", "db"],
             before="_, cache = lstm_forward(x, h0, Wx, Wh, b)"),
        lstm_seq_grads, lambda N, T, D, H: lstm_seq_shapes(N, T, D, H) | {"dh": (N, T, H)}),
    "gru_step_forward": Graded(dict(args=GRU_STEP, outputs=["h_next", None]), gru_step, gru_step_shapes),
    "gru_step_backward": Graded(
        dict(args=["dh_next", "cache"], outputs=["dx", "dh_prev", "dWx", "dWh", "db_x", "db_h"],
             before="_, cache = gru_step_forward(x, h_prev, Wx, Wh, b_x, b_h)"),
        gru_step_grads, lambda N, D, H: gru_step_shapes(N, D, H) | {"dh_next": (N, H)}),
    "gru_forward": Graded(dict(args=GRU_SEQ, outputs=["h", None]), gru_seq, gru_seq_shapes),
    "gru_backward": Graded(
        dict(args=["dh", "cache"], outputs=["dx", "dh0", "dWx", "dWh", "db_x", "db_h"],
             before="_, cache = gru_forward(x, h0, Wx, Wh, b_x, b_h)"),
        gru_seq_grads, lambda N, T, D, H: gru_seq_shapes(N, T, D, H) | {"dh": (N, T, H)}),
    "cell_gradient_through_time": Graded(dict(args=["x", "Wx", "Wh", "b"], outputs=["jacobian", "forget_product"]),
                                         cell_gradient, None),
    "gradient_norms_vs_lag": Graded(dict(function="_gradient_norms_vs_lag", args=NORMS_ARGS,
                                         outputs=["lstm_norms", "rnn_norms"], before=NORMS_WRAPPER),
                                    norms_vs_lag, None),
}


def check(name: str, inputs, **kw) -> Check:
    """Check.of for one of FUNCTIONS: ``name`` called on ``inputs(rng)``, compared with its reference."""
    call = dict(FUNCTIONS[name].call)
    kw.setdefault("what", name)
    return Check.of(call.pop("function", name), reference=FUNCTIONS[name].reference, inputs=inputs, **call, **kw)


def normal(shapes: dict, scale: dict | None = None):
    """Inputs drawn in the order of ``shapes``, each rng.standard_normal(shape) times its scale (default 1)."""
    scale = scale or {}
    return lambda rng: {k: scale.get(k, 1.0) * rng.standard_normal(s) for k, s in shapes.items()}


def hidden_cases(name: str, cases: list, tol: float = 1e-10) -> list[Check]:
    """One check per (seed, dims) of a former hidden loop: standard normal inputs of the function's
    shapes, the reference within ``tol``, and no input modified."""
    shapes = FUNCTIONS[name].shapes
    return [check(name, normal(shapes(*dims)), seed=seed, tol=tol,
                  what=f"{name} on hidden inputs (case {k} of {len(cases)})")
            for k, (seed, dims) in enumerate(cases, 1)]


def visible(name: str, inputs, tol: float, what: str, seed: int = 0) -> Check:
    """The visible test's call and expectation (it did not check that inputs stay unchanged)."""
    return check(name, inputs, seed=seed, tol=tol, unchanged=False, hidden=False, what=f"{name} {what}")


def with_judge(c: Check, extra) -> Check:
    """``c`` compared with its reference as usual, then ``extra(inputs, got)`` (None or a reason)."""
    return replace(c, judge=lambda inputs, got: compare(got, c.reference(**inputs), c.tol) or extra(inputs, got))


def output_tolerances(c: Check, **tols) -> Check:
    """``c`` compared output by output, with ``tols[name]`` where given, else ``c.tol``."""
    def judge(inputs, got):
        want = c.reference(**inputs)
        if not isinstance(got, dict) or set(got) != set(want):
            return compare(got, want, c.tol)
        return next(filter(None, (compare(got[k], want[k], tols.get(k, c.tol), k) for k in want)), None)
    return replace(c, judge=judge)


def on_log_scale(c: Check, names: list[str]) -> Check:
    """``c`` with the outputs ``names`` compared as log(value): for positive values over orders of magnitude."""
    def judge(inputs, got):
        want = c.reference(**inputs)
        if not isinstance(got, dict) or set(got) != set(want):
            return compare(got, want, c.tol)
        got = dict(got)
        for name in names:
            g = got.pop(name)
            why = compare(g, want[name], np.inf, name)  # form and shape only
            if why or not (np.asarray(g) > 0).all():
                return why or f"{name} should be positive"
            got[f"log({name})"] = np.log(np.asarray(g, dtype=np.float64))
            want[f"log({name})"] = np.log(want.pop(name))
        return compare(got, want, c.tol)
    return replace(c, judge=judge)


def linspace(**spec):
    """Fixed inputs: name=(start, stop, shape), as np.linspace(start, stop, num=size).reshape(shape)."""
    return lambda rng: {k: np.linspace(lo, hi, num=int(np.prod(s))).reshape(s) for k, (lo, hi, s) in spec.items()}


# ---- Parts 1-4: the LSTM ------------------------------------------------------------------------

def gate_probe(biases, expected: dict, what: str) -> Check:
    """lstm_step_forward with gate blocks (i, f, g, o) of b set to ``biases``, to saturate one gate at
    a time (in float64 sigmoid(40) rounds to 1, sigmoid(-40) is 4e-18); ``expected``: output name ->
    f(x, h_prev, c_prev, a) with a = x Wx + h_prev Wh, the pre-activations without the bias."""
    N, D, H = 3, 4, 5

    def inputs(rng):
        shapes = {k: s for k, s in lstm_step_shapes(N, D, H).items() if k != "b"}
        drawn = normal(shapes, {"Wx": 0.3, "Wh": 0.3})(rng)
        return drawn | {"b": np.concatenate([np.full(H, float(v)) for v in biases])}

    def reference(x, h_prev, c_prev, Wx, Wh, b):
        a = x @ Wx + h_prev @ Wh
        want = tuple(expected[o](x, h_prev, c_prev, a) for o in ["h_next", "c_next"] if o in expected)
        return want if len(want) > 1 else want[0]

    outputs = [o if o in expected else None for o in ["h_next", "c_next", "cache"]]
    return Check.of("lstm_step_forward", LSTM_STEP, outputs, reference, inputs=inputs, seed=7, tol=1e-9,
                    unchanged=False, what=f"lstm_step_forward, gate order: {what}")


def g_block(a):
    """The candidate's block a[:, 2H:3H] of LSTM pre-activations a (N, 4H)."""
    H = a.shape[1] // 4
    return a[:, 2 * H:3 * H]


GATE_ORDER = [
    gate_probe((-40, 40, 0, 40), {"h_next": lambda x, h, c, a: np.tanh(c), "c_next": lambda x, h, c, a: c},
               "c_next when only the forget block (H:2H) of b is large, the input block (0:H) very negative "
               "(the cell must be kept), and h_next when the output block (3H:4H) is large (o = 1, so "
               "h_next = tanh(c_next))"),
    gate_probe((40, -40, 0.5, 40), {"c_next": lambda x, h, c, a: np.tanh(g_block(a) + 0.5)},
               "c_next when the input block (0:H) of b is large and the forget block (H:2H) very negative "
               "(the cell must be g = tanh(a[:, 2H:3H]))"),
    gate_probe((0, 0, 0, -40), {"h_next": lambda x, h, c, a: np.zeros_like(h)},
               "h_next when the output block (3H:4H) of b is very negative (o = 0)"),
]

# The visible tests' inputs, as in the notebook.
STEP_BACKWARD_SCALES = {"Wx": 0.5, "Wh": 0.5, "b": 0.5, "b_x": 0.5, "b_h": 0.5}

LSTM_CHECKS = {
    "test_lstm_step_forward": [visible("lstm_step_forward", linspace(
        x=(-0.4, 1.2, (3, 4)), h_prev=(-0.3, 0.7, (3, 5)), c_prev=(-0.4, 0.9, (3, 5)),
        Wx=(-2.1, 1.3, (4, 20)), Wh=(-0.7, 2.2, (5, 20)), b=(0.3, -0.7, (20,))), 1e-8, "on the visible test's input")],
    "test_lstm_step_forward_hidden": hidden_cases("lstm_step_forward",
                                                  [(1, (1, 1, 1)), (2, (5, 7, 3)), (3, (2, 3, 8)), (4, (4, 6, 6))]),
    "test_lstm_gate_order": GATE_ORDER,
    "test_lstm_step_backward": [visible("lstm_step_backward", normal(
        FUNCTIONS["lstm_step_backward"].shapes(4, 5, 6), STEP_BACKWARD_SCALES), 1e-7,
        "on the visible test's input, against autograd", seed=231)],
    "test_lstm_step_backward_hidden": hidden_cases("lstm_step_backward",
                                                   [(11, (1, 1, 1)), (12, (5, 7, 3)), (13, (2, 3, 8)), (14, (3, 4, 4))]),
    "test_lstm_forward": [visible("lstm_forward", linspace(
        x=(-0.4, 0.6, (2, 3, 4)), h0=(-0.4, 0.8, (2, 5)), Wx=(-0.2, 0.9, (4, 20)), Wh=(-0.3, 0.6, (5, 20)),
        b=(0.2, 0.7, (20,))), 1e-8, "on the visible test's input")],
    "test_lstm_forward_hidden": hidden_cases("lstm_forward", [(21, (1, 1, 1, 1)), (22, (3, 5, 4, 6)),
                                                              (23, (2, 9, 3, 2)), (24, (4, 2, 5, 5))]),
    "test_lstm_backward": [visible("lstm_backward", normal(
        FUNCTIONS["lstm_backward"].shapes(2, 3, 4, 5), STEP_BACKWARD_SCALES), 1e-7,
        "on the visible test's input, against autograd", seed=231)],
    "test_lstm_backward_hidden": hidden_cases("lstm_backward", [(31, (1, 1, 1, 1)), (32, (3, 6, 4, 5)),
                                                                (33, (2, 9, 3, 2)), (34, (4, 2, 2, 7))]),
}


# ---- Parts 5-8: the GRU -------------------------------------------------------------------------

def gru_probe(r, z, n, expected, what: str) -> Check:
    """gru_step_forward with b_h chosen so that the (r, z, n) blocks of b_x + b_h are (r, z, ...) and
    b_h's n block is ``n``; ``expected(x, h_prev, Wx, Wh, b_x)`` is h_next."""
    N, D, H = 3, 4, 5

    def inputs(rng):
        drawn = normal({"x": (N, D), "h_prev": (N, H), "Wx": (D, 3 * H), "Wh": (H, 3 * H), "b_x": (3 * H,)},
                       {"Wx": 0.3, "Wh": 0.3, "b_x": 0.5})(rng)
        blocks = np.concatenate([np.full(H, float(v)) for v in (r, z, n)])
        return drawn | {"b_h": blocks - np.concatenate([drawn["b_x"][:2 * H], np.zeros(H)])}

    return Check.of("gru_step_forward", GRU_STEP, ["h_next", None],
                    lambda x, h_prev, Wx, Wh, b_x, b_h: expected(x, h_prev, Wx, Wh, b_x),
                    inputs=inputs, seed=45, tol=1e-9, unchanged=False, what=f"gru_step_forward, gate order: {what}")


def n_block(W):
    """The candidate's block W[..., 2H:3H] of GRU weights or biases (..., 3H)."""
    return W[..., 2 * W.shape[-1] // 3:]


def n_input(x, Wx, b_x):
    """x Wx_n + b_x_n."""
    return x @ n_block(Wx) + n_block(b_x)


GRU_GATE_ORDER = [
    gru_probe(0, 40, 0.7, lambda x, h, Wx, Wh, b_x: h,
              "h_next when the update block (H:2H) of the biases is large (z = 1: the state must be kept)"),
    gru_probe(-40, -40, 0.7, lambda x, h, Wx, Wh, b_x: np.tanh(n_input(x, Wx, b_x)),
              "h_next when the reset block (0:H) and the update block (H:2H) are very negative (r = 0, z = 0: "
              "h_next = tanh(x Wx_n + b_x_n); b_h_n is inside r)"),
    gru_probe(40, -40, 0.7, lambda x, h, Wx, Wh, b_x: np.tanh(n_input(x, Wx, b_x) + h @ n_block(Wh) + 0.7),
              "h_next when the reset block (0:H) is large and the update block (H:2H) very negative (r = 1, z = 0)"),
]

GRU_CHECKS = {
    "test_gru_step_forward": [visible("gru_step_forward", linspace(
        x=(-0.4, 1.2, (3, 4)), h_prev=(-0.3, 0.7, (3, 5)), Wx=(-1.5, 1.3, (4, 15)), Wh=(-0.9, 1.7, (5, 15)),
        b_x=(0.3, -0.6, (15,)), b_h=(-0.4, 0.5, (15,))), 1e-8, "on the visible test's input")],
    "test_gru_step_forward_hidden": hidden_cases("gru_step_forward", [(41, (1, 1, 1)), (42, (5, 7, 3)),
                                                                      (43, (2, 3, 8)), (44, (4, 6, 6))])
    + GRU_GATE_ORDER,
    "test_gru_step_backward": [visible("gru_step_backward", normal(
        FUNCTIONS["gru_step_backward"].shapes(4, 5, 6), STEP_BACKWARD_SCALES), 1e-7,
        "on the visible test's input, against autograd", seed=231)],
    "test_gru_step_backward_hidden": hidden_cases("gru_step_backward", [(51, (1, 1, 1)), (52, (5, 7, 3)),
                                                                        (53, (2, 3, 8)), (54, (3, 4, 4))]),
    "test_gru_forward": [visible("gru_forward", linspace(
        x=(-0.4, 0.6, (2, 3, 4)), h0=(-0.4, 0.8, (2, 5)), Wx=(-0.6, 0.9, (4, 15)), Wh=(-0.8, 0.6, (5, 15)),
        b_x=(0.2, -0.7, (15,)), b_h=(-0.3, 0.4, (15,))), 1e-8, "on the visible test's input")],
    "test_gru_forward_hidden": hidden_cases("gru_forward", [(61, (1, 1, 1, 1)), (62, (3, 5, 4, 6)),
                                                            (63, (2, 9, 3, 2)), (64, (4, 2, 5, 5))]),
    "test_gru_backward": [visible("gru_backward", normal(
        FUNCTIONS["gru_backward"].shapes(2, 3, 4, 5), STEP_BACKWARD_SCALES), 1e-7,
        "on the visible test's input, against autograd", seed=231)],
    "test_gru_backward_hidden": hidden_cases("gru_backward", [(71, (1, 1, 1, 1)), (72, (3, 6, 4, 5)),
                                                              (73, (2, 9, 3, 2)), (74, (4, 2, 2, 7))]),
}


# ---- Part 9: the cell-state highway -------------------------------------------------------------

def diagonal_is_forget_product(inputs, got):
    """With Wh = 0 the Jacobian must be diag(forget_product) of the same answer, within 1e-12."""
    fp = np.asarray(got["forget_product"], dtype=np.float64)
    return compare(got["jacobian"], np.stack([np.diag(p) for p in fp]), 1e-12,
                   "jacobian with Wh = 0 against diag(forget_product)")


def highway_inputs(N, T, D, H, forget_bias, cut, scales=(0.5, 0.5, 0.3)):
    """x, Wx, Wh (zeros, not drawn, when ``cut``), b (its forget block + forget_bias), in the hidden test's order."""
    def inputs(rng):
        x = rng.standard_normal((N, T, D))
        Wx = scales[0] * rng.standard_normal((D, 4 * H))
        Wh = np.zeros((H, 4 * H)) if cut else scales[1] * rng.standard_normal((H, 4 * H))
        b = scales[2] * rng.standard_normal(4 * H)
        b[H:2 * H] += forget_bias
        return {"x": x, "Wx": Wx, "Wh": Wh, "b": b}
    return inputs


def visible_highway(cut: bool) -> Check:
    """The visible test: seed 5, forget bias +3, b otherwise 0; Wh drawn after Wx, then used or cut."""
    N, T, D, H = 2, 6, 3, 3

    def inputs(rng):
        x, Wx = rng.standard_normal((N, T, D)), 0.5 * rng.standard_normal((D, 4 * H))
        Wh = 0.5 * rng.standard_normal((H, 4 * H))
        b = np.zeros(4 * H)
        b[H:2 * H] = 3.0
        return {"x": x, "Wx": Wx, "Wh": np.zeros_like(Wh) if cut else Wh, "b": b}

    c = visible("cell_gradient_through_time", inputs, 1e-8, "on the visible test's input with Wh " +
                ("= 0" if cut else "!= 0"), seed=5)
    # With Wh = 0 the visible test wants the Jacobian diag(prod f) within 1e-12: the reference is exactly that.
    return output_tolerances(c, jacobian=1e-12) if cut else c


HIGHWAY_CASES = [(81, (1, 1, 1, 1), 0.0, False), (82, (3, 7, 4, 5), 3.0, False), (83, (2, 12, 3, 4), 1.0, True),
                 (84, (4, 25, 2, 6), 3.0, True), (85, (2, 5, 3, 7), -1.0, False)]


def hidden_highway(k, seed, dims, forget_bias, cut) -> Check:
    c = check("cell_gradient_through_time", highway_inputs(*dims, forget_bias, cut), seed=seed, tol=1e-10,
              what=f"cell_gradient_through_time on hidden inputs (case {k} of {len(HIGHWAY_CASES)}, "
                   f"Wh {'= 0' if cut else '!= 0'})")
    return with_judge(c, diagonal_is_forget_product) if cut else c


HIGHWAY_CHECKS = {
    "test_cell_gradient_through_time": [visible_highway(cut=True), visible_highway(cut=False)],
    "test_cell_gradient_through_time_hidden": [hidden_highway(k, *case) for k, case in enumerate(HIGHWAY_CASES, 1)],
}


# ---- Part 10: gradient norm against lag, and the experiment -------------------------------------

def norms_inputs(N, T, D, H, Hr, scales):
    """x, the LSTM's (Wx, Wh, b) and the RNN's (Wx, Wh, b), drawn in this order with these scales."""
    shapes = {"x": (N, T, D), "lstm_Wx": (D, 4 * H), "lstm_Wh": (H, 4 * H), "lstm_b": (4 * H,),
              "rnn_Wx": (D, Hr), "rnn_Wh": (Hr, Hr), "rnn_b": (Hr,)}
    return normal(shapes, dict(zip(list(shapes)[1:], scales)))


NORMS_CASES = [(91, (1, 1, 1, 1, 1)), (92, (3, 12, 4, 5, 6)), (93, (2, 20, 3, 4, 4))]

NORMS_CHECKS = {
    "test_gradient_norms_vs_lag": [visible("gradient_norms_vs_lag", norms_inputs(2, 6, 3, 4, 4, (0.8, 0.8, 0.5, 0.8, 0.8, 0.5)),
                                           1e-8, "on the visible test's input", seed=8)],
    "test_gradient_norms_vs_lag_hidden": [
        on_log_scale(check("gradient_norms_vs_lag", norms_inputs(*dims, (0.7, 0.7, 0.5, 0.7, 0.7, 0.5)), seed=seed,
                           tol=1e-9, what=f"gradient_norms_vs_lag on hidden inputs (case {k} of {len(NORMS_CASES)})"),
                     ["lstm_norms", "rnn_norms"])
        for k, (seed, dims) in enumerate(NORMS_CASES, 1)],
}

# The experiment: an LSTM with forget bias +3 against a tanh RNN whose Wh is 0.9 times an orthogonal
# matrix. The kernel runs the student's gradient_norms_vs_lag; the grader fits the decay rates (slope of
# log norms[k] against k for k >= 10) of what it sends back and bounds them. The reference gets LSTM rates
# of -0.02 to -0.04, RNN rates near -0.3, with forget bias 0 below -0.4.
EXPERIMENT_RUN = """
def _norms(b):
    out = gradient_norms_vs_lag(x, (lstm_Wx, lstm_Wh, b), (rnn_Wx, rnn_Wh, rnn_b))
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise ValueError("gradient_norms_vs_lag should return (lstm_norms, rnn_norms)")
    return tuple(out)
result = {name: _norms(b) for name, b in [("bias3", lstm_b)] + ([("bias0", lstm_b0)] if with_bias0 else [])}
"""


def experiment_inputs(H, qr, with_bias0, N=8, T=60, D=4):
    """The experiment's inputs, drawn as in the notebook; with_bias0 adds the LSTM's b with forget bias 0."""
    def inputs(rng):
        x = rng.standard_normal((N, T, D))
        b = np.zeros(4 * H)
        b[H:2 * H] = 3.0
        Wx, Wh = 0.5 * rng.standard_normal((D, 4 * H)) / np.sqrt(D), 0.2 * rng.standard_normal((H, 4 * H)) / np.sqrt(H)
        Q = qr(rng.standard_normal((H, H)))
        return {"x": x, "lstm_Wx": Wx, "lstm_Wh": Wh, "lstm_b": b, "lstm_b0": np.zeros(4 * H),
                "rnn_Wx": 0.5 * rng.standard_normal((D, H)) / np.sqrt(D), "rnn_Wh": 0.9 * Q, "rnn_b": np.zeros(H),
                "with_bias0": with_bias0}
    return inputs


def decay_rate(norms, first=10) -> float:
    """Slope of log(norms[k]) against k for k >= first (least squares)."""
    k = np.arange(first, len(norms))
    return float(np.polyfit(k, np.log(norms[first:]), 1)[0])


def valid_norms(pair, T):
    """(lstm_norms, rnn_norms) as float arrays, or the reason they are not norms of shape (T,)."""
    if not isinstance(pair, tuple) or len(pair) != 2:
        return "gradient_norms_vs_lag should return (lstm_norms, rnn_norms)"
    out = []
    for name, n in zip(["lstm_norms", "rnn_norms"], pair):
        n = None if n is None else np.asarray(n)
        if n is None or n.dtype.kind not in "biuf":
            return f"{name} should be an array of numbers"
        if n.shape != (T,):
            return f"{name} has shape {n.shape}, expected ({T},)"
        n = n.astype(np.float64)
        if not (np.isfinite(n).all() and (n > 0).all()):
            return f"{name} should be finite and positive"
        out.append(n)
    return tuple(out)


def judge_experiment(inputs, got) -> str | None:
    T = inputs["x"].shape[1]
    if not isinstance(got, dict) or "bias3" not in got:
        return "gradient_norms_vs_lag should return (lstm_norms, rnn_norms)"
    norms = valid_norms(got["bias3"], T)
    if isinstance(norms, str):
        return norms
    lstm, rnn = norms
    lstm_rate, rnn_rate = decay_rate(lstm), decay_rate(rnn)
    if not lstm_rate > -0.1:
        return f"the LSTM's gradient decays at {lstm_rate:+.3f} per step: expected slower than -0.1"
    if not rnn_rate < -0.15:
        return f"the RNN's gradient decays at {rnn_rate:+.3f} per step: expected faster than -0.15"
    if not (lstm[10:] > rnn[10:]).all():
        return "from lag 10 on, the LSTM's gradient should be the larger one"
    if inputs["with_bias0"]:
        norms = valid_norms(got.get("bias0"), T)
        if isinstance(norms, str):
            return f"with forget bias 0: {norms}"
        rate_0 = decay_rate(norms[0])
        if not rate_0 < lstm_rate - 0.2:
            return (f"with forget bias 0 the LSTM's gradient decays at {rate_0:+.3f} per step, expected much "
                    f"faster than with bias 3 ({lstm_rate:+.3f})")
    return None


def torch_qr(a):
    return torch.linalg.qr(torch.tensor(a))[0].numpy()


EXPERIMENT_CASES = [(11, 8), (12, 16), (13, 32)]
EXPERIMENT_CHECKS = {
    "test_lag_experiment": [Check(EXPERIMENT_RUN, experiment_inputs(16, lambda a: np.linalg.qr(a)[0], False),
                                  judge=judge_experiment, seed=2024, hidden=False,
                                  what="the lag experiment of the visible test (forget bias 3 against spectral radius 0.9)")],
    "test_lag_experiment_hidden": [
        Check(EXPERIMENT_RUN, experiment_inputs(H, torch_qr, True), judge=judge_experiment, seed=seed,
              what=f"the lag experiment on hidden inputs (case {k} of {len(EXPERIMENT_CASES)}), "
                   f"with forget bias 3 and with forget bias 0")
        for k, (seed, H) in enumerate(EXPERIMENT_CASES, 1)],
}

CHECKS = LSTM_CHECKS | GRU_CHECKS | HIGHWAY_CHECKS | NORMS_CHECKS | EXPERIMENT_CHECKS
