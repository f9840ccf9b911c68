"""course_lib.charlm_recipes: the test text it evaluates on, and what it records while training."""
import numpy as np
import torch

from course_lib.charlm import evaluate, sample
from course_lib.charlm_recipes import RECIPE, new_charrnn, spread_sample, train_and_record
from course_lib.text import CharVocab, train_val_split


def test_spread_sample_takes_evenly_spaced_stretches():
    ids = np.arange(100)
    expected = np.concatenate([np.arange(0, 10), np.arange(45, 55), np.arange(90, 100)])
    np.testing.assert_array_equal(spread_sample(ids, pieces=3, length=10), expected)


def test_train_and_record_records_curves_and_samples_at_the_recipe_steps():
    text = "def f(x):\n    return x + 1\n\n" * 400                      # 11,200 characters
    vocab = CharVocab(text)
    train_ids, val_ids = train_val_split(vocab.encode(text), val_fraction=0.5)
    data = {"vocab": vocab, "train_ids": train_ids, "val_ids": val_ids}
    recipe = {**RECIPE, "embed_size": 4, "hidden_size": 8, "seq_len": 10, "batch_size": 4,
              "steps": 4, "every": 2, "sample_at": (0, 3), "sample_length": 12}
    model = new_charrnn(vocab.size, seed=0, recipe=recipe)
    untrained = new_charrnn(vocab.size, seed=0, recipe=recipe)
    history = train_and_record(model, data, recipe, progress=False)

    assert history["step"] == [1, 2, 3, 4] and len(history["loss"]) == 4
    assert history["curve_step"] == [0, 2, 4]
    assert history["sample_step"] == [0, 3]
    # before the first update the record is the untrained model's
    assert history["val_curve"][0] == evaluate(untrained, spread_sample(val_ids))
    first = sample(untrained, vocab.encode("\n"), 12, generator=torch.Generator().manual_seed(2))
    assert history["samples"][0] == vocab.decode(first)
    # after training the model is a different one: its last record is its own
    assert history["val_curve"][-1] == evaluate(model, spread_sample(val_ids))
    assert history["val_curve"][-1] != history["val_curve"][0]
