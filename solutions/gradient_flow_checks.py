"""Grading checks of Assignment 2 ("gradient_flow"), judged in the grader's process.

Every autograded test cell of solutions/gradient_flow/gradient_flow.ipynb has its checks here (the
written answer, ``transient_answer``, is graded by hand and has none). One block per graded
function: the input makers and the torch float64 reference are written once, then the checks of the
visible cell (the visible test's inputs, shown) and of the hidden cell (the hidden test that used to
run inside the notebook, ported case by case: the same seeds, sizes, special cases and tolerances).

The student's kernel only calls the student's functions on the grader's inputs and sends back their
outputs (and, as data, copies of the inputs after the call). Everything is judged here:

- outputs are compared with the reference within ``tol`` relative to the size of the expected
  values (``spec.compare``, the rule of ``course_lib.checks.assert_close`` the hidden tests used);
- every array argument must come back exactly as it was given (the hidden tests asked for 0.0);
- where the tests asked for *new* arrays (``not np.may_share_memory``), the kernel writes into the
  returned arrays after the call and sends the inputs again: an output that shares memory with an
  input shows up as an input that changed;
- experiments that chain the student's functions (the fitted growth rate) send back the fitted
  rate; the grader computes log(rho) itself; statistics over many draws (orthogonal_init) are
  computed here from the draws the kernel sends.
"""
import numpy as np
import torch

from course_lib.grading.spec import Check, compare

F64 = torch.float64
POKE = 7.25  # written into returned arrays to find those that share memory with an input


def t64(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def _log(x):
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "biuf":
        return x
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x.astype(np.float64))


# ---- the usual call: Check.of, with exact "unchanged" comparisons and a few options ---------------

def call(function, args, outputs, reference, *, inputs, tol, log=False, is_array=False, fresh=False,
         also=None, label=None, unchanged=True, **kw) -> Check:
    """Check.of ``function(*args)``; its outputs against ``reference(**inputs)``.

    ``tol``: the tolerance of every output. ``log``: compare log(outputs) (norms over many
    orders of magnitude). ``is_array``: each output must be a numpy array (the visible tests'
    isinstance). ``fresh``: outputs must not share memory with an array argument. ``also(inputs,
    got) -> reason | None``: a further verdict on the outputs. With ``unchanged`` (the hidden tests;
    the visible tests that asked for it), array arguments must come back exactly as given. An output
    returned as a list or tuple of numbers is read as an array (the hidden tests read outputs with
    ``course_lib.checks.as_float64``). ``label``: the function's name in messages."""
    label = label or function
    check = Check.of(function, args, outputs, reference, inputs=inputs, unchanged=unchanged, **kw)
    names = [o for o in outputs if o]
    extra = ["import numpy as _np"]
    if is_array:
        extra.append("result.update({_k + ' is a numpy array': isinstance(_v, _np.ndarray) "
                     f"for _k, _v in list(result.items()) if _k in {names!r}}})")
    extra += [f"for _k in {names!r}:",
              "    if isinstance(result[_k], (list, tuple)):",
              "        result[_k] = _np.asarray(result[_k], dtype=_np.float64)"]
    if fresh:
        extra += ["result = {_k: _np.array(_v, copy=True) if isinstance(_v, _np.ndarray) else _v "
                  "for _k, _v in result.items()}",
                  "for _o in _out:",
                  "    if isinstance(_o, _np.ndarray) and _o.flags.writeable and _o.dtype.kind in 'biufc':",
                  f"        _o[...] = {POKE}",
                  "result.update({_n + ' after writing into the result': _np.array(_a, copy=True) "
                  f"for _n, _a in zip({args!r}, _args) if type(_a).__name__ == 'ndarray'}})"]
    check.run += "\n" + "\n".join(extra)

    def judge(given, got):
        if not isinstance(got, dict):
            return "the grader's call sent back something else than it asked for"
        want = reference(**given)
        want = want if isinstance(want, tuple) and len(names) > 1 else (want,)
        for name, expected in zip(names, want):
            if is_array and not bool(got.get(f"{name} is a numpy array", False)):
                return f"{name} should be a numpy array"
            value, shown = got.get(name), name
            if log:
                value, expected, shown = _log(value), _log(np.asarray(expected, dtype=np.float64)), f"log({name})"
            why = compare(value, expected, tol, shown)
            if why:
                return why
        why = also(given, got) if also else None
        if why:
            return why
        arrays = [a for a in args if isinstance(given.get(a), np.ndarray)] if unchanged else []
        for a in arrays:
            if compare(got.get(f"{a} after the call"), given[a], 0.0):
                return f"{label} changed its input {a}"
        for a in arrays if fresh else []:
            if compare(got.get(f"{a} after writing into the result"), given[a], 0.0):
                return f"{' and '.join(names)} shares memory with the input {a}: return a new array"
        return None

    check.judge = judge
    return check


