"""Keys, chords, progressions and voicings of the demo composer (pure functions).

A song's harmony is a tuple of :class:`Chord` spans covering the song.  Generative songs draw
it from diatonic progressions (:func:`progression_harmony`); songs built on a real piece take
it from the piece: a melody is harmonised (:func:`harmonise`), a chorale's voices are read
as chords (:func:`chords_from_voices`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
SCALES = {"maj": (0, 2, 4, 5, 7, 9, 11), "min": (0, 2, 3, 5, 7, 8, 10)}
# Progressions as 0-based scale degrees, one per harmonic-rhythm slot, cycled in a section.
PROGRESSIONS = {
    "maj": (
        (0, 4, 5, 3), (0, 5, 3, 4), (1, 4, 0, 5), (0, 3, 4, 4), (0, 2, 3, 4), (3, 4, 2, 5),
        (0, 3), (0, 4), (0, 3, 0, 4), (5, 3, 0, 4), (0, 5, 1, 4), (0, 1, 2, 3, 4, 3, 1, 4),
        (0, 0, 3, 4), (3, 0, 4, 0), (0, 6, 5, 4),
    ),
    "min": (
        (0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 4), (0, 3, 6, 2), (5, 6, 0, 0), (0, 4, 3, 4),
        (0, 3), (0, 6), (0, 5, 6, 0), (0, 3, 0, 4), (3, 4, 0, 0), (0, 2, 5, 4), (0, 6, 5, 6),
    ),
}  # fmt: skip
# Chord templates (intervals above the root) used to read chords out of real voices.
_TEMPLATES = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "dom7": (0, 4, 7, 10),
    "min7": (0, 3, 7, 10), "maj7": (0, 4, 7, 11),
}  # fmt: skip


@dataclass(frozen=True)
class Chord:
    """A chord over ``[start, end)`` ticks: its root and its tones (pitch classes, root first,
    then stacked thirds: third, fifth, seventh, ninth)."""

    start: int
    end: int
    root: int
    tones: tuple[int, ...]


def key_name(tonic: int, mode: str) -> str:
    """A key as AAM writes it, e.g. ``Gmaj`` or ``C#min``."""
    return f"{PITCH_NAMES[tonic % 12]}{mode}"


def scale_classes(tonic: int, mode: str) -> tuple[int, ...]:
    return tuple((tonic + step) % 12 for step in SCALES[mode])


def diatonic_tones(
    tonic: int, mode: str, degree: int, size: int = 3, *, sus: bool = False
) -> tuple[int, ...]:
    """Pitch classes of the chord on a scale degree: ``size`` stacked thirds (3..5).

    In minor the dominant (degree 4) takes the leading tone (harmonic minor), and a
    ``sus`` chord has the fourth instead of the third.
    """
    scale = SCALES[mode]
    tones = [(tonic + scale[(degree + 2 * i) % 7]) % 12 for i in range(size)]
    if mode == "min" and degree == 4:
        tones[1] = (tones[1] + 1) % 12
    if sus:
        tones[1] = (tonic + scale[(degree + 3) % 7]) % 12
    return tuple(tones)


def progression_harmony(
    rng: np.random.Generator,
    *,
    tonic: int,
    mode: str,
    sections: list[tuple[int, int, str]],
    slot: int,
) -> tuple[Chord, ...]:
    """Chords for generative sections: one progression per form letter, ``slot`` ticks a chord.

    Parameters
    ----------
    sections : list of (start tick, end tick, letter)
    slot : int
        Harmonic rhythm in ticks (half a bar, a bar or two bars).
    """
    letters = sorted({letter for _, _, letter in sections})
    options = PROGRESSIONS[mode]
    progression = {letter: options[int(rng.integers(len(options)))] for letter in letters}
    size = int(rng.choice((3, 4, 5), p=(0.5, 0.35, 0.15)))  # triads, sevenths or ninths
    sus_rate = float(rng.choice((0.0, 0.1)))
    chords = []
    for start, end, letter in sections:
        degrees = progression[letter]
        for k, t in enumerate(range(start, end, slot)):
            degree = degrees[k % len(degrees)]
            n_tones = 3 if degree == 6 else size  # keep the diminished vii a triad
            tones = diatonic_tones(tonic, mode, degree, n_tones, sus=rng.random() < sus_rate)
            chords.append(Chord(t, min(t + slot, end), tones[0], tones))
    return tuple(chords)


def chord_at(harmony: tuple[Chord, ...], tick: int) -> Chord:
    """The chord sounding at ``tick`` (the last one past the end)."""
    for chord in harmony:
        if chord.start <= tick < chord.end:
            return chord
    return harmony[-1] if tick >= harmony[-1].end else harmony[0]


def chords_between(harmony: tuple[Chord, ...], start: int, end: int) -> list[Chord]:
    """Chords overlapping ``[start, end)``, clipped to it."""
    return [
        Chord(max(c.start, start), min(c.end, end), c.root, c.tones)
        for c in harmony
        if c.end > start and c.start < end
    ]


