"""The engine's import structure, counted: modules, imports, import circles and imports that climb into stages/.
``python -m tests.support.import_graph`` prints it; tests/test_boundaries.py holds the engine to it.

Imports inside functions count too (grimp reads them): a lazy import is still a dependency."""

from __future__ import annotations

import sys
from dataclasses import dataclass

ROOT = "slmops_engine"
# Only the job engine and the command line may import the stage registry and the stage modules.
MAY_IMPORT_STAGES = (f"{ROOT}.stages", f"{ROOT}.jobs", f"{ROOT}.cli")


@dataclass
class Structure:
    modules: int
    imports: int
    circles: list[list[str]]
    into_stages: list[tuple[str, str]]


def circles(graph, modules: list[str]) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan's strongly connected
    components of more than one module)."""
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for m in modules:
        if m not in index:
            visit(m)
    return found


def structure() -> Structure:
    import grimp

    graph = grimp.build_graph(ROOT)
    modules = sorted(graph.modules)
    into = [
        (m, d)
        for m in modules
        for d in sorted(graph.find_modules_directly_imported_by(m))
        if d.startswith(f"{ROOT}.stages") and not m.startswith(MAY_IMPORT_STAGES)
    ]
    n_imports = sum(len(graph.find_modules_directly_imported_by(m)) for m in modules)
    return Structure(len(modules), n_imports, circles(graph, modules), into)


def main() -> int:
    s = structure()
    short = lambda m: m.removeprefix(f"{ROOT}.")  # noqa: E731
    print(f"{s.modules} modules, {s.imports} imports, {len(s.circles)} import circles")
    for group in s.circles:
        print(f"  circle of {len(group)}: {', '.join(map(short, group))}")
    print(f"{len(s.into_stages)} imports into stages/ from outside jobs/ and cli/")
    for m, d in s.into_stages:
        print(f"  {short(m)} -> {short(d)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
