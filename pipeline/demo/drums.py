"""Generative drum parts: a groove drawn per song, varied per section, with fills.

A groove (:func:`draw_groove`) picks a kit voice for kick, snare and time-keeper (closed,
pedal or open hi-hat, ride, shaker...), a backbeat for the meter (normal or half time),
kick syncopation, ghost notes and an optional hand-percussion layer (congas, bongos,
tambourine, cowbell, claves...).  :func:`write_drums` plays it for one section: a second
bar variant, crashes on section starts, and a fill (tom run, snare roll or a mix) into the
next section.  Keys are General MIDI percussion keys (channel 10).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.demo.parts import Frame, PartPlan, dynamic_offset
from pipeline.demo.rhythm import STEP, Meter, draw_onsets, velocity
from pipeline.demo.song import Note

_HIT = STEP // 2  # drum notes are short: the label marks the stroke
_TOMS = (50, 48, 47, 45, 43, 41)
_PERCUSSION = (54, 56, 60, 61, 62, 63, 64, 69, 70, 75, 76, 77, 81, 82)


@dataclass(frozen=True)
class Groove:
    """One song's drum pattern: ``hits`` maps a GM key to ``(step, accent)`` per bar variant."""

    name: str
    bars: tuple[dict[int, tuple[tuple[int, float], ...]], ...]
    crash: int
    fill_rate: float


def draw_groove(rng: np.random.Generator, meter: Meter) -> Groove:
    """A drum pattern for the meter (two bar variants)."""
    steps = meter.steps
    kick = int(rng.choice((36, 35), p=(0.7, 0.3)))
    snare = int(rng.choice((38, 40, 37, 39), p=(0.6, 0.15, 0.12, 0.13)))
    keeper = int(rng.choice((42, 44, 51, 46, 82, 70), p=(0.5, 0.08, 0.24, 0.04, 0.08, 0.06)))
    style = str(rng.choice(("backbeat", "halftime", "floor", "sparse"), p=(0.55, 0.15, 0.2, 0.1)))
    if meter.compound:
        backbeat = [6]
    elif meter.numerator == 3:
        backbeat = [4, 8] if rng.random() < 0.5 else [8]
    else:
        backbeat = [8] if style == "halftime" else [4, 12]
    rate = int(rng.choice((1, 2, 4) if not meter.compound else (2, 2, 6)))
    syncopation = float(rng.uniform(0.0, 0.6))
    ghosts = rng.random() < 0.3
    percussion = int(rng.choice(_PERCUSSION)) if rng.random() < 0.35 else None
    percussion_cell = (
        draw_onsets(rng, meter, density=float(rng.uniform(0.3, 0.7)), finest=1) if percussion else []
    )
    bars = []
    for _variant in range(2):
        hits: dict[int, list[tuple[int, float]]] = {}
        if style == "floor":
            kicks = list(range(0, steps, meter.beat))
        else:
            kicks = [0] + [
                s
                for s in range(2, steps, 2)
                if s not in backbeat and rng.random() < syncopation * meter.weights[s]
            ]
        hits[kick] = [(s, 1.0) for s in kicks]
        if style != "sparse":
            hits[snare] = [(s, 1.0) for s in backbeat]
            if ghosts:
                hits[snare] += [
                    (s, 0.35) for s in range(1, steps, 2) if s not in backbeat and rng.random() < 0.15
                ]
        hits[keeper] = [
            (s, 0.6 + 0.4 * meter.weights[s]) for s in range(0, steps, rate) if rng.random() > 0.06
        ]
        if keeper == 42 and rng.random() < 0.3:  # an open hi-hat on one off-beat
            off = [s for s in range(2, steps, 4)] or [2]
            step = int(rng.choice(off))
            hits[keeper] = [h for h in hits[keeper] if h[0] != step]
            hits[46] = [(step, 0.8)]
        if percussion:
            hits[percussion] = [(s, 0.5 + 0.5 * meter.weights[s]) for s in percussion_cell]
        bars.append({key: tuple(sorted(set(v))) for key, v in hits.items()})
    crash = int(rng.choice((49, 57, 55, 52), p=(0.6, 0.2, 0.1, 0.1)))
    return Groove(style, tuple(bars), crash, float(rng.uniform(0.3, 0.8)))


def _fill(rng: np.random.Generator, meter: Meter) -> tuple[int, list[tuple[int, int, float]]]:
    """(first step of the fill, [(step, key, accent)]): a tom run, a snare roll or a mix."""
    beats = int(rng.choice((1, 2, meter.steps // meter.beat)))
    first = max(0, meter.steps - beats * meter.beat)
    kind = str(rng.choice(("toms", "snare", "mixed")))
    pace = int(rng.choice((1, 2)))
    out = []
    for k, step in enumerate(range(first, meter.steps, pace)):
        rise = 0.6 + 0.4 * (step - first) / max(1, meter.steps - first)
        if kind == "toms":
            key = _TOMS[min(len(_TOMS) - 1, k * len(_TOMS) // max(1, (meter.steps - first) // pace))]
        elif kind == "snare":
            key = 38
        else:
            key = 38 if k % 2 == 0 else _TOMS[(k // 2) % len(_TOMS)]
        out.append((step, key, rise))
    return first, out


def write_drums(
    rng: np.random.Generator,
    frame: Frame,
    plan: PartPlan,
    start: int,
    end: int,
    *,
    groove: Groove,
    fill: bool,
) -> list[Note]:
    """One section of drums: the groove (bar variants alternate), a crash on the first
    downbeat and, when ``fill``, a fill in the last bar."""
    meter = frame.meter
    bars = list(range(start, end, meter.bar))
    notes = []
    for b, bar in enumerate(bars):
        pattern = groove.bars[b % 2 if plan.density > 0.4 else 0]
        hits = [(step, key, accent) for key, steps in pattern.items() for step, accent in steps]
        if b == len(bars) - 1 and fill and rng.random() < groove.fill_rate:
            first, fill_hits = _fill(rng, meter)
            hits = [h for h in hits if h[0] < first or h[1] in (35, 36)] + fill_hits
        if b == 0 and rng.random() < 0.7:
            hits.append((0, groove.crash, 1.0))
        base = plan.velocity + dynamic_offset(frame, bar)
        for step, key, accent in hits:
            t = bar + step * STEP
            notes.append(Note(key, velocity(rng, base * accent + 10 * meter.weights[step] - 4), t, t + _HIT))
    return notes
