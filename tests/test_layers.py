"""The layers of lib/: every module has one, imports only go downward, and the import graph has no cycle.

`lint-imports` (make lint) checks the contract in pyproject.toml with grimp; these tests read the same
contract and check it again on an import graph built here from the source with `ast`, counting every
import statement wherever it stands (inside functions, under TYPE_CHECKING).
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Container, Iterator, Mapping, Sequence
from pathlib import Path

from mlworkflow.config import PROJECT_ROOT

LIB = PROJECT_ROOT / "lib"
PACKAGE = "mlworkflow"
Graph = Mapping[str, set[str]]


def contract() -> dict[str, object]:
    """The layers contract of pyproject.toml."""
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    assert config["root_package"] == PACKAGE
    layered = [c for c in config["contracts"] if c["type"] == "layers"]
    assert len(layered) == 1 and layered[0]["containers"] == [PACKAGE]
    return dict(layered[0])


def layers() -> list[tuple[list[str], bool]]:
    """The contract's layers, highest first: (member names, whether the members are independent)."""
    parsed = []
    for layer in contract()["layers"]:  # type: ignore[attr-defined]
        independent = "|" in layer
        parsed.append(([name.strip() for name in re.split(r"[|:]", layer)], independent))
    return parsed


def module_name(path: Path) -> str:
    """The dotted name of a module file under lib/."""
    parts = path.relative_to(LIB).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(path): path for path in sorted((LIB / PACKAGE).rglob("*.py"))}


def imported(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool, known: set[str]) -> Iterator[str]:
    """The package modules one import statement reaches (`from x import y` reaches x.y when y is a module)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        anchor = importer.split(".")[: len(importer.split(".")) - node.level + (1 if is_package else 0)]
        base = ".".join([*anchor, base] if base else anchor)
    for alias in node.names:
        yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base


def import_graph() -> dict[str, set[str]]:
    """module → the package modules it imports, from every import statement in its source."""
    found = modules()
    known = set(found)
    graph: dict[str, set[str]] = {name: set() for name in found}
    for name, path in found.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                targets = imported(node, name, path.name == "__init__.py", known)
                graph[name] |= {t for t in targets if t in known and t != name}
    return graph


def strongly_connected(graph: Graph) -> list[list[str]]:
    """The graph's strongly connected components (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def cycle_in(component: Sequence[str], graph: Graph) -> list[str]:
    """One import cycle through a component's first module, as a path that ends where it starts."""
    members, start = set(component), component[0]
    paths = [[start]]
    while paths:
        path = paths.pop(0)
        for nxt in sorted(graph[path[-1]] & members):
            if nxt == start:
                return [*path, start]
            if nxt not in path:
                paths.append([*path, nxt])
    return [start]


def cycles(graph: Graph) -> list[list[str]]:
    """Every import cycle, one path per strongly connected component of more than one module."""
    return [cycle_in(c, graph) for c in strongly_connected(graph) if len(c) > 1]


def layer_of(module: str, members: Container[str]) -> str | None:
    """The contract's layer member a module belongs to (its first part below the package), if any."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in members else None


def upward_imports(graph: Graph) -> list[str]:
    """Every import that goes to a higher layer, or across independent members of one layer."""
    ranks = {name: rank for rank, (names, _) in enumerate(layers()) for name in names}
    independent = {name for names, alone in layers() if alone for name in names}
    wrong = []
    for importer, targets in sorted(graph.items()):
        here = layer_of(importer, ranks)
        for target in sorted(targets):
            there = layer_of(target, ranks)
            if here is None or there is None or here == there:
                continue
            if ranks[there] < ranks[here] or (ranks[there] == ranks[here] and here in independent):
                wrong.append(f"{importer} -> {target} ({here} may not import {there})")
    return wrong


def test_the_cycle_finder_names_the_modules_of_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert strongly_connected(graph)[0] == ["d"]


def test_relative_and_function_level_imports_count() -> None:
    source = "def f():\n    from . import layout\n    from .core import metrics\n    import mlworkflow.io\n"
    known = {"mlworkflow.layout", "mlworkflow.core", "mlworkflow.core.metrics", "mlworkflow.io"}
    nodes = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import | ast.ImportFrom)]
    found = {t for n in nodes for t in imported(n, "mlworkflow.params", False, known)}
    assert found == {"mlworkflow.layout", "mlworkflow.core.metrics", "mlworkflow.io"}


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert "mlworkflow.layout" in graph["mlworkflow.workflow.runner"]
    assert len(graph) >= 40 and sum(map(len, graph.values())) >= 100


def test_every_module_belongs_to_a_layer() -> None:
    members = {name for names, _ in layers() for name in names}
    orphans = [m for m in modules() if m != PACKAGE and layer_of(m, members) is None]
    assert not orphans, f"modules outside every layer of [tool.importlinter] in pyproject.toml: {orphans}"
    children = {m.split(".")[1] for m in modules() if m != PACKAGE}
    assert members == children, "every layer of the contract names an existing module or package"


def test_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles in lib/: " + "; ".join(" -> ".join(c) for c in found)


def test_no_upward_import() -> None:
    wrong = upward_imports(import_graph())
    assert not wrong, "imports against the layers of pyproject.toml:\n" + "\n".join(wrong)
