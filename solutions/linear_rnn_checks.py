"""Grading checks of Assignment 5 ("linear_rnn"), judged in the grader's process.

Every autograded test cell of solutions/linear_rnn/linear_rnn.ipynb has its checks here: the
visible cell's (the visible test's inputs) and the hidden cell's (other shapes, seeds, T, and
eigenvalues on the unit circle). The references are the grader's own, written here in NumPy
float64 / complex128 as plain loops over t (independent of the scans and the FFT of course_lib
and of the assignment).

The kernel only calls the student's functions on the grader's inputs and sends back data. The
probe sends real arrays only, so every array the kernel returns travels as its real and imaginary
parts (``name`` and ``name (imaginary part)``) with its dtype kind (``name dtype``): the judge
puts them together again, checks the kind where it matters (a real ``y`` and ``K``, an integer
horizon), and compares with ``tol`` relative to 1 + the largest |expected| value, as
``spec.compare`` does. Every array argument must come back exactly as it was given.
"""
import numpy as np

from course_lib.grading.spec import Check

IM, KIND, AFTER = " (imaginary part)", " dtype", " after the call"

# Kernel code shared by every call: each value as (real part, imaginary part, dtype kind).
SEND = """import numpy as _np
def _send(_result, _name, _v):
    _v = _np.asarray(_v)
    if _v.dtype.kind not in 'biufc':
        raise TypeError(f'{_name} should be an array of numbers, got {type(_v).__name__}')
    _result[_name] = _np.array(_v.real, dtype=_np.float64)
    _result[_name + ' (imaginary part)'] = _np.array(_v.imag, dtype=_np.float64)
    _result[_name + ' dtype'] = _v.dtype.kind
"""


def run_code(function, args, outputs, before=""):
    """Kernel code: function(*copies of args); its outputs and the copies after the call, sent."""
    names = ", ".join(args)
    lines = [SEND, before,
             f"_args = [_a.copy() if hasattr(_a, 'copy') and hasattr(_a, 'shape') else _a for _a in ({names},)]",
             f"_out = {function}(*_args)"]
    if len(outputs) > 1:
        lines += [f"if not isinstance(_out, (tuple, list)) or len(_out) != {len(outputs)}:",
                  f"    raise ValueError('{function} should return {len(outputs)} values ({', '.join(outputs)})')"]
    else:
        lines.append("_out = (_out,)")
    lines.append("result = {}")
    lines += [f"_send(result, {o!r}, _out[{i}])" for i, o in enumerate(outputs)]
    lines += [f"_send(result, {a + AFTER!r}, _args[{i}]) if _args[{i}] is not None else None"
              for i, a in enumerate(args)]
    return "\n".join(line for line in lines if line)


def received(got, name):
    """(the array the kernel sent as ``name``, its dtype kind), or (None, why it cannot be read)."""
    re, im, kind = got.get(name), got.get(name + IM), got.get(name + KIND)
    if not all(isinstance(v, np.ndarray) for v in (re, im, kind)) or re.dtype.kind not in "biuf":
        return None, f"{name} was not sent back as numbers"
    return re.astype(np.float64) + 1j * im.astype(np.float64), str(kind)


def close(value, want, tol, name) -> str | None:
    """None when value (complex128) matches want within tol * (1 + max|want|)."""
    want = np.asarray(want)
    if value.shape != want.shape:
        return f"{name} has shape {value.shape}, expected {want.shape}"
    if value.size == 0:
        return None
    if not np.isfinite(value).all():
        return f"{name} contains NaN or inf"
    err = float(np.abs(value - want).max())
    scale = 1.0 + float(np.abs(want).max())
    if not err <= tol * scale:
        return f"{name} differs from the expected values: max abs error {err:.3g} (allowed {tol * scale:.3g})"
    return None


def unchanged(given, got, args, label):
    for a in args:
        if isinstance(given.get(a), np.ndarray):
            value, kind = received(got, a + AFTER)
            if value is None or close(value, given[a], 0.0, a):
                return f"{label} changed its input {a} (it should leave it as it is)"
    return None


