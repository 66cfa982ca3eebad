"""Rules of the packages' layout, checked on their sources (see docs/architecture.md)."""

from __future__ import annotations

from source_scan import cycles, import_graph, modules


def test_sources_are_scanned() -> None:
    names = modules()
    assert {"hydra_flyte._launcher", "hydra_plugins.hydra_flyte_plugin", "flyte_hydra_cli._run"} <= set(names)


def test_no_import_circles() -> None:
    """No circle among the packages' modules, counting function-level imports (not `if TYPE_CHECKING:` ones)."""
    graph = import_graph()
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


def test_the_circle_check_finds_a_circle() -> None:
    from source_scan import Import

    graph = {"a": [Import("b", (), 1, False)], "b": [Import("a", (), 2, True)], "c": []}
    assert cycles(graph) == [["a", "b"]]
