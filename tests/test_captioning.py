"""Captioning model (course_lib.captioning, course_lib.caption_training): parity, masking, training."""
import math

import numpy as np
import pytest
import torch

from course_lib.caption_training import (beam_search_captions, evaluate_captions, free_running_metrics,
                                         sample_captions, train_captioner)
from course_lib.captioning import CaptionModel, Captioner, ConvEncoder, temporal_softmax_loss

WORDS = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "red", "blue", "circle", "square", "left", "of"]
W2I = {w: i for i, w in enumerate(WORDS)}
V = len(WORDS)
EPOCHS = 130  # updates when overfitting 8 captions


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: one CPU thread for small models


def _captions(N=4, T=8, seed=0):
    """(N, T+1) int captions: START, words, END, NULL padding of varied lengths (one full-length)."""
    rng = np.random.default_rng(seed)
    caps = np.zeros((N, T + 1), dtype=np.int64)
    caps[:, 0] = 1
    for n in range(N):
        L = T - 1 if n == 0 else int(rng.integers(1, T - 1))
        caps[n, 1:L + 1] = rng.integers(4, V, L)
        caps[n, L + 1] = 2
    return caps


def _decoder(cell, condition="h0", attention=False, D=5, H=6, seed=0):
    return CaptionModel(W2I, D, 4, H, cell, condition, attention, spatial_dim=3 if attention else None,
                        attention_dim=7, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(seed))


def _reference_loss(dec, v, caps, A=None):
    """The decoder's loss recomputed step by step with torch.nn cells (gates i,f,g,o / r,z,n)."""
    p = {k.split(".")[-1]: t.detach() for k, t in dec.named_parameters()}
    D_in = p["Wx"].shape[0]
    cls = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[dec.cell_type]
    cell = cls(D_in, dec.hidden_dim, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(p["Wx"].T), cell.weight_hh.copy_(p["Wh"].T)
        cell.bias_ih.copy_(p.get("b", p.get("b_x")))
        cell.bias_hh.copy_(p.get("b_h", torch.zeros_like(cell.bias_hh)))
    N, H = v.shape[0], dec.hidden_dim
    h = v @ p["W_proj"] + p["b_proj"] if dec.condition != "step" else torch.zeros(N, H, dtype=v.dtype)
    c, loss = torch.zeros(N, H, dtype=v.dtype), 0.0
    for t in range(caps.shape[1] - 1):
        parts = [p["W_embed"][caps[:, t]]] + ([v] if dec.condition != "h0" else [])
        if A is not None:
            e = torch.tanh(A @ p["W_A"] + (h @ p["W_ha"] + p["b_a"])[:, None]) @ p["w_a"]
            parts.append((torch.softmax(e, 1)[:, :, None] * A).sum(1))
        x = torch.cat(parts, 1)
        h, c = cell(x, (h, c)) if dec.cell_type == "lstm" else (cell(x, h), c)
        log_p = torch.log_softmax(h @ p["W_vocab"] + p["b_vocab"], dim=1)
        target = caps[:, t + 1]
        loss = loss - (log_p[torch.arange(N), target] * (target != 0)).sum()
    return loss / N


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("condition,attention", [("h0", False), ("step", False), ("both", False),
                                                 ("h0", True), ("both", True)])
def test_loss_matches_step_by_step_torch_nn_cells(cell, condition, attention):
    dec = _decoder(cell, condition, attention)
    g = torch.Generator().manual_seed(1)
    v = torch.randn(4, 5, dtype=torch.float64, generator=g)
    A = torch.randn(4, 9, 3, dtype=torch.float64, generator=g) if attention else None
    caps = torch.as_tensor(_captions())
    torch.testing.assert_close(dec.loss(v, caps, A), _reference_loss(dec, v, caps, A))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_load_numpy_params_sets_every_weight(cell):
    dec = _decoder(cell, "h0")
    rng = np.random.default_rng(0)
    params = {k.split(".")[-1]: rng.standard_normal(tuple(t.shape)) for k, t in dec.named_parameters()}
    dec.load_numpy_params(params)
    for k, t in dec.named_parameters():
        np.testing.assert_array_equal(t.detach().numpy(), params[k.split(".")[-1]])
    with pytest.raises(KeyError, match="missing"):
        dec.load_numpy_params({k: a for k, a in params.items() if k != "W_proj"})
    with pytest.raises(ValueError, match="W_embed should have shape"):
        dec.load_numpy_params({**params, "W_embed": params["W_embed"][:3]})


def test_null_positions_change_neither_loss_nor_gradients():
    dec = _decoder("lstm", "both", attention=True)
    g = torch.Generator().manual_seed(2)
    v = torch.randn(4, 5, dtype=torch.float64, generator=g)
    A = torch.randn(4, 9, 3, dtype=torch.float64, generator=g)
    caps = torch.as_tensor(_captions(seed=3))
    out, mask = caps[:, 1:], caps[:, 1:] != 0

    def loss_and_grads(captions_in):
        dec.zero_grad()
        loss = temporal_softmax_loss(dec(v, captions_in, A)[0], out, mask)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in dec.parameters()]

    caps_in = caps[:, :-1]
    noisy_in = torch.where(mask, caps_in, torch.randint(3, V, caps_in.shape, generator=g))  # after END
    assert not torch.equal(noisy_in, caps_in)
    (l1, g1), (l2, g2) = loss_and_grads(caps_in), loss_and_grads(noisy_in)
    assert torch.equal(l1, l2) and all(torch.equal(a, b) for a, b in zip(g1, g2))
    padded = torch.cat([caps, torch.zeros(4, 3, dtype=caps.dtype)], 1)  # more <NULL> columns
    torch.testing.assert_close(dec.loss(v, padded, A), dec.loss(v, caps, A), rtol=1e-14, atol=0)


