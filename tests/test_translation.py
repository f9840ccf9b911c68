"""The generated translation task (course_lib.translation): grammar, hand-written translations, splits."""
import numpy as np
import pytest

from course_lib.translation import (ADJECTIVES, LEXICON, NOUNS, SPECIALS, VERBS, decode_words, encode,
                                    sample_sentence, translate_words, translation_dataset, vocabularies)

SMALL = dict(train_lengths=(3, 6), long_lengths=(7, 8), n_train_per_length=12, n_val_per_length=3,
             n_test_per_length=4)


@pytest.fixture(scope="module")
def data():
    return translation_dataset(seed=3, **SMALL)


def _is_source_sentence(words):
    """The grammar written again here: clauses "NP verb NP" joined by "and", NP = 0..2 adjectives + noun."""
    clauses, clause = [], []
    for w in words + ["and"]:
        if w == "and":
            clauses.append(clause)
            clause = []
        else:
            clause.append(w)
    for c in clauses:
        verbs = [i for i, w in enumerate(c) if w in VERBS]
        if len(verbs) != 1:
            return False
        for np_ in (c[:verbs[0]], c[verbs[0] + 1:]):
            if not (1 <= len(np_) <= 3 and np_[-1] in NOUNS and all(w in ADJECTIVES for w in np_[:-1])):
                return False
            if len(set(np_[:-1])) != len(np_) - 1:  # two adjectives of a phrase are distinct
                return False
    return True


def test_sample_sentence_has_the_length_and_the_grammar():
    rng = np.random.default_rng(0)
    for length in (3, 4, 7, 8, 11, 15, 24):
        for _ in range(5):
            s = sample_sentence(length, rng)
            assert len(s) == length
            assert _is_source_sentence(s), s


@pytest.mark.parametrize("source, target, alignment", [
    ("small red fox sees old bear and owl chases frog", "lesa ir ak nusi ul savo ko fukal gafo tiku",
     [2, 1, 0, 5, 4, 3, 6, 7, 9, 8]),
    ("cat sees dog", "miro tazu savo", [0, 2, 1]),
    ("big blue wolf finds young mouse", "dobu om ep pine ex gira", [2, 1, 0, 5, 4, 3]),
    ("fish likes red bird and old cat bites dog and owl follows frog",
     "bopa keli ir maro ko miro ul tazu feni ko fukal gafo lupo", [0, 3, 2, 1, 4, 6, 5, 8, 7, 9, 10, 12, 11]),
])
def test_translate_words_by_hand(source, target, alignment):
    words, order = translate_words(source.split())
    assert " ".join(words) == target
    assert list(order) == alignment


def test_alignment_is_a_permutation_and_translates_word_for_word(data):
    for split in ("train", "val", "test"):
        for src, tgt, a in zip(data[f"{split}_source"], data[f"{split}_target"], data[f"{split}_alignments"]):
            src, tgt = src.split(), tgt.split()
            assert len(src) == len(tgt) == len(a)
            assert sorted(a.tolist()) == list(range(len(src)))
            assert all(tgt[j] == LEXICON[src[a[j]]] for j in range(len(tgt)))


def test_deterministic_per_seed():
    a, b, c = (translation_dataset(seed=s, **SMALL) for s in (5, 5, 6))
    for key in ("train_src", "train_tgt", "val_src", "test_src", "test_lengths"):
        np.testing.assert_array_equal(a[key], b[key])
    assert a["train_source"] == b["train_source"] and a["test_target"] == b["test_target"]
    assert a["train_source"] != c["train_source"]
    rng1, rng2 = np.random.default_rng(9), np.random.default_rng(9)
    assert [sample_sentence(9, rng1) for _ in range(3)] == [sample_sentence(9, rng2) for _ in range(3)]


def test_lengths_and_counts_per_split(data):
    def counts(split):
        return dict(zip(*np.unique(data[f"{split}_lengths"], return_counts=True)))

    assert counts("train") == {L: 12 for L in range(3, 7)}
    assert counts("val") == {L: 3 for L in range(3, 7)}
    assert counts("test") == {L: 4 for L in range(3, 9)}
    for split, n in (("train", 48), ("val", 12), ("test", 24)):
        lengths = data[f"{split}_lengths"]
        assert lengths.dtype == np.int64 and lengths.shape == (n,)
        assert [len(s.split()) for s in data[f"{split}_source"]] == lengths.tolist()
        assert [len(s.split()) for s in data[f"{split}_target"]] == lengths.tolist()
        assert data[f"{split}_src"].shape == (n, lengths.max())
        assert data[f"{split}_tgt"].shape == (n, lengths.max() + 2)
        assert len(set(data[f"{split}_source"])) == n  # distinct within a split
    assert data["max_train_length"] == 6
    assert data["config"] == dict(seed=3, **SMALL)


