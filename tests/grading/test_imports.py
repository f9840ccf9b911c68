"""course_lib.grading's modules import each other without a cycle, and each imports on its own."""
import ast
import subprocess
import sys
from pathlib import Path

import course_lib.grading

PACKAGE = "course_lib.grading"
FOLDER = Path(course_lib.grading.__file__).parent
MODULES = sorted(p.stem for p in FOLDER.glob("*.py") if p.stem != "__init__")


def imported_modules(source: str, modules: list[str]) -> set[str]:
    """The package modules a module's source imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name.removeprefix(PACKAGE + ".").split(".")[0] for a in node.names
                      if a.name.startswith(PACKAGE + ".")}
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            if base in (PACKAGE, "."):  # from course_lib.grading import worker, spec
                found |= {a.name for a in node.names if a.name in modules}
            elif base.startswith(PACKAGE + "."):
                found.add(base.removeprefix(PACKAGE + ".").split(".")[0])
            elif node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
    return found & set(modules)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of graph as [a, b, ..., a], or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_cycle_detector_sees_direct_lazy_and_long_cycles():
    mods = ["batch", "worker", "spec"]
    lazy = "def f():\n    from course_lib.grading.batch import grade\n"
    assert imported_modules(lazy, mods) == {"batch"}
    assert imported_modules("from course_lib.grading import worker, Result", mods) == {"worker"}
    assert imported_modules("from . import spec\nfrom .batch import x", mods) == {"spec", "batch"}
    assert imported_modules("import course_lib.grading.spec as s\nimport numpy", mods) == {"spec"}
    assert find_cycle({"batch": {"worker"}, "worker": {"batch"}}) == ["batch", "worker", "batch"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_grading_import_graph_is_acyclic():
    graph = {m: imported_modules((FOLDER / f"{m}.py").read_text(), MODULES) - {m} for m in MODULES}
    cycle = find_cycle(graph)
    assert cycle is None, (f"course_lib/grading imports in a cycle: {' -> '.join(cycle)}. Move what the "
                           f"modules share into a module of its own (as workdir.py is for batch and worker).")


IMPORT_EACH = """
import importlib, sys
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "course_lib.grading" or m.startswith("course_lib.grading.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as err:
        print(f"{name}: {type(err).__name__}: {err}")
"""


def test_each_grading_module_imports_first():
    """Each module imported first into a clean course_lib.grading (third-party imports stay cached,
    so the loop costs one nbgrader import, not one per module)."""
    names = [f"{PACKAGE}.{m}" for m in MODULES] + [PACKAGE]
    proc = subprocess.run([sys.executable, "-c", IMPORT_EACH, *names], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and not proc.stdout, proc.stdout + proc.stderr

