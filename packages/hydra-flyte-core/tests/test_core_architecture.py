"""Rules of the packages' layout, checked on their sources (see docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from source_scan import cycles, import_graph, modules


def test_sources_are_scanned() -> None:
    names = modules()
    assert {"hydra_flyte.engine.launcher", "hydra_plugins.hydra_flyte_plugin", "flyte_hydra_cli._run"} <= set(
        names
    )


def test_no_import_circles() -> None:
    """No circle among the packages' modules, counting function-level imports and `if TYPE_CHECKING:` ones."""
    graph = import_graph(type_checking=True)
    report = []
    for circle in cycles(graph):
        edges = [
            f"  {name}:{edge.line} -> {edge.module}{' (in a function)' if edge.in_function else ''}"
            for name in circle
            for edge in graph[name]
            if edge.module in circle
        ]
        report.append(" <-> ".join(circle) + "\n" + "\n".join(edges))
    assert not report, "import circles:\n" + "\n".join(report)


def test_layering() -> None:
    """Core imports neither the launcher nor the CLI; the launcher and the CLI import only core (not each other)."""
    graph = import_graph()
    mods = modules()
    wrong = [
        f"{name}:{edge.line} -> {edge.module}"
        for name, edges in graph.items()
        for edge in edges
        if mods[edge.module].package != mods[name].package and mods[edge.module].package != "hydra-flyte-core"
    ]
    assert not wrong, wrong


#: hydra-flyte-core's layers, lowest first (docs/architecture.md). A module imports only from its own
#: layer or lower ones, counting function-level and `if TYPE_CHECKING:` imports. Each entry is a
#: module or a package (with every module under it).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("hydra_flyte.errors", "hydra_flyte.results", "hydra_flyte._lazy"),
    ("hydra_flyte.compat",),
    ("hydra_flyte.config", "hydra_flyte.settings_schema", "hydra_flyte.launcher_config"),
    ("hydra_flyte.compose", "hydra_flyte.state"),
    ("hydra_flyte.remote", "hydra_flyte.durable"),
    ("hydra_flyte.optuna",),
    ("hydra_flyte.report",),
    ("hydra_flyte.engine", "hydra_plugins._hydra_flyte_core"),
    ("hydra_flyte.sdk", "hydra_plugins.hydra_flyte_optuna_async"),
    ("hydra_flyte", "hydra_flyte.integration"),  # the public facades: lazy exports of everything below
)


def layer_of(module: str) -> int:
    """The index in LAYERS of the most specific entry `module` is, or is under; ValueError if none."""
    best: tuple[int, int] | None = None
    for rank, entries in enumerate(LAYERS):
        for entry in entries:
            if module == entry or module.startswith(entry + "."):
                if best is None or len(entry) > best[1]:
                    best = (rank, len(entry))
    if best is None:
        raise ValueError(module)
    return best[0]


def test_every_core_module_is_in_a_layer() -> None:
    core = [name for name, module in modules().items() if module.package == "hydra-flyte-core"]
    unplaced = []
    for name in core:
        try:
            layer_of(name)
        except ValueError:
            unplaced.append(name)
    assert not unplaced, f"add these modules to LAYERS (and docs/architecture.md): {unplaced}"
    assert layer_of("hydra_flyte.engine.launcher") > layer_of("hydra_flyte.remote.submit")
    assert layer_of("hydra_flyte") == len(LAYERS) - 1


def test_imports_point_down_the_layers() -> None:
    """Each core module imports only its own layer or lower ones (TYPE_CHECKING imports included)."""
    graph = import_graph(type_checking=True)
    mods = modules()
    upward = [
        f"{name}:{edge.line} -> {edge.module} (layer {layer_of(name)} imports layer {layer_of(edge.module)})"
        for name, edges in graph.items()
        if mods[name].package == "hydra-flyte-core"
        for edge in edges
        if mods[edge.module].package == "hydra-flyte-core" and layer_of(edge.module) > layer_of(name)
    ]
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_the_circle_check_finds_a_circle() -> None:
    from source_scan import Import

    graph = {"a": [Import("b", (), 1, False)], "b": [Import("a", (), 2, True)], "c": []}
    assert cycles(graph) == [["a", "b"]]