def call(function, args, outputs, reference, *, inputs, tol, real=(), integer=(), also=None,
         before="", label=None, **kw) -> Check:
    """``function(*args)``; its outputs against ``reference(**inputs)`` (a tuple when several; None
    for an output that ``also`` judges instead).
    ``real``: outputs that must have a real dtype; ``integer``: an integer dtype (compared exactly).
    ``also(inputs, {output: value}) -> reason | None``: a further verdict."""
    label = label or function

    def judge(given, got):
        if not isinstance(got, dict):
            return "the grader's call sent back something else than it asked for"
        want = reference(**given)
        want = want if len(outputs) > 1 else (want,)
        values = {}
        for name, expected in zip(outputs, want):
            value, kind = received(got, name)
            if value is None:
                return kind
            if name in real and kind == "c":
                return f"{name} should be real, got a complex array: take the real part"
            if name in integer and kind not in "iu":
                return f"{name} should be an integer array, got dtype kind {kind!r}"
            why = None if expected is None else close(value, expected, 0.0 if name in integer else tol, name)
            if why:
                return why
            values[name] = value
        return (also(given, values) if also else None) or unchanged(given, got, args, label)

    kw.setdefault("what", label)
    return Check(run=run_code(function, args, outputs, before), inputs=inputs, judge=judge, **kw)


def refuses(code, inputs, what, **kw) -> Check:
    """The call ``code`` must raise ValueError."""
    run = f"try:\n    {code}\nexcept ValueError:\n    result = 'ValueError'\nelse:\n    result = 'returned'"

    def judge(given, got):
        ok = isinstance(got, np.ndarray) and got.dtype.kind in "US" and str(got) == "ValueError"
        return None if ok else "should raise ValueError"

    return Check(run=run, inputs=inputs, judge=judge, what=what, **kw)


def fixed(**values):
    return lambda rng: dict(values)


def case(function, k, n):
    return f"{function}, hidden case {k + 1} of {n}"


# The notebook's helpers (its set-up cell), for the visible tests' inputs
def random_lam(rng, H, r_min=0.5, r_max=0.99):
    return rng.uniform(r_min, r_max, H) * np.exp(1j * rng.uniform(-np.pi, np.pi, H))


def random_complex(rng, *shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)


def on_circle(rng, H, n_unit):
    """H eigenvalues, the first n_unit of modulus exactly 1 (|exp(i theta)|), the others inside."""
    lam = random_lam(rng, H)
    lam[:n_unit] = np.exp(1j * rng.uniform(-np.pi, np.pi, n_unit))
    return lam


# ---- the grader's references: loops over t ---------------------------------------------------------

def compose_ref(a1, b1, a2, b2, **_):
    """(a2 a1, a2 b1 + b2), broadcast as NumPy does: a has the shape of a1 and a2 broadcast."""
    return a2 * a1, a2 * b1 + b2


def prefix_ref(a, b, **_):
    """Inclusive prefixes by the loop: A_t = a_t A_{t-1}, B_t = a_t B_{t-1} + b_t, from (1, 0)."""
    dtype = np.result_type(a, b, np.float64)
    A, B = np.empty(a.shape, dtype), np.empty(a.shape, dtype)
    A_t, B_t = np.ones(a[:, 0].shape, dtype), np.zeros(a[:, 0].shape, dtype)
    for t in range(a.shape[1]):
        A_t, B_t = a[:, t] * A_t, a[:, t] * B_t + b[:, t]
        A[:, t], B[:, t] = A_t, B_t
    return A, B


def layer_ref(lam, x, Wx, Wy, W_skip=None, h0=None, **_):
    """y_t = Re(h_t Wy) + x_t W_skip, h_t = lam * h_{t-1} + x_t Wx, by the loop, in complex128."""
    N, T, _ = x.shape
    h = np.zeros((N, len(lam)), complex) if h0 is None else h0.astype(complex)
    ys = []
    for t in range(T):
        h = lam * h + x[:, t] @ Wx
        ys.append((h @ Wy).real + (0 if W_skip is None else x[:, t] @ W_skip))
    return np.stack(ys, axis=1).reshape(N, T, Wy.shape[1])


