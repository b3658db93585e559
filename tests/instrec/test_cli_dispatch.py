import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from instrec.cli import COMMAND_MODULES, build_parser, main


@pytest.mark.parametrize("module", sorted(COMMAND_MODULES))
def test_each_module_registers_exactly_the_commands_listed_for_it(module):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    importlib.import_module(module).register(sub)
    assert tuple(sub.choices) == COMMAND_MODULES[module]


def test_help_lists_every_command(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for commands in COMMAND_MODULES.values():
        for command in commands:
            assert command in out


def test_a_command_loads_only_its_module():
    parser = build_parser(["manifest", "--dataset", "aam", "x"])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {"manifest"}


def test_python_dash_m_instrec_runs_the_program(tmp_path):
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(root), os.environ.get("PYTHONPATH"))))}
    done = subprocess.run([sys.executable, "-m", "instrec", "store", "info", str(tmp_path / "nowhere")],
                          capture_output=True, text=True, timeout=120, cwd=root, env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("instrec store info: error: ") and len(done.stderr.strip().splitlines()) == 1
