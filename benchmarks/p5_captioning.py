"""P5 captioning: training seconds to a BLEU-4 and a semantic-accuracy level, with and without attention.

    .venv/bin/python benchmarks/p5_captioning.py [--quick]

Each recipe of course_lib.caption_recipes.RECIPES ('lstm', 'lstm-attention') is built and trained
as Chapter 6 trains it (train_captioner with the recipe's settings, on captioning_dataset()'s
4000 training images, torch threads set_cpu_threads(2) as the chapter's pages), except that the
teacher-forced validation loss after each epoch is skipped (val_split=None). After each epoch a
callback decodes the 500 test images greedily (max_length 17, as the chapter) and scores them
with evaluate_captions: BLEU-4 (sacrebleu, 0-100) and semantic accuracy ('exact', 0-1: the share
of captions right in count, shapes, colours, sizes and relation). Training seconds exclude the
callbacks. The level of a metric is LEVEL times the lower of the recipes' final scores; each
recipe's time to it is the training seconds of its first epoch at or above it. Before timing,
each recipe trains one untimed batch (first calls of some kernels cost seconds: measured 7 s).
CPU seconds of training (all threads) are recorded beside the wall seconds: on a shared machine
they vary less, though idle OpenMP threads that spin add to them.
Peak resident memory (P6) is this process's VmHWM, reset at the start where /proc allows it.
--quick: 64 training images, tiny sizes, 2 epochs, 1 torch thread; the same code path.
"""
import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch

from course_lib.caption_data import captioning_dataset
from course_lib.caption_recipes import RECIPES, build_captioner
from course_lib.caption_training import evaluate_captions, train_captioner
from course_lib.device import set_cpu_threads

LEVEL = 0.9
MAX_LENGTH = 17  # 16 words and <END>, as the chapter's pages
METRICS = {"BLEU-4": "bleu4", "exact": "semantic"}  # evaluate_captions key -> name in this section
QUICK_SIZES = dict(channels=(4, 8, 8), feature_dim=16, wordvec_dim=8, hidden_dim=16, attention_dim=8, epochs=2)
TRAIN_KEYS = ("epochs", "batch_size", "lr", "lr_decay", "clip", "seed")


