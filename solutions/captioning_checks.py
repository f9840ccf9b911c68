"""Grading checks of Assignment 4 ("captioning"), judged in the grader's process (course_lib/grading/spec.py).

Instructors only: this file sits beside solutions/captioning/, so nbgrader never releases it.

What runs where:
- soft attention: the kernel calls the student's functions on the grader's inputs; the grader
  compares with torch (forward, and autograd for the backward) in float64.
- beam search: the models are code (the same string runs in the kernel and here); the kernel sends
  back the student's words and scores only, and the grader rescores the words with its own copy of
  the model and decides with its own exhaustive search, greedy decoding and hand-made answers.
- CaptioningRNN: the run code first defines the layers of Assignments 1 and 3 in the kernel,
  computed by torch autograd (no hand-written backward is revealed), and swaps them into the
  student's namespace for the duration of the call only, so the captioning code is judged on them
  and not on the layers pasted in Part 4. The grader's reference is course_lib.captioning's
  CaptionModel (and course_lib.decoding.decode for greedy captions), in its own process.
- training: the kernel runs the Adam loop with the student's loss and gradients (on the reference
  layers) and sends back the trained parameters; the grader computes their loss itself.
"""
import numpy as np
import torch

from course_lib.captioning import CaptionModel
from course_lib.decoding import decode
from course_lib.grading.spec import Check, compare

# ============================================================================================
# Shared pieces
# ============================================================================================

# ---- 1-2. soft attention ------------------------------------------------------------------

ATTENTION_ARGS = ["h", "A", "W_A", "W_ha", "b_a", "w_a"]
GRAD_NAMES = ["dh", "dA", "dW_A", "dW_ha", "db_a", "dw_a"]

# Kernel code: the forward's ((z, alpha), cache) as two outputs, with a clear error otherwise.
ATTENTION_UNPACK = '''
import numpy as np
def _attention(*args):
    out = soft_attention_forward(*args)
    if not (isinstance(out, (tuple, list)) and len(out) == 2 and isinstance(out[0], (tuple, list))
            and len(out[0]) == 2):
        raise ValueError("soft_attention_forward should return ((z, alpha), cache)")
    return out[0][0], out[0][1]
'''
# Kernel code: the cache for the backward, from the student's forward on copies of the inputs.
ATTENTION_CACHE = '''
import numpy as np
_out = soft_attention_forward(*[a.copy() for a in (h, A, W_A, W_ha, b_a, w_a)])
if not (isinstance(_out, (tuple, list)) and len(_out) == 2):
    raise ValueError("soft_attention_forward should return ((z, alpha), cache)")
cache = _out[1]
'''


def attention_inputs(N, L, D, H, K, scale=1.0, dz=False):
    """The hidden tests' draws: h, A, W_A, W_ha, b_a, w_a (w_a scaled: large scores), then dz.

    CS231n's letters, as in the notebook's test cells: L is R (regions) and D is C (channels).
    """
    def make(rng):
        shapes = [(N, H), (N, L, D), (D, K), (H, K), (K,), (K,)]
        inputs = dict(zip(ATTENTION_ARGS, [rng.standard_normal(s) for s in shapes]))
        inputs["w_a"] = inputs["w_a"] * scale  # scores of hundreds: exp overflows unless the max is subtracted
        if dz:
            inputs["dz"] = rng.standard_normal((N, D))
        return inputs
    return make


def visible_attention_inputs(rng):
    """The inputs of the visible test of soft_attention_forward (linspace, no randomness)."""
    N, L, D, H, K = 2, 3, 4, 5, 6
    return {"h": np.linspace(-0.5, 0.8, num=N * H).reshape(N, H),
            "A": np.linspace(-1.2, 1.1, num=N * L * D).reshape(N, L, D),
            "W_A": np.linspace(-0.9, 0.7, num=D * K).reshape(D, K),
            "W_ha": np.linspace(0.6, -0.4, num=H * K).reshape(H, K),
            "b_a": np.linspace(-0.2, 0.3, num=K),
            "w_a": np.linspace(1.5, -1.1, num=K)}


def visible_backward_inputs(rng):
    """The inputs of the visible test of soft_attention_backward: default_rng(231)."""
    rng = np.random.default_rng(231)
    N, L, D, H, K = 3, 5, 4, 6, 7
    shapes = [(N, H), (N, L, D), (D, K), (H, K), (K,), (K,)]
    inputs = dict(zip(ATTENTION_ARGS, [rng.standard_normal(s) for s in shapes]))
    inputs["dz"] = rng.standard_normal((N, D))
    return inputs


def _torch_attention(h, A, W_A, W_ha, b_a, w_a):
    e = torch.tanh(A @ W_A + (h @ W_ha + b_a)[:, None]) @ w_a  # (N, R)
    alpha = torch.softmax(e, dim=1)
    return (alpha[:, :, None] * A).sum(dim=1), alpha


