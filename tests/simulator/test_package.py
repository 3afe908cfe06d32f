"""The simulator is a package of its own: the web app reaches it only from two commands."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The two management commands that start the simulator: the only app code that may import it.
STARTERS = {
    ROOT / "playground/management/commands/simulate_vllm.py",
    ROOT / "playground/management/commands/serve.py",
}


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name that `path` imports, at any depth (functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def imports_the_simulator(path: Path) -> bool:
    return any(name.split(".")[0] == "simulator" for name in imported_modules(path))


def test_the_web_app_does_not_import_the_simulator():
    app_files = [
        path
        for package in ("playground", "hexplay")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path not in STARTERS
    ]
    assert len(app_files) > 20  # the walk found the app
    assert [str(p.relative_to(ROOT)) for p in app_files if imports_the_simulator(p)] == []
    assert all(imports_the_simulator(path) for path in STARTERS)


def test_the_simulator_needs_only_the_standard_library():
    outside = {
        f"{path.name}: {name}"
        for path in sorted((ROOT / "simulator").glob("*.py"))
        for name in imported_modules(path)
        if name.split(".")[0] not in sys.stdlib_module_names | {"simulator"}
    }
    assert outside == set()