# -- fences: a dependency's private symbols, each package in one module per dependency ---------

DEPENDENCIES = ("hydra", "omegaconf", "flyte", "kubernetes", "optuna")
#: (package, dependency) -> the one module of the package allowed to use the dependency's private symbols.
FENCES = {
    ("hydra-flyte-core", "hydra"): "hydra_flyte.compat.hydra_private",
    ("hydra-flyte-core", "omegaconf"): "hydra_flyte.compat.omegaconf_private",
    ("hydra-flyte-core", "flyte"): "hydra_flyte.compat.flyte_private",
    ("hydra-flyte-core", "kubernetes"): "hydra_flyte.compat.kubernetes_private",
    ("hydra-flyte-core", "optuna"): "hydra_flyte.compat.optuna_private",
    ("flyte-hydra-cli", "flyte"): "flyte_hydra_cli._flyte_private",
    ("flyte-hydra-cli", "hydra"): "flyte_hydra_cli._hydra_private",
    # hydra-flyte-launcher uses none.
}
#: Private attributes of dependencies' objects that are ours to name too (so not found by the
#: "defined nowhere in our sources" rule below): always counted as a dependency's.
DEPENDENCY_ATTRIBUTES = {
    "_return_value",
    "_query",
    "_content",
    "_parent",
    "_value",
    "_get_node",
    "_set_parent",
}
#: Private attributes read outside the fences on purpose: (module, attribute) -> why.
ALLOWED_ATTRIBUTES = {
    ("flyte_hydra_cli._sweeps", "_exit"): "os._exit (the standard library's)",
    ("hydra_flyte.engine.interrupt", "_exit"): "os._exit (the standard library's)",
}


def _private_import(module: str, names: tuple[str, ...]) -> list[str]:
    parts = module.split(".")
    found = [module] if any(p.startswith("_") for p in parts[1:]) else []
    return found + [f"{module}.{n}" for n in names if n.startswith("_") and not n.startswith("__")]


def _our_private_names() -> set[str]:
    """`_names` our sources define: functions, classes, class attributes and `self._x` attributes."""
    import ast

    names = set()
    for module in modules().values():
        for node in ast.walk(module.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif (  # self.__dict__["_x"] = ...
                isinstance(node, ast.Subscript)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, str)
            ):
                names.add(node.slice.value)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
    return {n for n in names if n.startswith("_")} - DEPENDENCY_ATTRIBUTES


def private_uses() -> list[tuple[str, str, int, str, str | None]]:
    """(package, module, line, symbol, dependency or None when unknown) of every private dependency symbol used."""
    import ast

    from source_scan import imports, runtime_nodes

    ours = _our_private_names()
    found = []
    for name, module in modules().items():
        for imp in imports(module):
            dependency = imp.module.split(".")[0]
            if dependency in DEPENDENCIES:
                found += [
                    (module.package, name, imp.line, s, dependency)
                    for s in _private_import(imp.module, imp.names)
                ]
        for node, _ in runtime_nodes(module.tree):
            attribute = None
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                    attribute = node.attr
            elif (  # x.__dict__["_name"]
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "__dict__"
                and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, str)
            ):
                attribute = node.slice.value
            if (
                attribute
                and attribute.startswith("_")
                and not attribute.startswith("__")
                and attribute not in ours
            ):
                found.append((module.package, name, node.lineno, f".{attribute}", None))
    return found