def kernel_ref(lam, Wx, Wy, T, **_):
    return np.stack([(Wx @ np.diag(lam ** k) @ Wy).real for k in range(T)])


def conv_ref(K, x, **_):
    """y_t = sum_{k <= t} x_{t-k} K[k], by the double loop."""
    N, T, _ = x.shape
    y = np.zeros((N, T, K.shape[2]))
    for t in range(T):
        for k in range(t + 1):
            y[:, t] += x[:, t - k] @ K[k]
    return y


def horizon_ref(lam, eps, **_):
    return np.ceil(np.log(eps) / np.log(np.abs(lam))).astype(np.int64)


# ---- 1. combine -----------------------------------------------------------------------------------

def combine_visible(rng):
    (a1, b1), (a2, b2), (a3, b3) = [(random_complex(rng, 4), random_complex(rng, 4)) for _ in range(3)]
    return dict(a1=a1, b1=b1, a2=a2, b2=b2, a3=a3, b3=b3)


def three_ref(a1, b1, a2, b2, a3, b3):
    a, b = compose_ref(a1, b1, a2, b2)
    a, b = compose_ref(a, b, a3, b3)
    return a, b, a, b


ASSOCIATIVE = ("_l = combine(*combine(a1.copy(), b1.copy(), a2.copy(), b2.copy()), a3.copy(), b3.copy())\n"
               "_r = combine(a1.copy(), b1.copy(), *combine(a2.copy(), b2.copy(), a3.copy(), b3.copy()))\n"
               "_three = lambda *_: (_l[0], _l[1], _r[0], _r[1])")


def combine_hidden(shapes, complex_):
    def make(rng):
        draw = (lambda s: random_complex(rng, *s)) if complex_ else (lambda s: rng.standard_normal(s))
        return dict(zip(["a1", "b1", "a2", "b2"], [draw(s) for s in shapes]))
    return make


COMBINE_HIDDEN = [(11, [(5,)] * 4, True), (12, [(2, 3, 4)] * 4, True), (13, [(3, 4)] * 4, False),
                  (14, [(1, 4), (3, 4), (1, 4), (3, 4)], True)]  # (seed, shapes, complex)


def combining(inputs, **kw):
    return call("combine", ["a1", "b1", "a2", "b2"], ["a", "b"], compose_ref, inputs=inputs, **kw)


# ---- 2. blelloch_scan -----------------------------------------------------------------------------

def scan_visible(k):
    """The visible test's k-th case (T = 5, then T = 8), drawn in order from default_rng(1)."""
    def make(rng):
        for T in [5, 8][:k + 1]:
            lam = random_lam(rng, 3)
            u, _ = random_complex(rng, 2, T, 3), random_complex(rng, 2, 3)
        return {"a": np.broadcast_to(lam, u.shape).copy(), "b": u}
    return make


