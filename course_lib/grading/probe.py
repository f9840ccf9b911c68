"""The kernel side of a grading check: run the grader's call on the grader's inputs, send back data.

The grader sends, to the student's kernel after the cell being graded has run,

    import course_lib.grading.probe as _course_probe; _course_probe.run(CODE, INPUTS)

``run`` binds the inputs as names over the student's namespace, executes CODE (which assigns
``result``) and publishes the result as display data of one MIME type: base64 of an ``.npz`` of
plain arrays. Nothing here is trusted: the student's code runs in this process and may have
changed anything, this module included. It can only change what this process sends, and the
grader reads that as data (``numpy.load(allow_pickle=False)``) and judges it with its own code.
"""
import base64
import io
import json

import numpy as np

RESULT_MIME = "application/x.course-result+base64"  # the same strings as course_lib.grading.spec
ERROR_MIME = "application/x.course-error+json"


def decode_inputs(payload: str) -> dict:
    data = json.loads(payload)
    names = dict(data["plain"])
    for name, b64 in data["arrays"].items():
        names[name] = np.load(io.BytesIO(base64.b64decode(b64)), allow_pickle=False)
    return names


def _as_array(value) -> np.ndarray:
    if type(value).__module__.startswith("torch"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "biufUS":
        raise TypeError(f"the function returned {type(value).__name__}, which is not numbers")
    return array


def _flatten(value, path: str, leaves: dict):
    """Structure of ``value`` as JSON-able data; its arrays go into ``leaves`` by path."""
    if value is None:
        return ["none", None]
    if isinstance(value, (tuple, list)):
        return ["seq", [_flatten(v, f"{path}/{i}" if path else str(i), leaves) for i, v in enumerate(value)]]
    if isinstance(value, dict):
        return ["dict", {str(k): _flatten(v, f"{path}/k:{k}" if path else f"k:{k}", leaves)
                         for k, v in value.items()}]
    leaves[path] = _as_array(value)
    return "leaf"


def encode_result(value) -> str:
    leaves = {}
    structure = _flatten(value, "", leaves)
    leaves["__structure__"] = np.frombuffer(json.dumps(structure).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **leaves)
    return base64.b64encode(buf.getvalue()).decode()


def run(code: str, payload: str) -> None:
    from IPython import get_ipython
    from IPython.display import publish_display_data

    namespace = dict(get_ipython().user_ns)
    namespace.pop("result", None)  # only the call may set it
    try:
        namespace.update(decode_inputs(payload))
        exec(compile(code, "<grader's call>", "exec"), namespace)
        if "result" not in namespace:
            raise NameError("the grader's call set no result")
        publish_display_data({RESULT_MIME: encode_result(namespace["result"])})
    except Exception as err:  # noqa: BLE001 -- reported to the grader as data
        message = f"{type(err).__name__}: {err}"
        publish_display_data({ERROR_MIME: {"error": message[:2000]}})
