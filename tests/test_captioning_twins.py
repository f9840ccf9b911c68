"""The NumPy twins of Assignment 4 against course_lib's torch modules, in float64.

The twins are the reference answers of solutions/captioning/captioning.ipynb (CaptioningRNN on the
reference layers of Assignments 1 and 3, soft attention, beam search), executed from the notebook
so that the test follows the notebook. Their torch counterparts: CaptionModel with condition="h0"
and no attention (CS231n's CaptioningRNN), course_lib.attention and course_lib.decoding.
"""
import nbformat
import numpy as np
import pytest
import torch

from course_lib.attention import SoftAttention, soft_attention
from course_lib.captioning import CaptionModel
from course_lib.decoding import beam_search, decode
from course_lib.grading import reference_answers

TWINS = ["soft_attention_forward", "soft_attention_backward", "beam_search", "earlier_layers", "captioning_rnn"]


@pytest.fixture(scope="module")
def twin(root):
    """The namespace of the notebook's setup cell and reference answers."""
    nb = nbformat.read(root / "solutions" / "captioning" / "captioning.ipynb", as_version=4)
    answers = reference_answers(nb)
    namespace = {}
    setup = [c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"]
    exec(setup[0], namespace)
    for grade_id in TWINS:
        exec(answers[grade_id], namespace)
    return namespace


def random_model(twin, cell_type, seed, N=4, T=7, D=5, W=3, H=6, V=9):
    """A NumPy CaptioningRNN with random float64 weights, its torch twin, features and padded captions."""
    rng = np.random.default_rng(seed)
    word_to_idx = {"<NULL>": 0, "<START>": 1, "<END>": 2, **{f"w{i}": i for i in range(3, V)}}
    model = twin["CaptioningRNN"](word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H, cell_type=cell_type,
                                  dtype=np.float64)
    model.params = {k: 0.5 * rng.standard_normal(v.shape) for k, v in model.params.items()}
    torch_model = CaptionModel(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H, cell_type=cell_type,
                               condition="h0", dtype=torch.float64)
    torch_model.load_numpy_params(model.params)
    features = rng.standard_normal((N, D))
    captions = rng.integers(3, V, size=(N, T + 1))
    captions[:, 0] = 1
    for n, length in enumerate([T, 2, 5, 1][:N]):  # caption 0 fills every step, the others are padded
        if length < T:
            captions[n, length] = 2
            captions[n, length + 1:] = 0
    return model, torch_model, features, captions


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_captioning_rnn_loss_and_gradients_match_caption_model(twin, cell_type):
    model, torch_model, features, captions = random_model(twin, cell_type, seed=3)
    loss, grads = model.loss(features, captions)
    torch_loss = torch_model.loss(torch.tensor(features), torch.tensor(captions))
    torch_loss.backward()
    assert abs(loss - torch_loss.item()) < 1e-10 * (1 + abs(loss))
    torch_grads = {name.split(".")[-1]: p.grad for name, p in torch_model.named_parameters()}
    assert sorted(grads) == sorted(torch_grads)
    for name, grad in grads.items():
        np.testing.assert_allclose(grad, torch_grads[name].numpy(), rtol=1e-9, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_greedy_sample_matches_course_lib_decode(twin, cell_type):
    model, torch_model, features, _ = random_model(twin, cell_type, seed=4, N=6, V=7)
    ids = model.sample(features, max_length=12)
    state0 = torch_model.init_state(torch.tensor(features))
    with torch.no_grad():
        want = decode(lambda state, words: torch_model.step(state, words)[:2], state0, 1, 2, 6, 12)
    assert ids.shape == want.shape == (6, 12)
    for got_row, want_row in zip(ids.tolist(), want.tolist()):
        stop = want_row.index(2) + 1 if 2 in want_row else len(want_row)  # decode pads with <NULL> after <END>
        assert got_row[:stop] == want_row[:stop]


def test_soft_attention_matches_course_lib(twin):
    rng = np.random.default_rng(5)
    N, L, C, H, K = 3, 10, 4, 6, 5
    h, A = rng.standard_normal((N, H)), rng.standard_normal((N, L, C))
    module = SoftAttention(H, C, K, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    params = {name: p.detach().numpy().copy() for name, p in module.named_parameters()}
    (z, alpha), cache = twin["soft_attention_forward"](h, A, params["W_A"], params["W_ha"], params["b_a"], params["w_a"])

    h_t, A_t = torch.tensor(h, requires_grad=True), torch.tensor(A, requires_grad=True)
    z_t, alpha_t = module(h_t, A_t)
    z_f, alpha_f = soft_attention(h_t, A_t, *module.parameters())
    for got, want in [(z, z_t), (alpha, alpha_t), (z, z_f), (alpha, alpha_f)]:
        np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-12, atol=1e-14)

    dz = rng.standard_normal((N, C))
    grads = twin["soft_attention_backward"](dz, cache)
    want = torch.autograd.grad(z_t, [h_t, A_t, module.W_A, module.W_ha, module.b_a, module.w_a], torch.tensor(dz))
    for name, got, ref in zip(["dh", "dA", "dW_A", "dW_ha", "db_a", "dw_a"], grads, want):
        np.testing.assert_allclose(got, ref.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("beam_width", [1, 2, 3, 50])
def test_beam_search_matches_course_lib(twin, beam_width):
    V, start, end = 6, 1, 2

    def step(prefix, word):  # log-probs from a generator seeded by the whole prefix
        prefix = prefix + (int(word),)
        scores = 2.0 * np.random.default_rng([9, *prefix]).standard_normal(V)
        scores[start] = -np.inf
        return scores - np.log(np.exp(scores[np.isfinite(scores)]).sum()), prefix

    def batched(prefixes, words):  # the same model for course_lib's batched beam search
        out = [step(p, w) for p, w in zip(prefixes, words.tolist())]
        rows = np.empty(len(out), dtype=object)
        rows[:] = [p for _, p in out]
        return torch.as_tensor(np.stack([lp for lp, _ in out])), rows

    for max_length in (1, 3, 5):
        words, score = twin["beam_search"](step, (), start, end, beam_width, max_length)
        state0 = np.empty(1, dtype=object)
        state0[0] = ()
        want_words, want_score = beam_search(batched, state0, start, end, 1, beam_width, max_length,
                                             null=-1)  # word 0 is an ordinary word here
        assert [int(w) for w in words] == [int(w) for w in want_words[0] if w != -1]
        assert score == pytest.approx(want_score[0], abs=1e-12)
