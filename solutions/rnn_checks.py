"""Grading checks of Assignment 1 ("rnn"), judged in the grader's process (course_lib/grading/spec.py).

One entry per autograded test cell of solutions/rnn/rnn.ipynb. The student's kernel only calls the
student's functions on the inputs made here and sends back what they return; every expected value
is computed here, in float64 torch (autograd for the gradients), never by the student's code.

The hidden cases are those of the old in-notebook hidden tests: the same seeds, shapes, special
cases and tolerances, and the same "must not change its inputs" checks (on the same arguments).
The visible checks call the function on the visible test's input; where the visible test's
numerical gradient check relied on an argument staying unchanged (dout, dh, params, ...), they
check that too. Loops that need the student's code (training, sampling) run in the kernel; what
comes back (trained weights, ids) is judged here by the reference loss and argmax path.
"""
import numpy as np
import torch

from course_lib.grading.spec import Check, call_code

PARAMS = ["W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab"]  # the character model's parameters
TEXT = "the cat sat on the mat. the dog ran to the log. a bird sang in the tree. "
SENTENCES = ["the cat sat on the mat.", "the dog ran to the log.", "a bird sang in the tree."]
CHARS = sorted(set(TEXT))
PARAMS_DICT = "params = dict(W_embed=W_embed, Wx=Wx, Wh=Wh, b=b, W_vocab=W_vocab, b_vocab=b_vocab)"


# ---- calling the student's functions ----------------------------------------------------------

def of(function: str, args: list[str], outputs: list[str | None], reference, *, inputs,
       unchanged=(), before: str = "", **kw) -> Check:
    """``Check.of``, with the arguments that must come back unchanged named in ``unchanged``.

    Only those arguments are compared after the call, as in the old hidden tests (Check.of compares
    all or none). ``params`` (the dict that ``PARAMS_DICT`` builds in the kernel from the inputs
    W_embed, ...) may be one of them, which Check.of cannot do. An argument made in ``before`` (a
    forward pass's cache) never is: Check.of's kernel code reports every argument that is an array
    in the kernel, so a student's cache that is one bare array would fail its key comparison."""
    compared = [o for o in outputs if o]
    run = call_code(function, args, outputs, before)
    run += "\nresult = {k: v for k, v in result.items() if not k.endswith(' after the call')}"
    for name in unchanged:
        run += f"\nresult[{name + ' after the call'!r}] = _args[{args.index(name)}]"

    def ref(**given):
        want = reference(**given)
        want = want if isinstance(want, tuple) and len(compared) > 1 else (want,)
        result = dict(zip(compared, want))
        for name in unchanged:
            result[f"{name} after the call"] = {k: given[k] for k in PARAMS} if name == "params" else given[name]
        return result

    kw.setdefault("what", function)
    return Check(run=run, inputs=inputs, reference=ref, **kw)


def normal(**shapes):
    """Inputs drawn as the old tests drew them: standard normal arrays, in the order given."""
    return lambda rng: {name: rng.standard_normal(shape) for name, shape in shapes.items()}


def fixed(**values):
    return lambda rng: dict(values)


def hidden_cases(make, cases, what: str, notes=None):
    """One check per hidden case (seed, sizes): ``make(seed, sizes, what)``."""
    notes = notes or {}
    return [make(seed, sizes, f"{what} on hidden case {i} of {len(cases)}{notes.get(i, '')}")
            for i, (seed, sizes) in enumerate(cases, 1)]


# ---- references (float64 torch) -----------------------------------------------------------------

