"""The packages import downwards only: core -> features -> storage -> pipeline -> training / evaluation -> flows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# what each package may import from the project (besides itself)
ALLOWED = {
    "core": set(),
    "features": {"core"},
    "storage": {"core", "features"},
}
PROJECT = {"core", "features", "storage", "pipeline", "training", "evaluation", "flows"}


def project_imports(path: Path) -> set[str]:
    """Top-level project packages a module imports (also inside functions and TYPE_CHECKING blocks)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & PROJECT


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_lower_layers_never_import_upwards(package):
    wrong = {str(path.relative_to(ROOT)): sorted(project_imports(path) - ALLOWED[package] - {package})
             for path in sorted((ROOT / package).rglob("*.py"))}
    assert {k: v for k, v in wrong.items() if v} == {}


def test_the_check_can_fail(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from pipeline.track import Track\n")
    assert project_imports(module) == {"pipeline"}
