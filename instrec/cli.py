"""The ``instrec`` command line: one program, one subcommand per job.

Each package contributes its subcommands through a ``register(subparsers)`` function in
its own ``commands`` module; this file only assembles them and turns instrec's errors into
one clear line on stderr instead of a traceback.  Every parser shows each option's default
(:class:`HelpFormatter`); values are checked with the types of :mod:`pipeline.arguments`.

Start-up stays light (``instrec --help`` in well under a second): the ``commands`` modules
import only the standard library and the constant modules (``training.choices``,
``features.choices``...) at import time; each handler imports its implementation when it
runs.  ``tests/instrec/test_cli_startup.py`` holds every command to that.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

from core.errors import InstrecError
from pipeline.arguments import option_value

# Modules that define ``register(subparsers)``, with the commands each adds, in listing order.
# Only the module of the command being run is imported; ``instrec --help`` imports them all
# (each is light: its handlers import the heavy modules).
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "pipeline.readers.commands": ("manifest",),
    "pipeline.demo.commands": ("demo-corpus",),
    "pipeline.extraction.commands": ("extract",),
    "pipeline.embedding_commands": ("import-openmic-vggish", "pretrain-embedding", "fetch-musicnn"),
    "storage.commands": ("store",),
    "training.commands": ("train",),
    "evaluation.commands": ("evaluate", "tune-thresholds", "recipe", "compare", "predict"),
    "flows.commands": ("demo",),
}


def _modules_for(argv: Sequence[str]) -> list[str]:
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    chosen = [name for name, commands in COMMAND_MODULES.items() if command in commands]
    return chosen or list(COMMAND_MODULES)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's help with ``(default: ...)`` after every option that has a default to show.

    Left out for required options, positionals and flags that are off by default; options
    whose default is None say in their help what happens when they are not given.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = option_value(action.default)
        if (action.required or not action.option_strings or any(default is v for v in (None, False, argparse.SUPPRESS))
                or "%(default)" in (action.help or "")):
            return action.help
        return super()._get_help_string(action)


class InstrecParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` with :class:`HelpFormatter`; sub-parsers are of this class too."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def instrec_version() -> str:
    """The installed package's version (``unknown`` when run from a source tree that is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("instrec")
    except PackageNotFoundError:
        return "unknown"


class InstalledVersion(argparse._VersionAction):
    """``--version``, reading the installed version only when asked (importlib.metadata is slow to import)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        self.version = f"%(prog)s {instrec_version()}"
        super().__call__(parser, namespace, values, option_string)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``instrec`` parser; given ``argv``, only the module of the command named there is loaded."""
    parser = InstrecParser(
        prog="instrec",
        description="Feature store and batch pipeline for musical instrument recognition.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--version", action=InstalledVersion)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = list(COMMAND_MODULES) if argv is None else _modules_for(argv)
    for name in modules:
        importlib.import_module(name).register(subparsers)
    return parser


OWN_PACKAGES = ("instrec", "core", "pipeline", "features", "storage", "training", "evaluation", "flows")


def _own_or_warning(record: logging.LogRecord) -> bool:
    """True for instrec's own records and for any record at WARNING or above."""
    return record.levelno >= logging.WARNING or record.name.partition(".")[0] in OWN_PACKAGES


def configure_logging(*, verbose: bool) -> None:
    """instrec's own messages at INFO (DEBUG with -v); other libraries' only from WARNING."""
    # The root logger stays at WARNING even with -v: at DEBUG, botocore logs signed requests,
    # credentials included.  The handler's filter also holds back libraries that set their own
    # logger to INFO: dask.distributed does when it is imported, and would print some 40 lines
    # per local cluster (addresses, "dashboard at: http://<host-ip>:8787").
    handler = logging.StreamHandler()
    handler.addFilter(_own_or_warning)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", handlers=[handler])
    for name in OWN_PACKAGES:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)


def one_line(exc: BaseException) -> str:
    """An error's message on one line.

    A DataLoader worker's error comes back as "Caught X in DataLoader worker process 0.
    Original Traceback ...": its last line holds the message (after the class name).
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if len(lines) > 1 and any(line.startswith("Traceback") or "Original Traceback" in line for line in lines):
        name, sep, rest = lines[-1].partition(": ")
        return rest if sep and name.replace(".", "").replace("_", "").isalnum() else lines[-1]
    return " ".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    configure_logging(verbose=args.verbose)
    for stream in (sys.stdout, sys.stderr):  # file names need not be valid UTF-8
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    command = " ".join(filter(None, (args.command, getattr(args, "store_command", None))))
    try:
        return int(args.handler(args) or 0)
    except InstrecError as exc:
        print(f"instrec {command}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"instrec {command}: interrupted", file=sys.stderr)
        return 130

