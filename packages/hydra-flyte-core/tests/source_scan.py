"""The packages' sources read with ast: modules, their imports (module- and function-level) and attribute reads.

Shared by test_core_architecture.py. Scans every `packages/*/src` of the monorepo (core, launcher, CLI).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGES = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. hydra_flyte.engine.launcher
    path: Path
    package: str  # the packages/<dir> it belongs to
    is_package: bool
    tree: ast.Module


@dataclass(frozen=True)
class Import:
    module: str  # the imported module, absolute (`from x import y`: x; also x.y when that is a module)
    names: tuple[str, ...]  # what `from x import ...` took (empty for `import x`)
    line: int
    in_function: bool


@cache
def modules() -> dict[str, Module]:
    found: dict[str, Module] = {}
    for src in sorted(PACKAGES.glob("*/src")):
        for path in sorted(src.rglob("*.py")):
            parts = list(path.relative_to(src).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            tree = ast.parse(path.read_text(), filename=str(path))
            found[".".join(parts)] = Module(".".join(parts), path, src.parent.name, is_package, tree)
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_nodes(tree: ast.AST, *, type_checking: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    """Every node run at some point, and whether it is inside a function.

    `if TYPE_CHECKING:` bodies are left out, unless `type_checking` (what a type checker reads too).
    """

    def walk(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.AST, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child) and not type_checking:
                for other in child.orelse:
                    yield other, in_function
                    yield from walk(other, in_function)
                continue
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            yield child, inner
            yield from walk(child, inner)

    yield from walk(tree, False)


def imports(module: Module, *, type_checking: bool = False) -> list[Import]:
    """The imports `module` runs (module-level and function-level), and with `type_checking` those under
    `if TYPE_CHECKING:` too."""
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    found: list[Import] = []
    for node, in_function in runtime_nodes(module.tree, type_checking=type_checking):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, (), node.lineno, in_function) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            names = tuple(alias.name for alias in node.names)
            found.append(Import(name, names, node.lineno, in_function))
            found += [
                Import(f"{name}.{n}", (), node.lineno, in_function)
                for n in names
                if f"{name}.{n}" in modules()
            ]
    return found


def import_graph(*, type_checking: bool = False) -> dict[str, list[Import]]:
    """Our modules and the imports of our modules each one runs (a module importing itself left out);
    with `type_checking`, the imports under `if TYPE_CHECKING:` too."""
    mods = modules()
    return {
        name: [
            i for i in imports(module, type_checking=type_checking) if i.module in mods and i.module != name
        ]
        for name, module in mods.items()
    }


def cycles(graph: dict[str, list[Import]]) -> list[list[str]]:
    """The import circles of `graph`: its strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for edge in graph[v]:
            w = edge.module
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found
