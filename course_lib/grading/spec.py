"""Declarative grading checks, judged in the grader's process: the student's code only returns data.

An assignment's checks live in ``solutions/<assignment>_checks.py`` (instructors only), as

    CHECKS = {"test_rnn_step_forward": [Check(...), ...], ...}   # one entry per autograded cell

Each autograded test cell of the assignment earns its points when every one of its checks passes.
A check says what to run in the student's kernel and how to judge what comes back:

- ``inputs(rng) -> dict``: the grader's inputs, made in the grader's process from a seeded
  generator. Arrays travel as ``.npy`` bytes; ints, floats, strings, lists and dicts of these as JSON.
- ``run``: the Python code the student's kernel executes with those inputs bound as names; it
  assigns ``result`` (an array, a number, a string, or tuples/lists/dicts of these).
- ``reference(**inputs)``: the expected result, computed by the grader; compared leaf by leaf with
  ``tol`` relative to the size of the expected values (as ``course_lib.checks.assert_close``).
- or ``judge(inputs, got) -> str | None``: a custom verdict (None when it passes, else the reason).

Only bytes cross from the kernel to the grader: ``decode`` reads them with ``allow_pickle=False``,
so nothing the student wrote runs here. Whatever the student's code patches in its own process can
change only the data it sends back, which is then judged by this module and the reference.
"""
import base64
import importlib.util
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

RESULT_MIME = "application/x.course-result+base64"
ERROR_MIME = "application/x.course-error+json"
MAX_RESULT_BYTES = 64 * 2**20  # a result larger than this is refused, not read
AFTER_CALL = " after the call"  # Check.of's keys for the arguments as they were after the call


@dataclass
class Check:
    run: str
    inputs: Callable[[np.random.Generator], dict] = lambda rng: {}
    reference: Callable[..., Any] | None = None
    judge: Callable[[dict, Any], str | None] | None = None
    tol: float = 1e-8
    seed: int = 0
    what: str = ""          # shown in feedback: "rnn_step_forward on hidden inputs"
    hidden: bool = True     # a hidden check never shows its inputs
    timeout: float | None = None  # seconds; default: the grading run's cell timeout

    def make_inputs(self) -> dict:
        return self.inputs(np.random.default_rng(self.seed))

    def verdict(self, inputs: dict, got: Any) -> str | None:
        """None when ``got`` passes, else a reason fit for the student's feedback."""
        if self.judge is not None:
            return self.judge(inputs, got)
        return compare(got, self.reference(**inputs), self.tol)


    @classmethod
    def of(cls, function: str, args: list[str], outputs: list[str | None], reference: Callable[..., Any],
           *, inputs: Callable[[np.random.Generator], dict], before: str = "", unchanged: bool = True,
           **kw) -> "Check":
        """The usual check: call ``function(*args)`` and compare its named outputs.

        ``outputs`` names what the function returns, in order (None for what is not compared,
        e.g. a cache); ``reference(**inputs)`` returns the compared outputs in the same order.
        ``before`` runs first in the kernel (e.g. the forward pass that makes a backward's cache).
        With ``unchanged``, every array argument must be exactly the same after the call as before."""
        compared = [o for o in outputs if o]
        sample = inputs(np.random.default_rng(kw.get("seed", 0)))
        tracked = [a for a in args if isinstance(sample.get(a), np.ndarray)] if unchanged else []
        run = call_code(function, args, outputs, before, tracked)

        def ref(**given):
            want = reference(**given)
            want = want if isinstance(want, tuple) and len(compared) > 1 else (want,)
            result = dict(zip(compared, want))
            return result | {a + AFTER_CALL: given[a] for a in tracked}

        kw.setdefault("what", function)
        return cls(run=run, inputs=inputs, reference=ref, **kw)


def call_code(function: str, args: list[str], outputs: list[str | None], before: str = "",
              tracked: list[str] = ()) -> str:
    """Kernel code for Check.of: copies of the array arguments, the call, the named outputs and
    the ``tracked`` arguments (the grader's arrays) as they are after the call."""
    names = ", ".join(args)
    wanted = {i: o for i, o in enumerate(outputs) if o}
    lines = [before,
             f"_args = [a.copy() if hasattr(a, 'copy') and hasattr(a, 'shape') else a for a in ({names},)]",
             f"_out = {function}(*_args)"]
    if len(outputs) > 1:
        lines.append(f"if not isinstance(_out, (tuple, list)) or len(_out) != {len(outputs)}:\n"
                     f"    raise ValueError('{function} should return {len(outputs)} values "
                     f"({', '.join(o or '...' for o in outputs)}), got ' + "
                     f"(str(len(_out)) if isinstance(_out, (tuple, list)) else type(_out).__name__))")
    else:
        lines.append("_out = (_out,)")
    lines.append("result = {" + ", ".join(f"{o!r}: _out[{i}]" for i, o in wanted.items()) + "}")
    lines += [f"result[{a + AFTER_CALL!r}] = _args[{args.index(a)}]" for a in tracked]
    return "\n".join(line for line in lines if line)


@dataclass
class Verdict:
    passed: bool
    messages: list[str] = field(default_factory=list)


