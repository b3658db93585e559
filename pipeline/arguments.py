"""Checked values for command-line options, shared by every ``commands`` module.

Each function is an argparse ``type``: it turns the option's text into a value or raises
``argparse.ArgumentTypeError``, which argparse prints as one line naming the option
(``instrec evaluate: error: argument --segment: expected a number > 0, got '0'``).
:class:`Default` marks defaults a configuration file may override (``instrec train --config``).
Light on imports: ``instrec --help`` loads every command module.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any, Callable


def _number(kind: type, text: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") \
            from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _bounded(kind: type, low: float, *, inclusive: bool) -> Callable[[str], Any]:
    relation = ">=" if inclusive else ">"
    noun = "an integer" if kind is int else "a number"

    def parse(text: str) -> Any:
        value = _number(kind, text)
        if value < low or (value == low and not inclusive):
            raise argparse.ArgumentTypeError(f"expected {noun} {relation} {low:g}, got {text!r}")
        return value

    parse.__name__ = f"{'non_negative' if inclusive else 'positive'}_{kind.__name__}"
    return parse


positive_int = _bounded(int, 1, inclusive=True)
"""An integer >= 1."""
non_negative_int = _bounded(int, 0, inclusive=True)
"""An integer >= 0."""
positive_float = _bounded(float, 0.0, inclusive=False)
"""A finite number > 0."""
non_negative_float = _bounded(float, 0.0, inclusive=True)
"""A finite number >= 0."""


def probability(text: str) -> float:
    """A number in [0, 1]."""
    value = _number(float, text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1], got {text!r}")
    return value


@dataclass(frozen=True)
class Default:
    """An option's default, told apart from the same value given on the command line (so that a
    ``--config`` file overrides defaults but not options the user typed).

    Shown in ``--help`` as its value; :func:`given_options` drops these from a namespace.
    """

    value: Any

    def __str__(self) -> str:
        if isinstance(self.value, (tuple, list)):
            return ",".join(map(str, self.value)) or "none"
        return str(self.value)


def given_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of ``args`` that were given on the command line (not :class:`Default` values)."""
    return {name: value for name, value in vars(args).items() if not isinstance(value, Default)}


def option_value(value: Any) -> Any:
    """``value``, or the value a :class:`Default` holds."""
    return value.value if isinstance(value, Default) else value