def _weights(lines, start: int, end: int, strong: set[int], bass_weight: float = 1.0) -> np.ndarray:
    """Pitch-class weights of ``(pitch, start, end)`` notes in a window: overlap, more on strong ticks."""
    weights = np.zeros(12)
    for index, line in enumerate(lines):
        scale = bass_weight if index == len(lines) - 1 and len(lines) > 1 else 1.0
        for pitch, on, off in line:
            overlap = min(off, end) - max(on, start)
            if overlap > 0:
                weights[pitch % 12] += overlap * scale * (1.5 if on in strong else 1.0)
    return weights


def harmonise(
    melody: list[tuple[int, int, int]], *, tonic: int, mode: str, end: int, slot: int, strong: set[int]
) -> tuple[Chord, ...]:
    """Diatonic triads under a melody, one per ``slot`` ticks, favouring I, IV and V.

    Each window picks the triad (degrees I..VI) that covers the most melody weight; the
    last window resolves to the tonic when the melody allows it.
    """
    priors = {0: 0.15, 3: 0.1, 4: 0.12, 5: 0.05, 1: 0.03, 2: 0.0}
    chords = []
    starts = list(range(0, end, slot))
    for k, t in enumerate(starts):
        weights = _weights([melody], t, t + slot, strong)
        total = weights.sum() or 1.0
        best, best_score = 0, -np.inf
        for degree, prior in priors.items():
            tones = diatonic_tones(tonic, mode, degree)
            covered = weights[list(tones)].sum()
            score = (covered - 0.5 * (total - covered)) / total + prior
            if k == len(starts) - 1 and degree == 0:
                score += 0.3
            if score > best_score:
                best, best_score = degree, score
        tones = diatonic_tones(tonic, mode, best)
        chords.append(Chord(t, min(t + slot, end), tones[0], tones))
    return tuple(chords)


def chords_from_voices(
    lines: list[list[tuple[int, int, int]]], *, end: int, slot: int, strong: set[int]
) -> tuple[Chord, ...]:
    """Chords read from polyphonic voices (the last line is the bass), one per ``slot`` ticks.

    Each window takes the chord template (major, minor, diminished, dominant/minor/major
    seventh on any root) that covers most of the sounding weight, with a bonus when the bass
    holds the root.
    """
    chords = []
    for t in range(0, end, slot):
        weights = _weights(lines, t, t + slot, strong, bass_weight=2.0)
        total = weights.sum()
        if total <= 0:
            if chords:
                previous = chords[-1]
                chords[-1] = Chord(previous.start, min(t + slot, end), previous.root, previous.tones)
                continue
            weights = np.ones(12)
            total = 12.0
        bass = _weights(lines[-1:], t, t + slot, strong)
        best, best_score = (0, (0, 4, 7)), -np.inf
        for root in range(12):
            for template in _TEMPLATES.values():
                tones = tuple((root + i) % 12 for i in template)
                covered = weights[list(tones)].sum()
                score = (covered - 0.6 * (total - covered)) / total
                score += 0.15 * bass[root] / (bass.sum() or 1.0) - 0.04 * (len(tones) - 3)
                if score > best_score:
                    best, best_score = (root, tones), score
        chords.append(Chord(t, min(t + slot, end), best[0], best[1]))
    return tuple(chords)


def fold(pitch: int, low: int, high: int) -> int:
    """``pitch`` moved by octaves into ``[low, high]`` (clamped when the range is under an octave)."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return int(min(max(pitch, low), high))


def pitch_near(pitch_class: int, target: float, low: int, high: int) -> int:
    """The pitch of a pitch class closest to ``target`` inside ``[low, high]``."""
    options = [p for p in range(low, high + 1) if p % 12 == pitch_class % 12]
    if not options:
        return int(min(max(round(target), low), high))
    return min(options, key=lambda p: (abs(p - target), p))


def voicing(
    tones: tuple[int, ...],
    *,
    n_notes: int,
    low: int,
    high: int,
    centre: float,
    spread: str,
    inversion: int,
) -> list[int]:
    """Pitches of a chord voicing.

    Parameters
    ----------
    tones : tuple[int, ...]
        Pitch classes, root first (:class:`Chord`).
    n_notes : int
        2..5 notes: fewer than the chord has keeps third, seventh, root, then fifth and
        ninth (shell voicings); more doubles the root and fifth an octave up.
    centre : float
        Target middle pitch of the voicing.
    spread : {"close", "open"}
        Close position, or drop-2 (every second note from the top an octave down).
    inversion : int
        Which chord tone is in the bass.
    """
    priority = [1, 3, 0, 2, 4]
    chosen = [tones[i] for i in priority if i < len(tones)][:n_notes]
    order = [t for t in tones if t in chosen]
    while len(order) < n_notes:
        order.append(tones[(len(order) - len(tones)) * 2 % len(tones)])
    order = order[inversion % len(order) :] + order[: inversion % len(order)]
    pitches = [pitch_near(order[0], centre - 3 * len(order) / 2, low, high)]
    for pc in order[1:]:
        nxt = pitches[-1] + 1
        while nxt % 12 != pc % 12:
            nxt += 1
        pitches.append(nxt)
    if spread == "open" and len(pitches) >= 3:
        pitches[-2] -= 12
    pitches = sorted(fold(p, low, high) for p in pitches)
    return sorted(set(pitches))
