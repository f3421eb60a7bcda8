"""The project's import graph: no circles, and the device runtime stays TensorFlow-free.

An AST walk over ``edge``, ``converter`` and ``models`` (``import-linter`` is not
installed here). Every import counts, also the ones inside functions: a lazy import
still ties two modules together, and a circle through one (``models.train`` <->
``models.train_vit`` did that) only waits for someone to hoist it. Imports under
``if TYPE_CHECKING:`` are left out (they never run).

Contracts:
- no cycle among the project's modules;
- ``edge`` imports nothing from ``converter`` or ``models``, except ``edge/cli/convert.py``'s
  handler, lazily (the device install has no TensorFlow).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("edge", "converter", "models")

# One import: (imported module, enclosing function or None, line).
Edge = tuple[str, str | None, int]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


class _Imports(ast.NodeVisitor):
    """(imported module, enclosing function or None, line) for every import."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.found: list[Edge] = []
        self._package = module if is_package else module.rpartition(".")[0]
        self._function: list[str] = []

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def _in_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._function.append(node.name)
        self.generic_visit(node)
        self._function.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._in_function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._in_function(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self._package.split(".")
            anchor = ".".join(parts[: len(parts) - node.level + 1])
            base = f"{anchor}.{base}" if base else anchor
        for alias in node.names:
            self._add(f"{base}.{alias.name}", node.lineno, fallback=base)

    def _add(self, name: str, line: int, fallback: str | None = None) -> None:
        function = self._function[-1] if self._function else None
        self.found.append((name, function, line))
        if fallback is not None:
            self.found.append((fallback, function, line))


def _graph() -> dict[str, list[Edge]]:
    modules = _modules()
    graph: dict[str, list[Edge]] = {}
    for name, path in modules.items():
        visitor = _Imports(name, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(), str(path)))
        edges: dict[str, Edge] = {}
        for target, function, line in visitor.found:
            if target in modules and target != name:
                edges.setdefault(target, (target, function, line))
        graph[name] = list(edges.values())
    return graph


def _cycles(graph: dict[str, list[Edge]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target, _, _ in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    graph = _graph()
    cycles = _cycles(graph)
    detail = [
        f"{' <-> '.join(cycle)}: "
        + "; ".join(
            f"{a} imports {t} (line {line})" for a in cycle for t, _, line in graph[a] if t in cycle
        )
        for cycle in cycles
    ]
    assert cycles == [], "import cycles:\n" + "\n".join(detail)


def test_edge_never_imports_converter_or_models_except_the_convert_handler() -> None:
    graph = _graph()
    offending = [
        f"{module} imports {target} (line {line}, in {function or 'module scope'})"
        for module, edges in graph.items()
        if module.split(".")[0] == "edge"
        for target, function, line in edges
        if target.split(".")[0] in ("converter", "models")
        and not (module == "edge.cli.convert" and function == "handle")
    ]
    assert offending == []


def test_the_checker_finds_a_cycle_and_a_forbidden_import() -> None:
    """The checker itself can fail: a circle and a module-level edge -> converter import."""
    graph: dict[str, list[Edge]] = {
        "a": [("b", None, 1)],
        "b": [("c", "f", 2)],
        "c": [("a", None, 3)],
        "d": [],
    }
    assert _cycles(graph) == [["a", "b", "c"]]
    visitor = _Imports("edge.x", is_package=False)
    visitor.visit(ast.parse("from converter import convert\ndef f():\n    from . import y\n"))
    assert ("converter.convert", None, 1) in visitor.found
    assert ("edge.y", "f", 3) in visitor.found