def test_loss_at_init_is_log_v_per_word():
    dec = CaptionModel(W2I, 5, 8, 16, "lstm", generator=torch.Generator().manual_seed(0))
    caps = _captions(N=16, seed=4)
    words_per_caption = (caps[:, 1:] != 0).sum() / len(caps)
    loss = dec.loss(torch.randn(16, 5), caps).item()
    assert loss == pytest.approx(words_per_caption * math.log(V), rel=0.01)


def _images(N, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (N, 64, 64, 3), dtype=np.uint8)


def test_encoder_shapes_layouts_and_errors():
    enc = ConvEncoder(channels=(8, 8, 8), feature_dim=10, generator=torch.Generator().manual_seed(0)).eval()
    imgs = _images(2)
    v, A = enc(imgs)
    assert v.shape == (2, 10) and A.shape == (2, 64, 8)
    torch.testing.assert_close(enc(imgs / 255.0)[1], A)
    torch.testing.assert_close(enc(torch.as_tensor(imgs).permute(0, 3, 1, 2))[1], A)
    refined = ConvEncoder(channels=(8, 8, 8), feature_dim=10, refine=2).eval()
    assert refined(imgs)[1].shape == (2, 64, 8) and len(refined.conv) == 3 * 5
    pooled = ConvEncoder(channels=(8, 8, 8), feature_dim=10, global_pool=True).eval()
    v, A = pooled(imgs)
    assert pooled.feature_dim == 18 and v.shape == (2, 18)
    torch.testing.assert_close(v[:, 10:], A.amax(dim=1))
    with pytest.raises(ValueError, match=r"\(N, 64, 64, 3\)"):
        enc(imgs[:, :32])


def _tiny_data(N=8, seed=0):
    return {"train_captions": _captions(N, T=8, seed=seed), "train_image_idxs": np.arange(N),
            "train_images": _images(N, seed)}


