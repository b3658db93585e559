"""Feature sets named with their parameters: ``logmel:n_mels=64,hop_length=256``.

A *feature spec* is a family name (:func:`features.registry.feature_names`), optionally
followed by ``:`` and ``name=value`` overrides of its configuration, which go to
:func:`features.registry.build_config`.  ``--features`` takes several specs separated by
commas; a comma-separated item with ``=`` and no ``:`` continues the previous spec::

    logmel                               the defaults
    logmel:n_mels=64,hop_length=256      two parameters changed
    logmel:n_mels=64,scalogram           two feature sets
    scalogram:fmin=55.0,wavelet=cmor1.5-1.0
    logmel:fmax=None                     None, true/false, ints, floats, (tuples, like, this)

Values are typed by :func:`parse_value`; the configuration validates them.  The store keys
a feature set by the hash of its whole configuration, so ``instrec train --features
logmel:n_mels=64`` finds the set ``instrec extract`` wrote with the same spec.
"""

from __future__ import annotations

from typing import Any

from core.errors import FeatureSpecError  # re-exported: defined in core.errors


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """``text`` cut at ``separator`` outside parentheses and brackets."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
            if depth < 0:
                raise FeatureSpecError(f"unbalanced ')' or ']' in {text!r}")
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise FeatureSpecError(f"unclosed '(' or '[' in {text!r}")
    parts.append("".join(current))
    return parts


def parse_value(text: str) -> Any:
    """A parameter value: ``None``/``null``, ``true``/``false``, an int, a float, a tuple
    ``(a,b)`` or ``[a,b]`` of values, or else the text itself (quotes removed)."""
    text = text.strip()
    lowered = text.lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    if text[:1] in "([" and text[-1:] in ")]":
        inner = text[1:-1].strip()
        return tuple(parse_value(part) for part in split_top_level(inner)) if inner else ()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def parse_feature_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"logmel:n_mels=64,hop_length=256"`` -> ``("logmel", {"n_mels": 64, "hop_length": 256})``."""
    name, _, rest = spec.strip().partition(":")
    name = name.strip()
    if not name:
        raise FeatureSpecError(f"{spec!r} names no feature set; expected NAME or NAME:param=value,...")
    overrides: dict[str, Any] = {}
    for item in split_top_level(rest) if rest.strip() else []:
        key, equals, value = item.partition("=")
        key = key.strip()
        if not equals or not key.isidentifier():
            raise FeatureSpecError(f"{spec!r}: expected param=value after {name}:, got {item.strip()!r}")
        if key == "name":
            raise FeatureSpecError(f"{spec!r}: the family is chosen by the name before ':', not by name=")
        if key in overrides:
            raise FeatureSpecError(f"{spec!r}: parameter {key} is given twice")
        overrides[key] = parse_value(value)
    return name, overrides


def split_feature_list(text: str) -> list[str]:
    """The specs of a ``--features`` value (see the module docstring), each as a string."""
    specs: list[str] = []
    for item in split_top_level(text):
        item = item.strip()
        if not item:
            continue
        if "=" in item and ":" not in item.partition("=")[0]:
            if not specs or ":" not in specs[-1]:
                raise FeatureSpecError(f"{text!r}: parameter {item!r} follows no NAME:; write NAME:{item}")
            specs[-1] = f"{specs[-1]},{item}"
        else:
            specs.append(item)
    return specs


def build_feature_config(spec: str) -> Any:
    """The configuration a spec names (:func:`features.registry.build_config`).

    Raises
    ------
    ValueError
        Bad syntax, unknown family or parameter, or a value the configuration refuses.
    """
    from features.registry import build_config

    name, overrides = parse_feature_spec(spec)
    try:
        return build_config(name, **typed_overrides(build_config(name), overrides))
    except TypeError as exc:  # a value of the wrong type, compared in a config's checks
        raise FeatureSpecError(f"{spec!r}: a value has the wrong type ({exc})") from None


def typed_overrides(defaults: Any, overrides: dict[str, Any]) -> dict[str, Any]:
    """Integers given for float parameters as floats (``fmin=0`` is ``fmin=0.0``), so that a
    spec hashes like the configuration written with the same values in Python."""
    import dataclasses

    kinds = {f.name: str(f.type) for f in dataclasses.fields(defaults)}
    return {key: float(value) if "float" in kinds.get(key, "") and type(value) is int else value
            for key, value in overrides.items()}


def feature_set_key(spec: str) -> str:
    """What ``instrec train --features`` looks up in the store: ``spec`` itself when it has no
    parameters (a family name or a key), else the key of the configuration it names."""
    if ":" not in spec:
        return spec.strip()
    from features.base import config_hash
    from storage.layout import feature_key

    config = build_feature_config(spec)
    return feature_key(config.name, config_hash(config))
