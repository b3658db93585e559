import argparse
import importlib

import pytest

from pipeline.cli import COMMAND_MODULES, build_parser, main


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
