"""The shape of the code: one dependency direction, no import cycles, modules and
functions small enough to read. Built from the source with `ast`, so an import
inside a function counts as much as one at the top."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("negotiator", "approvals", "api", "analytics", "tenders", "demo")
# Modules that hold the product's writes and reads (DESIGN.md: services and
# selectors by capability), held to the size limits below.
LAYERED = (
    "negotiator/services",
    "negotiator/selectors",
    "approvals/services",
    "api/services",
    "api/selectors",
    "analytics/services",
    "analytics/selectors",
    "tenders/services",
    "tenders/selectors",
)
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
# A function may be longer when splitting it would hurt reading; it says why in
# a comment containing this marker on its first line.
LONG_OK = "long on purpose:"


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            rel = path.relative_to(REPO)
            if "migrations" in rel.parts:
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> Iterator[str]:
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        for target in targets:
            # the longest known module the import names
            parts = target.split(".")
            while parts and ".".join(parts) not in known:
                parts.pop()
            if parts and ".".join(parts) != name:
                yield ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: set(_imports(name, path, known)) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_another_that_imports_it_back():
    cycles = _cycles(import_graph())
    assert cycles == [], "import cycles: " + "; ".join(" ↔ ".join(c) for c in cycles)


def test_dependencies_point_one_way():
    """engine ← negotiator ← approvals ← tenders ← analytics ← api (the REST door)
    and demo: nothing imports upward, neither api nor demo imports the other, and
    api does not import tenders."""
    upward = {
        "negotiator.engine": ("negotiator.", "approvals", "tenders", "analytics", "api", "demo"),
        "negotiator": ("approvals", "tenders", "analytics", "api", "demo"),
        "approvals": ("tenders", "analytics", "api", "demo"),
        "tenders": ("analytics", "api", "demo"),
        "analytics": ("api", "demo"),
        "api": ("demo", "tenders"),
        "demo": ("api",),
    }
    wrong = []
    for module, targets in import_graph().items():
        for prefix, forbidden in upward.items():
            if module == prefix or module.startswith(prefix + "."):
                for target in targets:
                    same_layer = prefix == "negotiator.engine" and target.startswith(prefix)
                    if not same_layer and target.startswith(forbidden):
                        wrong.append(f"{module} → {target}")
                break
    assert wrong == []


def _layered_files() -> list[Path]:
    return [p for d in LAYERED for p in sorted((REPO / d).glob("*.py"))]


def test_service_and_selector_modules_stay_small():
    too_long = {
        str(p.relative_to(REPO)): n
        for p in _layered_files()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}


def test_each_service_and_selector_module_says_what_it_owns():
    silent = [
        str(p.relative_to(REPO))
        for p in _layered_files()
        if not ast.get_docstring(ast.parse(p.read_text()))
    ]
    assert silent == []


def test_service_and_selector_functions_stay_short():
    too_long = []
    for path in _layered_files():
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                explained = any(
                    LONG_OK in line for line in lines[node.lineno - 1 : node.lineno + 8]
                )
                if length > MAX_FUNCTION_LINES and not explained:
                    too_long.append(f"{path.relative_to(REPO)}:{node.name} ({length} lines)")
    assert too_long == []
