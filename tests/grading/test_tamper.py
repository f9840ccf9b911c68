"""The static scan: what it flags, and that honest code passes."""
import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from course_lib.grading.tamper import scan_notebook, scan_source

HONEST = '''
def rnn_step_forward(x, h_prev, Wx, Wh, b):
    import numpy as np
    h_next = np.tanh(x @ Wx + h_prev @ Wh + b)
    cache = {"x": x}
    cache["h"] = h_next
    return h_next, cache
'''


def reasons(source, modules=None):
    return [f.reason for f in scan_source(source, "c", modules or {"np": "numpy"})]


def test_honest_code_has_no_findings():
    assert reasons(HONEST) == []
    assert reasons("import matplotlib.pyplot as plt\nfrom collections import defaultdict") == []
    assert reasons("import numpy as np\nfrom numpy import random") == []
    assert reasons("def count():\n    global calls\n    calls += 1") == []


def test_each_attack_is_named():
    cases = {
        "np.allclose = lambda *a, **k: True": "changes np.allclose",
        "np.testing.assert_allclose = print": "changes np.testing.assert_allclose",
        "import builtins": "imports builtins",
        "setattr(np, 'allclose', 1)": "uses setattr",
        "class A:\n    def __eq__(self, o):\n        return True": "defines __eq__",
        "get_ipython().showtraceback = None": "uses get_ipython",
        "import os\nos._exit(0)": "uses ._exit",
        "from os import system": "imports system from os",
        "f = open('/x')": "uses open",
        "x = ().__class__.__bases__": "uses .__class__",
        "from . import grading": "imports grading from .",
        "np = FakeNumpy()": "rebinds np",
        "import math as np": "rebinds np",
        "def np(): pass": "rebinds np",
        "def loss():\n    global _torch_loss\n    _torch_loss = None": "rebinds _torch_loss with global",
    }
    for source, expected in cases.items():
        assert any(expected in r for r in reasons(source)), (source, reasons(source))


def test_unparsable_code_is_not_a_finding():
    assert reasons("def (:") == []


def test_metadata_is_not_trusted():
    locked = new_code_cell("assert True", metadata={"nbgrader": {"grade_id": "t", "locked": True,
                                                                  "grade": True, "solution": False}})
    release = new_notebook(cells=[new_code_cell("import numpy as np"), locked])
    verbatim = nbformat.from_dict(nbformat.v4.new_notebook(cells=[locked]))
    assert scan_notebook(verbatim, release) == []
    disguised = new_code_cell("import os", metadata=locked.metadata)  # claims to be the locked cell
    assert [f.reason for f in scan_notebook(new_notebook(cells=[disguised]), release)] == ["imports os"]
    found = scan_notebook(new_notebook(cells=[new_code_cell("np.allclose = 1")]), release)
    assert [f.reason for f in found] == ["changes np.allclose, part of the module np"]


def test_only_clear_attacks_hold_a_score():
    signals = ["import os\npath = os.path.join('a', 'b')", "import sys", "class P:\n    def __eq__(self, o):\n        return True",
               "x = eval('1 + 1')", "f = open('notes.txt')"]
    attacks = ["np.allclose = lambda *a, **k: True", "import builtins", "get_ipython().showtraceback = print",
               "import numpy as np", "import ctypes"]
    modules = {"np": "numpy"}
    for code in signals:
        found = scan_source(code, "c", modules)
        assert found and not any(f.attack for f in found), (code, found)
    for code in attacks:
        found = scan_source(code, "c", modules if code != "import numpy as np" else {"np": "torch"})
        assert any(f.attack for f in found), (code, found)
