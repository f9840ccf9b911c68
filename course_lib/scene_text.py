"""The language of the toy scenes: words, the caption grammar, its parser and semantic scores.

A caption names every object by size, colour and shape ("a big red circle") and, when a scene has
two or more objects, the relation between objects 0 and 1, possibly inverted with the order
swapped ("a small blue square is right of a big red circle"); a third object is appended with
"and a ...". Captions are lower case, space separated, at most ``MAX_TOKENS`` tokens. The grammar:

    caption := ONE_PREFIX np                                   (one object)
             | ["there is"] np ["is"] rel np ["and" np]        (never both "there is" and "is")
    np      := "a" size colour shape
    size    := small | little | large | big;  rel := left of | to the left of | above | over | ...

``parse_caption`` inverts it exactly and ``semantic_scores`` judges captions against scenes, with
relations judged by geometry (``relation_holds``). Objects are read by duck typing (``.shape``,
``.colour``, ``.size``, ``.x``, ``.y``), so this module does not import ``scenes``. NumPy only.
"""
import itertools
from dataclasses import dataclass

SHAPES = ("circle", "square", "triangle")
COLOURS = ("red", "green", "blue", "yellow")
SIZES = ("small", "large")
RELATIONS = ("left of", "right of", "above", "below")
INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
MAX_TOKENS = 16
RELATION_MARGIN = 8  # pixels: the dominant offset must be at least this, and twice the other one

SIZE_WORDS = {"small": ("small", "little"), "large": ("large", "big")}
REL_WORDS = {"left of": (("left", "of"), ("to", "the", "left", "of")),
             "right of": (("right", "of"), ("to", "the", "right", "of")),
             "above": (("above",), ("over",)),
             "below": (("below",), ("under",), ("beneath",))}
ONE_PREFIXES = (("there", "is", "only"), ("there", "is"), ("only",), ("just",), ())  # longest first
_SIZE_OF = {w: s for s, words in SIZE_WORDS.items() for w in words}
_REL_OF = sorted(((p, r) for r, ps in REL_WORDS.items() for p in ps), key=lambda pr: -len(pr[0]))


def grammar_words() -> list[str]:
    """Every word the grammar can produce, sorted (the caption vocabulary without special tokens)."""
    words = {"a", "and", "is", "there", "only", "just", *COLOURS, *SHAPES, *_SIZE_OF}
    words.update(w for phrases in REL_WORDS.values() for p in phrases for w in p)
    return sorted(words)


def relation_holds(a, rel: str, b) -> bool:
    """Whether "a <rel> b" is true of the geometry (image coordinates: x right, y down).

    "left of": dx = b.x - a.x >= RELATION_MARGIN and dx >= 2 |b.y - a.y|; the other three alike.
    So a relation holds only when one axis clearly dominates; diagonal pairs satisfy none.
    """
    return bool(offset_holds(b.x - a.x, b.y - a.y, rel))


def offset_holds(dx, dy, rel: str):
    """``relation_holds`` for offsets dx = b.x - a.x, dy = b.y - a.y (numbers or arrays, elementwise)."""
    along, across = {"left of": (dx, dy), "right of": (-dx, dy),
                     "above": (dy, dx), "below": (-dy, dx)}[rel]
    return (along >= RELATION_MARGIN) & (along >= 2 * abs(across))


@dataclass(frozen=True)
class Description:
    """What a caption says: objects as (size, colour, shape) in order of mention (canonical words:
    "small"/"large"), and relation (i, rel, j) between described objects i and j, or None."""
    objects: tuple
    relation: tuple | None


def _noun_phrase(obj, u: float) -> list[str]:
    words = SIZE_WORDS[obj.size]
    return ["a", words[int(u * len(words))], obj.colour, obj.shape]


def _pick(options, u: float):
    return options[int(u * len(options))]


def describe(scene, rng) -> str:
    """One caption of ``scene``, drawn from the grammar with ``rng`` (np.random.Generator)."""
    objs = scene.objects
    while True:
        u = rng.random(9)
        if len(objs) == 1:
            return " ".join([*_pick(ONE_PREFIXES, u[0]), *_noun_phrase(objs[0], u[1])])
        i, rel, j = scene.relation
        a, b = objs[i], objs[j]
        if u[0] < 0.5:  # the inverse relation, with the order swapped
            a, b, rel = b, a, INVERSE[rel]
        form = int(u[1] * 3)  # 0: "a X rel a Y", 1: "a X is rel a Y", 2: "there is a X rel a Y"
        tokens = (["there", "is"] if form == 2 else []) + _noun_phrase(a, u[2])
        tokens += (["is"] if form == 1 else []) + list(_pick(REL_WORDS[rel], u[3]))
        tokens += _noun_phrase(b, u[4])
        for k, other in enumerate(o for n, o in enumerate(objs) if n not in (i, j)):
            tokens += ["and"] + _noun_phrase(other, u[5 + k])
        if len(tokens) <= MAX_TOKENS:
            return " ".join(tokens)


