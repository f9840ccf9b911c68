"""course_lib.caption_data: vocabulary, encode/decode, the CS231n-schema HDF5 loader, features, BLEU."""
import json
import math
import socket

import h5py
import numpy as np
import pytest

from course_lib.caption_data import (bleu_scores, build_vocab, captioning_dataset, decode_captions,
                                     encode_captions, grid_features, load_captioning_data,
                                     make_captioning_h5, sample_minibatch, write_captioning_h5)
from course_lib.scenes import grammar_words, semantic_scores


@pytest.fixture(scope="module")
def data():
    return captioning_dataset(n_train=12, n_val=4, n_test=3)


def test_vocabulary_layout():
    word_to_idx, idx_to_word = build_vocab(["b a", ["c a", "<END> b"]])
    assert idx_to_word == ["<NULL>", "<START>", "<END>", "<UNK>", "a", "b", "c"]
    assert word_to_idx == {w: i for i, w in enumerate(idx_to_word)}


def test_dataset_layout(data):
    assert data["idx_to_word"] == ["<NULL>", "<START>", "<END>", "<UNK>"] + grammar_words()
    assert len(data["idx_to_word"]) == 31
    assert data["train_captions"].shape == (60, 18) and data["train_captions"].dtype == np.int32
    assert np.array_equal(data["train_image_idxs"], np.repeat(np.arange(12), 5))
    assert data["val_images"].shape == (4, 64, 64, 3) and data["val_features"].shape == (4, 192)
    assert (data["test_captions"][:, 0] == 1).all()
    assert len(data["test_scenes"]) == 3 and len(data["test_references"][0]) == 5
    other = captioning_dataset(n_train=12, n_val=4, n_test=3, seed=7)
    assert not np.array_equal(other["train_images"], data["train_images"])
    assert other["idx_to_word"] == data["idx_to_word"]


def test_encode_by_hand():
    word_to_idx, _ = build_vocab(["a b c"])  # a=4, b=5, c=6
    assert encode_captions(["a b", "c zzz"], word_to_idx, max_length=3).tolist() == [
        [1, 4, 5, 2, 0], [1, 6, 3, 2, 0]]
    with pytest.raises(ValueError, match="max_length"):
        encode_captions(["a b c a"], word_to_idx, max_length=3)


def test_decode_has_cs231n_semantics():
    idx_to_word = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "b"]
    caps = np.array([[1, 4, 5, 2, 4, 0], [1, 5, 0, 4, 2, 2]])
    assert decode_captions(caps, idx_to_word) == ["a b", "b a"]
    assert decode_captions(caps, idx_to_word, keep_special=True) == ["<START> a b <END>", "<START> b a <END>"]
    assert decode_captions(caps[0], idx_to_word) == "a b"


def test_encode_decode_round_trip(data):
    flat = [c for refs in data["train_references"] for c in refs]
    assert decode_captions(data["train_captions"], data["idx_to_word"]) == flat
    assert decode_captions(encode_captions(flat, data["word_to_idx"]), data["idx_to_word"]) == flat


def test_h5_round_trip(data, tmp_path):
    path = write_captioning_h5(tmp_path / "sub" / "scenes.h5", data)
    with h5py.File(path) as f:
        assert f["idx_to_word"].dtype == h5py.string_dtype() or f["idx_to_word"].dtype.kind == "O"
    loaded = load_captioning_data(path)
    assert sorted(loaded) == sorted(data)
    for key, value in data.items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(loaded[key], value) and loaded[key].dtype == value.dtype, key
        else:
            assert loaded[key] == value, key
    assert semantic_scores(loaded["val_references"][0], [loaded["val_scenes"][0]] * 5)["exact"] == 1
    small = load_captioning_data(make_captioning_h5(tmp_path / "m.h5", n_train=5, n_val=1, n_test=1),
                                 max_train=7)
    assert small["train_captions"].shape == (7, 18) and small["train_image_idxs"].max() < 5


def _write_cs231n_dir(base, n_train=6, n_val=3, M=10, T=17):
    rng = np.random.default_rng(0)
    idx_to_word = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat", "dog"]
    with h5py.File(base / "coco2014_captions.h5", "w") as f:
        for split, n in (("train", n_train), ("val", n_val)):
            f[f"{split}_captions"] = rng.integers(0, 7, (M, T)).astype(np.int32)
            f[f"{split}_image_idxs"] = rng.integers(0, n, M).astype(np.int32)
    (base / "coco2014_vocab.json").write_text(json.dumps(
        {"idx_to_word": idx_to_word, "word_to_idx": {w: i for i, w in enumerate(idx_to_word)}}))
    for split, n in (("train", n_train), ("val", n_val)):
        for suffix, D in (("_pca", 512), ("", 4096)):
            with h5py.File(base / f"{split}2014_vgg16_fc7{suffix}.h5", "w") as f:
                f["features"] = rng.standard_normal((n, D)).astype(np.float32)
    (base / "train2014_urls.txt").write_text("\n".join(f"http://x/{i}.jpg" for i in range(n_train)))


def test_loads_a_cs231n_directory(tmp_path):
    _write_cs231n_dir(tmp_path)
    data = load_captioning_data(tmp_path)
    assert data["train_features"].shape == (6, 512) and data["val_features"].shape == (3, 512)
    assert data["train_captions"].shape == (10, 17) and data["word_to_idx"]["dog"] == 6
    assert data["train_urls"][2] == "http://x/2.jpg" and "test_captions" not in data
    assert load_captioning_data(tmp_path, pca_features=False)["val_features"].shape == (3, 4096)
    assert load_captioning_data(tmp_path, max_train=4)["train_captions"].shape == (4, 17)
    (tmp_path / "val2014_vgg16_fc7_pca.h5").unlink()
    with pytest.raises(FileNotFoundError, match="val2014_vgg16_fc7_pca.h5"):
        load_captioning_data(tmp_path)


