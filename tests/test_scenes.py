"""course_lib.scenes and scene_text: generator, renderer, caption grammar, parser and semantic scores."""
import re

import numpy as np
import pytest

from course_lib.scene_text import INVERSE, REL_WORDS
from course_lib.scenes import (CANVAS, COLOURS, MAX_TOKENS, RADIUS, RGB, SPLIT_SEEDS, Description,
                               Obj, Scene, caption_scores, grammar_words, make_dataset, make_split,
                               parse_caption, random_scene, relation_holds, render,
                               scenes_from_arrays, scenes_to_arrays, semantic_scores, shape_mask)


@pytest.fixture(scope="module")
def split():
    return make_split(300, seed=123)


def test_make_split_is_deterministic_per_seed_and_differs_across_seeds():
    a, b, c = make_split(20, 5), make_split(20, 5), make_split(20, 6)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2]
    assert not np.array_equal(a[0], c[0]) and a[1] != c[1] and a[2] != c[2]
    assert a[0].shape == (20, 64, 64, 3) and a[0].dtype == np.uint8


def test_make_dataset_uses_the_fixed_split_seeds():
    data = make_dataset(4, 3, 2)
    for name, n in (("train", 4), ("val", 3), ("test", 2)):
        images, scenes, captions = make_split(n, SPLIT_SEEDS[name])
        assert np.array_equal(data[name][0], images) and data[name][1] == scenes
    assert len(set(SPLIT_SEEDS.values())) == 3


def test_scenes_are_well_formed(split):
    _, scenes, _ = split
    counts = {len(s.objects) for s in scenes}
    assert counts == {1, 2, 3}
    assert {o.colour for s in scenes for o in s.objects} == set(COLOURS)
    for s in scenes:
        descs = [(o.size, o.colour, o.shape) for o in s.objects]
        assert len(set(descs)) == len(descs)
        for o in s.objects:
            r = RADIUS[o.size]
            assert r < o.x < CANVAS - r and r < o.y < CANVAS - r
        for p, q in ((p, q) for i, p in enumerate(s.objects) for q in s.objects[i + 1:]):
            gap = RADIUS[p.size] + RADIUS[q.size] + 2
            assert abs(p.x - q.x) >= gap or abs(p.y - q.y) >= gap  # no overlap
        if len(s.objects) == 1:
            assert s.relation is None
        else:
            i, rel, j = s.relation
            assert (i, j) == (0, 1) and relation_holds(s.objects[0], rel, s.objects[1])


def test_every_generated_caption_parses_back_to_its_scene(split):
    _, scenes, captions = split
    flat = [c for cs in captions for c in cs]
    owners = [s for s, cs in zip(scenes, captions) for _ in cs]
    assert all(len(cs) == 5 and len(set(cs)) == 5 for cs in captions)
    assert semantic_scores(flat, owners) == dict.fromkeys(
        ("parsed", "count", "shape", "colour", "size", "relation", "exact"), 1.0)
    words = set(grammar_words())
    for c in flat:
        tokens = c.split(" ")
        assert len(tokens) <= MAX_TOKENS and set(tokens) <= words and re.fullmatch("[a-z ]+", c)
    phrasings = " ".join(flat)
    for variant in ("big", "large", "little", "small", "to the left of", "there is", " is ", " and a "):
        assert variant in phrasings


def _perturbed(scenes, captions, edit):
    pairs = [(edit(c, s), s) for s, cs in zip(scenes, captions) for c in cs]
    pairs = [(c, s) for c, s in pairs if c is not None]
    assert len(pairs) > 100
    return semantic_scores(*zip(*pairs))


def test_a_wrong_colour_lowers_only_the_colour_score(split):
    def recolour(caption, scene):
        absent = [c for c in COLOURS if c not in {o.colour for o in scene.objects}]
        first = next(w for w in caption.split() if w in COLOURS)
        return caption.replace(f" {first} ", f" {absent[0]} ", 1) if absent else None
    scores = _perturbed(split[1], split[2], recolour)
    assert scores["colour"] < 1 and scores["exact"] == 0
    assert scores["parsed"] == scores["count"] == scores["shape"] == scores["size"] == 1


def test_a_swapped_relation_scores_zero_on_relation_only(split):
    def swap(caption, scene):
        if len(scene.objects) == 1:
            return None
        rel = parse_caption(caption).relation[1]
        for phrase in sorted(REL_WORDS[rel], key=len, reverse=True):
            if f" {' '.join(phrase)} " in caption:
                return caption.replace(f" {' '.join(phrase)} ", f" {' '.join(REL_WORDS[INVERSE[rel]][0])} ")
    scores = _perturbed(split[1], split[2], swap)
    assert scores["relation"] == 0 and scores["exact"] == 0
    assert scores["count"] == scores["shape"] == scores["colour"] == scores["size"] == 1


