"""Training, decoding and evaluating a captioning.Captioner.

``train_captioner`` uses teacher forcing: at every step the decoder reads the ground-truth previous
word. ``free_running_metrics`` measures what that costs: the same loss and accuracy when the decoder
reads its own greedy predictions instead. ``sample_captions`` (greedy or temperature sampling,
batched) and ``beam_search_captions`` wrap course_lib.decoding for a Captioner; ``evaluate_captions``
scores the generated captions with BLEU and with the scenes' semantic accuracies.
Data dicts follow CS231n's load_coco_data: {split}_captions (M, T+1), {split}_image_idxs (M,),
{split}_images (N, 64, 64, 3) uint8 or {split}_features (N, F), idx_to_word, word_to_idx.
"""
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.captioning import Captioner
from course_lib.decoding import beam_search, decode
from course_lib.device import get_device
from course_lib.progress import progress_bar


def _split_arrays(data: dict, split: str):
    """(captions (M, T+1), image_idxs (M,), images or features) of one split, with clear errors."""
    for key in (f"{split}_captions", f"{split}_image_idxs"):
        if key not in data:
            raise KeyError(f"data has no '{key}' (keys: {sorted(data)}); load it with "
                           f"course_lib.caption_data.load_captioning_data.")
    inputs = data.get(f"{split}_images", data.get(f"{split}_features"))
    if inputs is None:
        raise KeyError(f"data has neither '{split}_images' nor '{split}_features'.")
    return np.asarray(data[f"{split}_captions"]), np.asarray(data[f"{split}_image_idxs"]), inputs


def _trim(captions: torch.Tensor, null: int) -> torch.Tensor:
    """Drop trailing columns that are <NULL> in every row (they add nothing to the loss)."""
    used = (captions != null).any(dim=0).nonzero()
    return captions[:, :max(int(used[-1]) + 1 if len(used) else 0, 2)]


def _epoch_rows(image_idxs: np.ndarray, rng: np.random.Generator, sampling: str) -> np.ndarray:
    """Caption rows for one epoch, shuffled: all of them ('caption'), or one random caption per
    image ('image')."""
    rows = rng.permutation(len(image_idxs))
    if sampling == "image":
        _, first = np.unique(image_idxs[rows], return_index=True)  # a random caption per image
        rows = rows[rng.permutation(first)]
    elif sampling != "caption":
        raise ValueError(f"sampling should be 'image' or 'caption', got {sampling!r}.")
    return rows