def peak_rss_mib(reset: bool = False) -> float:
    """This process's peak resident memory in MiB (VmHWM); reset=True restarts it from the current
    RSS where the kernel allows (/proc/self/clear_refs), else it is the peak since the process began."""
    status = Path("/proc/self/status")
    if reset and status.exists():
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass
    if status.exists():
        return int(next(l for l in status.read_text().splitlines() if l.startswith("VmHWM:")).split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def warm_up(recipe: dict, data: dict) -> None:
    """One untimed batch of ``recipe``'s training: the first call of some kernels costs seconds."""
    rows = 5 * recipe["batch_size"]  # 5 captions per image: one batch of images
    first = {**data, **{key: data[key][:rows] for key in ("train_captions", "train_image_idxs")}}
    train_captioner(build_captioner(recipe, data["word_to_idx"], recipe["seed"]), first, epochs=1,
                    batch_size=recipe["batch_size"], device="cpu", progress=False, val_split=None)


def train_curve(recipe: dict, data: dict) -> list[dict]:
    """Train a captioner of ``recipe``; per epoch: training wall and CPU seconds so far (evaluation
    excluded), the last batch's loss and the test scores."""
    model = build_captioner(recipe, data["word_to_idx"], recipe["seed"])
    curve, evaluating = [], [0.0, 0.0]  # wall and CPU seconds spent in the callback so far
    start = (time.perf_counter(), time.process_time())

    def after_epoch(epoch, model, history):
        now = (time.perf_counter(), time.process_time())
        r = evaluate_captions(model, data["test_images"], data["test_scenes"], data["test_references"],
                              data["idx_to_word"], method="greedy", max_length=MAX_LENGTH)
        curve.append({"epoch": epoch, "train_s": now[0] - start[0] - evaluating[0],
                      "train_cpu_s": now[1] - start[1] - evaluating[1], "loss": history["loss"][-1],
                      **{name: float(r[key]) for key, name in METRICS.items()}})
        print(f"p5: epoch {epoch}: {curve[-1]}", file=sys.stderr, flush=True)
        evaluating[0] += time.perf_counter() - now[0]
        evaluating[1] += time.process_time() - now[1]

    train_captioner(model, data, device="cpu", progress=False, val_split=None, callback=after_epoch,
                    **{k: recipe[k] for k in TRAIN_KEYS})
    return curve


def time_to(curve: list[dict], metric: str, level: float) -> tuple[float | None, int | None]:
    """(training seconds, epoch) of the first epoch whose ``metric`` is >= level; (None, None) if none."""
    first = next((c for c in curve if c[metric] >= level), None)
    return (first["train_s"], first["epoch"]) if first else (None, None)


def row(name: str, curve: list[dict], levels: dict) -> dict:
    """A recipe's row: epochs, training seconds, final scores, time and epochs to each level."""
    out = {"recipe": name, "epochs": len(curve), "train_s": curve[-1]["train_s"],
           "train_cpu_s": curve[-1]["train_cpu_s"], **{f"final_{m}": curve[-1][m] for m in METRICS.values()}}
    for m in METRICS.values():
        out[f"s_to_{m}_level"], out[f"epochs_to_{m}_level"] = time_to(curve, m, levels[m])
    return out


def run(quick: bool) -> dict:
    """Both recipes' curves and rows (module docstring)."""
    peak_rss_mib(reset=True)
    data = captioning_dataset(n_train=64, n_val=4, n_test=32, grid=None) if quick else captioning_dataset()
    threads_before = torch.get_num_threads()
    threads = set_cpu_threads(1 if quick else 2)  # quick runs inside `make test`, beside the book build
    try:
        recipes = {name: {**recipe, **(QUICK_SIZES if quick else {})} for name, recipe in RECIPES.items()}
        for recipe in recipes.values():
            warm_up(recipe, data)
        curves = {}
        for name, recipe in recipes.items():
            torch.manual_seed(0)
            curves[name] = train_curve(recipe, data)
    finally:
        torch.set_num_threads(threads_before)
    levels = {m: LEVEL * min(c[-1][m] for c in curves.values()) for m in METRICS.values()}
    return {"rows": [row(name, curve, levels) for name, curve in curves.items()], "curves": curves, "levels": levels,
            "level_rule": f"level = {LEVEL} x the lower of the recipes' final scores, per metric; time to it = "
                          "training seconds (evaluation excluded) at the first epoch at or above it",
            "metrics": {"bleu4": "corpus BLEU-4, sacrebleu, 0-100, greedy, test split",
                        "semantic": "exact semantic accuracy (course_lib.scenes.semantic_scores), 0-1"},
            "n_train_images": len(data["train_images"]), "n_test_images": len(data["test_images"]),
            "torch_threads": threads, "peak_rss_mib": peak_rss_mib()}


def _s(x) -> str:
    return "–" if x is None else f"{x:.0f}"


TABLE = ("P5 captioning (training seconds to a test-split level)",
         ["recipe", "epochs", "train_s", "BLEU-4", "semantic", "s_to_BLEU_level", "s_to_semantic_level"],
         lambda r: [r["recipe"], r["epochs"], f"{r['train_s']:.0f}", f"{r['final_bleu4']:.1f}",
                    f"{r['final_semantic']:.3f}", _s(r["s_to_bleu4_level"]), _s(r["s_to_semantic_level"])],
         lambda s: (f"Levels: BLEU-4 {s['levels']['bleu4']:.1f}, semantic {s['levels']['semantic']:.3f} "
                    f"({s['level_rule']}); {s['n_train_images']} training and {s['n_test_images']} test images, "
                    f"{s['torch_threads']} torch threads. Peak resident memory: {s['peak_rss_mib']:.0f} MiB."))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny data and models, 2 epochs")
    section = run(parser.parse_args(argv).quick)
    print(json.dumps(section, indent=1))
    print(TABLE[3](section))


if __name__ == "__main__":
    main()
