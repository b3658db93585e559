"""Meter, feel and rhythm cells of the demo composer (plain data, numpy generators).

Times are MIDI ticks at :data:`TICKS_PER_BEAT` per quarter note.  Every meter is cut into
sixteenth-note steps (:data:`STEP` ticks): 16 steps a bar in 4/4, 12 in 3/4 and in 6/8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TICKS_PER_BEAT = 480
STEP = TICKS_PER_BEAT // 4  # a sixteenth note
GAP = TICKS_PER_BEAT // 16  # the shortest note, and a breath between legato notes

FEELS = ("straight", "swing", "shuffle")


@dataclass(frozen=True)
class Meter:
    """A time signature as the composer uses it.

    Attributes
    ----------
    numerator, denominator : int
        As written to the MIDI ``time_signature`` event.
    steps : int
        Sixteenth-note steps in a bar.
    beat : int
        Steps in one counted beat (4 for x/4, 6 for the dotted quarter of 6/8).
    weights : tuple[float, ...]
        Metric weight of each step, 1.0 on the downbeat.
    """

    numerator: int
    denominator: int
    steps: int
    beat: int
    weights: tuple[float, ...]

    @property
    def bar(self) -> int:
        """Ticks in one bar."""
        return self.steps * STEP

    @property
    def compound(self) -> bool:
        return self.beat == 6

    @property
    def name(self) -> str:
        return f"{self.numerator}/{self.denominator}"


METERS = {
    "4/4": Meter(4, 4, 16, 4, (1.0, .2, .4, .2, .6, .2, .4, .2, .8, .2, .4, .2, .6, .2, .4, .2)),
    "3/4": Meter(3, 4, 12, 4, (1.0, .2, .4, .2, .6, .2, .4, .2, .6, .2, .4, .2)),
    "6/8": Meter(6, 8, 12, 6, (1.0, .2, .5, .2, .5, .2, .8, .2, .5, .2, .5, .2)),
}  # fmt: skip


def draw_meter(rng: np.random.Generator) -> Meter:
    """4/4 (60 %), 3/4 (20 %) or 6/8 (20 %)."""
    return METERS[str(rng.choice(("4/4", "3/4", "6/8"), p=(0.6, 0.2, 0.2)))]


def draw_feel(rng: np.random.Generator, meter: Meter) -> tuple[str, float, int]:
    """(feel, ratio, unit): swung offbeats of ``unit`` ticks land at ``ratio`` of the pair.

    Straight 65 %; swing (eighths or sixteenths, ratio 0.56-0.64) 20 %; shuffle (triplet
    eighths, ratio 2/3) 15 %.  Compound meters (6/8) are always straight.
    """
    if meter.compound:
        return "straight", 0.5, TICKS_PER_BEAT
    feel = str(rng.choice(FEELS, p=(0.65, 0.2, 0.15)))
    if feel == "swing":
        unit = TICKS_PER_BEAT if rng.random() < 0.6 else TICKS_PER_BEAT // 2
        return feel, round(float(rng.uniform(0.56, 0.64)), 3), unit
    if feel == "shuffle":
        return feel, 2 / 3, TICKS_PER_BEAT
    return feel, 0.5, TICKS_PER_BEAT


def warp(tick: int, ratio: float, unit: int) -> int:
    """Swing a tick: inside each ``unit``, the first half is stretched to ``ratio`` of it.

    Monotone and the identity at every ``unit`` boundary, so notes keep their order and a
    straight feel (ratio 0.5) changes nothing.
    """
    if ratio == 0.5:
        return tick
    base, offset = divmod(tick, unit)
    half = unit / 2
    if offset <= half:
        moved = offset * ratio / 0.5
    else:
        moved = unit * ratio + (offset - half) * (1 - ratio) / 0.5
    return int(base * unit + round(moved))


def draw_onsets(rng: np.random.Generator, meter: Meter, *, density: float, finest: int = 1) -> list[int]:
    """Onset steps of a one-bar rhythm cell, the downbeat most likely.

    Parameters
    ----------
    density : float
        0 (sparse) .. 1 (every allowed step).
    finest : int
        Smallest step between onsets, in sixteenths (1, 2 for eighths, ``meter.beat``...).
    """
    steps = [s for s in range(0, meter.steps, finest)]
    weights = np.array([meter.weights[s] for s in steps])
    prob = np.clip(density * (0.35 + weights), 0.0, 1.0)
    chosen = [s for s, p in zip(steps, prob) if rng.random() < p]
    if not chosen:
        chosen = [0]
    return chosen


def durations(onsets: list[int], bar_steps: int, *, legato: float) -> list[int]:
    """Length in ticks of each onset's note: ``legato`` of the gap to the next onset."""
    out = []
    for i, step in enumerate(onsets):
        nxt = onsets[i + 1] if i + 1 < len(onsets) else bar_steps
        span = (nxt - step) * STEP
        out.append(max(GAP, int(span * legato) - (GAP if legato >= 0.95 else 0)))
    return out


def velocity(rng: np.random.Generator, base: int, accent: float = 0.0, spread: int = 6) -> int:
    """A MIDI velocity around ``base`` plus ``accent`` (in velocity units), within 20..127."""
    return int(np.clip(round(base + accent + rng.integers(-spread, spread + 1)), 20, 127))
