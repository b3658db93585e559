"""Frame activity labels: from notes, or from what a stem makes audible.

Two definitions of "an instrument is active at frame ``i``", chosen per store:

``notes`` (default)
    A note of the instrument sounds at frame ``i``'s centre time (MIDI note on .. note off, as
    the reference datasets annotate).  Short notes give short labels: a drum hit is labelled
    for the ~80 ms of its MIDI note, not for its decay.
``stem-energy``
    MedleyDB-style: the instrument's own stem is loud at frame ``i``.  The stem's energy is
    measured on the frame grid (RMS over ``window_s`` centred on each frame, in dBFS); a frame
    is active when its energy lies within ``threshold_db`` of the stem's loud level (the
    ``loud_percentile`` percentile of its frame energies) and above ``floor_db``.  Drum decays,
    sustained releases and pedalled notes count; silence inside a note does not.

Everything here is pure (arrays in, arrays out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from features.choices import ACTIVITY_MODES, ACTIVITY_THRESHOLD_DB
from features.grid import FrameGrid


@dataclass(frozen=True)
class ActivityConfig:
    """How frame labels are made (see the module docstring).

    Parameters
    ----------
    mode : {"notes", "stem-energy"}
    threshold_db : float
        ``stem-energy``: a frame is active within this many dB of the stem's loud level.
    loud_percentile : float
        ``stem-energy``: the percentile of the stem's frame energies taken as its loud level.
    floor_db : float
        ``stem-energy``: frames below this absolute level (dBFS RMS) are never active.
    window_s : float
        ``stem-energy``: length of the RMS window centred on each frame.
    """

    mode: str = "notes"
    threshold_db: float = ACTIVITY_THRESHOLD_DB
    loud_percentile: float = 95.0
    floor_db: float = -70.0
    window_s: float = 0.046

    def __post_init__(self) -> None:
        if self.mode not in ACTIVITY_MODES:
            raise ValueError(f"activity mode must be one of {', '.join(ACTIVITY_MODES)}, got {self.mode!r}")
        if not self.threshold_db > 0:
            raise ValueError(f"threshold_db must be positive, got {self.threshold_db}")
        if not 0 < self.loud_percentile <= 100:
            raise ValueError(f"loud_percentile must be in (0, 100], got {self.loud_percentile}")
        if not self.window_s > 0:
            raise ValueError(f"window_s must be positive, got {self.window_s}")

    @property
    def needs_stem_audio(self) -> bool:
        """True when labels depend on the stems' audio (so the stems are part of a track's sources)."""
        return self.mode == "stem-energy"

    def to_json(self) -> dict[str, Any]:
        if self.mode == "notes":
            return {"mode": "notes"}
        return {"mode": self.mode, "threshold_db": self.threshold_db, "loud_percentile": self.loud_percentile,
                "floor_db": self.floor_db, "window_s": self.window_s}

    @classmethod
    def from_json(cls, doc: dict[str, Any] | None) -> "ActivityConfig":
        return cls(**(doc or {}))

    def describe(self) -> str:
        if self.mode == "notes":
            return "notes (MIDI note on .. off)"
        return (f"stem-energy (within {self.threshold_db:g} dB of the stem's {self.loud_percentile:g}th-percentile "
                f"frame level, above {self.floor_db:g} dBFS)")


def frame_energy_db(y: np.ndarray, grid: FrameGrid, n_frames: int, *, window_s: float = 0.046) -> np.ndarray:
    """RMS level of ``y`` around each frame centre, in dBFS.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Mono audio at ``grid.sr``.
    grid : FrameGrid
    n_frames : int
        Frames to measure (the feature set's count for this audio).
    window_s : float
        RMS window length, centred on each frame (zeros outside the signal).

    Returns
    -------
    np.ndarray [shape=(n_frames,), dtype=float32]
        ``10 log10(mean(y^2) + 1e-12)`` over each window.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n_samples,), got {y.shape}")
    half = max(1, int(round(window_s * grid.sr / 2)))
    cumulative = np.concatenate([[0.0], np.cumsum(y * y)])
    centres = np.round(grid.times(n_frames) * grid.sr).astype(np.int64)
    lo = np.clip(centres - half, 0, len(y))
    hi = np.clip(centres + half, 0, len(y))
    power = (cumulative[hi] - cumulative[lo]) / (2 * half)
    return (10.0 * np.log10(power + 1e-12)).astype(np.float32)


def energy_activity(energy_db: np.ndarray, config: ActivityConfig) -> np.ndarray:
    """Active frames of one stem from its frame energies (``stem-energy``).

    Parameters
    ----------
    energy_db : np.ndarray [shape=(n_frames,)]
        From :func:`frame_energy_db`.
    config : ActivityConfig

    Returns
    -------
    np.ndarray [shape=(n_frames,), dtype=uint8]
        1 where the frame is within ``threshold_db`` of the loud level and above ``floor_db``;
        all 0 for a stem that never rises above the floor.
    """
    energy_db = np.asarray(energy_db, dtype=np.float64)
    audible = energy_db >= config.floor_db
    if not audible.any():
        return np.zeros(len(energy_db), dtype=np.uint8)
    loud = float(np.percentile(energy_db[audible], config.loud_percentile))
    return (audible & (energy_db >= loud - config.threshold_db)).astype(np.uint8)
