"""P1 of `make bench` (issue 12): a character model, the wall time to reach a loss level.

    .venv/bin/python benchmarks/p1_charlm.py [--quick] [--text FILE] [--budget SECONDS] [--threads N]
                                             [--json FILE]

Four contenders train a vanilla RNN of hidden size H on the same text, with the same vocabulary
and the same held-out part (the last 10%; by default Chapter 1's corpus, ``python_source_data``):
(a) min-char-rnn as published: batch 1, 25 characters per update, Adagrad 0.1, each gradient entry
    clipped to [-5, 5], a Python loop over characters (course_lib.min_char_rnn.train with the
    instructors' hand-written backward, solutions/minchar);
(b) the reference NumPy layers of Assignment 1 (solutions/rnn/rnn.ipynb, its ``char_rnn_loss``),
    batched, with the Adam update and gradient-norm clip of (c) and (d) written here in NumPy;
(c) course_lib's CharRNN with the equation-level RNN layer, trained by course_lib.charlm.train;
(d) the same CharRNN and trainer with fast=True: torch.nn.RNN through ``RNN.fast_forward``.
(b), (c) and (d) read the same chunks of the text, from the same initial weights.

The level L* is (a)'s smoothed training loss after its budget. min-char-rnn smooths once per update
with 0.999, over 25 characters, from log V; the batched contenders smooth with 0.999 ** (N*T / 25)
per update, so every curve has the same time constant in characters. (b), (c), (d) train until
their smoothed loss reaches L* and past the last checkpoint, for at most the same budget.
Speed-up = time_to_level(a) / time_to_level(x).

A caveat the held-out numbers answer: (a) reads the text front to back in one stream, so its
smoothed loss is that of the stretch it is reading (a file of repetitive tables scores low); the
batched contenders read N streams spread over the text. So the held-out loss is measured too, on
snapshots taken at the checkpoints, on a grid of budget / sqrt(2)^k seconds, when L* is reached
and at the end; all after training, by one evaluator (course_lib.charlm.evaluate in float64 on
30,000 held-out characters; (a)'s weights become a CharRNN with Wx = I), so it costs no contender
time. The held-out level is (a)'s held-out loss at its end; each contender's time to it is the
first snapshot at or below it. (a)'s snapshot "at L*" is its last.

Before (c) and (d), two untimed updates of each warm torch up (``warm_up``). Threads: torch's
default for (c), (d) (``threads`` to choose); NumPy's BLAS threads come from the environment
(OPENBLAS_NUM_THREADS), recorded in the section. On a shared machine fewer threads than cores run
faster: compare the ratios of one run.
"""
import argparse
import json
import math
import os
import resource
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "solutions" / "minchar"))  # instructor-side: the hand-written backward

import min_char_rnn  # noqa: E402  (solutions/minchar)
from course_lib.charlm import CharRNN, _chunks, evaluate, train  # noqa: E402
from course_lib.charlm_recipes import python_source_data, spread_sample  # noqa: E402
from course_lib.device import get_device, set_cpu_threads  # noqa: E402
from course_lib.text import CharVocab, load_text, train_val_split  # noqa: E402

FULL = dict(budget_s=600.0, checkpoints_s=(15.0, 30.0, 60.0), max_chars=1_000_000, hidden=100, embed=32,
            batch=32, seq=25, lr_adam=3e-3, lr_adagrad=0.1, clip=5.0, seed=0, points=300, min_updates=1)
