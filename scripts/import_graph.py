"""The import graph of the ``planner`` package: its cycles, layers and the CLI -> optimizer path.

Reads every module's source with :mod:`ast` (nothing is imported) and draws an edge from a
module to each ``planner`` module it imports, at module level or inside a function
(``--top-level`` keeps only the module-level ones; ``if TYPE_CHECKING:`` imports never count).
An import of a package counts as an import of its ``__init__``.

Usage::

    python scripts/import_graph.py            # cycles (strongly connected components), path
    python scripts/import_graph.py --top-level

The layers, bottom to top, are :data:`LAYERS`; a module may import from its own layer and the
layers below it, never from one above (the package root and ``__main__`` stand outside).

Exits 1 when there is a cycle or an upward import.
"""

from __future__ import annotations

import argparse
import ast
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "planner"

#: The sub-packages of ``planner``, bottom to top: each imports only from itself and those below.
LAYERS = ("core", "optimize", "io", "countries", "ground", "strategies", "app")


def module_name(path: Path, root: Path = ROOT) -> str:
    """``planner/optimize/mclp.py`` -> ``planner.optimize.mclp`` (``__init__`` -> the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, *, top_level: bool) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every import statement (skipping ``TYPE_CHECKING`` blocks)."""
    found: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST, depth: int) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for sub in child.orelse:
                    visit(sub, depth)
                continue
            inner = depth + isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            counted = inner == 0 or not top_level
            if isinstance(child, ast.Import) and counted:
                found.extend((a.name, []) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and counted and child.module:
                found.append((child.module, [a.name for a in child.names]))
            visit(child, inner)

    visit(tree, 0)
    return found


def build_graph(root: Path = ROOT, *, top_level: bool = False) -> dict[str, set[str]]:
    """``{module: {planner modules it imports}}`` for every module of the package."""
    files = sorted((root / PACKAGE).rglob("*.py"))
    modules = {module_name(f, root) for f in files}
    graph: dict[str, set[str]] = {}
    for f in files:
        me = module_name(f, root)
        targets: set[str] = set()
        for mod, names in _imports(ast.parse(f.read_text()), top_level=top_level):
            if mod != PACKAGE and not mod.startswith(PACKAGE + "."):
                continue
            for name in names or [""]:
                sub = f"{mod}.{name}"
                if name and sub in modules:
                    targets.add(sub)
                elif mod in modules:
                    targets.add(mod)
        targets.discard(me)
        graph[me] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        work = [(v, iter(sorted(graph.get(v, ()))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                elif nxt in on:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return sorted(out)


def layer_of(module: str) -> str | None:
    """``planner.ground.network`` -> ``ground``; ``None`` for the package root and ``__main__``."""
    parts = module.split(".")
    if len(parts) < 2 or parts[1] == "__main__":
        return None
    return parts[1]


def upward_imports(
    graph: dict[str, set[str]], layers: tuple[str, ...] = LAYERS
) -> list[tuple[str, str]]:
    """Every ``(importer, imported)`` edge that goes up the layers, or out of them (a module
    of ``planner`` outside every layer counts as a violation too)."""
    rank = {name: i for i, name in enumerate(layers)}
    found = []
    for module in sorted(graph):
        mine = layer_of(module)
        if mine is None:
            continue
        for target in sorted(graph[module]):
            theirs = layer_of(target)
            if theirs is None:
                continue
            if mine not in rank or theirs not in rank or rank[theirs] > rank[mine]:
                found.append((module, target))
    return found


def shortest_path(graph: dict[str, set[str]], start: str, goal_prefix: str) -> list[str]:
    """The shortest import chain from ``start`` to a module under ``goal_prefix`` (BFS)."""
    prev: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        if v.startswith(goal_prefix):
            path = [v]
            while prev[path[-1]] is not None:
                path.append(prev[path[-1]])  # type: ignore[arg-type]
            return path[::-1]
        for w in sorted(graph.get(v, ())):
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return []


def main(argv: list[str] | None = None) -> int:
    """Print the cycles, the upward imports and the CLI -> optimizer path; 1 when there is a
    cycle or an upward import."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top-level", action="store_true", help="module-level imports only")
    ns = ap.parse_args(argv)
    graph = build_graph(top_level=ns.top_level)
    found = cycles(graph)
    edges = sum(len(v) for v in graph.values())
    print(f"{len(graph)} modules, {edges} import edges, {len(found)} cycle(s)")
    for comp in found:
        print("  cycle:", " <-> ".join(comp))
    upward = upward_imports(graph)
    print(f"layers {' < '.join(LAYERS)}: {len(upward)} upward import(s)")
    for importer, imported in upward:
        print(f"  upward: {importer} -> {imported}")
    path = shortest_path(graph, "planner.app.cli", "planner.optimize.")
    print(f"CLI -> optimizer: {len(path)} modules: {' -> '.join(path)}")
    return 1 if found or upward else 0


if __name__ == "__main__":
    raise SystemExit(main())
