"""The character model of Chapter 1, defined once and trained once (then loaded from the cache).

Two pages use the same trained model: book/rnn_charlm.md trains it and reads its learning curves
and samples, book/rnn_cells.md looks inside it. ``trained_charrnn`` trains it the first time
through ``course_lib.model_cache`` and loads it afterwards, so whichever page runs first trains and
each page also runs on its own. What the pages show about the run (losses, learning curves,
samples at several points of training) is recorded while it trains and kept in its history.
"""
import hashlib

import numpy as np
import torch

from course_lib.charlm import CharRNN, evaluate, sample, train
from course_lib.model_cache import cached_training
from course_lib.text import CharVocab, stdlib_source_corpus, train_val_split

RECIPE = dict(max_chars=1_000_000, val_fraction=0.1,                     # the text
              embed_size=32, hidden_size=256,                            # the model: D, H
              seq_len=50, batch_size=32, steps=1500, lr=3e-3, clip=5.0, seed=0,
              every=100,                                                 # evaluate every 100 updates
              sample_at=(0, 100, 300, 1000, 1500), sample_length=300, sample_seed=2, prime="\n")
MODULES = ("course_lib.charlm_recipes", "course_lib.charlm", "course_lib.rnn", "course_lib.text")


def python_source_data(max_chars: int = RECIPE["max_chars"],
                       val_fraction: float = RECIPE["val_fraction"]) -> dict:
    """Python's standard library as character ids: {'text', 'vocab', 'train_ids', 'val_ids'}.

    The last ``val_fraction`` of the text (other files than the training part) is for validation.
    """
    text = stdlib_source_corpus(max_chars=max_chars)
    vocab = CharVocab(text)
    train_ids, val_ids = train_val_split(vocab.encode(text), val_fraction=val_fraction)
    return {"text": text, "vocab": vocab, "train_ids": train_ids, "val_ids": val_ids}


def spread_sample(ids, pieces: int = 10, length: int = 3_000) -> np.ndarray:
    """`pieces` stretches of `length` ids from across `ids`, joined: a quick, representative test set."""
    starts = np.linspace(0, len(ids) - length, pieces).astype(int)
    return np.concatenate([ids[s: s + length] for s in starts])


def new_charrnn(vocab_size: int, seed: int = 0, recipe: dict = RECIPE) -> CharRNN:
    """An untrained CharRNN of the recipe's sizes (embedding D, hidden size H), on the CPU."""
    return CharRNN(vocab_size, recipe["embed_size"], recipe["hidden_size"],
                   generator=torch.Generator().manual_seed(seed))


def train_and_record(model: CharRNN, data: dict, recipe: dict = RECIPE, progress: bool = True) -> dict:
    """Train ``model`` by truncated BPTT as ``recipe`` says, recording the run on the way.

    Before the first update and every ``recipe['every']`` updates, the model is evaluated on
    30,000 characters of the training text and of the validation text (``spread_sample``); at the
    updates in ``recipe['sample_at']`` it writes a sample, primed with ``recipe['prime']``, with
    the same random draws each time. Returns ``train``'s history {'step', 'loss', 'seconds'} plus
    'curve_step', 'train_curve', 'val_curve' (nats per character) and 'sample_step', 'samples'.
    """
    vocab = data["vocab"]
    train_eval, val_eval = spread_sample(data["train_ids"]), spread_sample(data["val_ids"])
    record = {"curve_step": [], "train_curve": [], "val_curve": [], "sample_step": [], "samples": []}

    def checkpoint(step, loss=None):                       # called after every update
        if step % recipe["every"] == 0:
            record["curve_step"].append(step)
            record["train_curve"].append(evaluate(model, train_eval))
            record["val_curve"].append(evaluate(model, val_eval))
        if step in recipe["sample_at"]:
            drawn = sample(model, vocab.encode(recipe["prime"]), recipe["sample_length"],
                           generator=torch.Generator().manual_seed(recipe["sample_seed"]))
            record["sample_step"].append(step)
            record["samples"].append(vocab.decode(drawn))

    checkpoint(0)
    history = train(model, data["train_ids"], seq_len=recipe["seq_len"],
                    batch_size=recipe["batch_size"], steps=recipe["steps"], lr=recipe["lr"],
                    clip=recipe["clip"], seed=recipe["seed"], device="cpu", progress=progress,
                    callback=checkpoint)
    return {**history, **record}


def trained_charrnn(data: dict, *, progress: bool = True):
    """The CharRNN of ``RECIPE`` trained on ``data`` (from ``python_source_data()``).

    Returns (model, history, from_cache): the model on the CPU in eval mode, the history of
    ``train_and_record`` plus 'train_seconds', and whether it came from the cache.
    """
    fingerprint = hashlib.sha256(np.ascontiguousarray(data["train_ids"]).tobytes()
                                 + np.ascontiguousarray(data["val_ids"]).tobytes())
    config = {**RECIPE, "V": data["vocab"].size, "data": fingerprint.hexdigest()[:16]}
    return cached_training("charrnn-stdlib", config,
                           lambda: new_charrnn(data["vocab"].size, RECIPE["seed"]),
                           lambda model: train_and_record(model, data, progress=progress),
                           modules=MODULES)
