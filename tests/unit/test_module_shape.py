"""The shape of the code, checked statically: no import circle among helpers' modules (imports
inside functions included: a lazy import still ties two modules), only the converter's zygote and
spawner reach into the child's package, and no module over 400 lines."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

HELPERS = ROOT / "helpers"
MAX_MODULE_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found |= {name for name in names if name in known}
    return found


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in HELPERS.rglob("*.py")}
    known = set(files)
    return {name: _imports(path, known) - {name} for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles():
    # Package __init__ modules import nothing, so a package's modules are nodes of their own.
    assert cycles(import_graph()) == []


def test_the_cycle_finder_sees_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_zygote_and_the_spawner_import_the_converter_child():
    graph = import_graph()
    importers = {name for name, imported in graph.items()
                 if any(i.startswith("helpers.convert.child") for i in imported)
                 and not name.startswith("helpers.convert.child")}
    assert importers == {"helpers.convert.zygote", "helpers.convert.isolated"}


def test_no_module_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in HELPERS.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def _functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs if a.arg not in ("self", "cls")]
            yield node.name, node.end_lineno - node.lineno + 1, len(params)


def test_no_function_over_60_lines_or_7_parameters_outside_the_device_kernels():
    # micropython/device/ is pasted into the engine and compiled by viper, whose functions cannot
    # unpack a structure without allocating: flat parameter lists are its speed reason.
    found = [(str(path.relative_to(ROOT)), name, lines, params)
             for path in HELPERS.rglob("*.py") if "device" not in path.parts
             for name, lines, params in _functions(path) if lines > 60 or params > 7]
    assert found == []