def test_private_dependency_symbols_only_in_their_fence() -> None:
    """Hydra's, OmegaConf's, flyte's, kubernetes' and optuna's private symbols (modules or names with a leading
    underscore, `hydra._internal...`, `JobReturn._return_value`, `x.__dict__["_content"]`) are imported
    or read only in the one fence module of their package for that dependency. A private attribute
    whose owner ast cannot tell is allowed in any fence of the package."""
    wrong = []
    for package, module, line, symbol, dependency in private_uses():
        fences = (
            {FENCES.get((package, dependency))}
            if dependency
            else {fence for (p, _), fence in FENCES.items() if p == package}
        )
        if module in fences or (module, symbol.lstrip(".")) in ALLOWED_ATTRIBUTES:
            continue
        wrong.append(
            f"{module}:{line} {symbol} (fence: {', '.join(sorted(f for f in fences if f)) or 'none'})"
        )
    assert not wrong, "private dependency symbols outside their fence:\n" + "\n".join(wrong)


def test_the_fence_check_sees_what_it_must() -> None:
    """The scan finds the fences' own uses (so an empty result elsewhere means something)."""
    uses = {(module, symbol) for _, module, _, symbol, _ in private_uses()}
    assert ("hydra_flyte.compat.hydra_private", "._return_value") in uses
    assert ("hydra_flyte.compat.hydra_private", "hydra._internal.config_loader_impl") in uses
    assert ("flyte_hydra_cli._flyte_private", "flyte.cli._run") in uses
    assert ("flyte_hydra_cli._hydra_private", "._query") in uses
    assert ("hydra_flyte.compat.optuna_private", "._trial_id") in uses


def test_launcher_and_cli_use_only_cores_public_api() -> None:
    """hydra-flyte-launcher and flyte-hydra-cli import core's public modules only (hydra_flyte,
    hydra_flyte.integration, hydra_flyte.settings_schema, hydra_flyte.launcher_config, and the
    hydra_plugins class Hydra needs)."""
    from source_scan import imports

    wrong = []
    for name, module in modules().items():
        if module.package == "hydra-flyte-core":
            continue
        for imp in imports(module):
            parts = imp.module.split(".")
            if (
                parts[0] not in ("hydra_flyte", "hydra_plugins")
                or imp.module == "hydra_plugins._hydra_flyte_core"
            ):
                continue
            if parts[0] == "hydra_plugins" and imp.module.startswith(name.rpartition(".")[0] or name):
                continue  # its own modules
            private = [p for p in parts[1:] if p.startswith("_")] + [
                n for n in imp.names if n.startswith("_")
            ]
            if private:
                wrong.append(f"{name}:{imp.line} {imp.module} {imp.names}")
    assert not wrong, wrong


def test_phases_are_named_only_in_phases() -> None:
    """A phase is compared through hydra_flyte.state.phases' constants and rules, never as a string literal."""
    import ast

    from hydra_flyte.state import phases as _phases

    names = {v for k, v in vars(_phases).items() if k.isupper() and isinstance(v, str) and v.isupper()}
    assert {"SUCCEEDED", "TIMED_OUT", "UNCONFIRMED"} <= names
    wrong = [
        f"{name}:{node.lineno} {node.value!r}"
        for name, module in modules().items()
        if name
        not in ("hydra_flyte.state.phases", "hydra_flyte.integration")  # (integration: its export table)
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Constant) and node.value in names
    ]
    assert not wrong, wrong


# -- docs/architecture.md: its layer and module tables are the code's own words -------------------

DOC = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"
REGENERATE = "HYDRA_FLYTE_WRITE_ARCHITECTURE_DOC"


def _first_line(module: Any) -> str:
    import ast

    doc = ast.get_docstring(module.tree) or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def _layers_table() -> str:
    mods = modules()
    rows = ["| layer | role (its `__init__` docstring) | modules |", "|---|---|---|"]
    for rank, entries in enumerate(LAYERS):
        for entry in entries:
            module = mods[entry]
            if module.is_package and entry != "hydra_flyte":
                inside = sorted(
                    n.rpartition(".")[2] for n in mods if n.startswith(entry + ".") and n.count(".") == 2
                )
                rows.append(f"| {rank} `{entry}` | {_first_line(module)} | {', '.join(inside)} |")
            else:
                rows.append(f"| {rank} `{entry}` | {_first_line(module)} | (module) |")
    return "\n".join(rows)


