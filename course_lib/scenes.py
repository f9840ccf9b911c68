"""Toy scenes for image captioning: 64x64 RGB images of 1-3 coloured shapes, and their captions.

A ``Scene`` holds 1-3 ``Obj`` (shape, colour, size, centre x, y in pixels) with distinct
descriptions, and, when there are two or more, a relation (0, rel, 1) that the geometry makes
unambiguous (``relation_holds``). ``render`` draws it over a noisy background with a little grey
clutter (specks of 1-3 pixels, never a shape). The words, the caption grammar, its parser and
``semantic_scores`` live in ``course_lib.scene_text`` and are re-exported here.

    images, scenes, captions = make_split(1000, seed=0)   # uint8 (N, 64, 64, 3), N scenes, N x 5

Everything is drawn from the ``rng`` passed in, so a seed fixes images and captions. NumPy only.
"""
from dataclasses import dataclass

import numpy as np

from course_lib.scene_text import (COLOURS, INVERSE, MAX_TOKENS, RELATIONS, SHAPES,  # noqa: F401
                                   SIZES, Description, caption_scores, captions_for, describe,
                                   grammar_words, offset_holds, parse_caption, relation_holds,
                                   semantic_scores)

CANVAS = 64
RADIUS = {"small": 6, "large": 12}  # half the extent of a shape, in pixels
RGB = {"red": (220, 40, 40), "green": (40, 190, 60), "blue": (50, 90, 235), "yellow": (235, 215, 40)}
SPLIT_SEEDS = {"train": 2014, "val": 2015, "test": 2016}
NOISE_SIGMA = 6
_CANDIDATES = 64  # positions proposed at once when placing an object


@dataclass(frozen=True)
class Obj:
    """One shape: shape in SHAPES, colour in COLOURS, size in SIZES, centre (x, y) in pixels."""
    shape: str
    colour: str
    size: str
    x: int
    y: int


@dataclass(frozen=True)
class Scene:
    """objects: tuple of 1-3 Obj; relation: (0, rel, 1) with rel in RELATIONS, or None (one object)."""
    objects: tuple
    relation: tuple | None


def _positions(rng, r: int, count: int = _CANDIDATES) -> np.ndarray:
    """count candidate centres (x, y) keeping a shape of half-extent r inside the canvas, (count, 2)."""
    return rng.integers(r + 1, CANVAS - r - 1, size=(count, 2))


def _apart(p: np.ndarray, r: int, q, r_q: int) -> np.ndarray:
    """Whether the bounding boxes of shapes at p (C, 2) and at q (2,) are 2 px apart or more, (C,)."""
    return (np.abs(p - np.asarray(q)) >= r + r_q + 2).any(axis=1)