def test_test_split_holds_no_train_or_val_sentence(data):
    assert not set(data["test_source"]) & (set(data["train_source"]) | set(data["val_source"]))
    assert not set(data["val_source"]) & set(data["train_source"])


def test_id_arrays_layout(data):
    src_i2w, tgt_i2w = data["src_idx_to_word"], data["tgt_idx_to_word"]
    assert src_i2w[:3] == tgt_i2w[:3] == ["<NULL>", "<START>", "<END>"]
    assert len(src_i2w) == len(tgt_i2w) == 3 + len(NOUNS) + len(ADJECTIVES) + len(VERBS) + 1
    for n, (s, t) in enumerate(zip(data["train_source"], data["train_target"])):
        L = len(s.split())
        assert [src_i2w[i] for i in data["train_src"][n, :L]] == s.split()
        assert (data["train_src"][n, L:] == 0).all()
        row = data["train_tgt"][n]
        assert row[0] == 1 and row[L + 1] == 2 and (row[L + 2:] == 0).all()
        assert [tgt_i2w[i] for i in row[1:L + 1]] == t.split()


def test_vocabularies_translate_position_for_position():
    src, tgt = vocabularies()
    assert src[:3] == list(SPECIALS) and tgt[:3] == list(SPECIALS)
    assert [LEXICON[w] for w in src[3:]] == tgt[3:]
    assert len(set(src)) == len(src) and len(set(tgt)) == len(tgt)


def test_encode_decode_round_trip():
    src_words, tgt_words = vocabularies()
    w2i = {w: i for i, w in enumerate(src_words)}
    sentences = [["cat", "sees", "dog"], ["small", "fox", "likes", "old", "big", "owl", "and", "cat", "bites", "frog"]]
    ids, lengths = encode(sentences, w2i, False)
    assert ids.dtype == np.int64 and ids.shape == (2, 10) and lengths.tolist() == [3, 10]
    assert ids[0].tolist() == [w2i["cat"], w2i["sees"], w2i["dog"]] + [0] * 7
    assert decode_words(ids, src_words) == [" ".join(s) for s in sentences]
    ids, lengths = encode(sentences, w2i, True)
    assert ids.shape == (2, 12) and ids[0, :6].tolist() == [1, w2i["cat"], w2i["sees"], w2i["dog"], 2, 0]
    assert decode_words(ids, src_words) == [" ".join(s) for s in sentences]
    # decoding stops at the first <END>; generated rows start without <START>
    assert decode_words(np.array([[w2i["cat"], 2, w2i["dog"], 0]]), src_words) == ["cat"]


@pytest.mark.parametrize("kwargs", [
    dict(train_lengths=(2, 5), long_lengths=(6, 7)),   # a sentence has 3 words at least
    dict(train_lengths=(5, 4), long_lengths=(6, 7)),   # shortest > longest
    dict(train_lengths=(3, 6), long_lengths=(6, 8)),   # long lengths overlap train's
    dict(train_lengths=(3, 6), long_lengths=(9, 8)),   # reversed
])
def test_bad_lengths_raise(kwargs):
    with pytest.raises(ValueError, match="train_lengths"):
        translation_dataset(**kwargs, n_train_per_length=2, n_val_per_length=1, n_test_per_length=1)


def test_sample_sentence_too_short_raises():
    with pytest.raises(ValueError, match="at least 3 words"):
        sample_sentence(2, np.random.default_rng(0))


@pytest.mark.parametrize("words", [["cat", "dog"], ["sees", "dog"], ["cat", "sees", "sees", "dog"],
                                   ["big", "small", "old", "cat", "sees", "dog"], ["cat", "sees", "dog", "and"],
                                   ["cat", "sees", "zebra"]])
def test_translate_words_rejects_what_is_not_a_sentence(words):
    with pytest.raises(ValueError, match="not a sentence of the source language"):
        translate_words(words)
