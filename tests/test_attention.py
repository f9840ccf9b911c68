"""Soft attention (course_lib.attention): weights, the additive and dot formulas, float64 gradients;
the caption decoder's attention options and mask (course_lib.captioning.CaptionModel)."""
import numpy as np
import pytest
import torch

import torch.nn.functional as F

from course_lib.attention import DotAttention, SoftAttention, soft_attention
from course_lib.captioning import CaptionModel


def _inputs(N=2, L=5, C=3, H=4, K=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = [(N, H), (N, L, C), (C, K), (H, K), (K,), (K,)]
    return [torch.randn(s, dtype=torch.float64, generator=g, requires_grad=True) for s in shapes]


def test_weights_sum_to_one_and_mask_zeroes_locations():
    h, A, *params = _inputs()
    z, alpha = soft_attention(h, A, *params)
    assert z.shape == (2, 3) and alpha.shape == (2, 5)
    torch.testing.assert_close(alpha.sum(1), torch.ones(2, dtype=torch.float64))
    mask = torch.tensor([[True, False, True, False, False], [False] * 4 + [True]])
    z, alpha = soft_attention(h, A, *params, mask=mask)
    torch.testing.assert_close(alpha.sum(1), torch.ones(2, dtype=torch.float64))
    assert (alpha[~mask] == 0).all()
    torch.testing.assert_close(z[1], A[1, 4])  # one allowed location: all the weight on it


def test_matches_a_hand_written_loop():
    h, A, W_A, W_ha, b_a, w_a = (t.detach().numpy() for t in _inputs(seed=1))
    N, L, C = A.shape
    z_ref, alpha_ref = np.zeros((N, C)), np.zeros((N, L))
    for n in range(N):
        e = [sum(w_a[k] * np.tanh(sum(A[n, i, c] * W_A[c, k] for c in range(C))
                                  + sum(h[n, j] * W_ha[j, k] for j in range(h.shape[1])) + b_a[k])
                 for k in range(len(w_a))) for i in range(L)]
        alpha_ref[n] = np.exp(e - np.max(e)) / np.exp(e - np.max(e)).sum()
        z_ref[n] = sum(alpha_ref[n, i] * A[n, i] for i in range(L))
    z, alpha = soft_attention(*(torch.as_tensor(a) for a in (h, A, W_A, W_ha, b_a, w_a)))
    np.testing.assert_allclose(alpha.numpy(), alpha_ref, rtol=1e-12)
    np.testing.assert_allclose(z.numpy(), z_ref, rtol=1e-12)


def test_backward_by_float64_gradcheck():
    inputs = _inputs(N=2, L=4, C=3, H=3, K=5, seed=2)
    assert torch.autograd.gradcheck(lambda *x: soft_attention(*x), inputs)
    mask = torch.tensor([[True, True, False, True], [False, True, True, True]])
    assert torch.autograd.gradcheck(lambda *x: soft_attention(*x, mask=mask), inputs)


def test_module_precompute_and_shape_errors():
    att = SoftAttention(4, 3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert [n for n, _ in att.named_parameters()] == ["W_A", "W_ha", "b_a", "w_a"]
    h, A = _inputs()[:2]
    z, alpha = att(h, A)
    z2, alpha2 = att(h, A, AW_A=att.precompute(A))
    torch.testing.assert_close(z, z2)
    with pytest.raises(ValueError, match="A should have shape"):
        att(h, A[..., :2])
    with pytest.raises(ValueError, match="h should have shape"):
        att(h[:, :3], A)
    with pytest.raises(ValueError, match="at least one True"):
        att(h, A, mask=torch.zeros(2, 5, dtype=torch.bool))


# ---- DotAttention (Luong's multiplicative score) ----

def _dot(N=3, R=5, C=4, H=6, seed=0):
    """(attention module, h (N, H), A (N, R, C)) in float64, h and A requiring gradients."""
    g = torch.Generator().manual_seed(seed)
    att = DotAttention(H, C, dtype=torch.float64, generator=g)
    h = torch.randn(N, H, dtype=torch.float64, generator=g, requires_grad=True)
    A = torch.randn(N, R, C, dtype=torch.float64, generator=g, requires_grad=True)
    return att, h, A


MASK = torch.tensor([[True, True, False, True, False],
                     [False, False, False, False, True],
                     [True, True, True, True, True]])


def test_dot_weights_sum_to_one_and_mask_zeroes_locations():
    att, h, A = _dot()
    assert [n for n, _ in att.named_parameters()] == ["W_hA"] and att.W_hA.shape == (6, 4)
    z, alpha = att(h, A)
    assert z.shape == (3, 4) and alpha.shape == (3, 5)
    torch.testing.assert_close(alpha.sum(1), torch.ones(3, dtype=torch.float64))
    assert (alpha > 0).all()
    z, alpha = att(h, A, mask=MASK)
    torch.testing.assert_close(alpha.sum(1), torch.ones(3, dtype=torch.float64))
    assert (alpha[~MASK] == 0).all()
    torch.testing.assert_close(z[1], A[1, 4])  # one allowed location: all the weight on it
    garbage = torch.where(MASK[:, :, None], A, torch.full_like(A, 1e3))  # masked rows: huge values
    z2, alpha2 = att(h, garbage, mask=MASK)
    assert torch.equal(alpha2, alpha) and torch.equal(z2, z)


def test_dot_matches_numpy_formula():
    att, h, A = _dot(seed=1)
    W, h_np, A_np = att.W_hA.detach().numpy(), h.detach().numpy(), A.detach().numpy()
    mask = MASK.numpy()
    for m in (None, mask):
        q = h_np @ W                                   # (N, C)
        e = np.einsum("nc,nrc->nr", q, A_np)           # (N, R)
        if m is not None:
            e = np.where(m, e, -np.inf)
        alpha_ref = np.exp(e - e.max(1, keepdims=True))
        alpha_ref /= alpha_ref.sum(1, keepdims=True)
        z_ref = np.einsum("nr,nrc->nc", alpha_ref, A_np)
        z, alpha = att(h, A, mask=None if m is None else torch.as_tensor(m))
        np.testing.assert_allclose(alpha.detach().numpy(), alpha_ref, rtol=1e-12, atol=0)
        np.testing.assert_allclose(z.detach().numpy(), z_ref, rtol=1e-12, atol=1e-15)


def test_dot_matches_torch_scaled_dot_product_attention():
    att, h, A = _dot(seed=2)
    q = (h @ att.W_hA)[:, None, :]  # (N, 1, C): one query per row
    for mask in (None, MASK):
        ref = F.scaled_dot_product_attention(q, A, A, scale=1.0,
                                             attn_mask=None if mask is None else mask[:, None, :])[:, 0]
        z, _ = att(h, A, mask=mask)
        torch.testing.assert_close(z, ref, rtol=1e-12, atol=1e-12)


def test_dot_backward_by_float64_gradcheck():
    att, h, A = _dot(N=2, R=4, C=3, H=3, seed=3)
    W = att.W_hA.detach().clone().requires_grad_(True)
    mask = torch.tensor([[True, False, True, True], [False, True, True, False]])

    def f(h, A, W, mask=None):  # the module with W in place of its parameter W_hA
        return torch.func.functional_call(att, {"W_hA": W}, (h, A), {"mask": mask})

    (gW,) = torch.autograd.grad(f(h, A, W)[0].sum(), W)
    assert gW.abs().min() > 0  # W really is the parameter used, so gradcheck checks its gradient
    assert torch.autograd.gradcheck(f, (h, A, W))
    assert torch.autograd.gradcheck(lambda *x: f(*x, mask=mask), (h, A, W))


def test_dot_precompute_and_shape_errors():
    att, h, A = _dot(seed=4)
    AW = att.precompute(A)
    assert AW.shape == (3, 5, 6)
    torch.testing.assert_close(AW, torch.einsum("nrc,hc->nrh", A, att.W_hA))
    for mask in (None, MASK):
        z, alpha = att(h, A, mask=mask)
        z2, alpha2 = att(h, A, mask=mask, AW_A=AW)
        torch.testing.assert_close(z2, z, rtol=1e-14, atol=1e-14)
        torch.testing.assert_close(alpha2, alpha, rtol=1e-14, atol=1e-14)
    with pytest.raises(ValueError, match="A should have shape"):
        att(h, A[..., :2])
    with pytest.raises(ValueError, match="A should have shape"):
        att.precompute(A[0])
    with pytest.raises(ValueError, match="h should have shape"):
        att(h[:, :5], A)
    with pytest.raises(ValueError, match="h should have shape"):
        att(h[:2], A)
    with pytest.raises(ValueError, match="mask should have shape"):
        att(h, A, mask=MASK[:, :4])


# ---- CaptionModel's attention options ----

CAP_WORDS = ["<NULL>", "<START>", "<END>", "a", "b", "c", "d"]
CAP_W2I = {w: i for i, w in enumerate(CAP_WORDS)}


def _caption_inputs(N=3, R=5, C=4, F_=6, T=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(N, F_, dtype=torch.float64, generator=g)
    A = torch.randn(N, R, C, dtype=torch.float64, generator=g)
    caps = torch.randint(3, len(CAP_WORDS), (N, T), generator=g)
    caps[:, 0] = 1
    return v, A, caps


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("attention", ["dot", "additive"])
def test_caption_model_mask(cell, attention):
    model = CaptionModel(CAP_W2I, 6, 5, 7, cell, "h0", attention, spatial_dim=4, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(0))
    v, A, caps = _caption_inputs()
    scores, alphas = model(v, caps, A)
    scores1, alphas1 = model(v, caps, A, mask=torch.ones(3, 5, dtype=torch.bool))
    torch.testing.assert_close(scores1, scores, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(alphas1, alphas, rtol=1e-13, atol=1e-13)
    scores_m, alphas_m = model(v, caps, A, mask=MASK)
    assert alphas_m.shape == (3, 4, 5) and (alphas_m[~MASK[:, None, :].expand(-1, 4, -1)] == 0).all()
    assert not torch.allclose(scores_m, scores)  # the mask does something
    A2 = torch.where(MASK[:, :, None], A, torch.randn(A.shape, dtype=A.dtype) * 100)
    scores2, alphas2 = model(v, caps, A2, mask=MASK)
    assert torch.equal(scores2, scores_m) and torch.equal(alphas2, alphas_m)
    # step by step with the mask in the state gives the same scores
    state = model.init_state(v, A2, MASK)
    steps = []
    for t in range(caps.shape[1]):
        s, state, _ = model.step(state, caps[:, t])
        steps.append(s)
    torch.testing.assert_close(torch.stack(steps, 1), scores_m, rtol=1e-12, atol=1e-12)


def test_caption_model_attention_kinds_and_errors():
    kinds = {a: CaptionModel(CAP_W2I, 6, 5, 7, "gru", "h0", a, spatial_dim=4, attention_dim=3)
             for a in (True, "additive", "dot", False)}
    assert type(kinds[True].attention) is SoftAttention and kinds[True].attention.attn_size == 3
    assert type(kinds["additive"].attention) is SoftAttention
    assert type(kinds["dot"].attention) is DotAttention and kinds["dot"].attention.W_hA.shape == (7, 4)
    assert kinds[False].attention is None and not kinds[False].use_attention
    assert CaptionModel(CAP_W2I, 6, 5, 7, "gru", "h0", None).attention is None
    # the cell reads [word vector, z]: E + C inputs with attention
    assert kinds["dot"].cell.Wx.shape[0] == 5 + 4 and kinds[False].cell.Wx.shape[0] == 5
    for bad in ("Dot", "multiplicative", "bahdanau"):
        with pytest.raises(ValueError, match="attention should be"):
            CaptionModel(CAP_W2I, 6, 5, 7, "gru", "h0", bad, spatial_dim=4)
    with pytest.raises(ValueError, match="spatial_dim"):
        CaptionModel(CAP_W2I, 6, 5, 7, "gru", "h0", "dot")


def test_dot_rejects_a_mask_row_with_no_location():
    att, h, A = _dot()
    mask = MASK.clone()
    mask[0] = False
    with pytest.raises(ValueError, match="at least one True"):
        att(h, A, mask=mask)