def attention_reference(h, A, W_A, W_ha, b_a, w_a, **_):
    """(z, alpha) by torch in float64."""
    with torch.no_grad():
        z, alpha = _torch_attention(*[torch.tensor(a) for a in (h, A, W_A, W_ha, b_a, w_a)])
    return z.numpy(), alpha.numpy()


def attention_grads_reference(h, A, W_A, W_ha, b_a, w_a, dz):
    """(dh, dA, dW_A, dW_ha, db_a, dw_a) by torch autograd in float64."""
    t = [torch.tensor(a, requires_grad=True) for a in (h, A, W_A, W_ha, b_a, w_a)]
    z, _ = _torch_attention(*t)
    return tuple(g.numpy() for g in torch.autograd.grad(z, t, torch.tensor(dz)))


def exactly_unchanged(check):
    """Check.of's check, with the inputs after the call compared exactly (as the hidden tests did)."""
    def judge(inputs, got):
        want = check.reference(**inputs)
        return compare(got, want, check.tol) or changed_input(got, want)
    check.judge = judge
    return check


def attention_forward_check(inputs, *, unchanged=True, **kw):
    check = Check.of("_attention", ATTENTION_ARGS, ["z", "alpha"], attention_reference, inputs=inputs,
                     before=ATTENTION_UNPACK, unchanged=unchanged, **kw)
    return exactly_unchanged(check) if unchanged else check


def attention_backward_check(inputs, **kw):
    return Check.of("soft_attention_backward", ["dz", "cache"], GRAD_NAMES, attention_grads_reference,
                    inputs=inputs, before=ATTENTION_CACHE, unchanged=False, **kw)


# ---- 3. beam search -----------------------------------------------------------------------

# The models, as code: run in the student's kernel to drive beam_search, and here to judge.
BEAM_MODELS = '''
import numpy as np

def random_model(seed, V, start, end, banned=()):
    """log-probs drawn from a generator seeded by the whole prefix: the same prefix, the same numbers."""
    def step(prefix, word):
        prefix = tuple(prefix) + (int(word),)
        s = 2.0 * np.random.default_rng([seed, *prefix]).standard_normal(V)
        s[[start, *banned]] = -np.inf
        s[np.isfinite(s)] -= np.log(np.exp(s[np.isfinite(s)]).sum())
        return s, prefix
    return step

def table_model(prefixes, log_probs, fallback, start):
    """A hand-made model: the state is the tuple of words read after start; log_probs[i] follow
    prefixes[i], and a prefix not in the table is followed by fallback."""
    table = {tuple(int(w) for w in p): row for p, row in zip(prefixes, log_probs)}
    def step(state, word):
        prefix = () if word == start else tuple(state) + (int(word),)
        return np.array(table.get(prefix, fallback), dtype=np.float64), prefix
    return step
'''
MODELS = {}
exec(BEAM_MODELS, MODELS)  # the grader's copy of the very same models

# Kernel code: beam_search for each (beam_width, max_length) of `runs`, words and score as arrays.
BEAM_RUN = BEAM_MODELS + '''
def _beam(step, width, max_length):
    out = beam_search(step, (), start, end, width, max_length)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise ValueError("beam_search should return (words, score)")
    return {"words": np.asarray(out[0], dtype=np.float64).reshape(-1),
            "score": np.asarray(out[1], dtype=np.float64)}

step = (random_model(seed, V, start, end, banned) if model == "random"
        else table_model(prefixes, log_probs, fallback, start))
result = {f"beam_width {w}, max_length {m}": _beam(step, w, m) for w, m in runs}
'''
WIDE = 10 ** 6  # a beam wide enough to keep every candidate


def model_of(inputs):
    """The grader's step function for the model described by ``inputs``."""
    if inputs["model"] == "random":
        return MODELS["random_model"](inputs["seed"], inputs["V"], inputs["start"], inputs["end"], inputs["banned"])
    return MODELS["table_model"](inputs["prefixes"], inputs["log_probs"], inputs["fallback"], inputs["start"])


def table_inputs(table, fallback, start, end, runs, probabilities=True):
    """Inputs for a hand-made model given as {prefix: probabilities (or log-probs)}."""
    def log(p):
        with np.errstate(divide="ignore"):
            return np.log(np.asarray(p, dtype=np.float64)) if probabilities else np.asarray(p, dtype=np.float64)
    return lambda rng: {"model": "table", "prefixes": [list(p) for p in table],
                        "log_probs": np.stack([log(p) for p in table.values()]), "fallback": log(fallback),
                        "start": start, "end": end, "runs": [list(r) for r in runs]}


