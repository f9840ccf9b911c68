"""course_lib.text: offline corpora, load_text's errors, CharVocab and train_val_split."""
import pathlib

import numpy as np
import pytest
from pydoc_data.topics import topics

from course_lib.text import (CharVocab, load_text, pydoc_corpus, stdlib_source_corpus,
                             train_val_split)


def test_pydoc_corpus_is_english_prose_from_the_topics():
    text = pydoc_corpus(max_chars=50_000)
    assert len(text) == 50_000
    first_topic = topics[sorted(topics)[0]].strip()
    assert text.startswith(first_topic[:1000])
    assert " the " in text and text.count(" the ") > 100


def test_pydoc_corpus_cap_and_no_cap():
    full = pydoc_corpus(max_chars=None)
    assert len(full) > 200_000
    assert len(pydoc_corpus()) == 200_000
    assert pydoc_corpus(max_chars=1234) == full[:1234]


def test_stdlib_source_corpus_is_deterministic_python():
    a = stdlib_source_corpus(max_chars=30_000)
    assert a == stdlib_source_corpus(max_chars=30_000)
    assert len(a) == 30_000
    assert "def " in a and "import " in a
    assert stdlib_source_corpus(max_chars=1000) == a[:1000]


@pytest.mark.parametrize("bad", [0, -5, 2.5])
def test_bad_max_chars(bad):
    with pytest.raises(ValueError, match="max_chars should be a positive int"):
        pydoc_corpus(max_chars=bad)


def test_load_text_reads_utf8(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("héllo wörld\n", encoding="utf-8")
    assert load_text(path) == "héllo wörld\n"
    assert load_text(str(path), max_chars=3) == "hél"


def test_load_text_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_text(tmp_path / "nope.txt")
    msg = str(err.value)
    assert "nope.txt" in msg and "UTF-8 text file" in msg and "pydoc_corpus()" in msg


def test_load_text_folder(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        load_text(tmp_path)


def test_load_text_not_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\u00e9".encode("latin-1"))
    with pytest.raises(ValueError) as err:
        load_text(path)
    msg = str(err.value)
    assert "not UTF-8" in msg and "0xe9" in msg and "position 3" in msg and "iconv" in msg


def test_load_text_empty(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="is empty; expected some text"):
        load_text(path)


def test_load_text_unreadable(tmp_path, monkeypatch):
    """Simulated: chmod does not stop root, who runs the tests in containers."""
    path = tmp_path / "secret.txt"
    path.write_text("x")

    def deny(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(pathlib.Path, "read_bytes", deny)
    with pytest.raises(PermissionError, match="permission denied.*chmod"):
        load_text(path)


def test_char_vocab_sorted_and_round_trip():
    text = "hello world!"
    vocab = CharVocab(text)
    assert vocab.chars == [" ", "!", "d", "e", "h", "l", "o", "r", "w"]
    assert vocab.size == 9
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert ids[0] == vocab.chars.index("h") and ids[1] == vocab.chars.index("e")
    assert vocab.decode(ids) == text
    assert vocab.decode(ids.tolist()) == text
    assert vocab.encode("").shape == (0,) and vocab.decode([]) == ""


def test_char_vocab_decodes_tensors():
    torch = pytest.importorskip("torch")
    vocab = CharVocab("abc")
    assert vocab.decode(torch.tensor([2, 0, 1])) == "cab"


def test_char_vocab_errors():
    vocab = CharVocab("abc")
    with pytest.raises(ValueError, match=r"not in the vocabulary: \['x', 'z'\]"):
        vocab.encode("abzx")
    with pytest.raises(ValueError, match=r"ids in 0\.\.2"):
        vocab.decode([0, 3])
    with pytest.raises(ValueError, match=r"ids in 0\.\.2"):
        vocab.decode([-1])
    with pytest.raises(ValueError, match="non-empty string"):
        CharVocab("")


def test_train_val_split_takes_the_end():
    ids = np.arange(100)
    train, val = train_val_split(ids, val_fraction=0.2)
    assert np.array_equal(train, np.arange(80)) and np.array_equal(val, np.arange(80, 100))
    train, val = train_val_split(ids)
    assert len(train) == 90 and len(val) == 10


@pytest.mark.parametrize("ids, fraction, match", [
    (np.arange(10), 0.0, "strictly between 0 and 1"),
    (np.arange(10), 1.0, "strictly between 0 and 1"),
    (np.arange(3), 0.1, "both need at least one"),
    (np.zeros((2, 5)), 0.1, r"shape \(T,\)"),
])
def test_train_val_split_errors(ids, fraction, match):
    with pytest.raises(ValueError, match=match):
        train_val_split(ids, val_fraction=fraction)
