"""Soft attention (course_lib.attention): weights, the additive formula, float64 gradients."""
import numpy as np
import pytest
import torch

from course_lib.attention import SoftAttention, soft_attention


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