def refuses(code, inputs, what, *, linalg_error_fails=False, **kw) -> Check:
    """The call ``code`` must raise ValueError; with ``linalg_error_fails``, np.linalg's own
    LinAlgError (a ValueError) does not count."""
    linalg = ("except _np.linalg.LinAlgError:\n    result = 'LinAlgError'\n" if linalg_error_fails else "")
    run = (f"import numpy as _np\ntry:\n    {code}\n{linalg}except ValueError:\n    result = 'ValueError'\n"
           "else:\n    result = 'returned'")

    def judge(given, got):
        outcome = str(got) if isinstance(got, np.ndarray) and got.dtype.kind in "US" else "?"
        if outcome == "ValueError":
            return None
        if outcome == "LinAlgError":
            return "raise your own ValueError before np.linalg fails"
        return "should raise ValueError"

    return Check(run=run, inputs=inputs, judge=judge, what=what, **kw)


def fixed(**values):
    """An input maker for fixed inputs (the visible tests')."""
    return lambda rng: dict(values)


# ---- 1. rnn_step_jacobian -------------------------------------------------------------------------

def step_inputs(H, gain=None):
    """u, h_prev and Wh from the generator (Wh * gain / sqrt(H) if gain), h_next = tanh(u + h_prev Wh).
    The visible test steps with NumPy, the hidden one with torch: kept as they were."""
    def make(rng):
        u, h_prev = rng.standard_normal(H), rng.standard_normal(H)
        Wh = rng.standard_normal((H, H))
        if gain is None:
            return {"h_next": np.tanh(u + h_prev @ Wh), "Wh": Wh, "u": u, "h_prev": h_prev}
        Wh = Wh * gain / np.sqrt(H)
        h_next = torch.tanh(t64(u) + t64(h_prev) @ t64(Wh)).numpy()
        return {"h_next": h_next, "Wh": Wh, "u": u, "h_prev": h_prev}
    return make


def step_jacobian_ref(u, h_prev, Wh, **_):
    """torch.func.jacrev of the step h_prev -> tanh(u + h_prev Wh)."""
    return torch.func.jacrev(lambda h: torch.tanh(t64(u) + h @ t64(Wh)))(t64(h_prev)).numpy()


def jacobian(inputs, **kw):
    return call("rnn_step_jacobian", ["h_next", "Wh"], ["J"], step_jacobian_ref, inputs=inputs, **kw)


JACOBIAN_HIDDEN = [(1, 1), (2, 2), (3, 6), (4, 9)]  # (seed, H), Wh gain 1.5


# ---- 2. jacobian_product_norms --------------------------------------------------------------------

def product_norms_ref(hs, Wh, **_):
    """||J_t ... J_1||_2 for t = 1..T with J_s = diag(1 - h_s^2) Wh^T (the product, in torch)."""
    P, WhT, norms = torch.eye(Wh.shape[0], dtype=F64), t64(Wh).T, []
    for h in t64(hs):
        P = ((1 - h ** 2)[:, None] * WhT) @ P
        norms.append(torch.linalg.matrix_norm(P, ord=2))
    return torch.stack(norms).numpy()


def _h_t(h0, t, us, Wh):
    h = h0
    for s in range(t):
        h = torch.tanh(us[s] + h @ Wh)
    return h


def sequence_inputs(T, H, gain):
    """A real sequence: Wh * gain / sqrt(H), inputs us, h0; hs = h_1..h_T (torch float64)."""
    def make(rng):
        Wh = rng.standard_normal((H, H)) * gain / np.sqrt(H)
        us, h0 = rng.standard_normal((T, H)), rng.standard_normal(H)
        hs = torch.stack([_h_t(t64(h0), t, t64(us), t64(Wh)) for t in range(1, T + 1)]).numpy()
        return {"hs": hs, "Wh": Wh, "us": us, "h0": h0}
    return make


def sequence_jacobian_norms_ref(hs, Wh, us, h0, **_):
    """||d h_t / d h_0||_2 by torch.func.jacrev of the whole t-step map, t = 1..T."""
    args = (t64(us), t64(Wh))
    return torch.stack([torch.linalg.matrix_norm(torch.func.jacrev(_h_t)(t64(h0), t, *args), ord=2)
                        for t in range(1, len(hs) + 1)]).numpy()