def exhaustive(step, start, end, max_length):
    """The best sequence that ends with end, or reaches max_length words, by trying them all."""
    best = [None, -np.inf]

    def visit(state, word, words, score):
        lp, nxt = step(state, word)
        for w in range(len(lp)):
            if np.isfinite(lp[w]):
                ws, sc = words + [w], score + lp[w]
                if w == end or len(ws) == max_length:
                    if sc > best[1]:
                        best[:] = [ws, sc]
                else:
                    visit(nxt, w, ws, sc)
    visit((), start, [], 0.0)
    return best


def greedy(step, start, end, max_length):
    words, score, state, word = [], 0.0, (), start
    while len(words) < max_length and word != end or not words:
        lp, state = step(state, word)
        word = int(np.argmax(lp))
        words.append(word)
        score += lp[word]
    return words, score


def rescore(step, start, words):
    """The total log-prob of words under the model (the grader's own computation)."""
    score, state, word = 0.0, (), start
    for w in words:
        lp, state = step(state, word)
        score, word = score + lp[w], w
    return score


def beam_answers(inputs, got):
    """{run key: (words, score)} from what the kernel sent, after checking each answer's form and
    that its score is the total log-prob of its words (by the grader's model); or the reason."""
    step, out = model_of(inputs), {}
    V = len(step((), inputs["start"])[0])
    for width, max_length in inputs["runs"]:
        key = f"beam_width {width}, max_length {max_length}"
        if not isinstance(got, dict) or key not in got or not isinstance(got[key], dict):
            return None, f"no answer for {key}"
        words, score = np.asarray(got[key].get("words")), np.asarray(got[key].get("score"))
        if words.dtype.kind not in "biuf" or score.size != 1 or score.dtype.kind not in "biuf":
            return None, f"{key}: words should be a list of ints and score a number"
        if not (np.all(np.isfinite(words)) and np.all(words == np.round(words)) and np.all((words >= 0) & (words < V))):
            return None, f"{key}: words should be ids of the vocabulary, got {words.tolist()}"
        words, score = [int(w) for w in words], float(score.reshape(()))
        want = rescore(step, inputs["start"], words)
        if not (np.isfinite(score) and abs(score - want) <= 1e-10 * (1 + abs(want))):
            return None, (f"{key}: score {score!r} is not the total log-prob of the words {words} "
                          f"({want!r})")
        out[key] = (words, score)
    return out, None


def judge_random_model(inputs, got):
    """Random models: a wide beam finds the exhaustive optimum, width 1 is greedy, widths 2, 3 sane."""
    answers, why = beam_answers(inputs, got)
    if why:
        return why
    step, start, end, max_length = model_of(inputs), inputs["start"], inputs["end"], inputs["max_length"]
    best_words, best_score = exhaustive(step, start, end, max_length)
    greedy_words, _ = greedy(step, start, end, max_length)
    for (width, m), (words, score) in zip(inputs["runs"], answers.values()):
        if width == WIDE and words != best_words:
            return (f"with a beam wide enough to keep every candidate the answer should be the best of all "
                    f"sequences, {best_words}; got {words}")
        if width == 1 and words != greedy_words:
            return f"beam_width 1 should be greedy decoding, {greedy_words}; got {words}"
        if score > best_score + 1e-12:
            return f"beam_width {width}: a score above the best possible one"
        if any(w == start for w in words) or end in words[:-1]:
            return f"beam_width {width}: words {words} include start, or continue after end"
        if any(w in inputs["banned"] for w in words):
            return f"beam_width {width}: words {words} include a word whose log-prob is -inf"
    return None


def judge_expected(*expected):
    """Hand-made models: each run's words, and its score within 1e-12 of the log of a probability
    (or exactly a score, for the ties)."""
    def judge(inputs, got):
        answers, why = beam_answers(inputs, got)
        if why:
            return why
        for (key, (words, score)), (want_words, want_score, exact) in zip(answers.items(), expected):
            if words != want_words:
                return f"{key}: expected the words {want_words}, got {words}"
            if want_score is not None and not (score == want_score if exact else abs(score - want_score) < 1e-12):
                return f"{key}: expected the score {want_score!r}, got {score!r}"
        return None
    return judge


def beam_check(inputs, judge, **kw):
    return Check(BEAM_RUN, inputs, judge=judge, **kw)


# The hidden test's random models: (seed, V, start, end, max_length, banned).
RANDOM_MODELS = [(1, 3, 0, 1, 5, ()), (2, 4, 0, 1, 4, ()), (3, 5, 3, 0, 4, (4,)), (4, 6, 1, 2, 3, ()),
                 (5, 4, 2, 3, 5, (0,))]


def random_model_inputs(seed, V, start, end, max_length, banned):
    runs = [(width, max_length) for width in (WIDE, 1, 2, 3)]
    return lambda rng: {"model": "random", "seed": seed, "V": V, "start": start, "end": end, "max_length": max_length,
                        "banned": list(banned), "runs": [list(r) for r in runs]}


