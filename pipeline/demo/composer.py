"""Random but musical multitrack arrangements, as plain data (no files, no audio).

A :class:`Song` is drums, bass, chords and melody, plus up to two extra parts (an
arpeggio, a counter-line), over a chord progression in one key and tempo.  Everything is
drawn from a ``numpy.random.Generator``: the same generator state gives the same song.

Times are kept in MIDI ticks (480 per beat) at one integer tempo (microseconds per beat),
so the seconds written to the annotations are exactly the times a MIDI player computes
from the files (:meth:`Song.seconds`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipeline.demo.instruments import Voice

TICKS_PER_BEAT = 480
_SIXTEENTH = TICKS_PER_BEAT // 4
_EIGHTH = TICKS_PER_BEAT // 2
_BAR = 4 * TICKS_PER_BEAT
_GAP = TICKS_PER_BEAT // 16  # a short breath between legato notes

PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_SCALES = {"maj": (0, 2, 4, 5, 7, 9, 11), "min": (0, 2, 3, 5, 7, 8, 10)}
# Progressions as 0-based scale degrees, one chord per bar.
_PROGRESSIONS = {
    "maj": ((0, 4, 5, 3), (0, 5, 3, 4), (1, 4, 0, 5), (0, 3, 4, 4), (0, 2, 3, 4), (3, 4, 2, 5)),
    "min": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 4), (0, 3, 6, 2), (5, 6, 0, 0), (0, 4, 3, 4)),
}
_FORMS = ("AABA", "ABAB", "AABB", "ABAC", "AAAA")
# Drum patterns: GM drum key -> 16th steps of a 4/4 bar.
_DRUM_PATTERNS = (
    {36: (0, 8), 38: (4, 12), 42: (0, 2, 4, 6, 8, 10, 12, 14)},  # rock
    {36: (0, 4, 8, 12), 39: (4, 12), 42: (0, 4, 8, 12), 46: (2, 6, 10, 14)},  # four on the floor
    {36: (0, 10), 38: (8,), 42: (0, 2, 4, 6, 8, 10, 12, 14)},  # half time
    {36: (0, 3, 8, 11), 38: (4, 12), 42: tuple(range(16))},  # busy sixteenths
    {36: (0, 6, 8), 38: (4, 12), 51: (0, 2, 4, 6, 8, 10, 12, 14)},  # ride groove
    {36: (0, 7, 10), 37: (4, 12), 42: (0, 2, 4, 6, 8, 10, 12, 14), 75: (3, 11)},  # latin-ish
)


@dataclass(frozen=True)
class Note:
    """One MIDI note in ticks; ``start < end``."""

    pitch: int
    velocity: int
    start: int
    end: int


@dataclass(frozen=True)
class Part:
    """One instrument's line: its role in the arrangement, its voice and its notes."""

    role: str
    voice: Voice
    notes: tuple[Note, ...]

    @property
    def label(self) -> str:
        return self.voice.label


@dataclass(frozen=True)
class Section:
    """A block of bars with a form letter (``A``, ``B``...) and the parts playing in it."""

    start: int
    mark: str
    labels: tuple[str, ...]
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Song:
    """A multitrack arrangement.

    Attributes
    ----------
    bpm : int
        Tempo in beats per minute (4/4 throughout).
    tempo : int
        Microseconds per beat, as written to the MIDI tempo meta event.
    ticks_per_beat : int
        MIDI time resolution.
    tonic : int
        Pitch class of the key (0 = C).
    mode : str
        ``maj`` or ``min``.
    seconds : float
        Length of the rendered audio; every note ends before it.
    parts : tuple[Part, ...]
        One per instrument; labels are distinct.
    sections : tuple[Section, ...]
        Form of the song, in order.
    """

    bpm: int
    tempo: int
    ticks_per_beat: int
    tonic: int
    mode: str
    seconds: float
    parts: tuple[Part, ...]
    sections: tuple[Section, ...]

    @property
    def key(self) -> str:
        """Key name as AAM writes it, e.g. ``Gmaj`` or ``C#min``."""
        return f"{PITCH_NAMES[self.tonic]}{self.mode}"

    def seconds_at(self, tick: int) -> float:
        """Time in seconds of a tick (the same arithmetic a MIDI player does)."""
        return tick * self.tempo / (1e6 * self.ticks_per_beat)

    def events(self) -> list[tuple[str, float, float]]:
        """Every note as ``(label, onset_s, offset_s)``, sorted by onset then label."""
        out = [
            (part.label, self.seconds_at(note.start), self.seconds_at(note.end))
            for part in self.parts
            for note in part.notes
        ]
        return sorted(out, key=lambda e: (e[1], e[0], e[2]))

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(part.label for part in self.parts)


