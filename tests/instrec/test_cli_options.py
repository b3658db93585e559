"""The ``instrec`` command line as a user reads it: version, defaults and choices in every help."""

from __future__ import annotations

import argparse
import contextlib
import io
import re

import pytest

from instrec.cli import HelpFormatter, build_parser, instrec_version, main


def all_parsers() -> dict[str, argparse.ArgumentParser]:
    """``"extract"``, ``"store info"``... -> its parser (every command and sub-command)."""
    found, todo = {}, [("", build_parser())]
    while todo:
        name, parser = todo.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo += [(f"{name} {sub}".strip(), child) for sub, child in action.choices.items()]
        if name:
            found[name] = parser
    return found


PARSERS = all_parsers()


def option_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    text = HelpFormatter(parser.prog)._get_help_string(action) or ""
    return text % {**vars(action), "prog": parser.prog, "default": getattr(action.default, "value", action.default)}


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"instrec {instrec_version()}"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", instrec_version())


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_option_says_its_default_and_lists_its_choices(name):
    parser = PARSERS[name]
    assert parser.description, f"instrec {name} has no description"
    help_text = parser.format_help()
    for action in parser._actions:
        if not action.option_strings or isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        flag = action.option_strings[-1]
        assert action.help, f"instrec {name} {flag} has no help"
        text = option_help(parser, action)
        flag_off = isinstance(action, argparse._StoreTrueAction)
        if not (action.required or flag_off):
            said = "default" in text.lower() or "required unless" in text
            assert said, f"instrec {name} {flag}: the help does not say the default: {text!r}"
        if action.choices:
            assert all(str(choice) in help_text for choice in action.choices), (name, flag)


def test_defaults_shown_are_the_parsed_defaults():
    text = " ".join(PARSERS["evaluate"].format_help().split())
    assert "segment length (default: 1.0)" in text and "(default: test)" in text
    text = " ".join(PARSERS["extract"].format_help().split())
    assert "--dataset {aam,slakh,openmic,folder,demo}" in text
    assert "(default: 120.0)" in text and "(default: 2)" in text
    text = " ".join(PARSERS["train"].format_help().split())
    assert "maximum epochs (default: 50)" in text and "(default: specaugment,noise)" in text


def test_store_has_one_metavar_everywhere():
    metavars = {(name, action.metavar) for name, parser in PARSERS.items() for action in parser._actions
                if "--store" in action.option_strings}
    assert len(metavars) >= 6 and {m for _, m in metavars} == {"URL"}, metavars


def test_compare_has_a_description():
    assert "metrics.json" in PARSERS["compare"].description


def test_help_prints_no_default_twice():
    for name, parser in PARSERS.items():
        text = " ".join(parser.format_help().split())
        assert not re.search(r"\(default:? [^()]*\)[^()]{0,3}\(default:", text), name


def test_a_command_error_names_the_sub_command(tmp_path):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["store", "info", str(tmp_path / "nothing")]) == 2
    assert err.getvalue().startswith("instrec store info: error: ")