def random_scene(rng, n_objects: int | None = None) -> Scene:
    """A random Scene with n_objects (1-3; None draws it uniformly) of distinct descriptions.

    Objects 0 and 1 are placed so that their drawn relation holds (``relation_holds``) and the
    shapes do not overlap; object 2 is placed anywhere clear of both.
    """
    n = int(rng.integers(1, 4)) if n_objects is None else n_objects
    if n not in (1, 2, 3):
        raise ValueError(f"n_objects should be 1, 2, 3 or None (random), got {n_objects!r}.")
    kinds = rng.permutation(len(SHAPES) * len(COLOURS) * len(SIZES))[:n]
    specs = [(SHAPES[k % 3], COLOURS[k // 3 % 4], SIZES[k // 12]) for k in kinds]
    radii = [RADIUS[s[2]] for s in specs]
    rel = RELATIONS[int(rng.integers(len(RELATIONS)))] if n >= 2 else None
    while True:
        centres = [tuple(_positions(rng, radii[0], 1)[0])]
        if n >= 2:
            cand = _positions(rng, radii[1])
            ok = _apart(cand, radii[1], centres[0], radii[0])
            ok &= offset_holds(*(cand - np.asarray(centres[0])).T, rel)
            if not ok.any():
                continue
            centres.append(tuple(cand[np.argmax(ok)]))
        if n == 3:
            cand = _positions(rng, radii[2])
            ok = _apart(cand, radii[2], centres[0], radii[0]) & _apart(cand, radii[2], centres[1], radii[1])
            if not ok.any():
                continue
            centres.append(tuple(cand[np.argmax(ok)]))
        objects = tuple(Obj(*spec, int(x), int(y)) for spec, (x, y) in zip(specs, centres))
        return Scene(objects, (0, rel, 1) if rel else None)


def shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Boolean mask of a shape of half-extent r, at offsets dx, dy (same shape) from its centre.

    circle: dx^2 + dy^2 < r^2; square: |dx|, |dy| <= 0.85 r (about the circle's area);
    triangle: apex up at dy = -r, base at dy = 0.8 r, half-width growing to r at the base.
    """
    if shape == "circle":
        return dx * dx + dy * dy < r * r
    if shape == "square":
        return (np.abs(dx) <= 0.85 * r) & (np.abs(dy) <= 0.85 * r)
    if shape == "triangle":
        return (dy <= 0.8 * r) & (np.abs(dx) <= (dy + r) / 1.8)
    raise ValueError(f"shape should be one of {SHAPES}, got {shape!r}.")


def _draw(scene: Scene, rng, image: np.ndarray) -> None:
    """Draw background, clutter and shapes (no noise) into a float32 image (size, size, 3)."""
    size = image.shape[0]
    scale, grid = size / CANVAS, np.arange(size, dtype=np.float32)
    image[...] = rng.uniform(15, 60)
    n_specks = rng.integers(2, 6)
    for x, y, w, h, grey in rng.integers((0, 0, 1, 1, 90), (size, size, 4, 4, 170), size=(n_specks, 5)):
        image[y:y + h, x:x + w] = grey
    for obj in scene.objects:
        r, cx, cy = RADIUS[obj.size] * scale, obj.x * scale, obj.y * scale
        y0, y1 = max(int(cy - r) - 1, 0), min(int(cy + r) + 2, size)
        x0, x1 = max(int(cx - r) - 1, 0), min(int(cx + r) + 2, size)
        mask = shape_mask(obj.shape, grid[None, x0:x1] - cx, grid[y0:y1, None] - cy, r)
        image[y0:y1, x0:x1][mask] = np.asarray(RGB[obj.colour]) + rng.integers(-20, 21, size=3)


def _add_noise(images: np.ndarray, rng) -> np.ndarray:
    images += rng.standard_normal((*images.shape[:-1], 1), dtype=np.float32) * NOISE_SIGMA
    return np.clip(images, 0, 255).round().astype(np.uint8)


def render(scene: Scene, rng, size: int = CANVAS) -> np.ndarray:
    """Draw ``scene`` as a uint8 image of shape (size, size, 3).

    A dark background of random grey level, 2-5 grey specks (1-3 px, clutter that is never a
    shape), the shapes in their colours (+-20 per channel jitter), then grey Gaussian noise
    (sigma 6, the same in the three channels).
    Each mask is computed on the coordinate grid of the shape's bounding box only.
    """
    image = np.empty((size, size, 3), dtype=np.float32)
    _draw(scene, rng, image)
    return _add_noise(image, rng)


def make_split(n: int, seed, k: int = 5):
    """n scenes with their images and k captions each, all drawn from np.random.default_rng(seed).

    Inputs:
    - n: number of images; seed: int (or sequence of ints) for the generator; k: captions per image
    Returns a tuple of:
    - images: uint8 of shape (n, 64, 64, 3)
    - scenes: list of n Scene
    - captions: list of n lists of k caption strings
    Drawn like ``render`` (same distribution), but the noise for 500 images at a time, which is
    faster; so images[i] is not the pixels ``render(scenes[i], ...)`` would give for a replayed rng.
    """
    rng = np.random.default_rng(seed)
    images = np.empty((n, CANVAS, CANVAS, 3), dtype=np.uint8)
    scenes, captions = [], []
    for start in range(0, n, 500):
        chunk = np.empty((min(500, n - start), CANVAS, CANVAS, 3), dtype=np.float32)
        for image in chunk:
            scenes.append(random_scene(rng))
            _draw(scenes[-1], rng, image)
            captions.append(captions_for(scenes[-1], rng, k))
        images[start:start + len(chunk)] = _add_noise(chunk, rng)
    return images, scenes, captions


def make_dataset(n_train: int = 4000, n_val: int = 500, n_test: int = 500, k: int = 5) -> dict:
    """The fixed splits: {"train": make_split(n_train, SPLIT_SEEDS["train"], k), "val": ..., "test": ...}."""
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    return {split: make_split(n, SPLIT_SEEDS[split], k) for split, n in sizes.items()}


def scenes_to_arrays(scenes) -> tuple[np.ndarray, np.ndarray]:
    """Scenes as integers, for storing: objects int16 (N, 3, 5) rows (shape, colour, size, x, y)
    as indices into SHAPES, COLOURS, SIZES, padded with -1; relations int16 (N, 3) (i, rel, j), -1 if none."""
    objects = np.full((len(scenes), 3, 5), -1, dtype=np.int16)
    relations = np.full((len(scenes), 3), -1, dtype=np.int16)
    for n, scene in enumerate(scenes):
        for m, o in enumerate(scene.objects):
            objects[n, m] = SHAPES.index(o.shape), COLOURS.index(o.colour), SIZES.index(o.size), o.x, o.y
        if scene.relation:
            i, rel, j = scene.relation
            relations[n] = i, RELATIONS.index(rel), j
    return objects, relations


def scenes_from_arrays(objects: np.ndarray, relations: np.ndarray) -> list[Scene]:
    """The inverse of ``scenes_to_arrays``."""
    scenes = []
    for rows, (i, rel, j) in zip(np.asarray(objects), np.asarray(relations)):
        objs = tuple(Obj(SHAPES[s], COLOURS[c], SIZES[z], int(x), int(y))
                     for s, c, z, x, y in rows if s >= 0)
        scenes.append(Scene(objs, (int(i), RELATIONS[rel], int(j)) if rel >= 0 else None))
    return scenes