def _captioner(cell="lstm", attention=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    enc = ConvEncoder(channels=(8, 16, 16), feature_dim=32, generator=g)
    dec = CaptionModel(W2I, 32, 16, 32, cell, "both", attention, spatial_dim=16, generator=g)
    return Captioner(enc, dec)


def test_training_is_deterministic_per_seed():
    data = _tiny_data()
    runs = [train_captioner(_captioner(), data, epochs=3, batch_size=4, val_split=None, seed=5,
                            progress=False) for _ in range(2)]
    assert runs[0]["loss"] == runs[1]["loss"] and len(runs[0]["loss"]) == 6


@pytest.mark.parametrize("attention", [False, True])
def test_overfits_a_tiny_batch(attention):
    data = _tiny_data()
    model = _captioner(attention=attention)
    history = train_captioner(model, data, epochs=EPOCHS, batch_size=8, lr=2e-2, val_split=None,
                              progress=False)
    assert history["loss"][0] > 10 and history["loss"][-1] < 0.1
    free = free_running_metrics(model, data, "train", free=True)
    teacher = free_running_metrics(model, data, "train", free=False)
    assert teacher["accuracy"] == 1.0 and free["accuracy"] == 1.0 and free["loss"] < 0.1
    words = sample_captions(model, data["train_images"], max_length=10)
    np.testing.assert_array_equal(words[:, :8], data["train_captions"][:, 1:9])  # it learnt them
    assert (words[:, 8:] == 0).all()


def test_decoding_wrappers_never_emit_null_or_start_and_beam_one_is_greedy():
    model = _captioner(cell="gru", attention=True, seed=1).double()
    imgs = _images(6, seed=1)
    greedy = sample_captions(model, imgs, max_length=7)
    beam1 = beam_search_captions(model, imgs, beam_width=1, max_length=7)
    np.testing.assert_array_equal(greedy, beam1)
    sampled = sample_captions(model, imgs, max_length=7, temperature=2.0,
                              generator=torch.Generator().manual_seed(0))
    for words in (greedy, beam1, sampled, beam_search_captions(model, imgs, beam_width=3, max_length=7)):
        assert words.shape == (6, 7)
        for row in words:
            n = np.flatnonzero(row == 2)[0] + 1 if (row == 2).any() else len(row)
            assert not np.isin(row[:n], (0, 1)).any() and (row[n:] == 0).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_trains_and_decodes_on_cuda():
    data = _tiny_data()
    model = _captioner(attention=True)
    history = train_captioner(model, data, epochs=3, batch_size=8, val_split=None, device="cuda", progress=False)
    assert next(model.parameters()).device.type == "cuda" and np.isfinite(history["loss"]).all()
    assert sample_captions(model, data["train_images"], max_length=5).shape == (8, 5)
    assert beam_search_captions(model, data["train_images"][:2], beam_width=2, max_length=5).shape == (2, 5)


def test_feature_captioner_metrics_and_evaluate_on_scene_data():
    from course_lib.caption_data import captioning_dataset
    data = captioning_dataset(n_train=6, n_val=4, n_test=2, grid=8)
    g = torch.Generator().manual_seed(0)
    dec = CaptionModel(data["word_to_idx"], 192, 8, 16, "lstm", "both", generator=g)
    model = Captioner(None, dec)  # the inputs are grid_features (N, 192): no CNN, no A
    data["val_images"] = data.pop("val_features")  # so that train and val read features
    data.pop("train_images")
    train_captioner(model, data, epochs=2, batch_size=4, val_split="val", progress=False)
    teacher = free_running_metrics(model, data, "val", free=False)
    expected = model.loss(data["val_images"][data["val_image_idxs"]], data["val_captions"]).item()
    assert teacher["loss"] == pytest.approx(expected, rel=1e-5) and teacher["n_captions"] == 20
    for method in ("greedy", "beam", "sample"):
        result = evaluate_captions(model, data["val_images"], data["val_scenes"], data["val_references"],
                                   data["idx_to_word"], method=method, max_length=17, beam_width=2,
                                   generator=torch.Generator().manual_seed(0))
        assert len(result["captions"]) == 4 and isinstance(result["captions"][0], str)
        assert {"BLEU-1", "BLEU-4", "parsed", "shape", "relation", "exact"} <= set(result)