def product_norms(inputs, reference, **kw):
    return call("jacobian_product_norms", ["hs", "Wh"], ["norms"], reference, inputs=inputs, **kw)


def _visible_products(rng):
    hs = np.tanh(rng.standard_normal((6, 4)))
    return {"hs": hs, "Wh": rng.standard_normal((4, 4))}


PRODUCTS_HIDDEN = [(5, (1, 1, 0.9)), (6, (4, 3, 0.5)), (7, (12, 6, 2.5)), (8, (20, 4, 1.0))]  # seed, (T, H, gain)


# ---- 3. scale_to_spectral_radius and orthogonal_init ----------------------------------------------

def scaled_ref(W, rho, **_):
    W = t64(W)
    return (W * (rho / torch.linalg.eigvals(W).abs().max())).numpy()


def radius_is_rho(given, got):
    radius = torch.linalg.eigvals(t64(got["W_scaled"])).abs().max()
    return compare(radius.numpy(), np.float64(given["rho"]), 1e-9, "spectral radius of W_scaled")


def scaling(inputs, **kw):
    return call("scale_to_spectral_radius", ["W", "rho"], ["W_scaled"], scaled_ref, inputs=inputs, **kw)


def random_square(H, rho, size):
    return lambda rng: {"W": rng.standard_normal((H, H)) * size, "rho": rho}


SCALE_HIDDEN = [(21, 1, 0.5, 1.0), (22, 3, 1.0, 1.0), (23, 6, 1.7, 1.0), (24, 10, 0.95, 1.0), (25, 4, 0.9, 1e-6)]
BAD_NAMES = ["the zero matrix", "a strictly upper triangular matrix", "a strictly lower triangular matrix",
             "a (3, 4) matrix", "a vector", "a (2, 2, 2) array"]


def bad_matrix(k):
    """The k-th matrix that scale_to_spectral_radius must refuse, all drawn in order from one generator."""
    def make(rng):
        bad = [np.zeros((3, 3)), np.triu(rng.standard_normal((4, 4)), 1), np.tril(rng.standard_normal((5, 5)), -1),
               rng.standard_normal((3, 4)), rng.standard_normal(3), rng.standard_normal((2, 2, 2))]
        return {"W": bad[k], "rho": 0.9}
    return make


def _matrix(value, name, shape):
    """(value as float64, None), or (None, why it is not a numeric array of that shape)."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        return None, f"{name} should be a numeric array"
    if value.shape != shape:
        return None, f"{name} has shape {value.shape}, expected {shape}"
    if not np.isfinite(value).all():
        return None, f"{name} contains NaN or inf"
    return value.astype(np.float64), None


# nested lists are read as arrays, as the hidden test's as_float64 did
ORTHOGONAL_RUN = """import numpy as _np
_read = lambda v: _np.asarray(v, dtype=_np.float64) if isinstance(v, (list, tuple)) else v
W = orthogonal_init(_np.random.default_rng(seed), H)
result = {'W': _read(W), 'W is a numpy array': isinstance(W, _np.ndarray),
          'W again': _read(orthogonal_init(_np.random.default_rng(seed), H))}
if fresh_seed is not None:
    _rng = _np.random.default_rng(fresh_seed)
    result['first draw'] = _read(orthogonal_init(_rng, H))
    result['second draw'] = _read(orthogonal_init(_rng, H))"""


def orthogonal_judge(visible):
    def judge(given, got):
        H = given["H"]
        if visible and not bool(got["W is a numpy array"]):
            return "W should be a numpy array"
        W, why = _matrix(got["W"], "W", (H, H))
        if why:
            return why
        if visible:  # max |W^T W - I| and max |W W^T - I| below 1e-12
            err = max(np.abs(W.T @ W - np.eye(H)).max(), np.abs(W @ W.T - np.eye(H)).max())
            if not err < 1e-12:
                return f"W is not orthogonal: max |W^T W - I| is {err:.2e} (should be below 1e-12)"
        else:
            why = compare(W.T @ W, np.eye(H), 1e-12, "W^T W") or compare(W @ W.T, np.eye(H), 1e-12, "W W^T")
            if why:
                return why
        if compare(got["W again"], got["W"], 0.0):
            return "two generators with the same seed gave different matrices: draw only from rng"
        if visible and np.array_equal(np.asarray(got["first draw"]), np.asarray(got["second draw"])):
            return "two draws from one generator are equal: draw a new Gaussian matrix each call"
        return None
    return judge


def orthogonal(H, seed, fresh_seed=None, visible=False, **kw):
    return Check(run=ORTHOGONAL_RUN, inputs=fixed(H=H, seed=seed, fresh_seed=fresh_seed),
                 judge=orthogonal_judge(visible), **kw)


HAAR_RUN = """import numpy as _np
_rng = _np.random.default_rng(seed)
result = _np.stack([_np.asarray(orthogonal_init(_rng, H), dtype=_np.float64) for _ in range(n)])"""


def haar_judge(given, got):
    """Uniform (Haar) orthogonal matrices: every entry has mean 0 and variance 1/H, and det = +1 or -1
    with probability 1/2 each. Over n draws each mean is within a few 1/sqrt(n H) (or 1/sqrt(n)) of
    0. Without the sign correction, NumPy's Q has Q[0, 0] < 0 and the same det every time (z ~ 30)."""
    n, H = given["n"], given["H"]
    Qs, why = _matrix(got, f"the {n} draws", (n, H, H))
    if why:
        return why
    z_entries = float(np.abs(Qs.mean(axis=0)).max()) * np.sqrt(n * H)
    z_det = abs(float(np.linalg.det(Qs).mean())) * np.sqrt(n)
    if not (z_entries < 6 and z_det < 6):
        return (f"for H = {H}, {n} draws are not uniform over the orthogonal group (z-scores {z_entries:.1f} "
                f"for the mean entries, {z_det:.1f} for the mean det, expected below 6): correct the signs "
                f"of Q's columns")
    return None


