"""Captioning data in the layout of CS231n's COCO captioning assignment, for the toy scenes.

A data dict holds, per split in ("train", "val", "test"):
- ``{split}_captions``: int32 (M, T) word ids <START> w1 .. wn <END> <NULL>..., T = max_length + 2
- ``{split}_image_idxs``: int32 (M,) the image of each caption (k = 5 captions per image)
- ``{split}_images``: uint8 (N, 64, 64, 3) and/or ``{split}_features``: float32 (N, F)
and ``idx_to_word`` (list, V) and ``word_to_idx`` (dict), with <NULL>=0, <START>=1, <END>=2,
<UNK>=3, then the words sorted. Toy-scene data also carries ``{split}_scenes`` (list of N Scene)
and ``{split}_references`` (N lists of k caption strings, for BLEU and semantic scores).

``captioning_dataset()`` builds it in memory (a few seconds); ``write_captioning_h5`` /
``load_captioning_data`` store and read it, and the loader also reads a CS231n ``coco_captioning``
directory like CS231n's ``load_coco_data``. NumPy, h5py and sacrebleu only.
"""
import json
from pathlib import Path

import numpy as np

from course_lib.scenes import (MAX_TOKENS, SPLIT_SEEDS, grammar_words, make_split,
                               scenes_from_arrays, scenes_to_arrays)

SPECIAL = ("<NULL>", "<START>", "<END>", "<UNK>")
NULL, START, END, UNK = range(4)
SPLITS = ("train", "val", "test")
_MAKE_IT = ("make one with course_lib.caption_data.make_captioning_h5(path), or call "
            "captioning_dataset() to build the data in memory")


def build_vocab(captions) -> tuple[dict[str, int], list[str]]:
    """(word_to_idx, idx_to_word): the four special tokens at 0-3, then every word seen, sorted.

    captions: strings, or (nested) lists of strings, or words; tokens are split on whitespace.
    """
    words = set()
    stack = [captions]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            words.update(item.split())
        else:
            stack.extend(item)
    idx_to_word = list(SPECIAL) + sorted(words - set(SPECIAL))
    return {w: i for i, w in enumerate(idx_to_word)}, idx_to_word


def encode_captions(captions, word_to_idx: dict, max_length: int = MAX_TOKENS) -> np.ndarray:
    """Word ids, int32 of shape (M, max_length + 2): <START> w1 .. wn <END>, then <NULL> padding.

    captions: list of M strings; a word missing from word_to_idx becomes <UNK>. A caption longer
    than max_length words raises ValueError (pass a larger max_length).
    """
    out = np.full((len(captions), max_length + 2), word_to_idx["<NULL>"], dtype=np.int32)
    unk = word_to_idx["<UNK>"]
    for m, caption in enumerate(captions):
        words = caption.split()
        if len(words) > max_length:
            raise ValueError(f"caption {m} has {len(words)} words but max_length is {max_length}: "
                             f"{caption!r}. Pass max_length >= {len(words)}.")
        ids = [word_to_idx.get(w, unk) for w in words]
        out[m, :len(ids) + 2] = [word_to_idx["<START>"], *ids, word_to_idx["<END>"]]
    return out


def decode_captions(captions, idx_to_word, keep_special: bool = False):
    """Strings from word ids, like CS231n's decode_captions: reads up to the first <END>, skips <NULL>.

    Inputs:
    - captions: int array of shape (N, T), or (T,) for a single caption
    - idx_to_word: list (V,) of words
    - keep_special: False (default) also drops <START> and <END>, giving plain captions for BLEU and
      parse_caption; True keeps them, exactly as CS231n's version does ("<START> a big ... <END>")
    Returns a list of N strings, or one string for a 1-D input.
    """
    captions = np.asarray(captions)
    rows = captions[None] if captions.ndim == 1 else captions
    decoded = []
    for row in rows:
        words = []
        for idx in row:
            word = idx_to_word[int(idx)]
            if word == "<NULL>" or (not keep_special and word in ("<START>", "<END>")):
                pass
            else:
                words.append(word)
            if word == "<END>":
                break
        decoded.append(" ".join(words))
    return decoded[0] if captions.ndim == 1 else decoded


