"""Run-directory file names are defined once (``training.run_files``), not spelled out per module."""

from __future__ import annotations

import ast
from pathlib import Path

from training import run_files

ROOT = Path(__file__).resolve().parents[2]
NAMES = {value: name for name, value in vars(run_files).items() if name.endswith("_FILE")}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def test_the_names_are_the_documented_layout():
    assert (run_files.MODEL_FILE, run_files.CONFIG_FILE, run_files.THRESHOLDS_FILE, run_files.STORE_FILE) == (
        "model.pt", "config.json", "thresholds.json", "store.json")
    assert set(run_files.MODEL_FOLDER_FILES) <= set(NAMES)
    for value in NAMES:
        assert value in run_files.__doc__, f"{value} is missing from the layout in training/run_files.py"


def test_no_module_spells_a_run_file_name():
    offenders = []
    for package in ("training", "evaluation", "flows"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "run_files.py":
                continue
            tree = ast.parse(path.read_text())
            skip = _docstrings(tree)
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r} (use run_files.{NAMES[node.value]})"
                          for node in ast.walk(tree)
                          if isinstance(node, ast.Constant) and node.value in NAMES and id(node) not in skip]
    assert offenders == []
