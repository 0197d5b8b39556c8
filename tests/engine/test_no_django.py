"""The engine stays framework-free: no module in negotiator/engine imports django."""

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "negotiator" / "engine"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_engine_modules_never_import_django():
    modules = sorted(ENGINE.rglob("*.py"))
    assert modules
    offenders = {
        str(m.relative_to(ENGINE)): sorted(n for n in _imports(m) if n.split(".")[0] == "django")
        for m in modules
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_engine_does_no_file_or_network_io():
    forbidden = {"socket", "urllib", "requests", "http", "pathlib", "shutil", "subprocess"}
    for module in ENGINE.rglob("*.py"):
        found = {n.split(".")[0] for n in _imports(module)} & forbidden
        assert not found, f"{module.name} imports {found}"
        assert "open(" not in module.read_text(encoding="utf-8"), module.name