def grid_features(images: np.ndarray, grid: int = 8) -> np.ndarray:
    """Cheap fixed image features: the mean colour of each cell of a grid x grid partition.

    Inputs:
    - images: uint8 of shape (N, height, width, 3), height and width divisible by grid
    Returns float32 of shape (N, grid * grid * 3), ordered (row, column, channel), equal to
    mean / 255 - 0.5 (a fixed centring, no statistics of the data), so values lie in [-0.5, 0.5].
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images should have shape (N, height, width, 3), but has shape {images.shape}.")
    N, height, width, _ = images.shape
    if height % grid or width % grid:
        raise ValueError(f"image size {height}x{width} is not divisible by grid={grid}; "
                         f"pick a grid that divides it.")
    cells = images.reshape(N, grid, height // grid, grid, width // grid, 3)
    cells = cells.mean(axis=(2, 4), dtype=np.float32)  # (N, grid, grid, 3)
    return (cells / 255 - 0.5).reshape(N, grid * grid * 3)


def bleu_scores(hypotheses, references) -> dict[str, float]:
    """Corpus BLEU-1..4 of hypotheses against references, on sacrebleu's 0-100 scale.

    Inputs:
    - hypotheses: list of N caption strings
    - references: list of N lists of reference strings (k each; the counts may differ)
    Returns {"BLEU-1": b1, ..., "BLEU-4": b4}, each ``sacrebleu.metrics.BLEU(max_ngram_order=n,
    tokenize="none").corpus_score(...).score``: corpus-level (n-gram counts summed over all
    captions before the precisions are taken), brevity penalty against the closest reference
    length, geometric mean of 1..n-gram clipped precisions, sacrebleu's default "exp" smoothing of
    zero counts. The scale is 0-100 (divide by 100 for the 0-1 scale of NLTK or the COCO toolkit).
    tokenize="none" because captions are already lower-case space-separated tokens: the scores
    are over exactly the model's words, and special tokens such as <UNK> are not split apart.
    Runs offline.
    """
    from sacrebleu.metrics import BLEU

    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError(f"need one list of references per hypothesis (at least one), got "
                         f"{len(hypotheses)} hypotheses and {len(references)} reference lists.")
    if isinstance(references[0], str):
        raise ValueError("references should be a list of lists of strings (k references per "
                         "hypothesis); wrap single references: [[r] for r in references].")
    k = max(len(refs) for refs in references)
    streams = [[refs[j] if j < len(refs) else None for refs in references] for j in range(k)]
    return {f"BLEU-{n}": BLEU(max_ngram_order=n, tokenize="none").corpus_score(
        list(hypotheses), streams).score for n in range(1, 5)}


def split_references(data: dict, split: str) -> list[list[str]]:
    """The decoded captions of each image of a split: N lists of strings (image order)."""
    captions, idxs = data[f"{split}_captions"], data[f"{split}_image_idxs"]
    n_images = _n_images(data, split)
    references = [[] for _ in range(n_images)]
    for text, i in zip(decode_captions(captions, data["idx_to_word"]), idxs):
        references[int(i)].append(text)
    return references


def captioning_dataset(n_train: int = 4000, n_val: int = 500, n_test: int = 500, seed=None,
                       max_length: int = MAX_TOKENS, k: int = 5, grid: int | None = 8) -> dict:
    """The toy-scene captioning data, in memory, as the data dict of the module docstring.

    Inputs:
    - n_train, n_val, n_test: images per split (k captions each)
    - seed: None uses the fixed SPLIT_SEEDS; an int draws other splits ([seed, SPLIT_SEEDS[split]])
    - max_length: caption length in words (T = max_length + 2); grid: ``{split}_features`` are
      grid_features(images, grid); None leaves the features out
    The vocabulary is the grammar's (31 entries), the same whatever the sizes and seed.
    """
    word_to_idx, idx_to_word = build_vocab(grammar_words())
    data = {"idx_to_word": idx_to_word, "word_to_idx": word_to_idx}
    for split, n in zip(SPLITS, (n_train, n_val, n_test)):
        images, scenes, references = make_split(n, SPLIT_SEEDS[split] if seed is None
                                                else [seed, SPLIT_SEEDS[split]], k)
        flat = [c for refs in references for c in refs]
        data[f"{split}_captions"] = encode_captions(flat, word_to_idx, max_length)
        data[f"{split}_image_idxs"] = np.repeat(np.arange(n, dtype=np.int32), k)
        data[f"{split}_images"] = images
        if grid:
            data[f"{split}_features"] = grid_features(images, grid)
        data[f"{split}_scenes"], data[f"{split}_references"] = scenes, references
    return data


def write_captioning_h5(path, data: dict) -> Path:
    """Write a data dict to one HDF5 file; ``load_captioning_data(path)`` reads it back.

    Stored: every ``{split}_captions / _image_idxs / _images / _features`` present, ``idx_to_word``
    as a variable-length string dataset (word_to_idx is derived on loading), and scenes as
    ``{split}_scene_objects`` / ``{split}_scene_relations`` (``scenes_to_arrays``). References are
    not stored: the loader decodes them from the captions.
    """
    import h5py

    _check_data(data, "the data dict")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("idx_to_word", data=list(data["idx_to_word"]), dtype=h5py.string_dtype())
        for split in SPLITS:
            for key in ("captions", "image_idxs", "images", "features"):
                if f"{split}_{key}" in data:
                    f.create_dataset(f"{split}_{key}", data=np.asarray(data[f"{split}_{key}"]))
            if f"{split}_scenes" in data:
                objects, relations = scenes_to_arrays(data[f"{split}_scenes"])
                f[f"{split}_scene_objects"], f[f"{split}_scene_relations"] = objects, relations
    return path


def make_captioning_h5(path, **kwargs) -> Path:
    """Write ``captioning_dataset(**kwargs)`` to ``path`` (HDF5) and return the path."""
    return write_captioning_h5(path, captioning_dataset(**kwargs))


def load_captioning_data(path, max_train: int | None = None, pca_features: bool = True,
                         seed: int = 0) -> dict:
    """Read captioning data: an HDF5 file written by write_captioning_h5, or a CS231n directory.

    Inputs:
    - path: a .h5 file, or a CS231n ``coco_captioning`` directory holding coco2014_captions.h5,
      coco2014_vocab.json and {train,val}2014_vgg16_fc7[_pca].h5 (key "features")
    - max_train: keep this many training captions, drawn without replacement with
      default_rng(seed) (CS231n's load_coco_data draws with replacement from the global state)
    - pca_features: for a CS231n directory, read the 512-d PCA features instead of the 4096-d fc7
    Returns the data dict of the module docstring (word_to_idx derived from idx_to_word).
    Raises FileNotFoundError naming the missing path, KeyError naming a missing key and the keys
    found, ValueError naming an array of the wrong shape or dtype.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        data = _load_cs231n_dir(path, pca_features)
    elif path.is_file():
        data = _read_h5(path, required=("idx_to_word",))
    else:
        raise FileNotFoundError(f"no captioning data at {path}: {_MAKE_IT}; for CS231n's COCO data "
                                f"pass the coco_captioning directory (get_coco_captioning.sh fetches it).")
    data["idx_to_word"] = [w.decode() if isinstance(w, bytes) else str(w) for w in data["idx_to_word"]]
    data["word_to_idx"] = {w: i for i, w in enumerate(data["idx_to_word"])}
    _check_data(data, str(path))
    for split in SPLITS:
        if f"{split}_scene_objects" in data:
            data[f"{split}_scenes"] = scenes_from_arrays(data.pop(f"{split}_scene_objects"),
                                                         data.pop(f"{split}_scene_relations"))
            data[f"{split}_references"] = split_references(data, split)
    if max_train is not None and max_train < len(data["train_captions"]):
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(data["train_captions"]), max_train, replace=False))
        data["train_captions"], data["train_image_idxs"] = (data["train_captions"][keep],
                                                            data["train_image_idxs"][keep])
    return data


