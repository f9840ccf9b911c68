"""LRU stacks (course_lib.lru_stack): the interface of a recurrent layer, modes, causality, non-linearity."""
import pytest
import torch

from course_lib.adding import build_model
from course_lib.linear_rnn import LinearRecurrentLayer
from course_lib.lru_stack import LRUBlock, LRUStack


def _stack(**kw):
    torch.manual_seed(0)
    return LRUStack(3, D=8, H=6, n_blocks=2, generator=torch.Generator().manual_seed(0), **kw).double()


def test_shapes_and_the_recurrent_layer_interface():
    x = torch.randn(4, 11, 3, dtype=torch.float64)
    y, state = _stack()(x)
    assert y.shape == (4, 11, 8) and state is None
    tokens = LRUStack(10, D=8, H=6, tokens=True)
    assert tokens(torch.randint(0, 10, (2, 5)))[0].shape == (2, 5, 8)
    with pytest.raises(ValueError, match="mode"):
        LRUStack(3, mode="parallel")


def test_modes_compute_the_same_function():
    x = torch.randn(2, 37, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    stack = _stack()
    with torch.no_grad():
        outs = {}
        for mode in ("scan", "loop", "fft"):
            stack.mode = mode
            outs[mode] = stack(x)[0]
    torch.testing.assert_close(outs["scan"], outs["loop"], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(outs["fft"], outs["loop"], rtol=1e-10, atol=1e-10)


def test_causal_an_input_changes_only_later_outputs():
    x = torch.randn(1, 20, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x2 = x.clone()
    x2[0, 12] += 1.0
    with torch.no_grad():
        y, y2 = _stack()(x)[0], _stack()(x2)[0]
    assert torch.equal(y[0, :12], y2[0, :12])
    assert (y[0, 12:] - y2[0, 12:]).abs().amax(dim=1).min() > 0


def test_a_block_is_the_recurrence_then_a_residual_mlp():
    torch.manual_seed(3)
    block = LRUBlock(4, 5, generator=torch.Generator().manual_seed(3)).double()
    x = torch.randn(2, 9, 4, dtype=torch.float64)
    assert isinstance(block.lru, LinearRecurrentLayer)
    with torch.no_grad():
        z = block.lru(x, mode="loop")
        want = x + torch.nn.functional.gelu(z @ block.mlp[0].weight.T + block.mlp[0].bias) @ block.mlp[2].weight.T \
            + block.mlp[2].bias
        torch.testing.assert_close(block(x, mode="loop"), want, rtol=1e-12, atol=1e-12)
        x1, x2 = torch.randn(2, 2, 9, 4, dtype=torch.float64)
        zero = torch.zeros_like(x1)
        # an affine map f has f(x1 + x2) + f(0) = f(x1) + f(x2); the recurrence alone is one, the block is not
        lru_gap = (block.lru(x1 + x2) + block.lru(zero) - block.lru(x1) - block.lru(x2)).abs().max()
        block_gap = (block(x1 + x2) + block(zero) - block(x1) - block(x2)).abs().max()
        assert lru_gap < 1e-12 and block_gap > 1e-3


def test_adding_problem_model_reads_the_last_step():
    model = build_model("LRU", 8)
    x = torch.randn(5, 13, 2)
    assert model(x).shape == (5,)
    assert sum(p.numel() for p in model.parameters()) > 0