# The visible test's model over V = 5 words, 0 = start, 1 = end, 2 = "a", 3 = "b", 4 = "c".
VISIBLE_TABLE = {(): [0, 0, 0.5, 0.4, 0.1], (2,): [0, 0.1, 0.3, 0.2, 0.4], (3,): [0, 0.9, 0.05, 0.05, 0]}
VISIBLE_RUNS = [((1, 5), [2, 4, 1], 0.2), ((2, 5), [3, 1], 0.36), ((3, 5), [3, 1], 0.36), ((2, 1), [2], 0.5)]
# A wider beam that wins: greedy takes 4 (0.6) and then spreads over four words; 5 (0.4) ends at once.
HAND_TABLE = {(): [0, 0, 0, 0, 0.6, 0.4], (4,): [0, 0.2, 0.2, 0.2, 0.2, 0.2], (5,): [0, 0.95, 0.05, 0, 0, 0]}
# Exact ties: scores are sums of exact binary fractions. Words 2 and 3 tie at -0.5; 2, 3 and 4 then
# end at -1.5 each. The earlier candidate wins every tie.
TIE_TABLE = {(): [-np.inf, -3.0, -0.5, -0.5, -1.0], (2,): [-np.inf, -1.0, -2.0, -2.0, -2.0],
             (3,): [-np.inf, -1.0, -4.0, -4.0, -4.0], (4,): [-np.inf, -0.5, -4.0, -4.0, -4.0]}
TIE_FALLBACK = [-np.inf, 0.0, -np.inf, -np.inf, -np.inf]
# Kernel code: which hypotheses beam_search extends (the prefix each step call reads) with width 2.
SPY_RUN = BEAM_MODELS + '''
_step = table_model(prefixes, log_probs, fallback, start)
_extended = []
def _spy(state, word):
    _extended.append(tuple(state) + (int(word),) if word != start else ())
    return _step(state, word)
beam_search(_spy, (), start, end, 2, 4)
result = [np.asarray(p, dtype=np.int64) for p in _extended]
'''


def judge_spy(inputs, got):
    if not isinstance(got, tuple):
        return "the grader's call sent back no list of hypotheses"
    extended = sorted(tuple(int(w) for w in np.asarray(p).reshape(-1)) for p in got[1:])
    if extended != [(2,), (3,)]:
        return (f"beam_width 2 should extend (2,) and (3,) after the first step (the tie at -0.5 goes to 2, "
                f"then 3 comes before 4), extended {extended}")
    return None


# ---- 5. CaptioningRNN on the reference layers, 7. training ------------------------------------

