"""The packages import downwards only: core -> features -> storage -> pipeline -> training / evaluation -> flows -> instrec.

``instrec/`` (the command line) is the top: it may import every package, and none imports it.
"""

from __future__ import annotations

import ast
import importlib
import pickle
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# what each package may import from the project (besides itself)
ALLOWED = {
    "core": set(),
    "features": {"core"},
    "storage": {"core", "features"},
    "pipeline": {"core", "features", "storage"},
}
PROJECT = {"core", "features", "storage", "pipeline", "training", "evaluation", "flows", "instrec"}


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


def test_nothing_imports_the_program():
    wrong = sorted(str(path.relative_to(ROOT)) for package in sorted(PROJECT - {"instrec"})
                   for path in sorted((ROOT / package).rglob("*.py")) if "instrec" in project_imports(path))
    assert wrong == []


def test_the_check_can_fail(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from pipeline.track import Track\n")
    assert project_imports(module) == {"pipeline"}
    module.write_text("from instrec.cli import main\n")
    assert project_imports(module) == {"instrec"}



def package_modules() -> list[str]:
    """Every module of the project's packages, as dotted names (``__main__`` modules left out: they run)."""
    return sorted(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                  for package in sorted(PROJECT) for path in (ROOT / package).rglob("*.py")
                  if path.name != "__main__.py")


def misplaced_errors(module_names: list[str], project: set[str] = PROJECT) -> dict[str, str]:
    """Each exception class defined in ``project`` (seen in the modules) that is not in core.errors or has no
    one-line docstring, by qualified name -> what is wrong."""
    wrong = {}
    for name in module_names:
        for value in vars(importlib.import_module(name)).values():
            if not (isinstance(value, type) and issubclass(value, BaseException)
                    and value.__module__.split(".")[0] in project):
                continue
            where = f"{value.__module__}.{value.__qualname__}"
            if value.__module__ != "core.errors":
                wrong[where] = "defined outside core.errors"
            elif len((value.__doc__ or "").strip().splitlines()) != 1:
                wrong[where] = "needs a one-line docstring"
    return wrong


def test_every_error_is_defined_in_core_errors():
    modules = package_modules()
    assert {"storage.errors", "training.run", "flows.params", "pipeline.demo.render", "instrec.cli"} <= set(modules)
    assert misplaced_errors(modules) == {}


def test_the_catalogue_holds_the_whole_family():
    import core.errors

    errors = [v for v in vars(core.errors).values() if isinstance(v, type) and issubclass(v, BaseException)]
    assert len(errors) >= 21
    assert misplaced_errors(["core.errors"]) == {}


def test_re_exports_are_the_same_classes():
    import core.errors
    import features.tensor_bundle
    import flows.params
    import storage.errors
    import storage.layout
    import training.run

    assert training.run.RunError is core.errors.RunError
    assert storage.errors.StoreError is core.errors.StoreError
    assert storage.layout.MissingChunkError is core.errors.MissingChunkError
    assert issubclass(storage.errors.StoreDataError, storage.errors.StoreError)
    assert issubclass(flows.params.FlowParameterError, (core.errors.InstrecError, ValueError))
    assert issubclass(flows.params.FlowParameterError, ValueError)
    assert issubclass(features.tensor_bundle.TensorBundleError, ValueError)
    assert issubclass(storage.layout.MissingChunkError, LookupError)
    error = pickle.loads(pickle.dumps(training.run.RunError("run/: no model.pt")))
    assert type(error) is core.errors.RunError and str(error) == "run/: no model.pt"


def test_the_error_check_can_fail(tmp_path, monkeypatch):
    (tmp_path / "stray.py").write_text(
        "from core.errors import InstrecError\n\n\n"
        "class StrayError(InstrecError):\n    \"\"\"Defined outside the catalogue.\"\"\"\n\n\n"
        "class Undocumented(InstrecError):\n    pass\n\n\n"
        "Undocumented.__module__ = 'core.errors'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert misplaced_errors(["stray"], project={"core"}) == {"core.errors.Undocumented": "needs a one-line docstring"}
    assert misplaced_errors(["stray"], project={"stray"}) == {"stray.StrayError": "defined outside core.errors"}
