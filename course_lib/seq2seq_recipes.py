"""The translators Chapter 7 trains, each defined once and trained once (then loaded from the cache).

The chapter's pages compare the same models (no attention, additive, dot-product): each page asks
``trained_translator`` for the ones it needs, and whichever page runs first trains them
(``course_lib.model_cache``), so each page still runs on its own.
"""
import torch

from course_lib.model_cache import cached_training
from course_lib.seq2seq import Seq2Seq, train_seq2seq

# Chosen by measurement (see the issue note): on one CPU thread each trains in about 30 s. The model
# without attention is cheaper per step, so it gets twice the epochs: about the same wall time.
_MODEL = dict(wordvec_dim=32, hidden_dim=128, cell_type="gru", attention_dim=None)
_TRAIN = dict(batch_size=64, lr=3e-3, clip=5.0, seed=0)
RECIPES = {
    "gru": {**_MODEL, **_TRAIN, "attention": None, "epochs": 8},
    "gru-additive": {**_MODEL, **_TRAIN, "attention": "additive", "epochs": 4},
    "gru-dot": {**_MODEL, **_TRAIN, "attention": "dot", "epochs": 4},
}
DATA = dict(seed=0, train_lengths=(3, 20), long_lengths=(21, 30), n_train_per_length=400,
            n_val_per_length=20, n_test_per_length=50)  # the chapter's translation_dataset(**DATA)
MODULES = ("course_lib.seq2seq_recipes", "course_lib.seq2seq", "course_lib.captioning",
           "course_lib.attention", "course_lib.decoding", "course_lib.sequences", "course_lib.translation",
           "course_lib.lstm", "course_lib.rnn", "course_lib.gru")


def build_translator(recipe: dict, data: dict) -> Seq2Seq:
    """An untrained Seq2Seq as ``recipe`` describes it, for ``data``'s vocabularies."""
    return Seq2Seq(data["src_word_to_idx"], data["tgt_word_to_idx"], wordvec_dim=recipe["wordvec_dim"],
                   hidden_dim=recipe["hidden_dim"], cell_type=recipe["cell_type"],
                   attention=recipe["attention"], attention_dim=recipe["attention_dim"],
                   generator=torch.Generator().manual_seed(recipe["seed"]))


def trained_translator(name: str, data: dict, *, progress: bool = True):
    """The model ``RECIPES[name]`` trained on ``data``, which must be ``translation_dataset(**DATA)``.

    Returns (model, history, from_cache): the model on the CPU in eval mode, the history of
    ``train_seq2seq`` plus 'train_seconds', and whether it came from the cache.
    """
    if name not in RECIPES:
        raise KeyError(f"no recipe {name!r}; the recipes are {sorted(RECIPES)}.")
    if data.get("config") != DATA:
        raise ValueError("trained_translator trains on the chapter's data only: pass "
                         "translation_dataset(**course_lib.seq2seq_recipes.DATA).")
    recipe = RECIPES[name]
    train_keys = ("epochs", "batch_size", "lr", "clip", "seed")

    def train(model):
        return train_seq2seq(model, data, device="cpu", progress=progress, **{k: recipe[k] for k in train_keys})

    return cached_training(f"translator-{name}", {"name": name, **recipe, "data": DATA},
                           lambda: build_translator(recipe, data), train, modules=MODULES)