def _read_h5(path: Path, required=(), only=None) -> dict:
    import h5py

    with h5py.File(path, "r") as f:
        missing = [key for key in required if key not in f]
        if missing:
            raise KeyError(f"{path} has no key {missing[0]!r}; keys found: {sorted(f.keys())}. "
                           f"Expected the CS231n captioning schema ({_MAKE_IT}).")
        return {key: np.asarray(f[key]) for key in (only or f.keys())}


def _load_cs231n_dir(base: Path, pca_features: bool) -> dict:
    data = _read_h5(_existing(base / "coco2014_captions.h5"))
    with open(_existing(base / "coco2014_vocab.json")) as f:
        vocab = json.load(f)
    if "idx_to_word" not in vocab:
        raise KeyError(f"{base / 'coco2014_vocab.json'} has no key 'idx_to_word'; "
                       f"keys found: {sorted(vocab)}.")
    data["idx_to_word"] = vocab["idx_to_word"]
    for split, prefix in (("train", "train2014"), ("val", "val2014"), ("test", "test2014")):
        name = f"{prefix}_vgg16_fc7{'_pca' if pca_features else ''}.h5"
        if f"{split}_captions" in data:
            features = _read_h5(_existing(base / name), ("features",), ("features",))
            data[f"{split}_features"] = features["features"]
        urls = base / f"{prefix}_urls.txt"
        if urls.is_file():
            data[f"{split}_urls"] = np.asarray(urls.read_text().split())
    return data


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"missing {path} (part of CS231n's coco_captioning data, which "
                                f"get_coco_captioning.sh downloads); for the toy scenes, {_MAKE_IT}.")
    return path