def test_a_missing_object_lowers_count_and_attributes(split):
    def drop_third(caption, scene):
        return caption.split(" and ")[0] if len(scene.objects) == 3 else None
    scores = _perturbed(split[1], split[2], drop_third)
    assert scores["count"] == 0 and scores["relation"] == 1
    assert scores["shape"] == scores["colour"] == scores["size"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("caption, objects, relation", [
    ("there is a big red circle to the left of a little blue square",
     (("large", "red", "circle"), ("small", "blue", "square")), (0, "left of", 1)),
    ("a small yellow triangle is under a large green square and a big blue circle",
     (("small", "yellow", "triangle"), ("large", "green", "square"), ("large", "blue", "circle")),
     (0, "below", 1)),
    ("a little green circle over a big red triangle",
     (("small", "green", "circle"), ("large", "red", "triangle")), (0, "above", 1)),
    ("just a little green circle", (("small", "green", "circle"),), None),
    ("there is only a large yellow square", (("large", "yellow", "square"),), None),
])
def test_hand_written_captions_parse_as_expected(caption, objects, relation):
    assert parse_caption(caption) == Description(objects, relation)


@pytest.mark.parametrize("caption", [
    "", "a big red circle left of", "there is a big red circle is left of a small blue square",
    "a huge red circle", "a red big circle", "<START> a big red circle", "A big red circle",
    "a big red circle and a small blue square", "a big red circle above a small blue square and",
    "there is a big yellow triangle to the left of a little green square and a big blue circle",
    "a big red circle left of a small blue square and a big red circle and a big red circle", None,
])
def test_captions_outside_the_grammar_do_not_parse(caption):
    assert parse_caption(caption) is None


def test_scores_of_hand_written_captions():
    scene = Scene((Obj("circle", "red", "large", 16, 32), Obj("square", "blue", "small", 48, 30)),
                  (0, "left of", 1))
    def score(caption):
        return caption_scores(caption, scene)
    assert score("a big red circle left of a small blue square")["exact"] == 1
    assert score("a small blue square is to the right of a large red circle")["exact"] == 1
    wrong_rel = score("a small blue square left of a large red circle")
    assert wrong_rel["relation"] == 0 and wrong_rel["colour"] == wrong_rel["shape"] == 1
    assert score("a big green circle left of a small blue square")["colour"] == 0.5
    one = score("a big red circle")
    assert (one["count"], one["shape"], one["size"], one["relation"]) == (0, 0.5, 0.5, 0)
    extra = score("a big red circle left of a small blue square and a big red triangle")
    assert extra["count"] == 0 and extra["shape"] == pytest.approx(2 / 3) and extra["relation"] == 1
    assert score("a big red ball")["parsed"] == 0 and score("a big red ball")["colour"] == 0
    alone = Scene((Obj("circle", "red", "large", 16, 32),), None)
    assert caption_scores("only a large red circle", alone)["exact"] == 1
    with pytest.raises(ValueError, match="same length"):
        semantic_scores(["a big red circle"], [])


def test_relation_geometry():
    a = Obj("circle", "red", "small", 10, 30)
    def at(x, y):
        return Obj("square", "blue", "small", x, y)
    assert relation_holds(a, "left of", at(30, 30)) and relation_holds(at(30, 30), "right of", a)
    assert not relation_holds(a, "right of", at(30, 30)) and not relation_holds(a, "above", at(30, 30))
    assert relation_holds(a, "above", at(10, 50)) and relation_holds(a, "below", at(12, 5))  # y grows down
    assert not any(relation_holds(a, r, at(30, 45)) for r in REL_WORDS)  # diagonal: none holds
    assert not relation_holds(a, "left of", at(14, 30))  # closer than the margin


def test_render_draws_the_shapes_in_their_colours():
    rng = np.random.default_rng(0)
    for colour in COLOURS:
        scene = Scene((Obj("square", colour, "large", 32, 32),), None)
        image = render(scene, rng).astype(int)
        assert np.abs(image[32, 32] - RGB[colour]).max() < 50
        assert image[:3, :3].max() < 100  # the background is dark
    yy, xx = np.mgrid[-20:21, -20:21]
    areas = {s: shape_mask("circle", xx, yy, r).sum() for s, r in RADIUS.items()}
    assert areas["large"] > 3.5 * areas["small"]
    assert render(random_scene(rng), rng, size=32).shape == (32, 32, 3)


def test_scenes_to_arrays_round_trip(split):
    objects, relations = scenes_to_arrays(split[1])
    assert objects.shape == (300, 3, 5) and relations.shape == (300, 3)
    assert scenes_from_arrays(objects, relations) == split[1]
