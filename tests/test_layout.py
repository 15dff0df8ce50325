"""The package layout follows the pipeline: api imports qa and index, qa imports index, and no
module imports another that imports it back (imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("index", "qa", "api")  # each may import only the stages before it


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports, anywhere in it (a ``from pkg import name`` counts
    ``pkg.name`` when that is a module)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def project_graph() -> dict[str, set[str]]:
    files = [p for stage in STAGES for p in (ROOT / stage).rglob("*.py")]
    known = {module_name(p) for p in files}
    return {module_name(p): imported_modules(p, known) - {module_name(p)} for p in files}


def test_stages_import_only_earlier_stages():
    wrong = []
    for module, imports in project_graph().items():
        stage = STAGES.index(module.split(".")[0])
        wrong += [f"{module} imports {other}" for other in imports if STAGES.index(other.split(".")[0]) > stage]
    assert not wrong, wrong


def test_no_import_cycles():
    graph = project_graph()
    # A package imports its own modules through __init__; a cycle through a package's
    # __init__ and one of its modules is how packages re-export, not a cycle of jobs.
    edges = {m: {o for o in imports if not m.startswith(o + ".")} for m, imports in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for other in sorted(edges.get(node, ())):
            if state.get(other) == 1:
                cycles.append(path[path.index(other):] + [other])
            elif other not in state:
                visit(other, path + [other])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles
