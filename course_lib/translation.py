"""A generated translation task with known word alignments, for Chapter 7.

Two toy languages with the same words but different word order. The source is English-like
(subject verb object, adjectives before their noun); the target is verb-final with adjectives after
their noun, in the mirror order (like Welsh or Basque noun phrases, and Japanese or Turkish verbs):

    source  small red fox sees old bear and owl chases frog
    target  lesa ir ak nusi ul savo ko fukal gafo tiku

Each source word has one translation (a fixed lexicon), so every target word comes from exactly one
source word: the alignment is known, and an attention plot can be checked against it. A sentence is
one or more clauses "NP verb NP" joined by "and"; a noun phrase NP is a noun with zero, one or two
adjectives. Sentences are drawn for an exact length in words, so every length has the same number of
examples; source and target always have the same length.

Splits: ``train`` and ``val`` have lengths in ``train_lengths``; ``test`` has every length from the
shortest of ``train_lengths`` to the longest of ``long_lengths`` (the lengths above the training
ones test length generalisation),
and holds no sentence that is in ``train``. Deterministic per seed; NumPy only.
"""
import numpy as np

SPECIALS = ("<NULL>", "<START>", "<END>")  # ids 0, 1, 2 on both sides, as in Chapter 6
NOUNS = ("cat", "dog", "bird", "fish", "fox", "bear", "wolf", "frog", "owl", "mouse")
ADJECTIVES = ("small", "big", "red", "blue", "old", "young")
VERBS = ("sees", "chases", "likes", "bites", "follows", "finds")
LEXICON = {  # source word -> target word
    **dict(zip(NOUNS, ("miro", "tazu", "keli", "bopa", "lesa", "nusi", "dobu", "gafo", "fukal", "pine"))),
    **dict(zip(ADJECTIVES, ("ak", "ep", "ir", "om", "ul", "ex"))),
    **dict(zip(VERBS, ("savo", "tiku", "maro", "feni", "lupo", "gira"))),
    "and": "ko",
}
MAX_ADJECTIVES = 2


def _noun_phrase(n_adj: int, rng: np.random.Generator) -> list[str]:
    adjs = list(rng.choice(ADJECTIVES, size=n_adj, replace=False)) if n_adj else []
    return [str(a) for a in adjs] + [str(rng.choice(NOUNS))]


def sample_sentence(length: int, rng: np.random.Generator) -> list[str]:
    """A source sentence of exactly ``length`` words (length >= 3).

    k clauses take 4k - 1 words without adjectives; the other words are adjectives, spread over the
    2k noun phrases at random (at most two each). k is drawn uniformly among the counts that fit.
    """
    ks = [k for k in range(1, length + 1) if 4 * k - 1 <= length <= 4 * k - 1 + 2 * MAX_ADJECTIVES * k]
    if not ks:
        raise ValueError(f"a sentence has at least 3 words (noun verb noun); got length={length}.")
    k = int(rng.choice(ks))
    slots = np.repeat(np.arange(2 * k), MAX_ADJECTIVES)  # each noun phrase twice: two adjectives at most
    n_adj = np.bincount(rng.choice(slots, size=length - (4 * k - 1), replace=False), minlength=2 * k)
    words = []
    for c in range(k):
        if c:
            words.append("and")
        words += _noun_phrase(n_adj[2 * c], rng) + [str(rng.choice(VERBS))] + _noun_phrase(n_adj[2 * c + 1], rng)
    return words


def translate_words(source: list[str]) -> tuple[list[str], list[int]]:
    """The target sentence of a source sentence, and its alignment.

    Returns (target words, alignment) with alignment[j] the position in ``source`` of the word that
    target word j translates. Per clause: subject NP, object NP, verb; in an NP the noun comes first,
    then its adjectives in reverse order ("small red fox" -> "lesa ir ak").
    """
    _check_sentence(source)
    order, clause = [], []
    for i, word in enumerate(source + ["and"]):
        if word != "and":
            clause.append(i)
            continue
        verb = next(j for j in clause if source[j] in VERBS)
        cut = clause.index(verb)
        for phrase in (clause[:cut], clause[cut + 1:]):
            order += [phrase[-1]] + phrase[-2::-1]  # noun, then its adjectives mirrored
        order.append(verb)
        if i < len(source):
            order.append(i)  # the "and" itself
        clause = []
    return [LEXICON[source[j]] for j in order], order


def _check_sentence(source: list[str]) -> None:
    """Raise ValueError unless ``source`` is clauses 'adj* noun verb adj* noun' (at most two adjectives
    per noun) joined by 'and'."""
    clauses, clause = [], []
    for word in list(source) + ["and"]:
        if word == "and":
            clauses.append(clause)
            clause = []
        else:
            clause.append(word)

    def noun_phrase(words):
        return (len(words) >= 1 and words[-1] in NOUNS and len(words) - 1 <= MAX_ADJECTIVES
                and all(w in ADJECTIVES for w in words[:-1]))

    for c in clauses:
        verbs = [j for j, w in enumerate(c) if w in VERBS]
        if len(verbs) != 1 or not noun_phrase(c[:verbs[0]]) or not noun_phrase(c[verbs[0] + 1:]):
            raise ValueError(f"not a sentence of the source language: {' '.join(source)!r}. Expected clauses "
                             f"'[adjectives] noun verb [adjectives] noun' (at most {MAX_ADJECTIVES} adjectives "
                             f"each) joined by 'and', with words from NOUNS, ADJECTIVES and VERBS.")


def vocabularies() -> tuple[list[str], list[str]]:
    """(source idx_to_word, target idx_to_word): the specials, then the words in a fixed order."""
    src = list(SPECIALS) + list(NOUNS) + list(ADJECTIVES) + list(VERBS) + ["and"]
    return src, list(SPECIALS) + [LEXICON[w] for w in src[len(SPECIALS):]]


def encode(sentences: list[list[str]], word_to_idx: dict, with_start_end: bool) -> tuple[np.ndarray, np.ndarray]:
    """Pad sentences into an int64 array, <NULL> (0) after the end.

    with_start_end=False gives (N, S) source ids; True gives (N, T + 2) target ids
    [<START>, words..., <END>, <NULL>...], the captions' layout (input [:, :-1], output [:, 1:]).
    Returns (ids, lengths), lengths (N,) being the number of words (without <START> and <END>).
    """
    lengths = np.array([len(s) for s in sentences], dtype=np.int64)
    extra = 2 if with_start_end else 0
    ids = np.zeros((len(sentences), int(lengths.max()) + extra), dtype=np.int64)
    for n, words in enumerate(sentences):
        row = [word_to_idx[w] for w in words]
        if with_start_end:
            row = [word_to_idx["<START>"]] + row + [word_to_idx["<END>"]]
        ids[n, :len(row)] = row
    return ids, lengths


def decode_words(ids, idx_to_word: list[str]) -> list[str]:
    """Id rows -> sentences: words up to the first <END>, without <NULL> and <START>."""
    out = []
    for row in np.asarray(ids):
        words = []
        for i in row:
            if idx_to_word[i] == "<END>":
                break
            if idx_to_word[i] not in ("<NULL>", "<START>"):
                words.append(idx_to_word[i])
        out.append(" ".join(words))
    return out


def _draw(lengths: range, per_length: int, rng: np.random.Generator, exclude: set) -> list[list[str]]:
    """per_length distinct sentences of each length, none in ``exclude`` (as joined strings)."""
    out = []
    for L in lengths:
        seen, tries = set(), 0
        while len(seen) < per_length:
            s = sample_sentence(L, rng)
            key = " ".join(s)
            tries += 1
            if tries > 100 * per_length:
                raise ValueError(f"could not draw {per_length} distinct sentences of length {L}; ask for fewer.")
            if key not in seen and key not in exclude:
                seen.add(key)
                out.append(s)
    return out


def translation_dataset(*, seed: int = 0, train_lengths: tuple[int, int] = (3, 20),
                        long_lengths: tuple[int, int] = (21, 30), n_train_per_length: int = 800,
                        n_val_per_length: int = 20, n_test_per_length: int = 50) -> dict:
    """The chapter's data: train, val and test splits of (source, target) sentence pairs.

    Inputs:
    - seed: the only source of randomness
    - train_lengths: (shortest, longest) sentence in train, val and the first part of test, >= 3
    - long_lengths: (shortest, longest) lengths seen only in test; the shortest > train's longest
      (test also holds every length between the two ranges, if there is a gap)
    - n_*_per_length: sentences of each length in each split (distinct within a split)
    Returns a dict with, for each split in ("train", "val", "test"):
    - {split}_src: int64 (N, S) source ids, <NULL> padded; {split}_lengths: int64 (N,) words per sentence
    - {split}_tgt: int64 (N, S + 2) target ids with <START> and <END> (captions' layout)
    - {split}_alignments: list of N int arrays, alignment[j] = source position of target word j
    - {split}_source, {split}_target: the sentences as strings
    and src_idx_to_word, src_word_to_idx, tgt_idx_to_word, tgt_word_to_idx, max_train_length, and
    config (the arguments, to tell one dataset from another).
    """
    lo, hi = train_lengths
    if not (3 <= lo <= hi < long_lengths[0] <= long_lengths[1]):
        raise ValueError(f"need 3 <= train_lengths[0] <= train_lengths[1] < long_lengths[0] <= "
                         f"long_lengths[1]; got {train_lengths} and {long_lengths}.")
    rng = np.random.default_rng(seed)
    src_words, tgt_words = vocabularies()
    data = {"config": dict(seed=seed, train_lengths=tuple(train_lengths), long_lengths=tuple(long_lengths),
                           n_train_per_length=n_train_per_length, n_val_per_length=n_val_per_length,
                           n_test_per_length=n_test_per_length),
            "src_idx_to_word": src_words, "tgt_idx_to_word": tgt_words,
            "src_word_to_idx": {w: i for i, w in enumerate(src_words)},
            "tgt_word_to_idx": {w: i for i, w in enumerate(tgt_words)}, "max_train_length": hi}
    train = _draw(range(lo, hi + 1), n_train_per_length, rng, set())
    seen = {" ".join(s) for s in train}
    splits = {"train": train,
              "val": _draw(range(lo, hi + 1), n_val_per_length, rng, seen),
              "test": None}
    splits["test"] = _draw(range(lo, long_lengths[1] + 1), n_test_per_length, rng,
                           seen | {" ".join(s) for s in splits["val"]})
    for split, sources in splits.items():
        pairs = [translate_words(s) for s in sources]
        data[f"{split}_src"], data[f"{split}_lengths"] = encode(sources, data["src_word_to_idx"], False)
        data[f"{split}_tgt"], _ = encode([t for t, _ in pairs], data["tgt_word_to_idx"], True)
        data[f"{split}_alignments"] = [np.array(a) for _, a in pairs]
        data[f"{split}_source"] = [" ".join(s) for s in sources]
        data[f"{split}_target"] = [" ".join(t) for t, _ in pairs]
    return data