def captions_for(scene, rng, k: int = 5) -> list[str]:
    """``k`` reference captions of ``scene``, distinct when the grammar offers k phrasings."""
    captions = []
    for _ in range(20 * k):
        caption = describe(scene, rng)
        if caption not in captions:
            captions.append(caption)
        if len(captions) == k:
            return captions
    return (captions * k)[:k]


def _parse_np(tokens, i):
    if len(tokens) < i + 4 or tokens[i] != "a":
        return None
    size, colour, shape = tokens[i + 1:i + 4]
    if size not in _SIZE_OF or colour not in COLOURS or shape not in SHAPES:
        return None
    return (_SIZE_OF[size], colour, shape), i + 4


def _parse_rel(tokens, i):
    for phrase, rel in _REL_OF:
        if tuple(tokens[i:i + len(phrase)]) == phrase:
            return rel, i + len(phrase)
    return None


def parse_caption(text) -> Description | None:
    """The Description of a caption in the grammar (see the module docstring), else None.

    Tokens are split on whitespace; anything else (unknown or misplaced words, missing parts,
    special tokens, more than MAX_TOKENS tokens) gives None. Synonyms are canonicalised
    ("big" -> "large", "to the left of" -> "left of"); the relation is read as written.
    """
    if not isinstance(text, str):
        return None
    tokens = text.split()
    if len(tokens) > MAX_TOKENS:
        return None
    for prefix in ONE_PREFIXES:
        if tuple(tokens[:len(prefix)]) == prefix:
            parsed = _parse_np(tokens, len(prefix))
            if parsed and parsed[1] == len(tokens):
                return Description((parsed[0],), None)
    there = tokens[:2] == ["there", "is"]
    first = _parse_np(tokens, 2 if there else 0)
    if first is None:
        return None
    a, i = first
    if i < len(tokens) and tokens[i] == "is" and not there:
        i += 1
    parsed_rel = _parse_rel(tokens, i)
    second = parsed_rel and _parse_np(tokens, parsed_rel[1])
    if not second:
        return None
    (b, i), objects = second, [a, second[0]]
    if i < len(tokens) and tokens[i] == "and":
        third = _parse_np(tokens, i + 1)
        if third is None:
            return None
        objects.append(third[0])
        i = third[1]
    return Description(tuple(objects), (0, parsed_rel[0], 1)) if i == len(tokens) else None


def caption_scores(caption: str, scene) -> dict[str, float]:
    """Scores of one caption against one scene (see ``semantic_scores``)."""
    desc = parse_caption(caption)
    if desc is None:
        return dict.fromkeys(("parsed", "count", "shape", "colour", "size", "relation", "exact"), 0.0)
    objs, n = scene.objects, max(len(desc.objects), len(scene.objects))
    best = None
    for perm in itertools.permutations(range(n)):  # described object d <-> scene object perm[d]
        pairs = [(d, s) for d, s in enumerate(perm) if d < len(desc.objects) and s < len(objs)]
        hits = [sum(desc.objects[d][f] == (objs[s].size, objs[s].colour, objs[s].shape)[f]
                    for d, s in pairs) for f in range(3)]
        rel_ok = _relation_correct(desc, scene, dict(pairs))
        key = (sum(hits), rel_ok)
        if best is None or key > best[0]:
            best = key, hits, rel_ok
    _, (size, colour, shape), rel_ok = best
    scores = {"parsed": 1.0, "count": float(len(desc.objects) == len(objs)),
              "shape": shape / n, "colour": colour / n, "size": size / n, "relation": float(rel_ok)}
    scores["exact"] = float(all(v == 1.0 for v in scores.values()))
    return scores


def _relation_correct(desc, scene, match) -> bool:
    if len(scene.objects) < 2 or desc.relation is None:
        return len(scene.objects) < 2 and desc.relation is None
    i, rel, j = desc.relation
    if i not in match or j not in match:
        return False
    return relation_holds(scene.objects[match[i]], rel, scene.objects[match[j]])


def semantic_scores(captions, scenes) -> dict[str, float]:
    """Fractions in [0, 1], averaged over captions, of how well each caption describes its scene.

    Inputs:
    - captions: list of N caption strings; scenes: list of N scenes (objects with .shape,
      .colour, .size, .x, .y and, unused here, .relation)
    Returns a dict with
    - parsed: the caption is in the grammar (unparsed captions score 0 in every field)
    - count: it describes as many objects as the scene has
    - shape / colour / size: matched objects with the right attribute, divided by
      max(#described, #in scene); described objects are matched to scene objects by the best
      assignment (most attributes right, then the relation right), over all permutations
    - relation: with >= 2 scene objects, a relation is given and ``relation_holds`` for the matched
      objects; with one object, no relation is given
    - exact: all of the above are 1
    """
    if len(captions) != len(scenes):
        raise ValueError(f"captions and scenes should have the same length, got {len(captions)} "
                         f"captions and {len(scenes)} scenes.")
    if not captions:
        raise ValueError("semantic_scores needs at least one caption, got none.")
    per_caption = [caption_scores(c, s) for c, s in zip(captions, scenes)]
    return {k: sum(p[k] for p in per_caption) / len(per_caption) for k in per_caption[0]}
