"""Train once, reuse everywhere: a disk cache for models that several book pages need.

Chapter 6 trains a captioner on one page and decodes, evaluates and compares it on the next ones.
Each page must run on its own (a student opens any page as a notebook), so each page asks for the
model it needs; ``cached_training`` trains it the first time and loads it afterwards. The key is the
training configuration plus the source of the course_lib modules the model is made of, so a change
to either retrains instead of reusing a stale model.

The cache lives in ``$COURSE_CACHE`` if set, else in ``_build/model_cache`` of the course checkout
(next to the book's execution cache, removed by ``make clean``), else in ``~/.cache/rnn-course``.
"""
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

ENV_VAR = "COURSE_CACHE"
CHECKOUT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Where cached models are kept (see the module docstring)."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    if (CHECKOUT / "_toc.yml").is_file():
        return CHECKOUT / "_build" / "model_cache"
    return Path.home() / ".cache" / "rnn-course"


def cache_key(config: dict, modules: Iterable[str]) -> str:
    """A digest of ``config`` (JSON-able), the torch version and the source of ``modules``."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    digest.update(torch.__version__.encode())
    for name in sorted(modules):
        path = Path(__file__).resolve().parent / (name.removeprefix("course_lib.").replace(".", "/") + ".py")
        if not path.is_file():
            raise FileNotFoundError(f"cache_key: no module {name} at {path}; "
                                    f"name course_lib modules like 'course_lib.captioning'.")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cached_training(name: str, config: dict, build: Callable[[], nn.Module],
                    train: Callable[[nn.Module], dict], *, modules: Iterable[str] = (),
                    directory: Path | None = None) -> tuple[nn.Module, dict, bool]:
    """The model ``train(build())`` would give, trained now or loaded from the cache.

    Inputs:
    - name: a readable prefix of the cache file, e.g. 'captioner-lstm'
    - config: everything that decides the result (sizes, seeds, epochs, ...), JSON-able
    - build: makes the untrained model; train: trains it in place and returns its history
      (a dict of lists of numbers)
    - modules: course_lib modules whose source the model depends on (part of the key)
    - directory: the cache folder; None uses ``cache_dir()``
    Returns (model, history, from_cache). The model is on the CPU, in eval mode.
    """
    folder = Path(directory) if directory is not None else cache_dir()
    path = folder / f"{name}-{cache_key(config, modules)}.pt"
    model = build()
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_suffix(".lock")):  # pages run in parallel: one trains, the others wait
        if path.is_file():
            saved = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(saved["state_dict"])
            return model.eval(), saved["history"], True
        start = time.perf_counter()
        history = train(model)
        history = {**history, "train_seconds": [time.perf_counter() - start]}
        model.cpu().eval()
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save({"state_dict": model.state_dict(), "history": history, "config": config}, tmp)
        os.replace(tmp, path)  # atomic: a page killed mid-save leaves no half-written model behind
    return model, history, False


@contextmanager
def _locked(lock_path: Path):
    """An exclusive lock on ``lock_path`` (released when the holder exits or dies); none on Windows."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