def load_checks(path: Path) -> dict[str, list[Check]]:
    """CHECKS of an assignment's checks file (run in the grader's process, never in a kernel)."""
    if not path.is_file():
        raise FileNotFoundError(f"no grading checks at {path}: every autograded cell needs a "
                                f"Check there (see course_lib/grading/spec.py)")
    spec = importlib.util.spec_from_file_location(f"course_checks_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    checks = getattr(module, "CHECKS", None)
    if not isinstance(checks, dict):
        raise ValueError(f"{path} must define CHECKS = {{grade_id: [Check, ...]}}")
    return {k: v if isinstance(v, list) else [v] for k, v in checks.items()}


# ---- what crosses the boundary ---------------------------------------------------------------

def encode_inputs(inputs: dict) -> str:
    """Inputs as one JSON string: arrays as base64 .npy, everything else as JSON values."""
    arrays, plain = {}, {}
    for name, value in inputs.items():
        if isinstance(value, np.ndarray):
            buf = io.BytesIO()
            np.save(buf, value, allow_pickle=False)
            arrays[name] = base64.b64encode(buf.getvalue()).decode()
        else:
            plain[name] = value
    return json.dumps({"arrays": arrays, "plain": plain})


def decode(payload: str) -> Any:
    """A result sent by the kernel's probe: base64 of an .npz whose entries are named by path.

    Paths: "" for a single value, "0", "1", ... for tuple items, "0/2" nested, "k:name" dict keys.
    Returns nested tuples/dicts of numpy arrays. Raises ValueError on anything else."""
    if len(payload) > MAX_RESULT_BYTES * 4 // 3 + 16:
        raise ValueError(f"the result is larger than {MAX_RESULT_BYTES // 2**20} MB")
    raw = base64.b64decode(payload, validate=True)
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        leaves = {name: npz[name] for name in npz.files}
    meta = json.loads(bytes(leaves.pop("__structure__")).decode()) if "__structure__" in leaves else None
    return _rebuild(meta, leaves, "")


def _rebuild(meta, leaves: dict, path: str):
    if meta is None or meta == "leaf":
        if path not in leaves:
            raise ValueError(f"the result lacks the value at {path or 'the top'}")
        return leaves[path]
    kind, children = meta
    if kind == "seq":
        return tuple(_rebuild(m, leaves, f"{path}/{i}" if path else str(i)) for i, m in enumerate(children))
    if kind == "dict":
        return {k: _rebuild(m, leaves, f"{path}/k:{k}" if path else f"k:{k}") for k, m in children.items()}
    if kind == "none":
        return None
    raise ValueError(f"unknown result structure {kind!r}")


# ---- judging ----------------------------------------------------------------------------------

def _describe(value) -> str:
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(value)}"
    if value is None:
        return "None"
    return f"an array of shape {tuple(np.shape(value))}"


def compare(got, want, tol: float, name: str = "the result") -> str | None:
    """None when ``got`` matches ``want`` (nested tuples/lists/dicts of arrays or numbers)."""
    if isinstance(want, (tuple, list)):
        if not isinstance(got, tuple) or len(got) != len(want):
            return f"{name} should be a tuple of {len(want)} values, got {_describe(got)}"
        for i, (g, w) in enumerate(zip(got, want)):
            why = compare(g, w, tol, f"{name}[{i}]")
            if why:
                return why
        return None
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            return f"{name} should be a dict with keys {sorted(want)}, got {_describe(got)}"
        for key in want:
            if str(key).endswith(AFTER_CALL):  # an argument after the call: exactly as it was given
                if compare(got[key], want[key], 0.0):
                    return f"the function changed its input {key[:-len(AFTER_CALL)]} (it should leave it as it is)"
                continue
            why = compare(got[key], want[key], tol, key if name == "the result" else f"{name}[{key!r}]")
            if why:
                return why
        return None
    if want is None:
        return None if got is None else f"{name} should be None, got {_describe(got)}"
    if got is None or isinstance(got, (tuple, dict)):
        return f"{name} should be an array or a number, got {_describe(got)}"
    want = np.asarray(want)
    got = np.asarray(got)
    if want.dtype.kind in "US":
        return None if got.dtype.kind in "US" and np.array_equal(got, want) else \
            f"{name} should be {want.tolist()!r}"
    if got.dtype.kind not in "biuf":
        return f"{name} should be numbers, got values of type {got.dtype}"
    if got.shape != want.shape:
        return f"{name} has shape {got.shape}, expected {want.shape}"
    if got.size == 0:
        return None
    got, want = got.astype(np.float64), want.astype(np.float64)
    if not np.isfinite(got).all():
        return f"{name} contains NaN or inf"
    if not np.isfinite(want).all():  # inf * tol would accept anything: refuse instead
        return f"the reference for {name} contains NaN or inf, so no answer can match it: tell the instructor"
    # Absolute below 1, relative above: the scale is 1 + the largest |expected| value of the array.
    err = float(np.abs(got - want).max())
    scale = 1.0 + float(np.abs(want).max())
    if not err <= tol * scale:
        return f"{name} differs from the expected values: max abs error {err:.3g} (allowed {tol * scale:.3g})"
    return None
