"""Part writers of the demo composer: one function per pitched role.

Every writer has the signature ``write(rng, frame, plan, start, end) -> list[Note]`` and
writes one section ``[start, end)`` (ticks, whole bars) of one part, following the song's
harmony (:class:`Frame`) and the part's own settings (:class:`PartPlan`: register,
articulation, density, voicing...).  Drums are in :mod:`pipeline.demo.drums`; lines taken
from real pieces are placed by :func:`place_line`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.demo.harmony import Chord, chord_at, chords_between, fold, pitch_near, scale_classes, voicing
from pipeline.demo.instruments import Voice
from pipeline.demo.rhythm import GAP, STEP, Meter, draw_onsets, durations, velocity
from pipeline.demo.song import Note


@dataclass(frozen=True)
class Frame:
    """What every part of a song shares: meter, key, harmony and form.

    ``sections`` are ``(start tick, end tick, letter)``; ``dynamics`` is a velocity offset
    per section.
    """

    meter: Meter
    tonic: int
    mode: str
    bpm: int
    harmony: tuple[Chord, ...]
    sections: tuple[tuple[int, int, str], ...]
    dynamics: tuple[int, ...]


@dataclass(frozen=True)
class PartPlan:
    """How one part plays (drawn per stem by the composer).

    Attributes
    ----------
    role, voice : str, Voice
    low, high : int
        The register of this stem, inside the voice's range.
    velocity : int
        Base MIDI velocity (dynamics).
    legato : float
        Note length as a fraction of the time to the next onset: 0.2 (staccato) .. 1.0.
    density : float
        0 (sparse) .. 1 (busy).
    style : str
        A writer-specific variant (``walking`` bass, ``strum`` chords, ``updown`` arpeggio...).
    n_notes : int
        Notes per chord (2..5) for chords, pads and stabs.
    spread : str
        ``close`` or ``open`` voicings.
    strum : int
        Ticks between successive notes of a strummed chord (0: struck together).
    """

    role: str
    voice: Voice
    low: int
    high: int
    velocity: int
    legato: float
    density: float
    style: str
    n_notes: int = 3
    spread: str = "close"
    strum: int = 0

    def record(self) -> dict:
        """The settings as a JSON-ready dict."""
        return {
            "register": [self.low, self.high], "velocity": self.velocity, "legato": round(self.legato, 3),
            "density": round(self.density, 3), "style": self.style, "chord_notes": self.n_notes,
            "spread": self.spread, "strum_ticks": self.strum,
        }  # fmt: skip


def _bars(frame: Frame, start: int, end: int) -> range:
    return range(start, end, frame.meter.bar)


def _accent(frame: Frame, tick: int) -> float:
    """Velocity accent of a tick from its metric weight (0..12)."""
    step = (tick % frame.meter.bar) // STEP
    return 12.0 * frame.meter.weights[step % frame.meter.steps] - 4.0


def dynamic_offset(frame: Frame, tick: int) -> int:
    """The velocity offset of the section holding ``tick``."""
    for (start, end, _), offset in zip(frame.sections, frame.dynamics):
        if start <= tick < end:
            return offset
    return 0


def _scale(frame: Frame, low: int, high: int) -> list[int]:
    classes = set(scale_classes(frame.tonic, frame.mode))
    return [p for p in range(low, high + 1) if p % 12 in classes]


def _finest(plan: PartPlan, meter: Meter) -> int:
    if meter.compound:
        return 2
    return 1 if plan.density > 0.55 else 2


def _chord_notes(
    rng: np.random.Generator, frame, plan, chord, t, length, previous, vel_base
) -> tuple[list[Note], list[int]]:
    """A voiced chord at ``t``, voice-led from ``previous`` and strummed if the plan says so."""
    centre = (plan.low + plan.high) / 2 if not previous else float(np.mean(previous))
    options = [
        voicing(chord.tones, n_notes=plan.n_notes, low=plan.low, high=plan.high, centre=centre,
                spread=plan.spread, inversion=k)
        for k in range(len(chord.tones))
    ]  # fmt: skip
    pitches = min(options, key=lambda v: abs(float(np.mean(v)) - centre) + 0.3 * rng.random())
    down = rng.random() < 0.7 or not plan.strum
    order = pitches if down else pitches[::-1]
    notes = []
    for k, pitch in enumerate(order):
        onset = t + k * plan.strum
        notes.append(
            Note(
                pitch, velocity(rng, vel_base, _accent(frame, t) - 2 * k), onset, max(onset + GAP, t + length)
            )
        )
    return notes, pitches


def write_chords(rng: np.random.Generator, frame: Frame, plan: PartPlan, start: int, end: int) -> list[Note]:
    """Comping: a rhythm cell per section, each hit a voice-led chord (block or strummed)."""
    meter = frame.meter
    if plan.style == "sustain":
        cell = [0]
    elif plan.style == "beats":
        cell = list(range(0, meter.steps, meter.beat))
    else:
        cell = draw_onsets(rng, meter, density=plan.density, finest=_finest(plan, meter))
    lengths = durations(cell, meter.steps, legato=plan.legato)
    notes, previous = [], []
    for bar in _bars(frame, start, end):
        for step, length in zip(cell, lengths):
            t = bar + step * STEP
            chord_notes, previous = _chord_notes(
                rng,
                frame,
                plan,
                chord_at(frame.harmony, t),
                t,
                length,
                previous,
                plan.velocity + dynamic_offset(frame, t),
            )
            notes += chord_notes
    return notes


def write_pad(rng: np.random.Generator, frame: Frame, plan: PartPlan, start: int, end: int) -> list[Note]:
    """Sustained chords, one per chord of the harmony (re-struck every bar or held)."""
    notes, previous = [], []
    hold = plan.style == "hold"
    for chord in chords_between(frame.harmony, start, end):
        spans = [(chord.start, chord.end)] if hold else [
            (t, min(t + frame.meter.bar, chord.end)) for t in range(chord.start, chord.end, frame.meter.bar)
        ]  # fmt: skip
        for t0, t1 in spans:
            length = max(GAP, int((t1 - t0) * min(1.0, plan.legato + 0.1)) - GAP)
            chord_notes, previous = _chord_notes(
                rng, frame, plan, chord, t0, length, previous, plan.velocity + dynamic_offset(frame, t0)
            )
            notes += chord_notes
    return notes


def write_stabs(rng: np.random.Generator, frame: Frame, plan: PartPlan, start: int, end: int) -> list[Note]:
    """Short chords on off-beats and syncopations."""
    meter = frame.meter
    offbeats = [s for s in range(meter.steps) if meter.weights[s] <= 0.5]
    if plan.style == "skank":  # every off-beat
        cell = list(range(meter.beat // 2, meter.steps, meter.beat))
    else:
        n = max(1, int(round(plan.density * 5)))
        cell = sorted(set(int(s) for s in rng.choice(offbeats, size=min(n, len(offbeats)), replace=False)))
    notes, previous = [], []
    for bar in _bars(frame, start, end):
        for step in cell:
            t = bar + step * STEP
            length = max(GAP, int(2 * STEP * plan.legato))
            chord_notes, previous = _chord_notes(
                rng,
                frame,
                plan,
                chord_at(frame.harmony, t),
                t,
                length,
                previous,
                plan.velocity + dynamic_offset(frame, t) + 6,
            )
            notes += chord_notes
    return notes


def write_arpeggio(
    rng: np.random.Generator, frame: Frame, plan: PartPlan, start: int, end: int
) -> list[Note]:
    """Broken chords: chord tones over one or two octaves in a fixed order and pace."""
    meter = frame.meter
    pace = 2 if meter.compound or plan.density < 0.5 else 1
    notes = []
    for bar in _bars(frame, start, end):
        for i in range(meter.steps // pace):
            t = bar + i * pace * STEP
            chord = chord_at(frame.harmony, t)
            base = voicing(chord.tones, n_notes=min(4, len(chord.tones)), low=plan.low, high=plan.high,
                           centre=plan.low + 8, spread="close", inversion=0)  # fmt: skip
            tones = base + [p + 12 for p in base if p + 12 <= plan.high]
            if plan.style == "down":
                tones = tones[::-1]
            elif plan.style == "updown" and len(tones) > 2:
                tones = tones + tones[-2:0:-1]
            elif plan.style == "alberti" and len(base) >= 3:
                tones = [base[0], base[2], base[1], base[2]]
            pitch = tones[i % len(tones)]
            length = max(GAP, int(pace * STEP * (0.4 + plan.legato)))
            notes.append(
                Note(
                    pitch,
                    velocity(rng, plan.velocity + dynamic_offset(frame, t), _accent(frame, t) * 0.6),
                    t,
                    t + length,
                )
            )
    return notes


def write_riff(rng: np.random.Generator, frame: Frame, plan: PartPlan, start: int, end: int) -> list[Note]:
    """An ostinato: a one-bar figure of chord tones, moved with the chord root (or kept)."""
    meter = frame.meter
    cell = draw_onsets(rng, meter, density=max(0.35, plan.density), finest=_finest(plan, meter))
    lengths = durations(cell, meter.steps, legato=plan.legato)
    figure = [int(rng.choice((0, 0, 0, 1, 2, 2, 3, 4))) for _ in cell]  # chord-tone index, 4 = octave
    pedal = plan.style == "pedal"
    notes = []
    for bar in _bars(frame, start, end):
        chord = chord_at(frame.harmony, frame.harmony[0].start if pedal else bar)
        root = pitch_near(chord.root, plan.low + 5, plan.low, plan.high)
        for step, length, index in zip(cell, lengths, figure):
            t = bar + step * STEP
            if index == 4:
                pitch = root + 12 if root + 12 <= plan.high else root
            else:
                tone = chord.tones[index % len(chord.tones)]
                pitch = fold(root + (tone - chord.root) % 12, plan.low, plan.high)
            notes.append(
                Note(
                    pitch,
                    velocity(rng, plan.velocity + dynamic_offset(frame, t), _accent(frame, t)),
                    t,
                    t + length,
                )
            )
    return notes


def write_bass(rng: np.random.Generator, frame: Frame, plan: PartPlan, start: int, end: int) -> list[Note]:
    """A bass-register line: sustained roots, root-fifth, octaves, walking or a riff."""
    meter = frame.meter
    if plan.style == "riff":
        return write_riff(rng, frame, plan, start, end)
    target = plan.low + 5
    notes = []
    previous = None
    for bar in _bars(frame, start, end):
        if plan.style == "root":
            spans = [(c.start, c.end, 0) for c in chords_between(frame.harmony, bar, bar + meter.bar)]
        elif plan.style == "root_fifth":
            half = meter.bar // 2 if meter.numerator != 3 else meter.bar // 3
            spans = [(t, t + half, k % 2 * 2) for k, t in enumerate(range(bar, bar + meter.bar, half))]
        elif plan.style == "octaves":
            spans = [
                (t, t + 2 * STEP, k % 2 * 3) for k, t in enumerate(range(bar, bar + meter.bar, 2 * STEP))
            ]
        else:  # walking: one note a beat (a dotted quarter in 6/8), chord tones on the downbeat
            beat = meter.beat * STEP if not meter.compound else 3 * STEP
            spans = [(t, t + beat, -1 if k else 0) for k, t in enumerate(range(bar, bar + meter.bar, beat))]
        for t0, t1, tone in spans:
            chord = chord_at(frame.harmony, t0)
            root = pitch_near(chord.root, target if previous is None else previous, plan.low, plan.high)
            if tone == 0:
                pitch = root
            elif tone == 2:
                pitch = pitch_near(chord.tones[2 % len(chord.tones)], root + 7, plan.low, plan.high)
            elif tone == 3:
                pitch = root + 12 if root + 12 <= plan.high else root
            else:  # walking: a scale step toward the next chord's root, or a chord tone
                nxt = chord_at(frame.harmony, t1)
                goal = pitch_near(nxt.root, previous or root, plan.low, plan.high)
                step = int(np.sign(goal - (previous or root))) or int(rng.choice((-1, 1)))
                scale = _scale(frame, plan.low, plan.high)
                here = previous or root
                candidates = [p for p in scale if 0 < (p - here) * step <= 4] or [root]
                pitch = candidates[0] if step > 0 else candidates[-1]
                if t1 % meter.bar == 0 and abs(goal - here) <= 2:
                    pitch = goal + (-1 if goal > here else 1)  # chromatic approach
                pitch = int(min(max(pitch, plan.low), plan.high))
            length = max(GAP, int((t1 - t0) * plan.legato) - GAP)
            notes.append(
                Note(
                    pitch,
                    velocity(rng, plan.velocity + dynamic_offset(frame, t0), _accent(frame, t0)),
                    t0,
                    t0 + length,
                )
            )
            previous = pitch
    return notes


def write_melody(rng: np.random.Generator, frame: Frame, plan: PartPlan, start: int, end: int) -> list[Note]:
    """A phrase from two one-bar rhythm cells; chord tones on strong beats, steps between."""
    meter = frame.meter
    finest = _finest(plan, meter)
    cells = [draw_onsets(rng, meter, density=0.15 + 0.7 * plan.density, finest=finest) for _ in range(2)]
    shape = ((0, 0, 0, 1), (0, 1, 0, 1), (0, 1, 1, 0), (0, 0, 1, 1))[int(rng.integers(4))]
    scale = _scale(frame, plan.low, plan.high)
    index = len(scale) // 2
    bars = list(_bars(frame, start, end))
    notes = []
    for b, bar in enumerate(bars):
        cell = cells[shape[b % 4]]
        if b == len(bars) - 1 and len(cell) > 1 and rng.random() < 0.6:
            cell = cell[: max(1, len(cell) // 2)]  # end the phrase on a long note
        for step, length in zip(cell, durations(cell, meter.steps, legato=plan.legato)):
            t = bar + step * STEP
            if notes and rng.random() < 0.08:
                continue  # a rest
            chord = chord_at(frame.harmony, t)
            if meter.weights[step] >= 0.6:
                tones = [j for j, p in enumerate(scale) if p % 12 in chord.tones]
                index = min(tones, key=lambda j: abs(j - index)) if tones else index
            else:
                leap = rng.random() < 0.12
                index += int(rng.choice((-4, -3, 3, 4) if leap else (-2, -1, -1, 1, 1, 2)))
            if index < 0 or index >= len(scale):  # bounce off the ends of the register
                index = -index if index < 0 else 2 * (len(scale) - 1) - index
                index = int(np.clip(index, 0, len(scale) - 1))
            notes.append(
                Note(
                    scale[index],
                    velocity(rng, plan.velocity + dynamic_offset(frame, t), _accent(frame, t)),
                    t,
                    t + length,
                )
            )
    return notes


def write_counter(rng: np.random.Generator, frame: Frame, plan: PartPlan, start: int, end: int) -> list[Note]:
    """A slower line of guide tones (thirds and sevenths), moving by the smallest step."""
    meter = frame.meter
    cell = draw_onsets(
        rng, meter, density=0.2 + 0.5 * plan.density, finest=meter.beat if plan.density < 0.5 else 2
    )
    lengths = durations(cell, meter.steps, legato=max(plan.legato, 0.6))
    previous = (plan.low + plan.high) / 2
    notes = []
    for bar in _bars(frame, start, end):
        for step, length in zip(cell, lengths):
            t = bar + step * STEP
            chord = chord_at(frame.harmony, t)
            guides = [chord.tones[i] for i in (1, 3, 2) if i < len(chord.tones)]
            options = [pitch_near(pc, previous, plan.low, plan.high) for pc in guides]
            pitch = min(options, key=lambda p: (abs(p - previous) + 2 * rng.random(), p))
            notes.append(
                Note(
                    pitch,
                    velocity(rng, plan.velocity + dynamic_offset(frame, t), _accent(frame, t) * 0.5),
                    t,
                    t + length,
                )
            )
            previous = pitch
    return notes


WRITERS = {
    "bass": write_bass,
    "melody": write_melody,
    "counter": write_counter,
    "chords": write_chords,
    "pad": write_pad,
    "arpeggio": write_arpeggio,
    "riff": write_riff,
    "stabs": write_stabs,
}

STYLES = {
    "bass": ("root", "root_fifth", "octaves", "walking", "riff"),
    "melody": ("phrase",),
    "counter": ("guide",),
    "chords": ("cell", "cell", "beats", "sustain"),
    "pad": ("hold", "bars"),
    "arpeggio": ("up", "down", "updown", "alberti"),
    "riff": ("follow", "follow", "pedal"),
    "stabs": ("offbeat", "skank"),
}


def place_line(
    rng: np.random.Generator,
    frame: Frame,
    plan: PartPlan,
    line: list[tuple[int, int, int]],
    *,
    start: int,
    end: int,
) -> list[Note]:
    """A real voice (``(pitch, start, end)`` in song ticks, already in the song's key) in one
    section, moved by octaves into the plan's register, with the plan's articulation."""
    if not line:
        return []
    pitches = [p for p, _, _ in line]
    centre = (plan.low + plan.high) / 2
    best = min(range(-4, 5), key=lambda o: (-sum(plan.low <= p + 12 * o <= plan.high for p in pitches),
                                            abs(float(np.mean(pitches)) + 12 * o - centre)))  # fmt: skip
    notes = []
    for pitch, on, off in line:
        if not start <= on < end:
            continue
        placed = fold(pitch + 12 * best, plan.voice.low, plan.voice.high)
        length = max(GAP, int((min(off, end) - on) * plan.legato))
        notes.append(
            Note(
                placed,
                velocity(rng, plan.velocity + dynamic_offset(frame, on), _accent(frame, on) * 0.6),
                on,
                on + length,
            )
        )
    return notes