# ---- 4. clip_grad_norm and clip_grad_elementwise --------------------------------------------------

def _params(grads):
    params = [torch.zeros(g.shape, dtype=F64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    return params


def clip_norm_ref(grads, max_norm):
    """torch.nn.utils.clip_grad_norm_ in float64: (clipped arrays, total norm)."""
    params = _params(grads)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad.numpy() for p in params], float(total)


def clip_value_ref(grads, clip_value):
    """torch.nn.utils.clip_grad_value_ in float64: the clipped arrays."""
    params = _params(grads)
    torch.nn.utils.clip_grad_value_(params, clip_value)
    return [p.grad.numpy() for p in params]


def grad_list(given):
    return [given[f"grad{k}"] for k in range(sum(name.startswith("grad") for name in given))]


def grads_run(function, n, param, total):
    """Kernel code: function(list of copies of grad0..grad{n-1}, param); the clipped arrays, the total
    norm, the inputs after the call, and the inputs again after writing into the returned arrays."""
    names = ", ".join(f"grad{k}" for k in range(n))
    lines = ["import numpy as _np", f"_grads = [_g.copy() for _g in ({names},)]",
             f"_out = {function}(_grads, {param})"]
    if total:
        lines += ["if not isinstance(_out, (tuple, list)) or len(_out) != 2:",
                  f"    raise ValueError('{function} should return 2 values (clipped, total_norm)')",
                  "clipped, total_norm = _out"]
    else:
        lines.append("clipped = _out")
    lines += ["if not isinstance(clipped, (tuple, list)):",
              f"    raise TypeError('{function} should return a list of arrays, got ' + type(clipped).__name__)",
              "result = {'clipped': [_np.array(_c, copy=True) for _c in clipped],",
              "          'grads after the call': [_np.array(_g, copy=True) for _g in _grads]}",
              "for _c in clipped:",
              "    if isinstance(_c, _np.ndarray) and _c.flags.writeable and _c.dtype.kind in 'biufc':",
              f"        _c[...] = {POKE}",
              "result['grads after writing into clipped'] = [_np.array(_g, copy=True) for _g in _grads]"]
    if total:
        lines.append("result['total_norm'] = total_norm")
    return "\n".join(lines)


def clipping(function, param, reference, inputs, *, tol, total_tol=None, n, **kw) -> Check:
    """A check of clip_grad_norm (total_tol: compare total_norm too) or clip_grad_elementwise."""
    total = function == "clip_grad_norm"

    def judge(given, got):
        grads = grad_list(given)
        want = reference(grads, given[param])
        want_clipped = want[0] if total else want
        clipped = got["clipped"]
        if not isinstance(clipped, tuple) or len(clipped) != len(grads):
            return f"{function} returned {len(clipped) if isinstance(clipped, tuple) else 'no list of'} " \
                   f"arrays for {len(grads)} gradients"
        if total_tol is not None:
            why = compare(got["total_norm"], want[1], total_tol, "total_norm")
            if why:
                return why
        for k, grad in enumerate(grads):
            why = compare(clipped[k], want_clipped[k], tol, f"clipped[{k}]")
            if why:
                return why
            after, poked = got["grads after the call"], got["grads after writing into clipped"]
            if len(after) != len(grads) or compare(after[k], grad, 0.0):
                return f"{function} changed its input grads[{k}]"
            if len(poked) != len(grads) or compare(poked[k], grad, 0.0):
                return f"clipped[{k}] shares memory with grads[{k}]: {function} should return new arrays"
        return None

    return Check(run=grads_run(function, n, param, total), inputs=inputs, judge=judge, **kw)


def random_grads(shapes, scale, param, value):
    """grad0, grad1, ... drawn in order, times scale; value 'zero': all-zero grads and 1.0,
    value 'equal': the total norm of the grads (as torch computes it)."""
    def make(rng):
        grads = [rng.standard_normal(s) * scale for s in shapes]
        v = value
        if value == "zero":
            grads, v = [np.zeros(s) for s in shapes], 1.0
        if value == "equal":
            v = clip_norm_ref(grads, 1.0)[1]
        return {**{f"grad{k}": g for k, g in enumerate(grads)}, param: v}
    return make


VISIBLE_GRADS = [np.linspace(-1.0, 2.0, num=6).reshape(2, 3), np.linspace(0.5, -1.5, num=4)]
NORM_HIDDEN = [(31, [(3, 4), (5,)], 0.1), (32, [(2, 3, 2)], 100.0), (33, [(1,), (4, 4), (6,)], 2.0),
               (34, [(7,), (2, 2)], "equal"), (35, [(3,), (2, 5)], "zero")]
VALUE_HIDDEN = [(36, [(3, 4), (5,)], 0.3), (37, [(2, 3, 2)], 5.0), (38, [(1,), (4, 4), (6,)], 1.0)]


def visible_grads(param, value):
    return fixed(**{f"grad{k}": g for k, g in enumerate(VISIBLE_GRADS)}, **{param: value})


# ---- 5. fit_growth_rate, linear_rnn_jacobian_norms, the experiment ---------------------------------

def slope_ref(norms, tail=None, **_):
    """Least-squares slope of log(norms[t - 1]) against t over the last tail (default T // 2) steps,
    by torch.linalg.lstsq."""
    T = len(norms)
    tail = T // 2 if tail is None else tail
    t = torch.arange(T - tail + 1, T + 1, dtype=F64)
    A = torch.stack([t, torch.ones(tail, dtype=F64)], dim=1)
    return torch.linalg.lstsq(A, torch.log(t64(norms[T - tail:]))[:, None]).solution[0, 0].numpy()


# fit_growth_rate(norms) when tail is None (the default), else fit_growth_rate(norms, tail=tail)
FIT = ("_fit = (lambda norms: fit_growth_rate(norms)) if tail is None else "
       "(lambda norms: fit_growth_rate(norms, tail=tail))")


def fit(inputs, reference=slope_ref, **kw):
    return call("_fit", ["norms"], ["rate"], reference, inputs=inputs, before=FIT, label="fit_growth_rate", **kw)


def noisy_exponential(T, tail):
    def make(rng):
        t = np.arange(1, T + 1)
        return {"norms": np.exp(rng.standard_normal() + rng.standard_normal() * t + 0.1 * rng.standard_normal(T)),
                "tail": tail}
    return make


def broken_line(T):
    """A break between t = 6 and t = 7: the default tail of T = 12 (t = 7..12) and of T = 11
    (t = 7..11) lies on the second line, slope 0.2 exactly."""
    t = np.arange(1, T + 1)
    return fixed(norms=np.exp(np.where(t <= 6, -0.3 * t, 1.0 + 0.2 * t)), tail=None)


VISIBLE_T = np.arange(1, 11)
VISIBLE_NORMS = np.exp(0.5 - 0.2 * VISIBLE_T + 0.05 * np.sin(VISIBLE_T))
# The visible test's two calls, one after the other on the same array, as in the visible test
FIT_VISIBLE_RUN = """_norms = norms.copy()
result = {'rate with the default tail': fit_growth_rate(_norms)}
result['rate with tail = 10'] = fit_growth_rate(_norms, tail=10)"""
FIT_HIDDEN = [(41, 10, None), (42, 9, None), (43, 31, 7), (44, 2, 2), (45, 50, None), (46, 12, 12)]
FIT_REFUSED = [(3, None), (8, 1), (8, 9)]  # (T, tail) with norms = ones(T)


def power_norms_ref(Wh, T_max, **_):
    """||(Wh^T)^t||_2 for t = 1..T_max (torch.linalg.matrix_power and matrix_norm)."""
    WhT = t64(Wh).T
    return torch.stack([torch.linalg.matrix_norm(torch.linalg.matrix_power(WhT, t), ord=2)
                        for t in range(1, T_max + 1)]).numpy()


def power_norms(inputs, **kw):
    return call("linear_rnn_jacobian_norms", ["Wh", "T_max"], ["norms"], power_norms_ref, inputs=inputs, **kw)


def gained_square(H, gain, T_max):
    return lambda rng: {"Wh": rng.standard_normal((H, H)) * gain / np.sqrt(H), "T_max": T_max}


POWER_HIDDEN = [(71, 1, 0.7, 1), (72, 3, 1.3, 20), (73, 6, 0.6, 60), (74, 4, 1.0, 35)]


def log_rho(Wh, **_):
    """log of the spectral radius, from torch.linalg.eigvals."""
    return np.float64(torch.log(torch.linalg.eigvals(t64(Wh)).abs().max()).item())


def experiment(inputs, **kw) -> Check:
    """The student's fit_growth_rate of the student's linear_rnn_jacobian_norms(Wh, 60): close to log rho."""
    return Check(run="result = {'fitted rate': fit_growth_rate(linear_rnn_jacobian_norms(Wh.copy(), T_max))}",
                 inputs=inputs, reference=lambda **given: {"fitted rate": log_rho(**given)}, tol=1e-3, **kw)


def with_spectrum(H, rho, sign):
    """W = V diag(lambdas) V^-1 with a random (not orthogonal) V: lambda_1 = sign * rho and the
    others uniform in rho * [-0.5, 0.5], so |lambda_2| <= |lambda_1| / 2."""
    def make(rng):
        lams = [sign * rho] + list(rng.uniform(-0.5, 0.5, H - 1) * rho)
        V = torch.tensor(rng.standard_normal((H, H)))
        return {"Wh": (V @ torch.diag(t64(lams)) @ torch.linalg.inv(V)).numpy(), "T_max": 60}
    return make


def normal_complex_pair(rng):
    """A normal matrix whose largest eigenvalues are the complex pair 1.1 exp(+-0.7i)."""
    Q = torch.linalg.qr(torch.tensor(rng.standard_normal((4, 4))))[0]
    block = torch.zeros(4, 4, dtype=F64)
    block[:2, :2] = 1.1 * torch.tensor([[np.cos(0.7), -np.sin(0.7)], [np.sin(0.7), np.cos(0.7)]], dtype=F64)
    block[2, 2], block[3, 3] = 0.4, -0.5
    return {"Wh": (Q @ block @ Q.T).numpy(), "T_max": 60}


SPECTRUM_HIDDEN = [(81, 2, 0.5, 1), (82, 5, 0.95, -1), (83, 10, 1.0, 1), (84, 6, 1.3, -1), (85, 8, 0.8, 1)]


# ---- 6. classify_regime ---------------------------------------------------------------------------

REGIME_RUN = """import numpy as _np
_W = W.copy()
regime = classify_regime(_W) if tol is None else classify_regime(_W, tol=tol)
result = {'regime': regime if isinstance(regime, str) else repr(regime)[:200],
          'is a str': isinstance(regime, str), 'is exactly a str': type(regime) is str,
          'W after the call': _W}"""


def regime_judge(expected, exact_type):
    def judge(given, got):
        regime = str(got["regime"])
        is_str = bool(got["is exactly a str" if exact_type else "is a str"])
        if not (is_str and regime == expected):
            shown = repr(regime) if bool(got["is a str"]) else regime
            tol = "" if given["tol"] is None else f" with tol = {given['tol']}"
            return f"expected {expected!r}{tol}, got {shown}{'' if is_str else ' (not a str)'}"
        if exact_type and compare(got["W after the call"], given["W"], 0.0):
            return "classify_regime changed its input W"
        return None
    return judge


def regime(inputs, expected, exact_type=True, **kw) -> Check:
    return Check(run=REGIME_RUN, inputs=inputs, judge=regime_judge(expected, exact_type), **kw)


_c, _s = np.cos(0.3), np.sin(0.3)
REGIME_VISIBLE = [(0.5 * np.eye(3), "vanishing"),
                  (np.asarray([[_c, -_s], [_s, _c]]), "neutral"),             # a rotation: |eigenvalues| = 1
                  (np.diag([1.2, 0.1]), "exploding"),
                  (np.asarray([[0.5, 10.0], [0.0, 0.5]]), "vanishing")]      # ||W||_2 > 10, but rho = 0.5


def regime_case(k):
    """The k-th hidden case (W, tol or None, expected), drawn in order from the generator."""
    def make(rng):
        Q = torch.linalg.qr(torch.tensor(rng.standard_normal((6, 6))))[0].numpy()    # orthogonal
        rot = np.asarray([[np.cos(2.0), -np.sin(2.0)], [np.sin(2.0), np.cos(2.0)]])
        cases = [(Q, None), (np.roll(np.eye(5), 1, axis=0), None),
                 (1.001 * Q, None), (1.001 * Q, 1e-2), (0.999 * Q, None), (0.999 * Q, 1e-2),
                 (1.05 * rot, None),                      # complex pair with a negative real part
                 (np.diag([-1.5, 0.2]), None), (np.asarray([[-1.0]]), None),
                 (np.asarray([[0.5, 100.0], [0.0, 0.5]]), None),
                 (np.triu(rng.standard_normal((4, 4)), 1), None),
                 (np.diag([0.9, 1.0 + 5e-7]), None), (np.diag([0.9, 1.0 + 5e-7]), 1e-7)]
        W, tol = cases[k]
        return {"W": W, "tol": tol}
    return make


REGIME_EXPECTED = ["neutral", "neutral", "exploding", "neutral", "vanishing", "neutral", "exploding",
                   "exploding", "neutral", "vanishing", "vanishing", "neutral", "exploding"]


def case(function, k, n):
    return f"{function}, hidden case {k + 1} of {n}"


# ---- the checks of every autograded cell ----------------------------------------------------------

CHECKS = {
    "test_rnn_step_jacobian": [
        jacobian(step_inputs(5), seed=0, tol=1e-7, is_array=True, hidden=False, unchanged=False,
                 what="rnn_step_jacobian on the visible test's inputs (H = 5)")],
    "test_rnn_step_jacobian_hidden": [
        jacobian(step_inputs(H, gain=1.5), seed=seed, tol=1e-10, what=case("rnn_step_jacobian", k, 4))
        for k, (seed, H) in enumerate(JACOBIAN_HIDDEN)],

    "test_jacobian_product_norms": [
        product_norms(_visible_products, product_norms_ref, seed=7, tol=1e-8, is_array=True, hidden=False,
                      unchanged=False, what="jacobian_product_norms on the visible test's inputs (T = 6, H = 4)")],
    "test_jacobian_product_norms_hidden": [
        product_norms(sequence_inputs(T, H, gain), sequence_jacobian_norms_ref, seed=seed, tol=1e-9, log=True,
                      what=case("jacobian_product_norms", k, 4))
        for k, (seed, (T, H, gain)) in enumerate(PRODUCTS_HIDDEN)],

    "test_scale_to_spectral_radius": [
        scaling(fixed(W=np.asarray([[0.5, -1.0, 0.2], [0.3, 0.8, -0.4], [1.1, 0.0, 0.6]]), rho=0.9),
                tol=1e-8, is_array=True, hidden=False, what="scale_to_spectral_radius on the visible test's W"),
        refuses("scale_to_spectral_radius(W, rho)", fixed(W=np.ones((2, 3)), rho=0.9), hidden=False,
                what="scale_to_spectral_radius(np.ones((2, 3)), 0.9)")],
    "test_scale_to_spectral_radius_hidden": [
        scaling(random_square(H, rho, size), seed=seed, tol=1e-10, also=radius_is_rho, fresh=True,
                what=case("scale_to_spectral_radius", k, 5))
        for k, (seed, H, rho, size) in enumerate(SCALE_HIDDEN)] + [
        refuses("scale_to_spectral_radius(W.copy(), rho)", bad_matrix(k), seed=26, linalg_error_fails=True,
                what=f"scale_to_spectral_radius on {name}")
        for k, name in enumerate(BAD_NAMES)],

    "test_orthogonal_init": [
        orthogonal(6, 0, fresh_seed=1, visible=True, hidden=False,
                   what="orthogonal_init(np.random.default_rng(0), 6), and two draws from default_rng(1)")],
    "test_orthogonal_init_hidden": [
        orthogonal(H, 50 + H, what=f"orthogonal_init for H = {H}") for H in [1, 2, 7, 32]] + [
        Check(run=HAAR_RUN, inputs=fixed(H=H, seed=60 + H, n=1000), judge=haar_judge,
              what=f"1000 draws of orthogonal_init for H = {H}") for H in [1, 2, 5]],

    "test_clip_grad_norm": [
        clipping("clip_grad_norm", "max_norm", clip_norm_ref, visible_grads("max_norm", 1.0), n=2, tol=1e-10,
                 total_tol=1e-10, hidden=False, what="clip_grad_norm on the visible test's grads, max_norm = 1"),
        clipping("clip_grad_norm", "max_norm", clip_norm_ref, visible_grads("max_norm", 100.0), n=2, tol=0.0,
                 hidden=False, what="clip_grad_norm on the visible test's grads, max_norm = 100 (nothing clipped)")],
    "test_clip_grad_norm_hidden": [
        clipping("clip_grad_norm", "max_norm", clip_norm_ref, random_grads(shapes, 3, "max_norm", max_norm),
                 n=len(shapes), seed=seed, tol=1e-12, total_tol=1e-12, what=case("clip_grad_norm", k, 5))
        for k, (seed, shapes, max_norm) in enumerate(NORM_HIDDEN)],

    "test_clip_grad_elementwise": [
        clipping("clip_grad_elementwise", "clip_value", clip_value_ref, visible_grads("clip_value", 0.75), n=2,
                 tol=1e-12, hidden=False, what="clip_grad_elementwise on the visible test's grads, clip_value = 0.75")],
    "test_clip_grad_elementwise_hidden": [
        clipping("clip_grad_elementwise", "clip_value", clip_value_ref, random_grads(shapes, 2, "clip_value", value),
                 n=len(shapes), seed=seed, tol=1e-12, what=case("clip_grad_elementwise", k, 3))
        for k, (seed, shapes, value) in enumerate(VALUE_HIDDEN)],

    "test_fit_growth_rate": [
        Check(run=FIT_VISIBLE_RUN, inputs=fixed(norms=VISIBLE_NORMS), hidden=False, tol=1e-10,
              reference=lambda norms: {"rate with the default tail": slope_ref(norms),
                                       "rate with tail = 10": slope_ref(norms, 10)},
              what="fit_growth_rate on the visible test's norms, with the default tail and with tail = 10")],
    "test_fit_growth_rate_hidden": [
        fit(noisy_exponential(T, tail), seed=seed, tol=1e-10, what=case("fit_growth_rate", k, 6))
        for k, (seed, T, tail) in enumerate(FIT_HIDDEN)] + [
        fit(broken_line(T), reference=lambda **_: np.float64(0.2), tol=1e-10,
            what=f"fit_growth_rate with the default tail, a break in the line (T = {T})") for T in [12, 11]] + [
        refuses("fit_growth_rate(norms, tail=tail)", fixed(norms=np.ones(T), tail=tail),
                what=f"fit_growth_rate for T = {T} and tail = {tail}")
        for T, tail in FIT_REFUSED],

    "test_linear_rnn_jacobian_norms": [
        power_norms(fixed(Wh=np.asarray([[0.9, 0.5], [-0.2, 0.6]]), T_max=6), tol=1e-8, is_array=True,
                    hidden=False, unchanged=False,
                    what="linear_rnn_jacobian_norms on the visible test's Wh, T_max = 6")],
    "test_linear_rnn_jacobian_norms_hidden": [
        power_norms(gained_square(H, gain, T_max), seed=seed, tol=1e-9, log=True,
                    what=case("linear_rnn_jacobian_norms", k, 4))
        for k, (seed, H, gain, T_max) in enumerate(POWER_HIDDEN)],

    "test_growth_rate_experiment": [
        experiment(fixed(Wh=np.asarray([[0.9, 0.8, -0.5], [0.0, 0.45, 0.7], [0.0, 0.0, -0.3]]), T_max=60),
                   hidden=False, what="the fitted rate of the visible test's first matrix (rho = 0.9)"),
        experiment(fixed(Wh=np.asarray([[0.2, 0.0, 0.0], [1.5, -1.25, 0.0], [0.3, -0.4, 0.6]]), T_max=60),
                   hidden=False, what="the fitted rate of the visible test's second matrix (rho = 1.25)")],
    "test_growth_rate_experiment_hidden": [
        experiment(with_spectrum(H, rho, sign), seed=seed, what=f"the fitted rate for hidden matrix {k}")
        for k, (seed, H, rho, sign) in enumerate(SPECTRUM_HIDDEN)] + [
        experiment(normal_complex_pair, seed=86, what=f"the fitted rate for hidden matrix {len(SPECTRUM_HIDDEN)}")],

    "test_classify_regime": [
        regime(fixed(W=W, tol=None), expected, exact_type=False, hidden=False,
               what=f"classify_regime on the visible test's matrix {k + 1}")
        for k, (W, expected) in enumerate(REGIME_VISIBLE)],
    "test_classify_regime_hidden": [
        regime(regime_case(k), expected, seed=91, what=case("classify_regime", k, len(REGIME_EXPECTED)))
        for k, expected in enumerate(REGIME_EXPECTED)],
}
