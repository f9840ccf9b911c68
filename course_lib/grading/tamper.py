"""A static look at the code a student wrote, for constructs that tamper with grading: a signal.

The student's cells (answer cells, and cells the student added) are parsed, not run. The scan is
not the defence: every point comes from checks judged outside the student's process (judged.py),
so nothing found here could have raised a score. A finding is a note for the instructor; only
what is clearly an attack on the grading machinery (changing a library module's attributes,
builtins or IPython's hooks, reaching into frames and globals) holds the score at 0 for review.
Each finding names the cell, the line and the reason.
"""
import ast
from dataclasses import dataclass

import nbformat

# Modules an answer may import without a note. Anything else is noted for review.
ALLOWED_IMPORTS = {"numpy", "math", "time", "collections", "itertools", "functools", "typing",
                   "dataclasses", "matplotlib", "tqdm", "course_lib.gradcheck", "course_lib.rnn",
                   "course_lib.charlm", "course_lib.text", "course_lib.device", "torch", "random"}
# Imports that only serve to reach the grading machinery: held.
ATTACK_IMPORTS = {"builtins", "ctypes", "gc", "IPython", "ipykernel", "nbgrader", "course_lib.grading",
                  "course_lib.checks"}
FORBIDDEN_NAMES = {"get_ipython", "__builtins__", "builtins", "globals", "locals", "vars", "exec",
                   "eval", "compile", "__import__", "setattr", "delattr", "open", "exit", "quit",
                   "breakpoint", "__loader__", "__spec__"}
ATTACK_NAMES = {"get_ipython", "__builtins__", "builtins"}
FORBIDDEN_ATTRS = {"_exit", "exit", "kill", "system", "__class__", "__subclasses__", "__globals__",
                   "__code__", "__dict__", "__builtins__", "__bases__", "__mro__", "f_globals",
                   "f_back", "modules", "showtraceback", "run_cell", "input_transformers_post",
                   "ast_transformers", "set_custom_exc", "excepthook"}
ATTACK_ATTRS = {"__subclasses__", "__globals__", "__code__", "__builtins__", "f_globals", "f_back",
                "showtraceback", "run_cell", "input_transformers_post", "ast_transformers",
                "set_custom_exc", "excepthook"}
FORBIDDEN_METHODS = {"__eq__", "__ne__", "__bool__", "__float__", "__array__", "__lt__", "__le__",
                     "__gt__", "__ge__", "__abs__", "__len__", "__getattr__", "__getattribute__",
                     "__array_ufunc__", "__array_function__", "__torch_function__", "__del__"}


@dataclass
class Finding:
    cell: str
    line: int
    reason: str
    attack: bool = False  # clearly an attack on the grading: the score is held for review

    def __str__(self) -> str:
        return f"cell {self.cell}, line {self.line}: {self.reason}"


def _allowed(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in ALLOWED_IMPORTS)


def _attack_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in ATTACK_IMPORTS)


def imported_names(release: nbformat.NotebookNode) -> dict[str, str]:
    """Names the instructor's cells bind to modules, and to which (np -> numpy): not to be rebound."""
    names = {}
    for cell in release.cells:
        try:
            tree = ast.parse(cell.source) if cell.cell_type == "code" else None
        except SyntaxError:
            continue
        for node in ast.walk(tree) if tree else []:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names |= {a.asname or a.name.split(".")[0]: _target(node, a) for a in node.names}
    return names


def _target(node, alias) -> str:
    if isinstance(node, ast.Import):
        return alias.name if alias.asname else alias.name.split(".")[0]
    return f"{node.module}.{alias.name}"


def scan_source(source: str, cell: str, modules: dict[str, str] | None = None) -> list[Finding]:
    """Findings in one cell's code (a cell that does not parse has none: it simply fails).

    ``modules``: names the instructor's cells bind to modules (see imported_names).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    modules = modules or {}
    found = []
    imported = set(modules)
    for node in ast.walk(tree):
        add = lambda reason, attack=False: found.append(Finding(cell, getattr(node, "lineno", 0), reason, attack))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if bound in modules and _target(node, alias) != modules[bound]:
                    add(f"rebinds {bound}, a module the instructor's cells import", True)
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported.add(alias.asname or alias.name.split(".")[0])
                if not _allowed(alias.name):
                    add(f"imports {alias.name}", _attack_module(alias.name))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            for alias in node.names:
                imported.add(alias.asname or alias.name)
                if not _allowed(f"{module}.{alias.name}") and not _allowed(module) or node.level:
                    add(f"imports {alias.name} from {module or '.'}", _attack_module(f"{module}.{alias.name}"))
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            add(f"uses {node.id}", node.id in ATTACK_NAMES)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id in modules:
            add(f"rebinds {node.id}, a module the instructor's cells import", True)
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRS:
            add(f"uses .{node.attr}", node.attr in ATTACK_ATTRS)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in FORBIDDEN_METHODS:
            add(f"defines {node.name}")
        elif isinstance(node, (ast.Global, ast.Nonlocal)) and any(n.startswith("_") for n in node.names):
            # hidden tests keep their helpers in _names: a student's function must not rebind them
            add(f"rebinds {', '.join(n for n in node.names if n.startswith('_'))} with global")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in modules:
            add(f"rebinds {node.name}, a module the instructor's cells import", True)
    for node in ast.walk(tree):  # assignments into imported modules: np.allclose = ...
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            root = target
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if isinstance(target, (ast.Attribute, ast.Subscript)) and isinstance(root, ast.Name) \
                    and root.id in imported:
                found.append(Finding(cell, node.lineno, f"changes {ast.unparse(target)}, part of "
                                                        f"the module {root.id}", attack=True))
    return found


def locked_sources(release: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> code of the cells nbgrader restores when grading, as the release shows them."""
    locked = {}
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("locked") or (meta.get("grade") and not meta.get("solution")):
            locked[meta["grade_id"]] = cell.source
    return locked


def scan_notebook(nb: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[Finding]:
    """Findings in every code cell that is not a verbatim copy of a locked cell.

    Metadata in a submission is not trusted: a cell counts as the instructor's only if its id
    names a locked cell and its code is that cell's code, character for character.
    """
    locked, modules = locked_sources(release), imported_names(release)
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in locked and cell.source == locked[grade_id]:
            continue
        found += scan_source(cell.source, grade_id or f"#{index + 1}", modules)
    return found