def t(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def as_np(value):
    return value.detach().numpy() if isinstance(value, torch.Tensor) else value


def rnn_states(x, h0, Wx, Wh, b):
    """(N, T, H) states of the vanilla RNN from torch tensors."""
    h, hs = h0, []
    for step in range(x.shape[1]):
        h = torch.tanh(x[:, step] @ Wx + h @ Wh + b)
        hs.append(h)
    return torch.stack(hs, dim=1)


def gradients(forward, upstream, *arrays):
    """The gradients of sum(forward(*arrays) * upstream) with respect to every array."""
    leaves = [t(a, grad=True) for a in arrays]
    forward(*leaves).backward(t(upstream))
    return tuple(leaf.grad.numpy() for leaf in leaves)


def step_forward_ref(x, h_prev, Wx, Wh, b):
    return as_np(torch.tanh(t(x) @ t(Wx) + t(h_prev) @ t(Wh) + t(b)))


def step_backward_ref(x, h_prev, Wx, Wh, b, dh_next):
    return gradients(lambda x, h, Wx, Wh, b: torch.tanh(x @ Wx + h @ Wh + b), dh_next, x, h_prev, Wx, Wh, b)


def forward_ref(x, h0, Wx, Wh, b):
    return as_np(rnn_states(t(x), t(h0), t(Wx), t(Wh), t(b)))


def backward_ref(x, h0, Wx, Wh, b, dh):
    return gradients(rnn_states, dh, x, h0, Wx, Wh, b)


def embed_forward_ref(x, W):
    return np.asarray(W)[np.asarray(x).astype(np.int64)]


def embed_backward_ref(x, W, dout):
    ids = torch.tensor(np.asarray(x).astype(np.int64))
    return gradients(lambda W: W[ids], dout, W)[0]


def affine_forward_ref(x, w, b):
    return as_np(t(x) @ t(w) + t(b))


def affine_backward_ref(x, w, b, dout):
    return gradients(lambda x, w, b: x @ w + b, dout, x, w, b)


def softmax_loss_ref(x, y, mask):
    xt = t(x, grad=True)
    log_p = torch.log_softmax(xt, dim=2).gather(2, torch.tensor(np.asarray(y)).long()[:, :, None])[:, :, 0]
    loss = -(log_p * t(np.asarray(mask, dtype=np.float64))).sum() / x.shape[0]
    loss.backward()
    return as_np(loss), xt.grad.numpy()


def char_loss_ref(W_embed, Wx, Wh, b, W_vocab, b_vocab, x_ids, y_ids, h_prev):
    """loss, grads (a dict) and h_T of the character model, every position counted."""
    p = {k: t(v, grad=True) for k, v in zip(PARAMS, (W_embed, Wx, Wh, b, W_vocab, b_vocab))}
    e = p["W_embed"][torch.tensor(np.asarray(x_ids)).long()]
    hs = rnn_states(e, t(h_prev), p["Wx"], p["Wh"], p["b"])
    scores = hs @ p["W_vocab"] + p["b_vocab"]
    log_p = torch.log_softmax(scores, dim=2).gather(2, torch.tensor(np.asarray(y_ids)).long()[:, :, None])
    loss = -log_p.sum() / x_ids.shape[0]
    loss.backward()
    return as_np(loss), {k: v.grad.numpy() for k, v in p.items()}, as_np(hs[:, -1])


# ---- judging sampled ids and trained models ------------------------------------------------------

def ids_reason(got, n: int, V: int):
    """(ids as ints, None), or (None, why they are not n valid ids)."""
    if isinstance(got, (tuple, dict)) or got is None:
        return None, "sample should return a list of ids"
    ids = np.asarray(got)
    if ids.shape != (n,):
        return None, f"sample returned {ids.shape[0] if ids.ndim == 1 else ids.shape} ids, expected n = {n}"
    if ids.dtype.kind not in "biuf" or not np.isfinite(ids.astype(np.float64)).all():
        return None, "the ids should be integers"
    as_int = ids.astype(np.int64)
    if not (as_int == ids).all():
        return None, "the ids should be integers"
    if not ((0 <= as_int) & (as_int < V)).all():
        return None, f"every id should be in range(V) = range({V})"
    return as_int, None


def greedy_reason(params: dict, start: int, got, n: int):
    """None when every id is the argmax of the reference scores after the ids before it (ties allowed)."""
    p = {k: t(v) for k, v in params.items()}
    V = p["W_vocab"].shape[1]
    ids, why = ids_reason(got, n, V)
    if why:
        return why
    h, current = torch.zeros(1, p["Wh"].shape[0], dtype=torch.float64), start
    for i in range(n):
        h = torch.tanh(p["W_embed"][[current]] @ p["Wx"] + h @ p["Wh"] + p["b"])
        scores = (h @ p["W_vocab"] + p["b_vocab"])[0]
        current = int(ids[i])
        if float(scores[current]) < float(scores.max()) - 1e-9:
            return f"greedy id {i} is not the most likely one"
    return None


def params_of(given: dict) -> dict:
    return {k: given[k] for k in PARAMS}


def params_reason(given: dict, got) -> str | None:
    """None when the params dict came back with the same arrays, unchanged."""
    if not isinstance(got, dict) or set(got) != set(PARAMS):
        return "params should keep its keys"
    for k in PARAMS:
        if np.shape(got[k]) != given[k].shape or not np.array_equal(np.asarray(got[k], dtype=np.float64), given[k]):
            return f"sample changed params[{k!r}]"
    return None


def greedy_check(inputs, n: int, unchanged: bool = True, **kw) -> Check:
    """sample(params, start, n, default_rng(0), temperature=0): the reference argmax path and, with
    ``unchanged``, params unchanged."""
    run = (f"import numpy as _np\n{PARAMS_DICT}\n"
           f"ids = sample(params, start, {n}, _np.random.default_rng(0), temperature=0)\n"
           f"result = {{'ids': _np.asarray(ids), 'params': params}}")

    def judge(inputs, got):
        if not isinstance(got, dict) or set(got) != {"ids", "params"}:
            return "the result has the wrong form"
        return greedy_reason(params_of(inputs), inputs["start"], got["ids"], n) or \
            (params_reason(inputs, got["params"]) if unchanged else None)

    return Check(run=run, inputs=inputs, judge=judge, **kw)


def seeds_reason(runs: tuple, n: int, V: int) -> str | None:
    """None when runs = (ids from seed s, ids from seed s again, ids from another seed) are n valid
    ids each, the first two equal and the third different."""
    ids = []
    for got in runs:
        value, why = ids_reason(got, n, V)
        if why:
            return why
        ids.append(value)
    if not np.array_equal(ids[0], ids[1]):
        return "the same generator seed should give the same ids: draw with rng, not np.random"
    if np.array_equal(ids[0], ids[2]):
        return "another generator seed should give other ids: draw with rng"
    return None


def frequency_reason(got, probs: np.ndarray, temperature: float, n: int) -> str | None:
    """None when the ids' frequencies are within 0.05 of softmax(log(probs) / temperature)."""
    ids, why = ids_reason(got, n, len(probs))
    if why:
        return why
    want = probs ** (1 / temperature)
    want = want / want.sum()
    freq = np.bincount(ids, minlength=len(probs)) / n
    if not np.abs(freq - want).max() < 0.05:
        return (f"at temperature {temperature} the frequencies {np.round(freq, 3).tolist()} "
                f"are not {np.round(want, 3).tolist()}")
    return None


def loss_per_char(params: dict, text: str) -> float:
    """The reference loss per character of the character model over text, from a zero state."""
    p = {k: t(v) for k, v in params.items()}
    ids = [CHARS.index(c) for c in text]
    h, hs = torch.zeros(1, p["Wh"].shape[0], dtype=torch.float64), []
    for c in ids[:-1]:
        h = torch.tanh(p["W_embed"][[c]] @ p["Wx"] + h @ p["Wh"] + p["b"])
        hs.append(h[0])
    log_p = torch.log_softmax(torch.stack(hs) @ p["W_vocab"] + p["b_vocab"], dim=1)
    return float(-log_p.gather(1, torch.tensor(ids[1:])[:, None]).mean())


# ---- Parts 1-4: the vanilla RNN -----------------------------------------------------------------

STEP = ["x", "h_prev", "Wx", "Wh", "b"]
SEQ = ["x", "h0", "Wx", "Wh", "b"]


def step_forward_case(seed, sizes, what):
    N, D, H = sizes
    return of("rnn_step_forward", STEP, ["h_next", None], step_forward_ref, unchanged=STEP, seed=seed,
              inputs=normal(x=(N, D), h_prev=(N, H), Wx=(D, H), Wh=(H, H), b=(H,)), tol=1e-10, what=what)


def step_backward_check(inputs, **kw):
    return of("rnn_step_backward", ["dh_next", "cache"], ["dx", "dh_prev", "dWx", "dWh", "db"],
              step_backward_ref, before="_, cache = rnn_step_forward(x, h_prev, Wx, Wh, b)", inputs=inputs, **kw)


def step_backward_case(seed, sizes, what):
    N, D, H = sizes
    return step_backward_check(normal(x=(N, D), h_prev=(N, H), Wx=(D, H), Wh=(H, H), b=(H,), dh_next=(N, H)),
                               seed=seed, tol=1e-10, what=what)


def forward_case(seed, sizes, what):
    N, T, D, H = sizes
    return of("rnn_forward", SEQ, ["h", None], forward_ref, unchanged=SEQ, seed=seed,
              inputs=normal(x=(N, T, D), h0=(N, H), Wx=(D, H), Wh=(H, H), b=(H,)), tol=1e-10, what=what)


def backward_check(inputs, unchanged=(), **kw):
    return of("rnn_backward", ["dh", "cache"], ["dx", "dh0", "dWx", "dWh", "db"], backward_ref,
              before="_, cache = rnn_forward(x, h0, Wx, Wh, b)", inputs=inputs, unchanged=unchanged, **kw)


def backward_case(seed, sizes, what):
    N, T, D, H = sizes
    return backward_check(normal(x=(N, T, D), h0=(N, H), Wx=(D, H), Wh=(H, H), b=(H,), dh=(N, T, H)),
                          unchanged=["dh"], seed=seed, tol=1e-10, what=what)


def lin(lo, hi, *shape):
    return np.linspace(lo, hi, num=int(np.prod(shape))).reshape(shape)


# ---- Parts 5-9: embedding, temporal affine, temporal softmax loss --------------------------------

def embed_forward_case(seed, sizes, what):
    (N, T, V, D), dtype = sizes
    def inputs(rng):
        x = rng.integers(V, size=(N, T)).astype(dtype)
        return {"x": x, "W": rng.standard_normal((V, D))}
    return of("word_embedding_forward", ["x", "W"], ["out", None], embed_forward_ref, unchanged=["x", "W"],
              inputs=inputs, seed=seed, tol=1e-12, what=what)


def embed_backward_check(inputs, unchanged=(), **kw):
    return of("word_embedding_backward", ["dout", "cache"], ["dW"], embed_backward_ref,
              before="_, cache = word_embedding_forward(x, W)", inputs=inputs, unchanged=unchanged, **kw)


def embed_backward_case(seed, sizes, what):
    x, V, D = sizes
    def inputs(rng):
        ids = x() if callable(x) else x
        return {"x": ids, "W": rng.standard_normal((V, D)), "dout": rng.standard_normal(ids.shape + (D,))}
    return embed_backward_check(inputs, unchanged=["dout"], seed=seed, tol=1e-10, what=what)


def affine_forward_case(seed, sizes, what):
    N, T, D, M = sizes
    return of("temporal_affine_forward", ["x", "w", "b"], ["out", None], affine_forward_ref,
              unchanged=["x", "w", "b"], inputs=normal(x=(N, T, D), w=(D, M), b=(M,)), seed=seed, tol=1e-10,
              what=what)


def affine_backward_check(inputs, **kw):
    return of("temporal_affine_backward", ["dout", "cache"], ["dx", "dw", "db"], affine_backward_ref,
              before="_, cache = temporal_affine_forward(x, w, b)", inputs=inputs, **kw)


def affine_backward_case(seed, sizes, what):
    N, T, D, M = sizes
    return affine_backward_check(normal(x=(N, T, D), w=(D, M), b=(M,), dout=(N, T, M)), seed=seed, tol=1e-10,
                                 what=what)


def softmax_check(inputs, unchanged=(), **kw):
    return of("temporal_softmax_loss", ["x", "y", "mask"], ["loss", "dx"], softmax_loss_ref, inputs=inputs,
              unchanged=unchanged, **kw)


def softmax_case(seed, sizes, what):
    N, T, V = sizes
    def inputs(rng):
        return {"x": rng.standard_normal((N, T, V)), "y": rng.integers(V, size=(N, T)), "mask": rng.random((N, T)) < 0.7}
    return softmax_check(inputs, unchanged=["x", "y", "mask"], seed=seed, tol=1e-10, what=what)


def softmax_special_cases() -> list[dict]:
    """The old test's special cases, drawn one after the other from default_rng(85)."""
    rng = np.random.default_rng(85)
    mask = rng.random((4, 6)) < 0.8
    mask[0] = True
    mask[2] = False  # a sequence of length 0: no contribution, but still counted in N
    cases = [(rng.standard_normal((4, 6, 5)), rng.integers(5, size=(4, 6)).astype(np.int32), mask)]
    cases.append((rng.standard_normal((3, 4, 6)), rng.integers(6, size=(3, 4)), np.zeros((3, 4), dtype=bool)))
    big = 1000.0 * rng.standard_normal((3, 5, 8)) + 5000.0  # exp overflows unless the max is removed
    cases.append((big, rng.integers(8, size=(3, 5)), rng.random((3, 5)) < 0.9))
    cases.append((-big, rng.integers(8, size=(3, 5)), np.ones((3, 5), dtype=bool)))
    return [{"x": x, "y": y, "mask": m} for x, y, m in cases]


SOFTMAX_SPECIAL = ["with a sequence of length 0 (int32 targets)", "with every position masked",
                   "with very large positive scores", "with very large negative scores"]


# ---- Parts 10-12: the character model -----------------------------------------------------------

def char_params(rng, V, D, H, scale):
    shapes = [(V, D), (D, H), (H, H), (H,), (H, V), (V,)]
    return {k: scale * rng.standard_normal(s) for k, s in zip(PARAMS, shapes)}


def char_ref(W_embed, Wx, Wh, b, W_vocab, b_vocab, x_ids, y_ids, h_prev, **_):
    return char_loss_ref(W_embed, Wx, Wh, b, W_vocab, b_vocab, x_ids, y_ids, h_prev)


def char_check(inputs, unchanged=(), before="", reference=char_ref, **kw):
    return of("char_rnn_loss", ["params", "x_ids", "y_ids", "h_prev"], ["loss", "grads", "h_T"], reference,
              before=PARAMS_DICT + ("\n" + before if before else ""), inputs=inputs, unchanged=unchanged, **kw)


def char_case(seed, sizes, what):
    V, D, H, N, T = sizes
    def inputs(rng):
        params = char_params(rng, V, D, H, 0.7)
        return params | {"x_ids": rng.integers(V, size=(N, T)), "y_ids": rng.integers(V, size=(N, T)),
                         "h_prev": rng.standard_normal((N, H))}
    return char_check(inputs, unchanged=["params", "h_prev"], seed=seed, tol=1e-10, what=what)


def chunks_inputs(rng):
    """Seed 94: two chunks of one pair of streams; chunk 2 starts where chunk 1 ended."""
    params = char_params(rng, 6, 3, 4, 0.7)
    ids, h0 = rng.integers(6, size=(2, 11)), rng.standard_normal((2, 4))
    return params | {"ids": ids, "h0": h0}


def first_chunk(rng):
    given = chunks_inputs(rng)
    ids, h0 = given.pop("ids"), given.pop("h0")
    return given | {"x_ids": ids[:, 0:5], "y_ids": ids[:, 1:6], "h_prev": h0}


def second_chunk(rng):
    given = chunks_inputs(rng)
    ids = given.pop("ids")
    return given | {"x_first": ids[:, 0:5], "y_first": ids[:, 1:6], "x_ids": ids[:, 5:10], "y_ids": ids[:, 6:11]}


def second_chunk_ref(h0, x_first, y_first, **given):
    """Chunk 2 from the reference state after chunk 1 (the kernel's h_T of chunk 1 is not trusted)."""
    h1 = char_loss_ref(**params_of(given), x_ids=x_first, y_ids=y_first, h_prev=h0)[2]
    return char_loss_ref(**params_of(given), x_ids=given["x_ids"], y_ids=given["y_ids"], h_prev=h1)


def train_check(seed: int, **kw) -> Check:
    """300 steps of truncated BPTT with the student's char_rnn_loss (Adam as in the notebook's
    adam_update), then 120 greedy ids from the student's sample. The grader judges the trained
    parameters by its own loss per character over the text, and the ids by its own argmax path."""
    V, N, T, D, H = len(CHARS), 4, 25, 16, 64
    data = np.array([CHARS.index(c) for c in TEXT * 20])
    L = (len(data) - 1) // N

    def inputs(rng):  # the parameters as init_char_rnn(V, D, H, default_rng(seed)) draws them
        params = {"W_embed": 0.1 * rng.standard_normal((V, D)), "Wx": rng.standard_normal((D, H)) / np.sqrt(D),
                  "Wh": rng.standard_normal((H, H)) / np.sqrt(H), "b": np.zeros(H),
                  "W_vocab": rng.standard_normal((H, V)) / np.sqrt(H), "b_vocab": np.zeros(V)}
        return params | {"xs": data[:N * L].reshape(N, L), "ys": data[1:N * L + 1].reshape(N, L),
                         "start": CHARS.index("t")}

    run = f"""import numpy as _np
_params = {{_k: _np.array(_v, dtype=_np.float64) for _k, _v in zip({PARAMS!r}, (W_embed, Wx, Wh, b, W_vocab, b_vocab))}}
_m = {{_k: _np.zeros_like(_v) for _k, _v in _params.items()}}
_v2 = {{_k: _np.zeros_like(_v) for _k, _v in _params.items()}}
_N, _L, _T, _H = xs.shape[0], xs.shape[1], {T}, Wh.shape[0]
_h, _pos = _np.zeros((_N, _H)), 0
for _step in range(1, 301):
    if _pos + _T > _L:
        _pos, _h = 0, _np.zeros((_N, _H))
    _, _grads, _h_T = char_rnn_loss({{_k: _v.copy() for _k, _v in _params.items()}},
                                       xs[:, _pos:_pos + _T].copy(), ys[:, _pos:_pos + _T].copy(), _h.copy())
    _h = _np.array(_h_T, dtype=_np.float64)
    if _h.shape != (_N, _H):
        raise ValueError(f"h_T has shape {{_h.shape}}, expected {{(_N, _H)}}")
    _pos += _T
    for _k in _params:
        _g = _np.clip(_np.array(_grads[_k], dtype=_np.float64), -5.0, 5.0)
        _m[_k] = 0.9 * _m[_k] + 0.1 * _g
        _v2[_k] = 0.999 * _v2[_k] + 0.001 * _g * _g
        _params[_k] -= 1e-2 * (_m[_k] / (1 - 0.9 ** _step)) / (_np.sqrt(_v2[_k] / (1 - 0.999 ** _step)) + 1e-8)
_ids = sample({{_k: _v.copy() for _k, _v in _params.items()}}, start, 120, _np.random.default_rng(0), temperature=0)
result = {{"params": _params, "greedy ids": _np.asarray(_ids)}}"""

    def judge(given, got):
        if not isinstance(got, dict) or set(got) != {"params", "greedy ids"} or not isinstance(got["params"], dict) \
                or set(got["params"]) != set(PARAMS):
            return "the result has the wrong form"
        params = {}
        for k in PARAMS:
            value = got["params"][k]
            if not isinstance(value, np.ndarray) or value.shape != given[k].shape or value.dtype.kind != "f" \
                    or not np.isfinite(value).all():
                return f"the trained params[{k!r}] is not a finite float array of shape {given[k].shape}"
            params[k] = value
        loss = loss_per_char(params, TEXT * 2)
        if not loss < 0.05:
            return f"the trained model's loss per character over the text is {loss:.3f}, not below 0.05"
        why = greedy_reason(params, given["start"], got["greedy ids"], 120)
        if why:
            return why
        text = "t" + "".join(CHARS[int(i)] for i in got["greedy ids"])
        if not any(s in text for s in SENTENCES):
            return f"the greedy sample {text!r} contains no sentence of the text"
        return None

    return Check(run=run, inputs=inputs, judge=judge, seed=seed, **kw)


# ---- sampling --------------------------------------------------------------------------------------

def greedy_case(seed, sizes, what):
    V, D, H = sizes
    def inputs(rng):
        return char_params(rng, V, D, H, 1.5) | {"start": int(rng.integers(V))}
    return greedy_check(inputs, 25, seed=seed, what=what)


PROBS = np.array([0.7, 0.2, 0.1])


def flat_params(rng):
    """Seed 104: W_vocab = 0, so the ids are independent draws from softmax(b_vocab / temperature)."""
    return {"W_embed": rng.standard_normal((3, 2)), "Wx": rng.standard_normal((2, 4)),
            "Wh": rng.standard_normal((4, 4)), "b": rng.standard_normal(4),
            "W_vocab": np.zeros((4, 3)), "b_vocab": np.log(PROBS)}


def frequency_check(temperature: float, *, seeds: bool, **kw) -> Check:
    """2000 draws from default_rng(5) at the temperature (the standard error of a frequency is about
    0.01); with ``seeds``, two more runs: default_rng(5) again must repeat them, default_rng(6) not."""
    call = f"sample(params, 0, 2000, _np.random.default_rng({{}}), temperature={temperature})"
    run = f"import numpy as _np\n{PARAMS_DICT}\nresult = _np.asarray({call.format(5)})"
    if seeds:
        run += f"\nresult = (result, _np.asarray({call.format(5)}), _np.asarray({call.format(6)}))"

    def judge(given, got):
        if not seeds:
            return frequency_reason(got, PROBS, temperature, 2000)
        if not isinstance(got, tuple) or len(got) != 3:
            return "the result has the wrong form"
        return frequency_reason(got[0], PROBS, temperature, 2000) or seeds_reason(got, 2000, 3)

    return Check(run=run, inputs=flat_params, judge=judge, seed=104, **kw)


VISIBLE_SAMPLE = {"W_embed": lin(-0.8, 0.9, 5, 3), "Wx": lin(-0.6, 0.7, 3, 4),
                  "Wh": np.cos(np.arange(16)).reshape(4, 4), "b": lin(-0.1, 0.2, 4),
                  "W_vocab": 3 * np.sin(3 * np.arange(20)).reshape(4, 5), "b_vocab": lin(0.3, -0.2, 5)}


def visible_seeds_check() -> Check:
    """The visible test's flat model at temperature 1 (the default): 30 ids in range(V), the same
    for default_rng(1) twice, other ones for default_rng(2)."""
    flat = VISIBLE_SAMPLE | {"W_vocab": np.zeros((4, 5)), "b_vocab": np.zeros(5)}
    run = ("import numpy as _np\n" + PARAMS_DICT + "\nresult = tuple(_np.asarray(sample(params, 1, 30, "
           "_np.random.default_rng(s))) for s in (1, 1, 2))")

    def judge(given, got):
        if not isinstance(got, tuple) or len(got) != 3:
            return "the result has the wrong form"
        return seeds_reason(got, 30, 5)

    return Check(run=run, inputs=fixed(**flat), judge=judge, what="sample draws with the rng passed in",
                 hidden=False)


# ---- the checks of every autograded cell ---------------------------------------------------------

CHECKS = {
    "test_rnn_step_forward": [
        of("rnn_step_forward", STEP, ["h_next", None], step_forward_ref, tol=1e-8, hidden=False,
           inputs=fixed(x=lin(-0.4, 0.7, 3, 10), h_prev=lin(-0.2, 0.5, 3, 4), Wx=lin(-0.1, 0.9, 10, 4),
                        Wh=lin(-0.3, 0.7, 4, 4), b=lin(-0.2, 0.4, 4)),
           what="rnn_step_forward on the visible test's input")],
    "test_rnn_step_forward_hidden": hidden_cases(
        step_forward_case, [(1, (1, 1, 1)), (2, (5, 7, 3)), (3, (2, 3, 8)), (4, (4, 6, 6))], "rnn_step_forward"),

    "test_rnn_step_backward": [
        step_backward_check(normal(x=(4, 5), h_prev=(4, 6), Wx=(5, 6), Wh=(6, 6), b=(6,), dh_next=(4, 6)),
                            unchanged=["dh_next"], seed=231, tol=1e-7, hidden=False,
                            what="rnn_step_backward on the visible test's input")],
    "test_rnn_step_backward_hidden": hidden_cases(
        step_backward_case, [(11, (1, 1, 1)), (12, (5, 7, 3)), (13, (2, 3, 8)), (14, (3, 4, 4))],
        "rnn_step_backward"),

    "test_rnn_forward": [
        of("rnn_forward", SEQ, ["h", None], forward_ref, tol=1e-8, hidden=False,
           inputs=fixed(x=lin(-0.1, 0.3, 2, 3, 4), h0=lin(-0.3, 0.1, 2, 5), Wx=lin(-0.2, 0.4, 4, 5),
                        Wh=lin(-0.4, 0.1, 5, 5), b=lin(-0.7, 0.1, 5)),
           what="rnn_forward on the visible test's input")],
    "test_rnn_forward_hidden": hidden_cases(
        forward_case, [(21, (1, 1, 1, 1)), (22, (3, 5, 4, 6)), (23, (2, 7, 3, 2)), (24, (4, 2, 5, 5))],
        "rnn_forward"),

    "test_rnn_backward": [
        backward_check(normal(x=(2, 3, 4), h0=(2, 5), Wx=(4, 5), Wh=(5, 5), b=(5,), dh=(2, 3, 5)),
                       unchanged=["dh"], seed=231, tol=1e-7, hidden=False,
                       what="rnn_backward on the visible test's input")],
    "test_rnn_backward_hidden": hidden_cases(
        backward_case, [(31, (1, 1, 1, 1)), (32, (3, 6, 4, 5)), (33, (2, 9, 3, 2)), (34, (4, 2, 2, 7))],
        "rnn_backward"),

    "test_word_embedding_forward": [
        of("word_embedding_forward", ["x", "W"], ["out", None], embed_forward_ref, tol=1e-8, hidden=False,
           inputs=fixed(x=np.asarray([[0, 3, 1, 2], [2, 1, 0, 3]]), W=lin(0, 1, 5, 3)),
           what="word_embedding_forward on the visible test's input")],
    "test_word_embedding_forward_hidden": hidden_cases(
        embed_forward_case, [(41, ((1, 1, 1, 1), np.int64)), (42, ((3, 5, 7, 4), np.int64)),
                             (43, ((2, 9, 3, 6), np.int32)), (44, ((4, 3, 20, 2), np.int64))],
        "word_embedding_forward", {3: " (int32 ids)"}),

    "test_word_embedding_backward": [
        embed_backward_check(lambda rng: {"x": rng.integers(6, size=(3, 5)), "W": rng.standard_normal((6, 4)),
                                          "dout": rng.standard_normal((3, 5, 4))},
                             unchanged=["dout"], seed=231, tol=1e-7, hidden=False,
                             what="word_embedding_backward on the visible test's input")],
    "test_word_embedding_backward_hidden": hidden_cases(
        embed_backward_case,
        [(51, (np.zeros((3, 4), dtype=np.int64), 5, 2)),
         (52, (np.asarray([[1, 1, 1], [4, 1, 4]]), 6, 3)),
         (53, (lambda: np.random.default_rng(53).integers(7, size=(4, 9)).astype(np.int32), 7, 5)),
         (54, (np.asarray([[0]]), 1, 1))],
        "word_embedding_backward", {1: " (one id everywhere)", 2: " (repeated and unused ids)"}),

    "test_temporal_affine_forward": [
        of("temporal_affine_forward", ["x", "w", "b"], ["out", None], affine_forward_ref, tol=1e-8, hidden=False,
           inputs=fixed(x=lin(-0.5, 0.6, 2, 3, 4), w=lin(-0.3, 0.4, 4, 5), b=lin(-0.2, 0.3, 5)),
           what="temporal_affine_forward on the visible test's input")],
    "test_temporal_affine_forward_hidden": hidden_cases(
        affine_forward_case, [(61, (1, 1, 1, 1)), (62, (3, 5, 4, 6)), (63, (2, 7, 6, 2)), (64, (5, 1, 3, 3))],
        "temporal_affine_forward"),

    "test_temporal_affine_backward": [
        affine_backward_check(normal(x=(2, 3, 4), w=(4, 5), b=(5,), dout=(2, 3, 5)), unchanged=["dout"], seed=231,
                              tol=1e-7, hidden=False, what="temporal_affine_backward on the visible test's input")],
    "test_temporal_affine_backward_hidden": hidden_cases(
        affine_backward_case, [(71, (1, 1, 1, 1)), (72, (3, 5, 4, 6)), (73, (2, 7, 6, 2)), (74, (5, 1, 3, 3))],
        "temporal_affine_backward"),

    "test_temporal_softmax_loss": [
        softmax_check(fixed(x=lin(-1.0, 1.5, 2, 3, 4), y=np.asarray([[0, 3, 1], [2, 2, 0]]),
                            mask=np.asarray([[True, True, False], [True, False, True]])),
                      unchanged=["x", "y", "mask"], tol=1e-8, hidden=False,
                      what="temporal_softmax_loss on the visible test's input")],
    "test_temporal_softmax_loss_hidden": hidden_cases(
        softmax_case, [(81, (1, 1, 1)), (82, (3, 5, 7)), (83, (4, 1, 10)), (84, (2, 6, 3))],
        "temporal_softmax_loss") + [
        softmax_check(lambda rng, i=i: softmax_special_cases()[i], unchanged=["x", "y", "mask"], tol=1e-10,
                      what=f"temporal_softmax_loss {name}")
        for i, name in enumerate(SOFTMAX_SPECIAL)],

    "test_char_rnn_loss": [
        char_check(fixed(W_embed=lin(-0.8, 0.9, 5, 3), Wx=lin(-0.6, 0.7, 3, 4), Wh=lin(-0.5, 0.4, 4, 4),
                         b=lin(-0.1, 0.2, 4), W_vocab=lin(-0.9, 1.0, 4, 5), b_vocab=lin(0.3, -0.2, 5),
                         x_ids=np.asarray([[0, 1, 4], [3, 3, 2]]), y_ids=np.asarray([[1, 4, 3], [3, 2, 0]]),
                         h_prev=lin(-0.4, 0.5, 2, 4)),
                   unchanged=["params", "h_prev"], tol=1e-8, hidden=False,
                   what="char_rnn_loss on the visible test's input")],
    "test_char_rnn_loss_hidden": hidden_cases(
        char_case, [(91, (2, 1, 1, 1, 1)), (92, (7, 3, 5, 2, 6)), (93, (11, 4, 3, 3, 2))], "char_rnn_loss") + [
        char_check(first_chunk, unchanged=["params", "h_prev"], seed=94, tol=1e-10,
                   what="char_rnn_loss on the first of two chunks"),
        char_check(second_chunk, before="_, _, h_prev = char_rnn_loss(params, x_first, y_first, h0)",
                   reference=second_chunk_ref, unchanged=["params"], seed=94, tol=1e-10,
                   what="char_rnn_loss on the second chunk, from the h_T of the first")],

    "test_sample": [
        greedy_check(fixed(**VISIBLE_SAMPLE, start=1), 12, unchanged=False, hidden=False,
                     what="sample(params, 1, 12, rng, temperature=0) of the visible test's model"),
        visible_seeds_check()],
    "test_sample_hidden": hidden_cases(
        greedy_case, [(101, (2, 1, 1)), (102, (7, 3, 5)), (103, (12, 4, 8))], "greedy sample") + [
        frequency_check(1.0, seeds=False, what="the frequencies of sampled ids at temperature 1"),
        frequency_check(2.0, seeds=True, what="the frequencies of sampled ids at temperature 2, and the "
                                                "generator's seed")],

    "test_char_train": [train_check(0, hidden=False, what="training from seed 0 with your char_rnn_loss")],
    "test_char_train_hidden": [train_check(1, what="training from another seed with your char_rnn_loss")],
}
