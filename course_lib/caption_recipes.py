"""The captioners Chapter 6 trains, each defined once and trained once (then loaded from the cache).

Three pages use the same trained models: the chapter trains them, the decoding page evaluates them,
the attention page compares them. ``RECIPES`` holds each model's configuration and
``trained_captioner`` builds it, trains it on the chapter's data with ``train_captioner`` and keeps
the result in ``course_lib.model_cache``, so whichever page runs first trains and the others load.
"""
import hashlib

import numpy as np
import torch

from course_lib.caption_training import train_captioner
from course_lib.captioning import Captioner, CaptionModel, ConvEncoder
from course_lib.model_cache import cached_training

# Chosen by measurement (see the issue note): within about a minute of training on 2 CPU threads,
# a narrow encoder with one stride-1 block and max-pooled features did best of those tried.
_MODEL = dict(channels=(16, 32, 32), refine=1, global_pool=True, feature_dim=256, wordvec_dim=64,
              hidden_dim=128, cell_type="lstm", forget_bias=1.0, condition="both")
_TRAIN = dict(epochs=9, batch_size=32, lr=3e-3, lr_decay=0.87, clip=5.0, seed=0)
RECIPES = {
    "lstm": {**_MODEL, **_TRAIN, "attention": False},
    "lstm-attention": {**_MODEL, **_TRAIN, "epochs": 8, "lr_decay": 0.85, "attention": True,
                       "attention_dim": 32},
}
MODULES = ("course_lib.caption_recipes", "course_lib.caption_training", "course_lib.captioning",
           "course_lib.attention", "course_lib.decoding", "course_lib.lstm", "course_lib.rnn",
           "course_lib.gru", "course_lib.scenes", "course_lib.scene_text", "course_lib.caption_data")


def build_captioner(recipe: dict, word_to_idx: dict, seed: int = 0) -> Captioner:
    """An untrained Captioner (ConvEncoder + CaptionModel) as ``recipe`` describes it."""
    gen = torch.Generator().manual_seed(seed)
    encoder = ConvEncoder(channels=tuple(recipe["channels"]), feature_dim=recipe["feature_dim"],
                          refine=recipe.get("refine", 0), global_pool=recipe.get("global_pool", False),
                          generator=gen)
    decoder = CaptionModel(word_to_idx, input_dim=encoder.feature_dim,
                           wordvec_dim=recipe["wordvec_dim"], hidden_dim=recipe["hidden_dim"],
                           cell_type=recipe["cell_type"], condition=recipe["condition"],
                           attention=recipe["attention"], spatial_dim=encoder.spatial_dim,
                           attention_dim=recipe.get("attention_dim"),
                           forget_bias=recipe.get("forget_bias", 0.0), generator=gen)
    return Captioner(encoder, decoder)


def trained_captioner(name: str, data: dict, *, progress: bool = True):
    """The captioner ``RECIPES[name]`` trained on ``data`` (the chapter's captioning_dataset()).

    Returns (model, history, from_cache): the model on the CPU in eval mode, the history of
    ``train_captioner`` plus 'train_seconds', and whether it came from the cache.
    """
    if name not in RECIPES:
        raise KeyError(f"no recipe {name!r}; the recipes are {sorted(RECIPES)}.")
    recipe = RECIPES[name]
    # the data's fingerprint: other splits (another seed, COCO) train a model of their own
    fingerprint = hashlib.sha256(b"".join(np.ascontiguousarray(data[k]).tobytes() for k in
                                          ("train_captions", "train_image_idxs", "val_captions")))
    config = {"name": name, **recipe, "data": fingerprint.hexdigest()[:16],
              "n_train": len(data["train_images"])}
    train_keys = ("epochs", "batch_size", "lr", "lr_decay", "clip", "seed")

    def train(model):
        return train_captioner(model, data, device="cpu", progress=progress,
                               **{k: recipe[k] for k in train_keys})

    return cached_training(f"captioner-{name}", config,
                           lambda: build_captioner(recipe, data["word_to_idx"], recipe["seed"]),
                           train, modules=MODULES)