def _modules_tables() -> str:
    mods = modules()
    parts = []
    for package in sorted({m.package for m in mods.values()}):
        parts += [f"### {package}", "", "| module | role |", "|---|---|"]
        parts += [
            f"| `{name}` | {_first_line(module)} |"
            for name, module in sorted(mods.items())
            if module.package == package
        ]
        parts.append("")
    return "\n".join(parts).rstrip()


def _with_section(text: str, marker: str, body: str) -> str:
    start = text.index(f"<!-- {marker}:")
    start = text.index("\n", start) + 1
    end = text.index(f"<!-- end {marker} -->")
    return text[:start] + body + "\n" + text[end:]


def test_architecture_doc_matches_the_code() -> None:
    """docs/architecture.md's layer and module tables are generated from LAYERS and the docstrings.

    After moving or adding a module: `HYDRA_FLYTE_WRITE_ARCHITECTURE_DOC=1 python -m hatch run
    test:core -k architecture_doc` rewrites them; review the diff.
    """
    import os

    text = DOC.read_text()
    expected = _with_section(_with_section(text, "layers", _layers_table()), "modules", _modules_tables())
    if os.environ.get(REGENERATE) == "1" and text != expected:
        DOC.write_text(expected)
        text = expected
    assert text == expected, (
        f"docs/architecture.md is out of step with the code: set {REGENERATE}=1 (see the docstring)"
    )


def test_every_module_has_a_one_sentence_role() -> None:
    missing = [name for name, module in modules().items() if not _first_line(module)]
    assert not missing, f"modules without a docstring: {missing}"


def test_no_absolute_machine_path_in_the_repository() -> None:
    """No file git tracks names a path of one machine (a home, a /work or /tmp checkout, a venv)."""
    import re
    import subprocess

    root = DOC.parents[1]
    files = subprocess.run(
        ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    pattern = re.compile(r"(?<![\w.~])/(?:work|root|home/\w+|Users/\w+)/[\w.-]+")
    found = []
    for name in files:
        path = root / name
        if path.suffix in {".json", ".png", ".svg"} or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if pattern.search(line) and "no-machine-path-check" not in line:
                found.append(f"{name}:{number}: {line.strip()[:120]}")
    assert not found, "absolute machine paths:\n" + "\n".join(found)


# -- no module reaches into another's private members -----------------------------------------------


def _private_names_by_module() -> dict[str, set[str]]:
    """`_names` each core module defines: functions, classes, module globals and attributes it sets."""
    import ast

    found: dict[str, set[str]] = {}
    for name, module in modules().items():
        if module.package != "hydra-flyte-core":
            continue
        names = found.setdefault(name, set())
        for node in ast.walk(module.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
        found[name] = {n for n in names if n.startswith("_") and not n.startswith("__")}
    return found


def test_no_core_module_reaches_into_another_modules_private_members() -> None:
    """A core module imports no `_name` of another and reads no `obj._name` that only another module
    defines (`self._x` and a dependency's private symbols, which the fence test covers, aside)."""
    import ast

    from source_scan import imports, runtime_nodes

    defined = _private_names_by_module()
    owners: dict[str, set[str]] = {}
    for module_name, names in defined.items():
        for n in names:
            owners.setdefault(n, set()).add(module_name)
    wrong = []
    for name, module in modules().items():
        if module.package != "hydra-flyte-core":
            continue
        for imp in imports(module):
            for n in imp.names:
                if n in defined.get(imp.module, ()) and imp.module != name:
                    wrong.append(f"{name}:{imp.line} imports {imp.module}.{n}")
        for node, _ in runtime_nodes(module.tree):
            if not (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            where = owners.get(node.attr, set())
            if where and name not in where:
                wrong.append(
                    f"{name}:{node.lineno} reads .{node.attr} (defined in {', '.join(sorted(where))})"
                )
    assert not wrong, "private members read across modules:\n" + "\n".join(wrong)
