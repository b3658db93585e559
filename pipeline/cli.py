"""The ``instrec`` command line: one program, one subcommand per job.

Each package contributes its subcommands through a ``register(subparsers)`` function in
its own ``commands`` module; this file only assembles them and turns instrec's errors into
one clear line on stderr instead of a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

from pipeline.track import InstrecError

# Modules that define ``register(subparsers)``, with the commands each adds, in listing order.
# Only the module of the command being run is imported (some import torch or matplotlib);
# ``instrec --help`` imports them all.
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


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``instrec`` parser; given ``argv``, only the module of the command named there is loaded."""
    parser = argparse.ArgumentParser(
        prog="instrec",
        description="Feature store and batch pipeline for musical instrument recognition.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = list(COMMAND_MODULES) if argv is None else _modules_for(argv)
    for name in modules:
        importlib.import_module(name).register(subparsers)
    return parser


OWN_PACKAGES = ("pipeline", "features", "storage", "training", "evaluation", "flows")


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
    try:
        return int(args.handler(args) or 0)
    except InstrecError as exc:
        print(f"instrec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"instrec {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