PARAMS = ["W_proj", "b_proj", "W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab"]
# Kernel code: the layers of Assignments 1 and 3 with their NumPy signatures, computed by torch
# autograd in float64, and a context that swaps them into the namespace of the student's
# CaptioningRNN (and back afterwards: Part 8 runs on the student's own layers).
REFERENCE_LAYERS = f"_PARAMS = {PARAMS!r}\n" + '''
import contextlib
import numpy as np
import torch

def _layer(fn, diff):
    """forward(*args) -> (*outputs, cache) and backward(*douts, cache) -> grads of args[diff]."""
    def forward(*args):
        ins = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) if i in diff
               else torch.as_tensor(np.asarray(a)).long() for i, a in enumerate(args)]
        outs = fn(*ins)
        return (*[o.detach().numpy() for o in outs], (outs, [ins[i] for i in diff]))
    def backward(*args):
        *douts, (outs, ins) = args
        g = torch.autograd.grad(outs, ins, [torch.tensor(np.asarray(d, dtype=np.float64)) for d in douts],
                                retain_graph=True)
        return g[0].numpy() if len(g) == 1 else tuple(x.numpy() for x in g)
    return forward, backward

def _lstm_step(x, h, c, Wx, Wh, b):
    H = h.shape[1]
    a = x @ Wx + h @ Wh + b  # gate blocks i, f, g, o
    c = torch.sigmoid(a[:, H:2 * H]) * c + torch.sigmoid(a[:, :H]) * torch.tanh(a[:, 2 * H:3 * H])
    return torch.sigmoid(a[:, 3 * H:]) * torch.tanh(c), c

def _sequence(cell):
    def run(x, h0, Wx, Wh, b):
        h, c, hs = h0, torch.zeros_like(h0), []
        for t in range(x.shape[1]):
            h, c = cell(x[:, t], h, c, Wx, Wh, b)
            hs.append(h)
        return (torch.stack(hs, dim=1),)
    return run

def _temporal_softmax_loss(x, y, mask):
    x = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    lp = torch.log_softmax(x, dim=2).gather(2, torch.as_tensor(np.asarray(y)).long()[:, :, None])[:, :, 0]
    loss = -(lp * torch.as_tensor(np.asarray(mask), dtype=torch.float64)).sum() / x.shape[0]
    loss.backward()
    return float(loss.detach()), x.grad.numpy()

_rnn_step = lambda x, h, c, Wx, Wh, b: (torch.tanh(x @ Wx + h @ Wh + b), c)
_reference = {"temporal_softmax_loss": _temporal_softmax_loss}
for _name, _fn, _diff in [("rnn_step", lambda x, h, Wx, Wh, b: _rnn_step(x, h, None, Wx, Wh, b)[:1], range(5)),
                          ("rnn", _sequence(_rnn_step), range(5)), ("lstm_step", _lstm_step, range(6)),
                          ("lstm", _sequence(_lstm_step), range(5)),
                          ("word_embedding", lambda x, W: (W[x],), [1]),
                          ("temporal_affine", lambda x, w, b: (x @ w + b,), range(3))]:
    _reference[_name + "_forward"], _reference[_name + "_backward"] = _layer(_fn, list(_diff))

@contextlib.contextmanager
def _reference_layers():
    """Inside the block the student's CaptioningRNN calls the reference layers; after it, its own."""
    spaces = {}
    for method in ("__init__", "loss", "sample"):
        space = getattr(getattr(CaptioningRNN, method, None), "__globals__", None)
        if isinstance(space, dict):
            spaces[id(space)] = space
    saved = [(space, {k: space[k] for k in _reference if k in space}) for space in spaces.values()]
    for space in spaces.values():
        space.update(_reference)
    try:
        yield
    finally:
        for space, old in saved:
            for k in _reference:
                if k in old:
                    space[k] = old[k]
                else:
                    space.pop(k, None)

params = {k: globals()["param_" + k] for k in _PARAMS}

def _new_model(rng_seed, wordvec_dim, hidden_dim):
    """The student's CaptioningRNN (its __init__'s parameter shapes are checked too)."""
    model = CaptioningRNN(word_to_idx, input_dim=features.shape[1], wordvec_dim=wordvec_dim, hidden_dim=hidden_dim,
                          cell_type=cell_type, dtype=np.float64, rng=np.random.default_rng(rng_seed))
    shapes = {k: np.asarray(np.shape(v), dtype=np.int64) for k, v in model.params.items()}
    return model, shapes
'''
# Kernel code: loss (and gradients) or greedy captions of the student's model with the given parameters.
CAPTION_RUN = REFERENCE_LAYERS + '''
model, shapes = _new_model(seed, params["W_embed"].shape[1], params["W_proj"].shape[1])
model.params = {k: v.copy() for k, v in params.items()}
_features, _captions = features.copy(), captions.copy()
with _reference_layers():
    if compared == ["ids"]:
        _out = {"ids": model.sample(_features, max_length=max_length)}
    else:
        _out = model.loss(_features, _captions)
        if not isinstance(_out, (tuple, list)) or len(_out) != 2:
            raise ValueError("CaptioningRNN.loss should return (loss, grads)")
        _out = {"loss": _out[0], "grads": _out[1]}
_out |= {"features after the call": _features, "captions after the call": _captions}
result = {"params made by __init__": shapes} | {k: _out[k] for k in compared}
'''
# Kernel code: 200 full-batch Adam steps with the student's loss and gradients on the reference layers.
OVERFIT_RUN = REFERENCE_LAYERS + '''
model, _ = _new_model(5, 32, 64)
params = {k: v.copy() for k, v in params.items()}
_m = {k: np.zeros_like(v) for k, v in params.items()}
_v = {k: np.zeros_like(v) for k, v in params.items()}
_threads = torch.get_num_threads()
torch.set_num_threads(1)
try:
    with _reference_layers():
        for _step in range(1, 201):
            model.params = {k: v.copy() for k, v in params.items()}
            _, _grads = model.loss(features.copy(), captions.copy())
            for k in params:
                _g = np.clip(np.asarray(_grads[k], dtype=np.float64), -5.0, 5.0)
                if _g.shape != params[k].shape:
                    raise ValueError(f"grads[{k!r}] has shape {_g.shape}, expected {params[k].shape}")
                _m[k] = 0.9 * _m[k] + 0.1 * _g
                _v[k] = 0.999 * _v[k] + 0.001 * _g * _g
                params[k] -= 1e-2 * (_m[k] / (1 - 0.9 ** _step)) / (np.sqrt(_v[k] / (1 - 0.999 ** _step)) + 1e-8)
finally:
    torch.set_num_threads(_threads)
result = {"trained params": params}
'''


def param_shapes(D, W, H, V, cell_type):
    """CaptioningRNN's parameter shapes; CS231n's letters: D is F (image features), W is E (word vectors)."""
    m = 4 if cell_type == "lstm" else 1
    return {"W_proj": (D, H), "b_proj": (H,), "W_embed": (V, W), "Wx": (W, m * H), "Wh": (H, m * H),
            "b": (m * H,), "W_vocab": (H, V), "b_vocab": (V,)}