def _n_images(data: dict, split: str) -> int:
    source = f"{split}_features" if f"{split}_features" in data else f"{split}_images"
    return len(data[source])


def _check_data(data: dict, where: str) -> None:
    """Raise KeyError / ValueError unless data follows the schema of the module docstring."""
    splits = [s for s in SPLITS if f"{s}_captions" in data]
    if not splits or "idx_to_word" not in data:
        missing = "idx_to_word" if splits else "train_captions"
        raise KeyError(f"{where} has no key {missing!r}; keys found: {sorted(data)}. "
                       f"Expected the CS231n captioning schema ({_MAKE_IT}).")
    V = len(data["idx_to_word"])
    if list(data["idx_to_word"][:3]) != list(SPECIAL[:3]):
        raise ValueError(f"{where}: idx_to_word should start with {list(SPECIAL[:3])}, but starts "
                         f"with {list(data['idx_to_word'][:3])}.")
    for split in splits:
        keys = [f"{split}_{k}" for k in ("image_idxs", "images", "features")]
        if keys[0] not in data or (keys[1] not in data and keys[2] not in data):
            missing = keys[0] if keys[0] not in data else f"{keys[1]}' or '{keys[2]}"
            raise KeyError(f"{where} has no key '{missing}'; keys found: {sorted(data)}.")
        caps, idxs = np.asarray(data[f"{split}_captions"]), np.asarray(data[keys[0]])
        _expect(caps.ndim == 2 and caps.dtype.kind in "iu", f"{split}_captions", "(M, T) integers", caps)
        _expect(idxs.shape == caps.shape[:1] and idxs.dtype.kind in "iu", keys[0],
                f"({len(caps)},) integers", idxs)
        if keys[1] in data:
            img = np.asarray(data[keys[1]])
            _expect(img.ndim == 4 and img.shape[-1] == 3 and img.dtype == np.uint8, keys[1],
                    "(N, height, width, 3) uint8", img)
        if keys[2] in data:
            feat = np.asarray(data[keys[2]])
            _expect(feat.ndim == 2 and feat.dtype.kind == "f", keys[2], "(N, F) floats", feat)
        n_images = _n_images(data, split)
        if caps.size and (caps.min() < 0 or caps.max() >= V):
            raise ValueError(f"{where}: {split}_captions has word ids outside [0, {V}) "
                             f"(V = len(idx_to_word)).")
        if idxs.size and (idxs.min() < 0 or idxs.max() >= n_images):
            raise ValueError(f"{where}: {keys[0]} has values outside [0, {n_images}) (the number of images).")


def _expect(ok: bool, key: str, expected: str, found: np.ndarray) -> None:
    if not ok:
        raise ValueError(f"{key} should be {expected}, but has shape {found.shape} and dtype {found.dtype}.")


def sample_minibatch(data: dict, batch_size: int = 100, split: str = "train", rng=None, source=None):
    """A random minibatch of captions with their images or features, like CS231n's sample_coco_minibatch.

    Inputs:
    - data: a data dict; split: "train", "val" or "test"
    - rng: np.random.Generator (None: a fresh unseeded one); captions are drawn with replacement
    - source: "features" or "images"; None takes features when the split has them
    Returns a tuple of:
    - captions: int32 (batch_size, T)
    - x: features (batch_size, F) or images (batch_size, height, width, 3) of those captions' images
    - image_idxs: (batch_size,) the image index of each caption
    """
    rng = np.random.default_rng() if rng is None else rng
    source = source or ("features" if f"{split}_features" in data else "images")
    for key in (f"{split}_captions", f"{split}_{source}"):
        if key not in data:
            raise KeyError(f"data has no key {key!r}; keys found: {sorted(data)}.")
    mask = rng.choice(len(data[f"{split}_captions"]), batch_size)
    image_idxs = data[f"{split}_image_idxs"][mask]
    return data[f"{split}_captions"][mask], data[f"{split}_{source}"][image_idxs], image_idxs