def test_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="make_captioning_h5") as err:
        load_captioning_data(tmp_path / "nope.h5")
    assert "nope.h5" in str(err.value)


def _write(path, **arrays):
    with h5py.File(path, "w") as f:
        f.create_dataset("idx_to_word", data=["<NULL>", "<START>", "<END>", "<UNK>", "a"],
                         dtype=h5py.string_dtype())
        for key, value in arrays.items():
            f[key] = value
    return path


def test_missing_keys_are_named(tmp_path):
    caps, idxs = np.ones((4, 5), np.int32), np.zeros(4, np.int32)
    images = np.zeros((2, 64, 64, 3), np.uint8)
    with pytest.raises(KeyError, match="train_image_idxs"):
        load_captioning_data(_write(tmp_path / "a.h5", train_captions=caps, train_images=images))
    with pytest.raises(KeyError, match="train_images.*train_features"):
        load_captioning_data(_write(tmp_path / "b.h5", train_captions=caps, train_image_idxs=idxs))
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f["train_captions"] = caps
    with pytest.raises(KeyError, match="'idx_to_word'.*keys found: \\['train_captions'\\]"):
        load_captioning_data(tmp_path / "c.h5")


@pytest.mark.parametrize("key, value", [
    ("train_images", np.zeros((2, 64, 64, 3), np.float32)),
    ("train_images", np.zeros((2, 64, 64), np.uint8)),
    ("train_features", np.zeros((2, 3, 4), np.float32)),
    ("train_captions", np.ones(4, np.int32)),
    ("train_image_idxs", np.zeros(3, np.int32)),
])
def test_bad_shapes_and_dtypes_are_named(tmp_path, key, value):
    arrays = {"train_captions": np.ones((4, 5), np.int32), "train_image_idxs": np.zeros(4, np.int32),
              "train_images": np.zeros((2, 64, 64, 3), np.uint8)}
    arrays[key] = value
    with pytest.raises(ValueError, match=key):
        load_captioning_data(_write(tmp_path / "x.h5", **arrays))


def test_out_of_range_ids_are_caught(tmp_path):
    arrays = {"train_captions": np.full((4, 5), 9, np.int32), "train_image_idxs": np.zeros(4, np.int32),
              "train_images": np.zeros((2, 64, 64, 3), np.uint8)}
    with pytest.raises(ValueError, match="train_captions"):
        load_captioning_data(_write(tmp_path / "x.h5", **arrays))


def test_sample_minibatch(data):
    caps, x, idxs = sample_minibatch(data, 8, "val", rng=np.random.default_rng(1))
    assert caps.shape == (8, 18) and x.shape == (8, 192)
    assert np.array_equal(x, data["val_features"][idxs])
    again = sample_minibatch(data, 8, "val", rng=np.random.default_rng(1))
    assert np.array_equal(caps, again[0])
    _, images, _ = sample_minibatch(data, 5, rng=np.random.default_rng(0), source="images")
    assert images.shape == (5, 64, 64, 3)
    with pytest.raises(KeyError, match="train_pixels"):
        sample_minibatch(data, 2, source="pixels")


def test_grid_features_by_hand():
    images = np.zeros((2, 64, 64, 3), np.uint8)
    images[0, :8, :8] = 255          # the top-left cell of image 0 is white
    images[1, 8:16, :8, 2] = 51      # cell (1, 0) of image 1 is 0.2 blue
    feats = grid_features(images)
    assert feats.shape == (2, 192) and feats.dtype == np.float32
    assert np.allclose(feats[0, :3], 0.5) and np.allclose(feats[0, 3:], -0.5)
    assert np.allclose(feats[1, 24:27], [-0.5, -0.5, -0.3])
    with pytest.raises(ValueError, match="divisible"):
        grid_features(images, grid=7)


def test_bleu_identical_is_100_and_a_hand_computation(data, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network disabled in this test")
    monkeypatch.setattr(socket, "socket", no_network)
    refs = data["val_references"]
    assert bleu_scores([r[0] for r in refs], refs) == pytest.approx(
        {"BLEU-1": 100, "BLEU-2": 100, "BLEU-3": 100, "BLEU-4": 100})
    # BLEU-1: 4/4 words match, the closest reference has 5 words: BP = exp(1 - 5/4)
    short = bleu_scores(["a big red circle"], [["a big red circle left of a small blue square",
                                                "just a big red circle"]])
    assert short["BLEU-1"] == pytest.approx(100 * math.exp(-0.25), abs=1e-6)
    # clipping: "a" occurs once in the reference, so 1 of the 4 words counts
    assert bleu_scores(["a a a a"], [["a big red circle"]])["BLEU-1"] == pytest.approx(25.0)
    # BLEU-2: p1 = 3/4, p2 = 2/3, BP = 1: sqrt(3/4 * 2/3)
    two = bleu_scores(["a big red square"], [["a big red circle"]])
    assert two["BLEU-2"] == pytest.approx(100 * math.sqrt(0.5), abs=1e-6)
    with pytest.raises(ValueError, match="list of lists"):
        bleu_scores(["a"], ["a"])