def caption_inputs(seed, N, T, D, W, H, V, cell_type, max_length=None):
    """The hidden tests' random case: float64 parameters, features and padded captions of T + 1 ids
    (drawn from default_rng(seed), the Check's seed, in the hidden tests' order)."""
    def make(rng):
        word_to_idx = {"<NULL>": 0, "<START>": 1, "<END>": 2, **{f"w{i}": i for i in range(3, V)}}
        params = {k: 0.5 * rng.standard_normal(s) for k, s in param_shapes(D, W, H, V, cell_type).items()}
        features = rng.standard_normal((N, D))
        captions = rng.integers(3, V, size=(N, T + 1))
        captions[:, 0] = 1
        for n, length in enumerate(rng.integers(1, T + 1, size=N)):  # words before <END>; row 0 unpadded
            if n > 0 or length < T:
                captions[n, length:] = 0
                captions[n, length] = 2
        inputs = {"seed": seed, "word_to_idx": word_to_idx, "cell_type": cell_type, "features": features,
                  "captions": captions, **{"param_" + k: v for k, v in params.items()}}
        return inputs | ({"max_length": max_length} if max_length else {})
    return make


def params_of(inputs, prefix="param_"):
    return {k: inputs[prefix + k] for k in PARAMS}


def torch_model(word_to_idx, params, cell_type):
    """The independent reference: CaptionModel (CS231n's model in torch) with these float64 weights."""
    (D, H), W = np.shape(params["W_proj"]), np.shape(params["W_embed"])[1]
    model = CaptionModel(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H, cell_type=cell_type,
                         condition="h0", dtype=torch.float64)
    model.load_numpy_params(params)
    return model


def torch_loss(word_to_idx, params, features, captions, cell_type):
    """Loss and gradients (under the NumPy names) of the reference model, by torch autograd in float64."""
    model = torch_model(word_to_idx, params, cell_type)
    loss = model.loss(torch.as_tensor(np.asarray(features, dtype=np.float64)), torch.as_tensor(np.asarray(captions)))
    loss.backward()
    return loss.item(), {k.split(".")[-1]: p.grad.numpy() for k, p in model.named_parameters()}


def caption_reference(inputs, compared):
    """The compared outputs, by the reference model (and the inputs, which must stay unchanged)."""
    want = {"features after the call": inputs["features"], "captions after the call": inputs["captions"]}
    if "loss" in compared or "grads" in compared:
        want["loss"], want["grads"] = torch_loss(inputs["word_to_idx"], params_of(inputs), inputs["features"],
                                                 inputs["captions"], inputs["cell_type"])
    return {k: want[k] for k in compared}


def judge_shapes(inputs, got):
    """The parameter shapes made by the student's __init__ (the hidden tests checked them first)."""
    D, V = inputs["features"].shape[1], len(inputs["word_to_idx"])
    W, H = inputs["param_W_embed"].shape[1], inputs["param_W_proj"].shape[1]
    want = param_shapes(D, W, H, V, inputs["cell_type"])
    shapes = got.get("params made by __init__") if isinstance(got, dict) else None
    shapes = {k: tuple(int(x) for x in np.asarray(v).reshape(-1)) for k, v in shapes.items()} \
        if isinstance(shapes, dict) else shapes
    if not isinstance(shapes, dict) or set(shapes) != set(want):
        return f"CaptioningRNN.__init__ should make the params {sorted(want)}, got {sorted(shapes or [])}"
    wrong = [k for k in want if shapes[k] != want[k]]
    return f"CaptioningRNN.__init__ made params[{wrong[0]!r}] of shape {shapes[wrong[0]]}, expected {want[wrong[0]]}" \
        if wrong else None


def changed_input(got, want):
    """The hidden tests required each input to be exactly as it was: the first that is not, or None."""
    for name in [k for k in want if k.endswith(" after the call")]:
        if compare(got[name], want[name], 0.0, name):
            return f"the function changed its input {name.split()[0]}"
    return None


def caption_judge(compared, tol=1e-9):
    def judge(inputs, got):
        why = judge_shapes(inputs, got)
        if why:
            return why
        want = caption_reference(inputs, compared)
        if "grads" in want and isinstance(got.get("grads"), dict) and set(got["grads"]) != set(want["grads"]):
            return f"grads should have the keys {sorted(want['grads'])}, got {sorted(got['grads'])}"
        got = {k: v for k, v in got.items() if k != "params made by __init__"}
        return compare(got, want, tol) or changed_input(got, want)
    return judge


