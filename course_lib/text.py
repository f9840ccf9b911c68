"""Offline text corpora and a character vocabulary for character-level language models.

Nothing is downloaded: ``pydoc_corpus`` is English prose from the help texts every Python ships
(``pydoc_data.topics``), ``stdlib_source_corpus`` is code from the standard library's own .py files,
and ``load_text`` reads a UTF-8 file you point it to. Both built-in corpora are deterministic for a
given Python version. ``CharVocab`` maps characters to ids 0..V-1 and back; ``train_val_split``
holds out the end of the text for validation. This module imports no framework.
"""
import sysconfig
from pathlib import Path

import numpy as np

DEFAULT_MAX_CHARS = 200_000


def _check_max_chars(max_chars: int | None) -> None:
    if max_chars is not None and (not isinstance(max_chars, int) or max_chars < 1):
        raise ValueError(f"max_chars should be a positive int or None (no cap), got {max_chars!r}.")


def _cap(text: str, max_chars: int | None) -> str:
    return text if max_chars is None else text[:max_chars]


def pydoc_corpus(max_chars: int | None = DEFAULT_MAX_CHARS) -> str:
    """English prose: the pydoc topic texts (``help('FOR')`` and friends), in sorted topic order.

    Inputs:
    - max_chars: keep at most this many characters; None keeps all (about 0.5M)
    Returns the texts joined by blank lines.
    """
    _check_max_chars(max_chars)
    try:
        from pydoc_data.topics import topics
    except ImportError:
        raise RuntimeError("this Python has no pydoc_data package (some Linux distributions split it "
                           "off). Install the full standard library (e.g. 'apt-get install "
                           "libpython3.11-stdlib') or use load_text(path) on a file of your own.") from None
    text = "\n\n".join(topics[key].strip() for key in sorted(topics))
    return _cap(text, max_chars)


def stdlib_source_corpus(max_chars: int | None = DEFAULT_MAX_CHARS) -> str:
    """Python code: the top-level .py files of the standard library, in sorted file-name order.

    Inputs:
    - max_chars: stop once this many characters are collected; None reads every file
    Returns the sources joined by blank lines. Files that are not UTF-8 are skipped.
    """
    _check_max_chars(max_chars)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(stdlib.glob("*.py"), key=lambda p: p.name)
    if not files:
        raise RuntimeError(f"found no .py files in the standard library folder {stdlib}; "
                           f"use pydoc_corpus() or load_text(path) instead.")
    parts, total = [], 0
    for path in files:
        try:
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        parts.append(source)
        total += len(source) + 2
        if max_chars is not None and total >= max_chars:
            break
    return _cap("\n\n".join(parts), max_chars)


def load_text(path, max_chars: int | None = None) -> str:
    """The contents of a UTF-8 text file.

    Inputs:
    - path: str or Path of the file
    - max_chars: keep at most this many characters; None keeps all
    Raises FileNotFoundError, IsADirectoryError, PermissionError or ValueError (not UTF-8, empty),
    each saying what was expected and what to do.
    """
    _check_max_chars(max_chars)
    path = Path(path).expanduser()
    where = f"'{path}' (full path {path.resolve()})"
    if not path.exists():
        raise FileNotFoundError(f"no file at {where}. Expected a UTF-8 text file: check the path, "
                                f"or use pydoc_corpus() / stdlib_source_corpus() for a built-in corpus.")
    if path.is_dir():
        raise IsADirectoryError(f"{where} is a folder; expected a UTF-8 text file inside it.")
    try:
        data = path.read_bytes()
    except PermissionError:
        raise PermissionError(f"cannot read {where}: permission denied. Make the file readable "
                              f"(e.g. chmod u+r) or copy it somewhere you can read.") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{where} is not UTF-8 text: byte 0x{data[err.start]:02x} at position "
                         f"{err.start} cannot be decoded. Save the file as UTF-8 (e.g. "
                         f"'iconv -f latin1 -t utf-8 in.txt > out.txt').") from None
    if not text:
        raise ValueError(f"{where} is empty; expected some text to train on. "
                         f"Point load_text at a file with text in it.")
    return _cap(text, max_chars)


class CharVocab:
    """Characters <-> integer ids 0..V-1, ids given in sorted character order.

    Inputs:
    - text: the characters the vocabulary knows are the distinct characters of this string
    Attributes: chars (list of V characters, id order), stoi (dict character -> id), size (V).
    """

    def __init__(self, text: str):
        if not isinstance(text, str) or not text:
            raise ValueError(f"CharVocab needs a non-empty string to collect characters from, "
                             f"got {type(text).__name__} {text!r:.40}.")
        self.chars = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    @property
    def size(self) -> int:
        """V, the number of distinct characters."""
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """The ids of the characters of ``text``, an int64 array of shape (T,) for T = len(text)."""
        try:
            return np.array([self.stoi[ch] for ch in text], dtype=np.int64)
        except KeyError:
            unknown = sorted(set(text) - set(self.stoi))
            raise ValueError(f"characters not in the vocabulary: {unknown[:10]!r}"
                             f"{' ...' if len(unknown) > 10 else ''}. Build the CharVocab from "
                             f"text that contains them (e.g. the whole corpus).") from None

    def decode(self, ids) -> str:
        """The string spelled by ``ids``: any sequence of ints (list, array or tensor) of shape (T,)."""
        if hasattr(ids, "detach"):  # a torch tensor, possibly on a GPU
            ids = ids.detach().cpu().numpy()
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(f"decode expects integer ids in 0..{self.size - 1}, got dtype {ids.dtype} "
                             f"with values in [{ids.min()}, {ids.max()}].")
        return "".join(self.chars[i] for i in ids.tolist())

    def __repr__(self) -> str:
        return f"CharVocab(size={self.size})"


def train_val_split(ids, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Split a sequence of ids in two, the last ``val_fraction`` of it for validation.

    Inputs:
    - ids: array of shape (T,)
    - val_fraction: share of the T ids held out, strictly between 0 and 1
    Returns (train_ids, val_ids), of shapes (T - T_val,) and (T_val,), T_val = round(T * val_fraction).
    Deterministic: no shuffling, so validation text is text the model has not seen.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"ids should have shape (T,), but has shape {ids.shape}.")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction should be strictly between 0 and 1, got {val_fraction}.")
    T = len(ids)
    T_val = round(T * val_fraction)
    if T_val == 0 or T_val == T:
        raise ValueError(f"{T} ids split at val_fraction={val_fraction} leave "
                         f"{T - T_val} for training and {T_val} for validation; both need at least "
                         f"one. Use more text or a different val_fraction.")
    return ids[: T - T_val], ids[T - T_val:]