# quick: tiny sizes, and at least 20 updates each, so the smoke test sees every loss go down on a busy machine
QUICK = dict(FULL, budget_s=2.0, checkpoints_s=(0.5, 1.0), max_chars=20_000, hidden=16, embed=8, min_updates=20)
THREAD_VARS = ("COURSE_CPU_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
NAMES = {"a": "min-char-rnn (NumPy, per character)", "b": "reference NumPy layers, batched",
         "c": "CharRNN, course RNN layer", "d": "CharRNN, torch.nn.RNN (fast_forward)"}


class Enough(Exception):
    """Raised from charlm.train's callback to end a run."""


def load_data(text_path, max_chars: int, val_fraction: float = 0.1) -> dict:
    """{'text', 'vocab', 'train_ids', 'val_ids', 'eval_ids'}: Chapter 1's corpus, or the file at text_path."""
    if text_path is None:
        data = python_source_data(max_chars=max_chars, val_fraction=val_fraction)
        data["source"] = f"Python standard library source (python_source_data, {max_chars} chars)"
    else:
        text = load_text(text_path, max_chars=max_chars)
        vocab = CharVocab(text)
        train_ids, val_ids = train_val_split(vocab.encode(text), val_fraction=val_fraction)
        data = {"text": text, "vocab": vocab, "train_ids": train_ids, "val_ids": val_ids,
                "source": str(text_path)}
    val = data["val_ids"]
    data["eval_ids"] = spread_sample(val) if len(val) >= 30_000 else val  # 30,000 held-out characters
    return data


def reference_layers() -> dict:
    """The namespace of Assignment 1's setup cell and reference answers (char_rnn_loss and its layers)."""
    from course_lib.grading import reference_answers
    nb = nbformat.read(ROOT / "solutions" / "rnn" / "rnn.ipynb", as_version=4)
    namespace = {}
    exec(next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"), namespace)
    for code in reference_answers(nb).values():
        exec(code, namespace)
    return namespace


def clip_grad_norm(grads: dict, max_norm: float) -> None:
    """torch.nn.utils.clip_grad_norm_ on NumPy arrays, in place: scale all so the total norm <= max_norm."""
    total = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for g in grads.values():
            g *= scale


def adam_step(params: dict, grads: dict, state: dict, lr: float, beta1=0.9, beta2=0.999, eps=1e-8) -> None:
    """torch.optim.Adam's update on NumPy arrays, in place; state (empty at first) keeps t, m, v."""
    state["t"] = t = state.get("t", 0) + 1
    for name, p in params.items():
        g = grads[name]
        m = state.setdefault("m_" + name, np.zeros_like(p))
        v = state.setdefault("v_" + name, np.zeros_like(p))
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        p -= lr / (1 - beta1 ** t) * m / (np.sqrt(v / (1 - beta2 ** t)) + eps)


def min_char_rnn_weights(params: dict) -> dict:
    """min-char-rnn's column-layout weights as a CharRNN state dict (D = H): one-hot x_t Wxh^T is
    an embedding lookup, so W_embed = Wxh^T (V, H), Wx = I (H, H), Wh = Whh^T, W_vocab = Why^T."""
    H = params["Whh"].shape[0]
    return {"W_embed": params["Wxh"].T, "rnn.Wx": np.eye(H), "rnn.Wh": params["Whh"].T,
            "rnn.b": params["bh"][:, 0], "W_vocab": params["Why"].T, "b_vocab": params["by"][:, 0]}


def heldout_loss(weights: dict, eval_ids) -> float:
    """Nats per character of the CharRNN with these weights (state-dict names) on eval_ids, in float64."""
    (V, D), H = weights["W_embed"].shape, weights["rnn.Wh"].shape[0]
    model = CharRNN(V, D, H, dtype=torch.float64)
    model.load_state_dict({k: torch.as_tensor(np.asarray(w), dtype=torch.float64) for k, w in weights.items()})
    return evaluate(model, eval_ids)


class Race:
    """One batched contender's clock: smoothed loss per update, snapshots (seconds, weights) at
    cfg['snapshot_s'] and when the level is reached.

    Inputs:
    - V: vocabulary size (the smoothed loss starts at log V); level: L*, nats per character
    - cfg: the run's settings: batch * seq characters per update, snapshot_s, checkpoints_s, budget_s
      (the most seconds to train, unless fewer than min_updates updates were made by then)
    - snapshot: () -> the current weights as a CharRNN state dict, copied
    """

    def __init__(self, V: int, level: float, cfg: dict, snapshot):
        self.alpha = 0.999 ** (cfg["batch"] * cfg["seq"] / 25)  # min-char-rnn's time constant, in characters
        self.smooth, self.level, self.cfg = math.log(V), level, cfg
        self.snapshot, self.snapshots = snapshot, {}
        self.seconds, self.smooth_loss, self.time_to_level = [], [], None

    def start(self) -> None:
        self.t0 = time.perf_counter()

    def after_update(self, loss_per_char: float) -> bool:
        """Record one update; True when the run is over (level reached and past the checkpoints, or cap)."""
        t = time.perf_counter() - self.t0
        self.smooth = self.alpha * self.smooth + (1 - self.alpha) * loss_per_char
        self.seconds.append(t)
        self.smooth_loss.append(self.smooth)
        if self.time_to_level is None and self.smooth <= self.level:
            self.time_to_level, self.snapshots["level"] = t, (t, self.snapshot())
        take_snapshots(self.snapshots, t, self.cfg["snapshot_s"], self.snapshot)
        if len(self.seconds) < self.cfg["min_updates"]:
            return False
        return t >= self.cfg["budget_s"] or (self.time_to_level is not None and t >= max(self.cfg["checkpoints_s"]))

    def result(self, cfg: dict, dtype: str, device: str) -> dict:
        """The contender's result in run_a's form, with the weights at the end."""
        self.snapshots["end"] = (self.seconds[-1], self.snapshot())
        return {"seconds": self.seconds, "smooth_loss": self.smooth_loss, "snapshots": self.snapshots,
                "time_to_level": self.time_to_level, "updates": len(self.seconds), "batch": cfg["batch"],
                "embed": cfg["embed"], "optimiser": f"Adam {cfg['lr_adam']:g}, clip norm {cfg['clip']:g}",
                "dtype": dtype, "device": device}


def take_snapshots(snapshots: dict, t: float, times, snapshot) -> None:
    """snapshots[c] = (t, snapshot()) for every time c in `times` that t has passed and has none yet."""
    for c in times:
        if c not in snapshots and t >= c:
            snapshots[c] = (t, snapshot())


def run_a(data: dict, cfg: dict) -> dict:
    """min-char-rnn for the budget; snapshots taken by a wrapper around its loss_fun (params are live)."""
    snapshots, clock = {}, {}

    def timed_loss_fun(inputs, targets, hprev, params):
        now = time.perf_counter()
        t = now - clock.setdefault("t0", now)  # train's clock starts microseconds before the first call
        take_snapshots(snapshots, t, cfg["snapshot_s"],
                       lambda: min_char_rnn_weights({k: v.copy() for k, v in params.items()}))
        return min_char_rnn.loss_fun(inputs, targets, hprev, params)

    history = min_char_rnn.train(data["vocab"].decode(data["train_ids"]), hidden_size=cfg["hidden"],
                                 seq_length=cfg["seq"], learning_rate=cfg["lr_adagrad"],
                                 max_seconds=cfg["budget_s"], chars=data["vocab"].chars, seed=cfg["seed"],
                                 loss_fun=timed_loss_fun)
    smooth, seconds = history["smooth_loss"], history["seconds"]
    level = smooth[-1]
    snapshots["end"] = snapshots["level"] = (seconds[-1], min_char_rnn_weights(history["params"]))
    return {"seconds": seconds, "smooth_loss": smooth, "level": level, "snapshots": snapshots,
            "time_to_level": next(s for s, loss in zip(seconds, smooth) if loss <= level),
            "updates": len(seconds), "batch": 1, "embed": cfg["hidden"], "optimiser": "Adagrad 0.1, clip ±5 per entry",
            "dtype": "float64", "device": "cpu"}


def run_b(data: dict, cfg: dict, level: float, layers: dict) -> dict:
    """The reference layers' char_rnn_loss, batched; Adam and norm clip as torch's, in NumPy float64."""
    N, T, H = cfg["batch"], cfg["seq"], cfg["hidden"]
    init = CharRNN(data["vocab"].size, cfg["embed"], H, generator=torch.Generator().manual_seed(cfg["seed"]))
    params = {k.removeprefix("rnn."): v.detach().double().numpy().copy() for k, v in init.state_dict().items()}

    def as_state():
        return {("rnn." + k if k in ("Wx", "Wh", "b") else k): v.copy() for k, v in params.items()}

    race = Race(data["vocab"].size, level, cfg, as_state)
    chunks = _chunks(data["train_ids"], N, T, np.random.default_rng(cfg["seed"]), "cpu")  # as charlm.train
    adam, h = {}, None
    race.start()
    while True:
        x, y, first = next(chunks)
        loss, grads, h = layers["char_rnn_loss"](params, x.numpy(), y.numpy(), np.zeros((N, H)) if first else h)
        grads = {k: g / T for k, g in grads.items()}  # loss summed over T: the mean per character, as (c), (d)
        clip_grad_norm(grads, cfg["clip"])
        adam_step(params, grads, adam, cfg["lr_adam"])
        if race.after_update(loss / T):
            break
    return race.result(cfg, "float64", "cpu")


def warm_up(data: dict, cfg: dict) -> None:
    """Two untimed updates of (c) and of (d) on a throwaway model: the first torch.optim.Adam imports
    torch._dynamo (seconds), and a GPU builds its context and cuDNN plans; no contender pays for that."""
    for fast in (False, True):
        model = CharRNN(data["vocab"].size, cfg["embed"], cfg["hidden"], fast=fast)
        train(model, data["train_ids"], seq_len=cfg["seq"], batch_size=cfg["batch"], steps=2,
              device=get_device(None), progress=False)


def run_torch(data: dict, cfg: dict, level: float, fast: bool) -> dict:
    """CharRNN (fast=False: the course's RNN layer; True: torch.nn.RNN) trained by course_lib.charlm.train."""
    device = get_device(None)
    model = CharRNN(data["vocab"].size, cfg["embed"], cfg["hidden"], fast=fast,
                    generator=torch.Generator().manual_seed(cfg["seed"]))

    def snapshot():
        return {k: v.detach().to("cpu", torch.float64, copy=True) for k, v in model.state_dict().items()}

    race = Race(data["vocab"].size, level, cfg, snapshot)

    def callback(step, loss):
        if race.after_update(loss):
            raise Enough

    race.start()
    try:
        train(model, data["train_ids"], seq_len=cfg["seq"], batch_size=cfg["batch"], steps=10 ** 12, lr=cfg["lr_adam"],
              clip=cfg["clip"], seed=cfg["seed"], device=device, progress=False, callback=callback)
    except Enough:
        pass
    return race.result(cfg, "float32", str(device))


def thin(values: list, points: int) -> list:
    """At most `points` entries of values, evenly spaced, first and last kept."""
    keep = np.unique(np.linspace(0, len(values) - 1, min(points, len(values))).astype(int))
    return [float(values[i]) for i in keep]


def heldout_curve(result: dict, eval_ids) -> dict:
    """The held-out loss of every snapshot: {key: (seconds, nats per character)}."""
    return {key: (t, heldout_loss(weights, eval_ids)) for key, (t, weights) in result["snapshots"].items()}


def first_time_at(curve: dict, target: float):
    """The first snapshot's seconds whose held-out loss is at most target; None if none is."""
    return min((t for t, loss in curve.values() if loss <= target), default=None)


def row(key: str, result: dict, heldout: dict, cfg: dict, times_a: tuple, heldout_level: float) -> dict:
    """One flat row of the table for contender `key`; times_a: (a)'s times to the two levels."""
    seconds, reached = result["seconds"][-1], result["time_to_level"]
    reached_heldout = first_time_at(heldout, heldout_level)
    r = {"contender": key, "name": NAMES[key], "hidden": cfg["hidden"], "embed": result["embed"],
         "batch": result["batch"], "seq": cfg["seq"], "optimiser": result["optimiser"], "dtype": result["dtype"],
         "device": result["device"], "time_to_level_s": reached,
         "speed_up_vs_min_char_rnn": None if reached is None else times_a[0] / reached,
         "time_to_heldout_level_s": reached_heldout,
         "heldout_speed_up_vs_min_char_rnn": None if reached_heldout is None else times_a[1] / reached_heldout,
         "seconds_trained": seconds, "updates": result["updates"], "updates_per_s": result["updates"] / seconds,
         "chars_per_s": result["updates"] * result["batch"] * cfg["seq"] / seconds,
         "final_smooth_loss": result["smooth_loss"][-1]}
    for c in cfg["checkpoints_s"]:
        r[f"heldout_at_{c:g}s"] = heldout[c][1] if c in heldout else None
    for when in ("level", "end"):
        r[f"heldout_at_{when}"] = heldout[when][1] if when in heldout else None
    return r


def run(quick: bool, text_path=None, budget_s: float | None = None, threads: int | None = None) -> dict:
    """The P1 section: rows (one per contender), curves, the level, the ratios and the goals.

    Inputs:
    - quick: tiny sizes (H 16, 20,000 characters, 2 s budget): a smoke run of the same code
    - text_path: a UTF-8 text file to train on instead of Chapter 1's corpus
    - budget_s: (a)'s training time and every contender's cap (default 600 s, quick 2 s);
      checkpoints at or past it are dropped
    - threads: torch's CPU threads for (c) and (d) (course_lib.device.set_cpu_threads, so at
      most $COURSE_CPU_THREADS); None keeps the machine's default, except in quick mode: 1.
      NumPy's BLAS threads come from the environment (OPENBLAS_NUM_THREADS), recorded in thread_env.
    """
    threads = 1 if quick and threads is None else threads
    before = torch.get_num_threads()
    try:
        if threads is not None:
            set_cpu_threads(threads)
        return _run(quick, text_path, budget_s)
    finally:
        torch.set_num_threads(before)


def _run(quick: bool, text_path, budget_s) -> dict:
    cfg = dict(QUICK if quick else FULL)
    if budget_s is not None:
        cfg["budget_s"] = float(budget_s)
    cfg["checkpoints_s"] = tuple(c for c in cfg["checkpoints_s"] if c < cfg["budget_s"])
    # the held-out curve: the checkpoints and a grid of budget / sqrt(2)^k, k = 1..16
    grid = {cfg["budget_s"] * 2 ** (-k / 2) for k in range(1, 17)}
    cfg["snapshot_s"] = tuple(sorted(grid | set(cfg["checkpoints_s"])))
    if not cfg["checkpoints_s"]:
        raise ValueError(f"budget_s={cfg['budget_s']:g} leaves no checkpoint before it; use at least "
                         f"{min((QUICK if quick else FULL)['checkpoints_s']) * 2:g} s.")
    data = load_data(text_path, cfg["max_chars"] if text_path is None or quick else None)
    layers = reference_layers()
    results = {"a": run_a(data, cfg)}
    level = results["a"]["level"]
    results["b"] = run_b(data, cfg, level, layers)
    warm_up(data, cfg)
    results["c"] = run_torch(data, cfg, level, fast=False)
    results["d"] = run_torch(data, cfg, level, fast=True)
    heldout = {k: heldout_curve(v, data["eval_ids"]) for k, v in results.items()}
    heldout_level = heldout["a"]["end"][1]
    times_a = (results["a"]["time_to_level"], first_time_at(heldout["a"], heldout_level))
    rows = [row(k, results[k], heldout[k], cfg, times_a, heldout_level) for k in "abcd"]
    speed = {r["contender"]: r["speed_up_vs_min_char_rnn"] for r in rows}
    t_c, t_d = rows[2]["time_to_level_s"], rows[3]["time_to_level_s"]
    c_over_d = None if t_c is None or t_d is None else t_c / t_d
    met = lambda value, ok: None if value is None else bool(ok(value))  # noqa: E731
    return {"rows": rows, "level": level, "heldout_level": heldout_level, "budget_s": cfg["budget_s"],
            "checkpoints_s": list(cfg["checkpoints_s"]),
            "curves": {k: {"seconds": thin(v["seconds"], cfg["points"]),
                           "smooth_loss": thin(v["smooth_loss"], cfg["points"]),
                           "heldout_seconds": [t for t, _ in sorted(set(heldout[k].values()))],
                           "heldout": [loss for _, loss in sorted(set(heldout[k].values()))]}
                       for k, v in results.items()},
            "text": data["source"], "train_chars": len(data["train_ids"]), "heldout_chars": len(data["eval_ids"]),
            "vocab_size": data["vocab"].size, "hidden": cfg["hidden"], "embed": cfg["embed"], "batch": cfg["batch"],
            "seq": cfg["seq"], "lr_adam": cfg["lr_adam"], "lr_adagrad": cfg["lr_adagrad"], "clip": cfg["clip"],
            "torch_threads": torch.get_num_threads(), "device": results["c"]["device"],
            "thread_env": {k: os.environ.get(k) for k in THREAD_VARS},
            "speed_up_c_vs_a": speed["c"], "speed_up_b_vs_a": speed["b"], "time_c_over_d": c_over_d,
            "heldout_speed_up_c_vs_a": rows[2]["heldout_speed_up_vs_min_char_rnn"],
            "heldout_speed_up_b_vs_a": rows[1]["heldout_speed_up_vs_min_char_rnn"],
            "goal_c_50x_a": met(speed["c"], lambda s: s >= 50), "goal_b_5x_a": met(speed["b"], lambda s: s >= 5),
            "goal_c_within_1_2x_d": met(c_over_d, lambda r: r <= 1.2),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _num(value, fmt: str) -> str:
    return "not reached" if value is None else format(value, fmt)


def _closing(s: dict) -> str:
    goals = {True: "met", False: "not met", None: "not measured"}
    return (f"Level L* = {s['level']:.3f} nats/char: (a)'s smoothed training loss after {s['budget_s']:g} s; each "
            f"contender had at most {s['budget_s']:g} s. Held-out level {s['heldout_level']:.3f}: (a)'s held-out "
            f"loss at its end, timed at the first snapshot (at budget/sqrt(2)^k s) at or below it. Held-out "
            f"nats/char on {s['heldout_chars']} characters at {', '.join(f'{c:g}' for c in s['checkpoints_s'])} s "
            f"of training, when L* was reached, and at the end. Text: {s['text']}, V = {s['vocab_size']}; "
            f"H = {s['hidden']}, embedding {s['embed']} for (b)-(d); torch on {s['device']} with "
            f"{s['torch_threads']} threads. Goals: (c) >= 50x (a) {goals[s['goal_c_50x_a']]}, (b) >= 5x (a) "
            f"{goals[s['goal_b_5x_a']]}, (c) within 1.2x of (d) {goals[s['goal_c_within_1_2x_d']]} "
            f"(time c/d = {_num(s['time_c_over_d'], '.2f')}). Peak resident memory: {s['peak_rss_mib']:.0f} MiB.")


TABLE = ("P1 character model: wall time to min-char-rnn's smoothed loss",
         ["contender", "H", "N×T", "optimiser", "time to level s", "speed-up vs (a)",
          "time to (a)'s held-out s", "speed-up (held-out)", "held-out at checkpoints / level / end",
          "updates/s", "chars/s"],
         lambda r: [f"({r['contender']}) {r['name']}", str(r["hidden"]), f"{r['batch']}×{r['seq']}", r["optimiser"],
                    _num(r["time_to_level_s"], ".1f"), _num(r["speed_up_vs_min_char_rnn"], ".1f"),
                    _num(r["time_to_heldout_level_s"], ".1f"), _num(r["heldout_speed_up_vs_min_char_rnn"], ".1f"),
                    " / ".join(_num(v, ".3f") for k, v in r.items() if k.startswith("heldout_at_")),
                    f"{r['updates_per_s']:.0f}", f"{r['chars_per_s']:.0f}"],
         _closing)


def markdown(section: dict) -> str:
    """The section as a Markdown table and its closing line."""
    title, columns, cells, closing = TABLE
    lines = [f"## {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in section["rows"]]
    return "\n".join(lines + ["", closing(section)])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of a few seconds")
    parser.add_argument("--text", type=Path, default=None, help="a UTF-8 text file (default: Chapter 1's corpus)")
    parser.add_argument("--budget", type=float, default=None, help="(a)'s seconds and every contender's cap")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all)")
    parser.add_argument("--json", type=Path, default=None, help="write the section's dict here")
    args = parser.parse_args(argv)
    section = run(args.quick, args.text, args.budget, args.threads)
    if args.json is not None:
        args.json.write_text(json.dumps(section, indent=1) + "\n")
    print(markdown(section))


if __name__ == "__main__":
    main()