def judge_sample(inputs, got):
    """Greedy captions of the reference model (course_lib.decoding.decode, no word banned, like
    CS231n's sample), compared up to each reference caption's first <END>."""
    why = judge_shapes(inputs, got)
    if why:
        return why
    N, max_length, cell_type = inputs["features"].shape[0], inputs["max_length"], inputs["cell_type"]
    model = torch_model(inputs["word_to_idx"], params_of(inputs), cell_type)
    with torch.no_grad():
        ref = decode(lambda state, words: model.step(state, words)[:2],
                     model.init_state(torch.tensor(inputs["features"])), 1, 2, N, max_length, banned=())
    ids = np.asarray(got.get("ids"))
    if ids.dtype.kind not in "biuf":
        return f"{cell_type}: sample should return integer ids, got values of type {ids.dtype}"
    if ids.shape != (N, max_length):
        return f"{cell_type}: sample returned shape {ids.shape}, expected {(N, max_length)}"
    for n in range(N):
        want = [int(i) for i in ref[n]]
        want = want[:want.index(2) + 1] if 2 in want else want  # up to the first <END>
        row = ids[n, :len(want)]
        got_ids = [int(i) for i in row] if np.all(np.isfinite(row)) else row.tolist()
        if got_ids != want:
            return (f"{cell_type}, max_length {max_length}: caption {n} should be {want} up to its first <END>, "
                    f"got {got_ids}")
    return None


def caption_check(seed, shape, cell_type, compared, what, max_length=None):
    """A check of CaptioningRNN on the reference layers: seed, (N, T, F, E, H, V), compared outputs."""
    judge = judge_sample if compared == ["ids"] else caption_judge(compared)
    return Check(f"compared = {compared!r}\n" + CAPTION_RUN, caption_inputs(seed, *shape, cell_type, max_length),
                 judge=judge, seed=seed, what=what)


def overfit_inputs(rng):
    """Other images (seed 7), caption 1 of each, and the initial parameters of the hidden test
    (drawn from default_rng(1), the Check's seed)."""
    from course_lib import caption_data

    data = caption_data.captioning_dataset(n_train=50, n_val=0, n_test=0, seed=7)
    captions = data["train_captions"][1::5]
    features = data["train_features"][data["train_image_idxs"][1::5]].astype(np.float64)
    V, D = len(data["word_to_idx"]), features.shape[1]
    params = {"W_embed": rng.standard_normal((V, 32)) / 100, "W_proj": rng.standard_normal((D, 64)) / np.sqrt(D),
              "b_proj": np.zeros(64), "Wx": rng.standard_normal((32, 64)) / np.sqrt(32),
              "Wh": rng.standard_normal((64, 64)) / 8, "b": np.zeros(64),
              "W_vocab": rng.standard_normal((64, V)) / 8, "b_vocab": np.zeros(V)}
    return {"word_to_idx": dict(data["word_to_idx"]), "cell_type": "rnn", "features": features,
            "captions": np.asarray(captions), **{"param_" + k: v for k, v in params.items()}}


def judge_overfit(inputs, got):
    """The loss of the trained parameters, computed here by the reference model, must be below 1.0."""
    trained = got.get("trained params") if isinstance(got, dict) else None
    if not isinstance(trained, dict) or set(trained) != set(PARAMS):
        return f"the training sent back no trained parameters {sorted(PARAMS)}"
    for k in PARAMS:
        p = np.asarray(trained[k])
        if p.dtype.kind not in "biuf" or p.shape != inputs["param_" + k].shape or not np.all(np.isfinite(p)):
            return f"the trained {k} is not a finite array of shape {inputs['param_' + k].shape}"
    loss = torch_loss(inputs["word_to_idx"], {k: np.asarray(trained[k], dtype=np.float64) for k in PARAMS},
                      inputs["features"], inputs["captions"], "rnn")[0]
    if not loss < 1.0:
        return f"after 200 Adam steps with your loss and gradients, the loss is {loss:.3f}, not below 1.0"
    return None


# ============================================================================================
# The checks, one entry per autograded cell
# ============================================================================================

LAYERS = "on the reference layers"

