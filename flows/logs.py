"""The library's own log records in the run's log (the Prefect UI), not only in the worker's log file.

instrec's packages log with the standard ``logging`` module (``training.loop`` logs each epoch's
metrics and warns when there is no validation split, ``evaluation`` and ``pipeline`` warn about
skipped tracks).  Prefect sends only its own loggers' records to the API, so these reached the
worker's stderr and nothing else.  :func:`library_logs` forwards them to the current flow or task
run while a flow's work runs; nesting (a flow calling another) forwards each record once.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

LIBRARY_LOGGERS = ("training", "evaluation", "pipeline", "storage", "features", "core")


@contextmanager
def library_logs(level: int = logging.INFO) -> Iterator[None]:
    """Forward records of :data:`LIBRARY_LOGGERS` at ``level`` and above to the run's log."""
    from prefect.logging.handlers import APILogHandler

    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    if any(isinstance(h, APILogHandler) for lg in loggers for h in lg.handlers):
        yield  # an enclosing flow already forwards them
        return
    handler = APILogHandler(level=level)
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        if lg.getEffectiveLevel() > level:
            lg.setLevel(level)
    try:
        yield
    finally:
        for lg, saved in zip(loggers, levels):
            lg.removeHandler(handler)
            lg.setLevel(saved)