def train_captioner(model: Captioner, data: dict, *, epochs: int = 10, batch_size: int = 64,
                    lr: float = 2e-3, clip: float | None = 5.0, lr_decay: float = 1.0,
                    sampling: str = "image", val_split: str | None = "val", seed: int = 0,
                    device=None, progress: bool = True, callback=None) -> dict[str, list]:
    """Train ``model`` in place with teacher forcing and Adam; seeded (the batches' order).

    Runs repeat exactly on one CPU thread (a test checks it on a small model); with more threads
    the convolutions' sums may be taken in another order and two runs drift apart slightly
    (measured: the same seed gave 0.206 and 0.220 greedy exact accuracy on the test split in two
    runs of the chapter's recipe on 2 threads).

    Inputs:
    - data: dict with train_captions, train_image_idxs, train_images (or train_features), and
      for validation the same keys for ``val_split``
    - epochs: passes over the data; sampling: 'image' (default) visits each image once per epoch
      with one of its captions drawn at random, 'caption' visits every caption once
    - batch_size: N; lr: Adam's learning rate, multiplied by lr_decay after each epoch
    - clip: largest gradient norm (over all parameters); None does not clip
    - val_split: split whose teacher-forced loss is measured after each epoch; None skips it
    - seed: the order of the batches; device: None picks one with course_lib.device.get_device
    - progress: show a tqdm progress bar
    - callback: called as callback(epoch, model, history) after each epoch (e.g. to print samples)
    Returns a history: per update 'step', 'epoch', 'loss' (CS231n's: per caption), 'seconds'
    since the start; per epoch 'val_loss' (empty without val_split).
    """
    captions, image_idxs, inputs = _split_arrays(data, "train")
    device = get_device(None if device is None else str(device))
    model.to(device)
    inputs, captions = torch.as_tensor(np.asarray(inputs), device=device), torch.as_tensor(captions).long()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=lr_decay)
    rng, null = np.random.default_rng(seed), model.decoder.null
    history = {"step": [], "epoch": [], "loss": [], "seconds": [], "val_loss": []}
    start, step = time.perf_counter(), 0
    n_rows = len(np.unique(image_idxs)) if sampling == "image" else len(captions)
    bar = progress_bar(total=epochs * -(-n_rows // batch_size), desc="train", show=progress)
    for epoch in range(1, epochs + 1):
        model.train()
        rows = _epoch_rows(image_idxs, rng, sampling)
        for i in range(0, len(rows), batch_size):
            batch = rows[i:i + batch_size]
            loss = model.loss(inputs[torch.as_tensor(image_idxs[batch], device=device)],
                              _trim(captions[batch], null).to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            step += 1
            for key, value in (("step", step), ("epoch", epoch), ("loss", loss.item()),
                               ("seconds", time.perf_counter() - start)):
                history[key].append(value)
            bar.update()
            bar.set_postfix(epoch=epoch, loss=f"{history['loss'][-1]:.3f}", refresh=False)
        scheduler.step()
        if val_split is not None:
            history["val_loss"].append(free_running_metrics(model, data, val_split, free=False)["loss"])
        if callback is not None:
            callback(epoch, model, history)
    bar.close()
    return history


@torch.no_grad()
def free_running_metrics(model: Captioner, data: dict, split: str = "val", *, free: bool = True,
                         batch_size: int = 500, max_captions: int | None = None) -> dict[str, float]:
    """Loss (per caption, CS231n's) and word accuracy on a split, teacher-forced or free-running.

    Teacher-forced (free=False): step t reads the ground-truth word t-1. Free-running (free=True):
    step t reads the decoder's own greedy word t-1 (never <NULL>/<START>), as when it generates;
    the loss still scores the ground-truth words, position by position. The gap between the two is
    what training with teacher forcing leaves untrained (exposure bias).
    Returns {'loss': ..., 'accuracy': fraction of unmasked positions whose argmax is the
    ground-truth word, 'n_captions': ...}.
    """
    captions, image_idxs, inputs = _split_arrays(data, split)
    if max_captions is not None:
        captions, image_idxs = captions[:max_captions], image_idxs[:max_captions]
    was_training, dec = model.training, model.decoder
    model.eval()
    device = dec.W_embed.device
    total, correct, count = 0.0, 0, 0
    for i in range(0, len(captions), batch_size):
        caps = torch.as_tensor(captions[i:i + batch_size], device=device).long()
        v, A = model.encode(torch.as_tensor(np.asarray(inputs)[image_idxs[i:i + batch_size]]))
        out, mask = caps[:, 1:], caps[:, 1:] != dec.null
        scores = dec(v, caps[:, :-1], A)[0] if not free else _free_running_scores(dec, v, A, out.shape[1])
        losses = F.cross_entropy(scores.transpose(1, 2).float(), out, reduction="none")  # (N, T)
        total += float(losses[mask].sum())
        correct += int(((scores.argmax(dim=2) == out) & mask).sum())
        count += int(mask.sum())
    model.train(was_training)
    return {"loss": total / len(captions), "accuracy": correct / max(count, 1), "n_captions": len(captions)}


def _free_running_scores(dec, v, A, T: int) -> torch.Tensor:
    """Scores (N, T, V) when each step reads the previous step's greedy word."""
    state = dec.init_state(v, A)
    words = torch.full((v.shape[0],), dec.start, dtype=torch.long, device=v.device)
    all_scores = []
    for _ in range(T):
        scores, state, _ = dec.step(state, words)
        all_scores.append(scores)
        words = scores.index_fill(1, torch.tensor([dec.null, dec.start], device=v.device),
                                  -float("inf")).argmax(dim=1)
    return torch.stack(all_scores, dim=1)


@torch.no_grad()
def sample_captions(model: Captioner, images, *, max_length: int = 30, temperature: float = 0.0,
                    generator: torch.Generator | None = None, batch_size: int = 500,
                    return_attention: bool = False):
    """Greedy (temperature 0) or sampled captions, batched, never <NULL>/<START>, stopping at <END>.

    Inputs:
    - images: (N, 64, 64, 3) (or feature vectors (N, F) when model.encoder is None)
    - max_length: words generated at most; temperature: 0 greedy, > 0 samples softmax(scores / T)
    - generator: torch.Generator for reproducible samples
    Returns captions, int64 array (N, max_length), <NULL> after <END> (CS231n's sample layout), and
    with return_attention also alphas, float array (N, max_length, R) (zeros after <END>).
    """
    was_training, dec = model.training, model.decoder
    model.eval()
    all_words, all_alphas = [], []
    for i in range(0, len(images), batch_size):
        v, A = model.encode(images[i:i + batch_size])
        alphas = []

        def step_fn(state, words):
            scores, state, alpha = dec.step(state, words)
            alphas.append(alpha)
            return scores, state

        words = decode(step_fn, dec.init_state(v, A), dec.start, dec.end, v.shape[0], max_length,
                       temperature=temperature, banned=(dec.null, dec.start), null=dec.null,
                       generator=generator)
        all_words.append(words)
        if return_attention and dec.use_attention:
            a = torch.stack(alphas, 1).cpu().numpy() if alphas else np.zeros((len(words), 0, A.shape[1]))
            a = np.pad(a, ((0, 0), (0, max_length - a.shape[1]), (0, 0)))
            all_alphas.append(np.where((words != dec.null)[:, :, None], a, 0.0))
    model.train(was_training)
    captions = np.concatenate(all_words) if all_words else np.zeros((0, max_length), dtype=np.int64)
    if return_attention:
        return captions, (np.concatenate(all_alphas) if all_alphas else None)
    return captions


@torch.no_grad()
def beam_search_captions(model: Captioner, images, *, beam_width: int = 3, max_length: int = 30,
                         length_penalty: float = 0.0, batch_size: int = 100) -> np.ndarray:
    """Beam-search captions (course_lib.decoding.beam_search), ``batch_size`` images at a time.

    Returns int64 array (N, max_length): the best hypothesis' words, <NULL> after <END>.
    """
    was_training, dec = model.training, model.decoder
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        v, A = model.encode(images[i:i + batch_size])
        words, _ = beam_search(lambda state, w: dec.step(state, w)[:2], dec.init_state(v, A),
                               dec.start, dec.end, v.shape[0], beam_width, max_length,
                               length_penalty=length_penalty, banned=(dec.null, dec.start),
                               null=dec.null)
        out.append(words)
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, max_length), dtype=np.int64)


def evaluate_captions(model: Captioner, images, scenes, references, idx_to_word, *,
                      method: str = "greedy", beam_width: int = 3, temperature: float = 1.0,
                      max_length: int = 30, generator: torch.Generator | None = None) -> dict:
    """Generate a caption per image and score it.

    Inputs:
    - images (N, 64, 64, 3); scenes: their N course_lib.scenes.Scene objects (None skips the
      semantic scores); references: N lists of reference caption strings
    - idx_to_word: list or dict id -> word; method: 'greedy', 'sample' or 'beam'
    Returns a dict: 'captions' (N strings), 'BLEU-1'..'BLEU-4' (course_lib.caption_data.bleu_scores)
    and the semantic accuracies of course_lib.scenes.semantic_scores (parsed, count, ..., exact).
    """
    from course_lib.caption_data import bleu_scores, decode_captions
    if method == "beam":
        words = beam_search_captions(model, images, beam_width=beam_width, max_length=max_length)
    elif method in ("greedy", "sample"):
        words = sample_captions(model, images, max_length=max_length, generator=generator,
                                temperature=0.0 if method == "greedy" else temperature)
    else:
        raise ValueError(f"method should be 'greedy', 'sample' or 'beam', got {method!r}.")
    captions = decode_captions(words, idx_to_word)
    captions = [captions] if isinstance(captions, str) else list(captions)
    result = {"captions": captions, **bleu_scores(captions, references)}
    if scenes is not None:
        from course_lib.scenes import semantic_scores
        result.update(semantic_scores(captions, scenes))
    return result