def scan_inputs(N, T, H, kind):
    """kind 'lam': a = lam at every step, some |lam| = 1; 'varying': a different a_t each step,
    |a_t| <= 1; 'real': real a in (-1, 1) and real b; 'mixed': real a, complex b."""
    def make(rng):
        if kind == "lam":
            a = np.broadcast_to(on_circle(rng, H, max(1, H // 2)), (N, T, H)).copy()
        elif kind == "varying":
            a = rng.uniform(0, 1, (N, T, H)) * np.exp(1j * rng.uniform(-np.pi, np.pi, (N, T, H)))
        else:
            a = rng.uniform(-1, 1, (N, T, H))
        b = rng.standard_normal((N, T, H)) if kind == "real" else random_complex(rng, N, T, H)
        return {"a": a, "b": b}
    return make


SCAN_HIDDEN = [(21, 3, 1, 4, "lam"), (22, 2, 2, 3, "lam"), (23, 1, 3, 5, "varying"), (24, 2, 5, 2, "real"),
               (25, 3, 8, 4, "lam"), (26, 2, 33, 3, "varying"), (27, 2, 100, 6, "lam"), (28, 1, 100, 3, "mixed"),
               (29, 4, 33, 2, "real")]  # (seed, N, T, H, kind)


def scanning(inputs, **kw):
    return call("blelloch_scan", ["a", "b"], ["A", "B"], prefix_ref, inputs=inputs, **kw)


# ---- 3. linear_rnn_np ------------------------------------------------------------------------------

# The visible test's inputs, written out in the notebook
LAYER = dict(lam=np.array([0.9 * np.exp(0.4j), -0.6 + 0.5j]),
             x=np.array([[[1.0, -0.5], [0.3, 0.8], [-1.2, 0.1], [0.4, 0.6], [0.0, -0.9]]]),
             Wx=np.array([[0.5 + 0.2j, -0.3 + 0.7j], [0.8 - 0.4j, 0.1 + 0.6j]]),
             Wy=np.array([[1.0 - 0.5j, 0.2 + 0.3j], [-0.4 + 0.9j, 0.7 - 0.1j]]),
             W_skip=np.array([[0.3, -0.2], [0.5, 0.1]]),
             h0=np.array([[0.2 - 0.6j, -0.8 + 0.3j]]))


def layer_inputs(N, T, D, H, O, n_unit, with_h0):
    def make(rng):
        given = dict(lam=on_circle(rng, H, n_unit), x=rng.standard_normal((N, T, D)),
                     Wx=random_complex(rng, D, H), Wy=random_complex(rng, H, O), W_skip=rng.standard_normal((D, O)))
        return given | {"h0": random_complex(rng, N, H) if with_h0 else None}
    return make


LAYER_HIDDEN = [(31, (3, 1, 2, 4, 3, 0, True)), (32, (2, 6, 3, 5, 2, 1, False)), (33, (2, 17, 4, 3, 4, 0, True)),
                (34, (1, 40, 2, 6, 1, 3, True)), (35, (4, 9, 1, 1, 2, 0, False))]  # seed, (N, T, D, H, O, n_unit, h0)


def layer(inputs, **kw):
    return call("linear_rnn_np", ["lam", "x", "Wx", "Wy", "W_skip", "h0"], ["y"], layer_ref, inputs=inputs,
                real=["y"], **kw)


# ---- 4. ssm_kernel and ssm_fft_conv ----------------------------------------------------------------

KERNEL = dict(lam=np.array([0.8 + 0.3j, -0.5 + 0.6j, 0.7]), T=3,
              Wx=np.array([[1.0 + 0.5j, -0.3 + 1.0j, 0.4], [0.2 - 0.7j, 0.9 + 0.1j, -0.6j]]),
              Wy=np.array([[0.6 - 0.2j, 0.1], [-0.5 + 0.4j, 0.3 - 0.8j], [0.2j, 1.0 + 0.5j]]))
_k, _t = np.arange(6)[:, None, None], np.arange(6)
CONV = dict(K=np.cos(np.arange(24).reshape(6, 2, 2)) * 0.8 ** _k,
            x=np.stack([np.sin(_t + 0.5), np.cos(2.0 * _t)], axis=1)[None])


def kernel_inputs(D, H, O, T, n_unit):
    def make(rng):
        return dict(lam=on_circle(rng, H, n_unit), Wx=random_complex(rng, D, H), Wy=random_complex(rng, H, O), T=T)
    return make


KERNEL_HIDDEN = [(41, (2, 3, 2, 1, 0)), (42, (3, 5, 2, 12, 2)), (43, (1, 2, 4, 7, 1)), (44, (4, 6, 3, 20, 0))]


def kernel(inputs, **kw):
    return call("ssm_kernel", ["lam", "Wx", "Wy", "T"], ["K"], kernel_ref, inputs=inputs, real=["K"], **kw)


def conv_inputs(N, T, D, O):
    return lambda rng: dict(K=rng.standard_normal((T, D, O)), x=rng.standard_normal((N, T, D)))


CONV_HIDDEN = [(51, (2, 1, 3, 2)), (52, (3, 16, 2, 3)), (53, (1, 33, 4, 1)), (54, (2, 50, 3, 2))]
CHAINED_HIDDEN = [(55, (2, 12, 3, 4, 2, 1)), (56, (1, 40, 2, 3, 3, 0))]  # seed, (N, T, D, H, O, n_unit)
# ssm_fft_conv of the student's ssm_kernel, against the layer without skip term and h0
CHAINED = "_chain = lambda lam, x, Wx, Wy: ssm_fft_conv(ssm_kernel(lam, Wx, Wy, x.shape[1]), x)"


def chained_inputs(N, T, D, H, O, n_unit):
    def make(rng):
        return dict(lam=on_circle(rng, H, n_unit), x=rng.standard_normal((N, T, D)),
                    Wx=random_complex(rng, D, H), Wy=random_complex(rng, H, O))
    return make


def conv(inputs, **kw):
    return call("ssm_fft_conv", ["K", "x"], ["y"], conv_ref, inputs=inputs, real=["y"], **kw)


# ---- 5. memory_horizon, the experiment ----------------------------------------------------------------

def _no_ties(lam, eps):
    """Moduli nudged away from exact integer ratios log(eps)/log|lam|, where rounding decides."""
    r = np.abs(lam)
    ratio = np.log(eps) / np.log(r)
    return np.where(np.abs(ratio - np.round(ratio)) < 1e-6, lam * 0.999, lam)


def horizon_inputs(shape, eps, complex_):
    def make(rng):
        r = rng.uniform(0.05, 0.999, shape)
        lam = r * np.exp(1j * rng.uniform(-np.pi, np.pi, shape)) if complex_ else r * rng.choice([-1, 1], shape)
        return {"lam": _no_ties(lam, eps), "eps": eps}
    return make


HORIZON_HIDDEN = [(71, (5,), 1e-2, True), (72, (2, 3), 0.37, False), (73, (7,), 1e-6, True), (74, (1,), 0.5, True)]
HORIZON_REFUSED = [("|lam| = 1.2", np.array([0.5, 1.2]), 0.1), ("eps = 0", np.array([0.5]), 0.0),
                   ("eps = 1", np.array([0.5]), 1.0), ("lam = exp(1j), |lam| = 1", np.array([0.3, np.exp(1j)]), 0.1),
                   ("lam containing 0", np.array([0.0, 0.5j]), 0.1)]


def horizon(inputs, **kw):
    return call("memory_horizon", ["lam", "eps"], ["k"], horizon_ref, inputs=inputs, integer=["k"], **kw)


LAM_EXP = np.array([0.9, 0.99, 0.999]) * np.exp(1j * np.array([0.3, 1.0, 2.5]))  # the locked cell's
EPS_EXP = 1e-3


def experiment_judge(given, got):
    want = horizon_ref(LAM_EXP, EPS_EXP)
    for name in ["horizons", "measured"]:
        value, kind = received(got, name)
        if value is None:
            return kind
        if kind not in "iu":
            return f"{name} should be an integer array, got dtype kind {kind!r}"
        why = close(value, want, 0.0, name)
        if why:
            return why
    return None


EXPERIMENT_RUN = SEND + "result = {}\n_send(result, 'horizons', horizons)\n_send(result, 'measured', measured)"


# ---- the checks of every autograded cell ----------------------------------------------------------

CHECKS = {
    "test_combine": [
        combining(combine_visible, seed=0, tol=1e-12, hidden=False, what="combine on the visible test's maps"),
        call("_three", ["a1", "b1", "a2", "b2", "a3", "b3"], ["(m1 . m2) . m3 a", "(m1 . m2) . m3 b",
                                                              "m1 . (m2 . m3) a", "m1 . (m2 . m3) b"],
             three_ref, inputs=combine_visible, seed=0, tol=1e-12, before=ASSOCIATIVE, label="combine",
             hidden=False, what="combine grouped both ways on the visible test's three maps")],
    "test_combine_hidden": [
        combining(combine_hidden(shapes, cplx), seed=seed, tol=1e-13, what=case("combine", k, len(COMBINE_HIDDEN)))
        for k, (seed, shapes, cplx) in enumerate(COMBINE_HIDDEN)],

    "test_blelloch_scan": [
        scanning(scan_visible(k), seed=1, tol=1e-12, hidden=False,
                 what=f"blelloch_scan on the visible test's inputs (T = {T})") for k, T in enumerate([5, 8])],
    "test_blelloch_scan_hidden": [
        scanning(scan_inputs(N, T, H, kind), seed=seed, tol=1e-10, what=case("blelloch_scan", k, len(SCAN_HIDDEN)))
        for k, (seed, N, T, H, kind) in enumerate(SCAN_HIDDEN)],

    "test_linear_rnn_np": [
        layer(fixed(**(LAYER | {"h0": h0})), tol=1e-12, hidden=False,
              what=f"linear_rnn_np on the visible test's inputs, h0 {name}")
        for name, h0 in [("None", None), ("given", LAYER["h0"])]],
    "test_linear_rnn_np_hidden": [
        layer(layer_inputs(*sizes), seed=seed, tol=1e-10, what=case("linear_rnn_np", k, len(LAYER_HIDDEN)))
        for k, (seed, sizes) in enumerate(LAYER_HIDDEN)],

    "test_ssm_kernel": [
        kernel(fixed(**KERNEL), tol=1e-12, hidden=False, what="ssm_kernel on the visible test's inputs")],
    "test_ssm_kernel_hidden": [
        kernel(kernel_inputs(*sizes), seed=seed, tol=1e-10, what=case("ssm_kernel", k, len(KERNEL_HIDDEN)))
        for k, (seed, sizes) in enumerate(KERNEL_HIDDEN)],

    "test_ssm_fft_conv": [
        conv(fixed(**CONV), tol=1e-10, hidden=False, what="ssm_fft_conv on the visible test's inputs")],
    "test_ssm_fft_conv_hidden": [
        conv(conv_inputs(*sizes), seed=seed, tol=1e-10, what=case("ssm_fft_conv", k, len(CONV_HIDDEN)))
        for k, (seed, sizes) in enumerate(CONV_HIDDEN)] + [
        call("_chain", ["lam", "x", "Wx", "Wy"], ["y"], layer_ref, inputs=chained_inputs(*sizes), seed=seed,
             tol=1e-10, real=["y"], before=CHAINED, label="ssm_fft_conv(ssm_kernel(...), x)",
             what=f"ssm_fft_conv(ssm_kernel(lam, Wx, Wy, T), x) against the layer, case {k + 1} of 2")
        for k, (seed, sizes) in enumerate(CHAINED_HIDDEN)],

    "test_memory_horizon": [
        horizon(fixed(lam=np.array([0.5, -0.5, 0.5j, 0.1 * np.exp(1j)]), eps=0.2), tol=0.0, hidden=False,
                what="memory_horizon on the visible test's eigenvalues")] + [
        refuses("memory_horizon(lam.copy(), eps)", fixed(lam=lam, eps=eps), hidden=False,
                what=f"memory_horizon({lam.tolist()}, {eps})")
        for lam, eps in [(np.array([0.5, 1.0]), 0.2), (np.array([0.5]), 1.5), (np.array([0.0, 0.5]), 0.2)]],
    "test_memory_horizon_hidden": [
        horizon(horizon_inputs(shape, eps, cplx), seed=seed, tol=0.0, what=case("memory_horizon", k, len(HORIZON_HIDDEN)))
        for k, (seed, shape, eps, cplx) in enumerate(HORIZON_HIDDEN)] + [
        refuses("memory_horizon(lam.copy(), eps)", fixed(lam=lam, eps=eps), what=f"memory_horizon with {name}")
        for name, lam, eps in HORIZON_REFUSED],

    "test_horizon_experiment": [
        Check(run=EXPERIMENT_RUN, judge=experiment_judge, hidden=False,
              what="the experiment's horizons and measured horizons")],
}
