"""The base classes of the errors instrec raises at its users.

Every user-facing error is one line naming the file (or store, run, option), what was wrong and
what to do.  The CLI prints an :class:`InstrecError` as that one line, without a traceback.
"""

from __future__ import annotations


class InstrecError(Exception):
    """Base class of the errors instrec raises at its users.

    The message names the file, what was wrong with it, and what to do.
    """


class DatasetError(InstrecError):
    """A dataset file is missing, unreadable or malformed."""