CHECKS = {
    # 1. soft attention, forward: the visible inputs, then other shapes and seeds, large scores, inputs unchanged.
    "test_soft_attention_forward": [
        attention_forward_check(visible_attention_inputs, unchanged=False, tol=1e-8, hidden=False,
                                what="soft_attention_forward on the visible test's inputs")],
    "test_soft_attention_forward_hidden": [
        attention_forward_check(attention_inputs(*shape, scale=scale), seed=seed, tol=1e-10,
                                what=f"soft_attention_forward, hidden case {i} of 4" + " (large scores)" * (scale > 1))
        for i, (seed, shape, scale) in enumerate([(1, (1, 1, 1, 1, 1), 1.0), (2, (4, 7, 3, 5, 6), 1.0),
                                                  (3, (3, 16, 8, 4, 2), 1.0), (4, (2, 9, 5, 6, 3), 500.0)], 1)],
    # 2. soft attention, backward: every gradient against torch autograd.
    "test_soft_attention_backward": [
        attention_backward_check(visible_backward_inputs, tol=1e-6, hidden=False,
                                 what="soft_attention_backward on the visible test's inputs")],
    "test_soft_attention_backward_hidden": [
        attention_backward_check(attention_inputs(*shape, dz=True), seed=seed, tol=1e-9,
                                 what=f"soft_attention_backward, hidden case {i} of 4")
        for i, (seed, shape) in enumerate([(11, (1, 1, 1, 1, 1)), (12, (4, 7, 3, 5, 6)), (13, (2, 16, 8, 3, 4)),
                                           (14, (5, 2, 6, 9, 3))], 1)],
    # 3. beam search.
    "test_beam_search": [
        beam_check(table_inputs(VISIBLE_TABLE, [0, 1, 0, 0, 0], 0, 1, [r for r, _, _ in VISIBLE_RUNS]),
                   judge_expected(*[(w, np.log(p), False) for _, w, p in VISIBLE_RUNS]), hidden=False,
                   what="beam_search on the visible test's model")],
    "test_beam_search_hidden": [
        beam_check(random_model_inputs(*model), judge_random_model,
                   what=f"beam_search on random model {i} of 5 (exhaustive search, greedy, widths 2 and 3)")
        for i, model in enumerate(RANDOM_MODELS, 1)] + [
        beam_check(table_inputs(HAND_TABLE, [0, 1, 0, 0, 0, 0], 0, 1, [(1, 6), (2, 6)]),
                   judge_expected(([4, 1], None, False), ([5, 1], np.log(0.38), False)),
                   what="beam_search on a model where a wider beam wins")],
    "test_beam_search_ties_hidden": [
        beam_check(table_inputs(TIE_TABLE, TIE_FALLBACK, 0, 1, [(1, 4), (2, 4), (3, 4)], probabilities=False),
                   judge_expected(*[([2, 1], -1.5, True)] * 3), what="beam_search with exact ties"),
        Check(SPY_RUN, table_inputs(TIE_TABLE, TIE_FALLBACK, 0, 1, [], probabilities=False), judge=judge_spy,
              what="beam_search with exact ties: the hypotheses kept after the first step")],
    # 5. CaptioningRNN, its loss, gradients and greedy captions, against CaptionModel in float64.
    "test_captioning_loss_hidden": [
        caption_check(seed, shape, "rnn", ["loss", "features after the call", "captions after the call"],
                      f"CaptioningRNN.loss (RNN) {LAYERS}, hidden case {i} of 4")
        for i, (seed, shape) in enumerate([(21, (1, 1, 1, 1, 1, 4)), (22, (4, 6, 5, 3, 7, 9)),
                                           (23, (3, 9, 8, 6, 4, 12)), (24, (6, 4, 3, 5, 5, 6))], 1)],
    "test_captioning_grads_hidden": [
        caption_check(seed, shape, "rnn", ["grads"],
                      f"CaptioningRNN.loss's gradients (RNN) {LAYERS}, hidden case {i} of 3")
        for i, (seed, shape) in enumerate([(31, (1, 1, 1, 1, 1, 4)), (32, (4, 6, 5, 3, 7, 9)),
                                           (33, (5, 8, 7, 4, 6, 11))], 1)],
    "test_captioning_lstm_hidden": [
        caption_check(seed, shape, "lstm", ["loss", "grads"],
                      f"CaptioningRNN.loss and its gradients (LSTM) {LAYERS}, hidden case {i} of 3")
        for i, (seed, shape) in enumerate([(41, (1, 1, 1, 1, 1, 4)), (42, (4, 6, 5, 3, 7, 9)),
                                           (43, (3, 7, 6, 5, 4, 10))], 1)],
    "test_captioning_sample_hidden": [
        caption_check(seed, shape, cell_type, ["ids"],
                      f"CaptioningRNN.sample ({cell_type.upper()}) {LAYERS}, hidden case {i} of 4",
                      max_length=max_length)
        for i, (seed, shape, cell_type, max_length) in enumerate(
            [(51, (1, 1, 2, 2, 3, 5), "rnn", 1), (52, (5, 3, 4, 3, 6, 8), "rnn", 12),
             (53, (4, 3, 5, 4, 7, 9), "lstm", 10), (54, (2, 3, 3, 2, 5, 6), "lstm", 20)], 1)],
    # 7. 200 Adam steps on 50 other captions; the grader computes the trained model's loss.
    "test_overfit_hidden": [
        # 200 steps of the student's loss on autograd layers: tens of seconds on a loaded machine
        Check(OVERFIT_RUN, overfit_inputs, judge=judge_overfit, seed=1, timeout=300,
              what=f"training: 200 Adam steps with CaptioningRNN.loss {LAYERS} on 50 hidden captions")],
}