def compose_song(rng: np.random.Generator, *, seconds: float, voices: tuple[Voice, ...]) -> Song:
    """Draw one arrangement.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness.
    seconds : float
        Audio length; notes are placed in ``[0, seconds - margin)`` with a margin of
        ``min(0.5, seconds / 10)`` s so the last releases are heard.
    voices : tuple[Voice, ...]
        The instrument palette (:data:`pipeline.demo.instruments.AAM_VOICES` or
        ``SLAKH_VOICES``); it must offer at least one voice for chords and for melody.

    Returns
    -------
    Song
    """
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    bpm = int(rng.integers(72, 150))
    tempo = int(round(60e6 / bpm))
    tonic = int(rng.integers(0, 12))
    mode = str(rng.choice(("maj", "min")))
    beat_s = tempo / 1e6
    limit = int(math.floor((seconds - min(0.5, seconds / 10)) / beat_s * TICKS_PER_BEAT))
    n_bars = max(1, math.ceil(limit / _BAR))

    progressions = _PROGRESSIONS[mode]
    form = str(rng.choice(_FORMS))
    letters = sorted(set(form))
    chosen = rng.choice(len(progressions), size=len(letters), replace=len(letters) > len(progressions))
    progression_of = {letter: progressions[int(i)] for letter, i in zip(letters, chosen)}
    bar_marks = [form[(bar // 4) % len(form)] for bar in range(n_bars)]
    chords = [_triad(tonic, mode, progression_of[bar_marks[bar]][bar % 4]) for bar in range(n_bars)]

    roles = _pick_roles(rng)
    assigned = _assign_voices(rng, roles, voices)
    parts = []
    for role, voice in assigned:
        active = _active_bars(rng, role, n_bars)
        notes = _PART_WRITERS[role](rng, voice, chords, active, bpm)
        notes = _fit(notes, limit)
        if notes:
            parts.append(Part(role, voice, notes))
    sections = _sections(bar_marks, parts)
    return Song(bpm, tempo, TICKS_PER_BEAT, tonic, mode, float(seconds), tuple(parts), sections)


def _triad(tonic: int, mode: str, degree: int) -> tuple[int, int, int]:
    """Pitch classes (root, third, fifth) of a diatonic triad."""
    scale = _SCALES[mode]
    root, third, fifth = ((tonic + scale[(degree + step) % 7]) % 12 for step in (0, 2, 4))
    return root, third, fifth


def _pick_roles(rng: np.random.Generator) -> list[str]:
    roles = []
    if rng.random() < 0.85:
        roles.append("drums")
    if rng.random() < 0.9:
        roles.append("bass")
    roles += ["chords", "melody"]
    n_extra = int(rng.choice((0, 1, 1, 2)))
    extras = list(rng.permutation(["arpeggio", "counter"])[:n_extra])
    return roles + [str(role) for role in extras]


def _assign_voices(
    rng: np.random.Generator, roles: list[str], voices: tuple[Voice, ...]
) -> list[tuple[str, Voice]]:
    """One voice per role; labels and programs never repeat within a song."""
    used_labels: set[str] = set()
    used_programs: set[int] = set()
    assigned = []
    # Fill the roles with the fewest candidates first so the choice rarely runs dry.
    for role in sorted(roles, key=lambda r: sum(r in v.roles for v in voices)):
        candidates = [
            v for v in voices
            if role in v.roles and v.label not in used_labels and v.program not in used_programs
        ]  # fmt: skip
        if not candidates:
            if role in ("chords", "melody"):
                raise ValueError(f"the instrument palette has no free voice for the {role} part")
            continue
        voice = candidates[int(rng.integers(len(candidates)))]
        used_labels.add(voice.label)
        used_programs.add(voice.program)
        assigned.append((role, voice))
    order = {role: i for i, role in enumerate(roles)}
    return sorted(assigned, key=lambda pair: order[pair[0]])


def _active_bars(rng: np.random.Generator, role: str, n_bars: int) -> np.ndarray:
    """Which bars a part plays: a staggered entry and, for lead lines, a few rests."""
    late = {"drums": 1, "bass": 1, "chords": 1, "melody": 2, "arpeggio": 4, "counter": 4}[role]
    entry = int(rng.integers(0, min(late, n_bars - 1) + 1)) if n_bars > 1 else 0
    active = np.arange(n_bars) >= entry
    if role in ("melody", "arpeggio", "counter"):
        drop = rng.random(n_bars) < 0.15
        drop[entry] = False
        active &= ~drop
    return active


def _pitch_near(pitch_class: int, target: float, low: int, high: int) -> int:
    """The pitch of a pitch class closest to ``target`` inside ``[low, high]``."""
    options = [p for p in range(low, high + 1) if p % 12 == pitch_class]
    if not options:
        return int(min(max(round(target), low), high))
    return min(options, key=lambda p: (abs(p - target), p))


def _velocity(rng: np.random.Generator, base: int, spread: int = 8) -> int:
    return int(np.clip(base + rng.integers(-spread, spread + 1), 30, 127))


def _write_drums(rng, voice, chords, active, bpm) -> list[Note]:
    pattern = _DRUM_PATTERNS[int(rng.integers(len(_DRUM_PATTERNS)))]
    base = int(rng.integers(80, 110))
    notes = []
    for bar, on in enumerate(active):
        if not on:
            continue
        t0 = bar * _BAR
        hits = {key: list(steps) for key, steps in pattern.items()}
        if bar % 4 == 0:
            hits.setdefault(49, []).append(0)
        if bar % 4 == 3 and rng.random() < 0.5:  # a fill into the next phrase
            hits[38] = sorted(set(hits.get(38, [])) | {12, 13, 14, 15})
        for key, steps in hits.items():
            for step in steps:
                accent = 12 if step % 4 == 0 else 0
                start = t0 + step * _SIXTEENTH
                notes.append(Note(key, _velocity(rng, base + accent - 10), start, start + _SIXTEENTH // 2))
    return notes


def _write_bass(rng, voice, chords, active, bpm) -> list[Note]:
    # (8th-note step, length in 8ths, chord tone index: 0 root, 2 fifth, 3 octave)
    styles = (
        ((0, 8, 0),),
        ((0, 2, 0), (2, 2, 0), (4, 2, 0), (6, 2, 0)),
        ((0, 4, 0), (4, 4, 2)),
        tuple((i, 1, 0) for i in range(8)),
        ((0, 3, 0), (3, 1, 3), (4, 2, 0), (6, 2, 2)),
    )
    style = styles[int(rng.integers(len(styles)))]
    base = int(rng.integers(80, 105))
    target = voice.low + 7
    notes = []
    for bar, on in enumerate(active):
        if not on:
            continue
        root, _third, fifth = chords[bar]
        root_pitch = _pitch_near(root, target, voice.low, voice.high)
        for step, length, tone in style:
            if tone == 0:
                pitch = root_pitch
            elif tone == 2:
                pitch = _pitch_near(fifth, root_pitch + 7, voice.low, voice.high)
            else:
                pitch = root_pitch + 12 if root_pitch + 12 <= voice.high else root_pitch
            start = bar * _BAR + step * _EIGHTH
            notes.append(Note(pitch, _velocity(rng, base), start, start + length * _EIGHTH - _GAP))
    return notes


def _voicing(chord: tuple[int, int, int], centre: float, voice: Voice) -> list[int]:
    pitches = {_pitch_near(pc, centre, voice.low, voice.high) for pc in chord}
    return sorted(pitches)


def _write_chords(rng, voice, chords, active, bpm) -> list[Note]:
    # (8th-note step, length in 8ths)
    rhythms = (
        ((0, 8),),
        ((0, 4), (4, 4)),
        ((0, 1), (2, 1), (4, 1), (6, 1)),
        ((1, 1), (3, 1), (5, 1), (7, 1)),
        ((0, 3), (3, 3), (6, 2)),
    )
    rhythm = rhythms[int(rng.integers(len(rhythms)))]
    base = int(rng.integers(65, 100))
    centre = voice.low + (voice.high - voice.low) * 0.45
    notes = []
    for bar, on in enumerate(active):
        if not on:
            continue
        for pitch in _voicing(chords[bar], centre, voice):
            for step, length in rhythm:
                start = bar * _BAR + step * _EIGHTH
                notes.append(Note(pitch, _velocity(rng, base, 5), start, start + length * _EIGHTH - _GAP))
    return notes


def _scale_pitches(chords, voice: Voice) -> list[int]:
    """Pitches of the song's scale (the union of its chord tones plus passing tones)."""
    pcs = sorted({pc for chord in chords for pc in chord})
    if len(pcs) < 5:  # a one-chord song: fill in the major scale on its root
        root = chords[0][0]
        pcs = sorted({(root + step) % 12 for step in _SCALES["maj"]})
    return [p for p in range(voice.low, voice.high + 1) if p % 12 in pcs]


def _write_melody(rng, voice, chords, active, bpm) -> list[Note]:
    scale = _scale_pitches(chords, voice)
    base = int(rng.integers(75, 110))
    index = len(scale) // 2
    notes = []
    for bar, on in enumerate(active):
        if not on:
            continue
        lengths: list[int] = []
        while sum(lengths) < 8:
            lengths.append(min(int(rng.choice((1, 1, 2, 2, 2, 3, 4))), 8 - sum(lengths)))
        if bar % 2 == 1 and rng.random() < 0.6:  # end a two-bar phrase on a long note
            lengths = lengths[: max(1, len(lengths) - 2)]
            lengths[-1] += 8 - sum(lengths)
        step = 0
        for i, length in enumerate(lengths):
            start = bar * _BAR + step * _EIGHTH
            step += length
            if i > 0 and rng.random() < 0.12:
                continue  # a rest
            if step - length in (0, 4):  # strong beats land on a chord tone
                chord_idx = [j for j, p in enumerate(scale) if p % 12 in chords[bar]]
                index = min(chord_idx, key=lambda j: abs(j - index)) if chord_idx else index
            else:
                index += int(rng.choice((-2, -1, -1, 1, 1, 2)))
            if index < 0 or index >= len(scale):  # bounce off the ends of the range
                index = -index if index < 0 else 2 * (len(scale) - 1) - index
                index = int(np.clip(index, 0, len(scale) - 1))
            notes.append(Note(scale[index], _velocity(rng, base), start, start + length * _EIGHTH - _GAP))
    return notes


def _write_arpeggio(rng, voice, chords, active, bpm) -> list[Note]:
    step_ticks = _SIXTEENTH if bpm < 110 and rng.random() < 0.5 else _EIGHTH
    shape = str(rng.choice(("up", "down", "updown")))
    base = int(rng.integers(60, 95))
    notes = []
    for bar, on in enumerate(active):
        if not on:
            continue
        centre = voice.low + 6
        tones = _voicing(chords[bar], centre, voice)
        tones += [p + 12 for p in tones if p + 12 <= voice.high]
        if shape == "down":
            tones = tones[::-1]
        elif shape == "updown" and len(tones) > 2:
            tones = tones + tones[-2:0:-1]
        for i in range(_BAR // step_ticks):
            start = bar * _BAR + i * step_ticks
            notes.append(Note(tones[i % len(tones)], _velocity(rng, base), start, start + step_ticks - _GAP))
    return notes


def _write_counter(rng, voice, chords, active, bpm) -> list[Note]:
    length = int(rng.choice((4, 8)))  # half or whole notes, in 8ths
    base = int(rng.integers(60, 90))
    centre = (voice.low + voice.high) / 2
    notes = []
    for bar, on in enumerate(active):
        if not on:
            continue
        for step in range(0, 8, length):
            tone = chords[bar][int(rng.choice((1, 2)))]
            pitch = _pitch_near(tone, centre, voice.low, voice.high)
            start = bar * _BAR + step * _EIGHTH
            notes.append(Note(pitch, _velocity(rng, base), start, start + length * _EIGHTH - _GAP))
    return notes


_PART_WRITERS = {
    "drums": _write_drums,
    "bass": _write_bass,
    "chords": _write_chords,
    "melody": _write_melody,
    "arpeggio": _write_arpeggio,
    "counter": _write_counter,
}


def _fit(notes: list[Note], limit: int) -> tuple[Note, ...]:
    """Cut notes at ``limit`` ticks and make same-pitch notes of a part never overlap."""
    kept = []
    for note in sorted(notes, key=lambda n: (n.pitch, n.start, n.end)):
        end = min(note.end, limit)
        if kept and kept[-1].pitch == note.pitch and kept[-1].end > note.start:
            prev = kept.pop()
            if note.start - prev.start >= _GAP:
                kept.append(Note(prev.pitch, prev.velocity, prev.start, note.start))
        if end - note.start >= _GAP:
            kept.append(Note(note.pitch, note.velocity, note.start, end))
    return tuple(sorted(kept, key=lambda n: (n.start, n.pitch)))


def _sections(bar_marks: list[str], parts: list[Part]) -> tuple[Section, ...]:
    """Group bars into sections (a new one at every 4-bar block) with the parts playing."""
    sections = []
    for first in range(0, len(bar_marks), 4):
        start, stop = first * _BAR, (first + 4) * _BAR
        playing = [p for p in parts if any(start <= n.start < stop for n in p.notes)]
        sections.append(
            Section(start, bar_marks[first], tuple(p.label for p in playing), tuple(p.role for p in playing))
        )
    return tuple(sections)
