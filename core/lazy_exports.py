"""Package attributes imported on first use (PEP 562).

A package whose ``__init__`` re-exports its heavy modules' names would import them whenever
any of its modules is imported: ``import storage.commands`` would load NumPy and fsspec,
``import pipeline.demo.choices`` SciPy, and ``instrec --help`` would pay for all of it.
Such a package lists its exports instead:

>>> __getattr__, __dir__ = lazy_exports(__name__, {"open_store": "storage.store"})

``from storage import open_store`` then imports :mod:`storage.store` on first use.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module ``__getattr__`` and ``__dir__`` for ``package``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : mapping of str to str
        Each exported name -> the module that defines it.

    Returns
    -------
    (__getattr__, __dir__)
        To assign at the package's top level.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
