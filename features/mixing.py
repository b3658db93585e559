"""Mixing sources in the feature domain: log features of stems -> log features of their sum.

Summing independent sources adds their power in each time-frequency bin (in expectation; the
cross terms of the complex spectra average out), so a mixture's log-mel (or scalogram) is
computed from its stems' by going back to power, adding, and taking the log again: a
log-sum-exp.  This lets training build new mixtures from stored stem features without
touching audio.  The error against extracting the real summed audio (phase interference
where two stems share a bin, float16 storage, the dB floor) is measured by
``benchmarks/bench_remix_error.py``.

Supported: ``logmel`` (``scale="db"`` for any ``power``, and ``scale="log_offset"``) and
``scalogram`` (``20 log10`` of magnitudes).  Pure functions, arrays in and out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np


@dataclass(frozen=True)
class MixingDomain:
    """How a feature family's values relate to power: ``x = scale * log10(P) + offset`` (``db``),
    or ``x = log(P ** (power / 2) + log_offset)`` (``log_offset``), floored at ``floor``."""

    kind: str
    scale: float = 10.0
    offset: float = 0.0
    floor: float = -np.inf
    power: float = 2.0
    log_offset: float = 0.01

    def to_power(self, x: np.ndarray) -> np.ndarray:
        """Power of each bin; bins at the floor count as silence (0), so mixing silences stays at the floor."""
        x = np.asarray(x, dtype=np.float64)
        if self.kind == "db":
            return np.where(x > self.floor, np.power(10.0, (x - self.offset) / self.scale), 0.0)
        return np.maximum(np.exp(x) - self.log_offset, 0.0) ** (2.0 / self.power)

    def from_power(self, p: np.ndarray) -> np.ndarray:
        p = np.maximum(np.asarray(p, dtype=np.float64), 1e-30)
        if self.kind == "db":
            x = self.scale * np.log10(p) + self.offset
        else:
            x = np.log(p ** (self.power / 2.0) + self.log_offset)
        return np.maximum(x, self.floor).astype(np.float32)


def mixing_domain(params: Mapping[str, Any]) -> MixingDomain:
    """The :class:`MixingDomain` of a feature set from its stored parameters.

    Raises
    ------
    ValueError
        For families whose frames are not log powers (VGGish embeddings, ...): they cannot be mixed.
    """
    name = params.get("name")
    if name in ("logmel", "logmel-vggish") and params.get("scale", "db") == "db":
        power = float(params.get("power", 2.0))
        return MixingDomain("db", scale=5.0 * power, offset=-10.0 * np.log10(float(params.get("ref", 1.0))),
                            floor=float(params.get("floor_db", -100.0)), power=power)
    if name in ("logmel", "logmel-vggish"):
        return MixingDomain("log_offset", power=float(params.get("power", 2.0)),
                            log_offset=float(params.get("log_offset", 0.01)))
    if name == "scalogram":
        ref = float(params.get("ref", 1.0))
        return MixingDomain("db", scale=10.0, offset=-20.0 * np.log10(ref),
                            floor=20.0 * np.log10(float(params.get("amin", 1e-10)) / ref))
    raise ValueError(f"feature set {name!r} holds no log powers, so stems cannot be mixed in it; "
                     "remix log-mel or scalogram features")


def mix_frames(frames: Sequence[np.ndarray], gains_db: Sequence[float], domain: MixingDomain) -> np.ndarray:
    """The features of a mixture of sources from each source's features.

    Parameters
    ----------
    frames : sequence of np.ndarray [shape=(T, F)]
        Each source's log features on the same grid.
    gains_db : sequence of float
        Gain applied to each source before summing (dB of power).
    domain : MixingDomain

    Returns
    -------
    np.ndarray [shape=(T, F), dtype=float32]
    """
    if len(frames) != len(gains_db) or not frames:
        raise ValueError(f"need one gain per source and at least one source, got {len(frames)} and {len(gains_db)}")
    total = np.zeros(np.shape(frames[0]), dtype=np.float64)
    for x, gain in zip(frames, gains_db):
        total += domain.to_power(x) * 10.0 ** (float(gain) / 10.0)
    return domain.from_power(total)
