"""Feature-set names -> configurations.

One line per family in :func:`_families`: a name, and a factory taking keyword overrides and
returning a frozen, validated configuration.  The store records ``config_params(config)``;
:func:`config_from_params` rebuilds the same configuration from those parameters.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from features.base import FeatureConfig
from features.choices import FEATURE_SETS

Factory = Callable[..., FeatureConfig]


def _logmel(**overrides: Any) -> FeatureConfig:
    from features.logmel import LogMelConfig

    return LogMelConfig(**overrides)


def _logmel_vggish(**overrides: Any) -> FeatureConfig:
    from features.logmel import LogMelConfig

    return dataclasses.replace(LogMelConfig.vggish(), **overrides)


def _scalogram(**overrides: Any) -> FeatureConfig:
    from features.scalogram import ScalogramConfig

    return ScalogramConfig(**overrides)


def _vggish(**overrides: Any) -> FeatureConfig:
    """``checkpoint=`` / ``pca_params=`` (bytes, file object or path) load the weights."""
    from features.vggish import VGGishConfig

    return VGGishConfig(**overrides)


def _vggish_input(**overrides: Any) -> FeatureConfig:
    """VGGish's own log-mel input frames (what ``pretrain-embedding`` trains on)."""
    from features.vggish import VGGishInputConfig

    return VGGishInputConfig(**overrides)


def _musicnn(**overrides: Any) -> FeatureConfig:
    """musicnn embeddings; ``checkpoint=`` (a ``MusicnnCheckpoint``) gives the weights."""
    from features.musicnn import MusicnnConfig

    return MusicnnConfig(**overrides)


def _families() -> dict[str, Factory]:
    """Family name -> factory.  One line per family."""
    return {
        "logmel": _logmel,
        "logmel-vggish": _logmel_vggish,
        "musicnn": _musicnn,
        "scalogram": _scalogram,
        "vggish": _vggish,
        "vggish-input": _vggish_input,
    }


def feature_names() -> tuple[str, ...]:
    """Names :func:`build_config` accepts."""
    return tuple(_families())


if feature_names() != FEATURE_SETS:  # the command line offers features.choices.FEATURE_SETS
    raise ImportError(f"features.registry builds {feature_names()}, features.choices.FEATURE_SETS lists "
                      f"{FEATURE_SETS}; add the feature set to both")


def build_config(name: str, **overrides: Any) -> FeatureConfig:
    """The configuration of feature family ``name`` with parameters overridden.

    Raises
    ------
    ValueError
        Unknown family or unknown parameter; the message lists what is accepted.
    """
    families = _families()
    if name not in families:
        raise ValueError(f"unknown feature set {name!r}; choose one of {', '.join(families)}")
    try:
        return families[name](**overrides)
    except TypeError as exc:
        raise ValueError(f"feature set {name!r}: bad parameter ({exc})") from exc


def config_from_params(params: dict[str, Any]) -> FeatureConfig:
    """Rebuild a configuration from ``features.base.config_params(config)``.

    Lists are turned back into tuples so the rebuilt frozen dataclass hashes like the original.
    """
    params = dict(params)
    name = params.pop("name", None)
    if name is None:
        raise ValueError(f"feature parameters have no 'name': {sorted(params)}")
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    return build_config(name, **overrides)
