"""The data model of a demo song: notes, parts, sections (plain frozen data, no files).

Times are MIDI ticks (480 per quarter note) at one integer tempo (microseconds per quarter
note), so the seconds written to the annotations are exactly the times a MIDI player
computes from the files (:meth:`Song.seconds_at`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.demo.harmony import key_name
from pipeline.demo.instruments import Voice


@dataclass(frozen=True)
class Note:
    """One MIDI note in ticks; ``start < end``."""

    pitch: int
    velocity: int
    start: int
    end: int


@dataclass(frozen=True)
class Part:
    """One stem: its role in the arrangement, its voice (class, GM program), its notes.

    ``details`` is a JSON-ready record of how the part was made (register, articulation,
    density, voicing, source line...), written to ``render.json``.
    """

    role: str
    voice: Voice
    notes: tuple[Note, ...]
    details: dict = field(default_factory=dict, hash=False)

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
        Tempo in quarter notes per minute.
    tempo : int
        Microseconds per quarter note, as written to the MIDI tempo meta event.
    ticks_per_beat : int
        MIDI time resolution (ticks per quarter note).
    tonic : int
        Pitch class of the key (0 = C).
    mode : str
        ``maj`` or ``min``.
    seconds : float
        Length of the rendered audio; every note ends before it.
    parts : tuple[Part, ...]
        One per stem.  Labels are distinct in the AAM layout; in the Slakh layout two stems
        may share a class (never a GM program).
    sections : tuple[Section, ...]
        Form of the song, in order.
    meter : tuple[int, int]
        Time signature (numerator, denominator): (4, 4), (3, 4) or (6, 8).
    feel : str
        ``straight``, ``swing`` or ``shuffle``.
    source : str
        ``generative``, or ``music21:<corpus path>`` for a song built on a real piece.
    """

    bpm: int
    tempo: int
    ticks_per_beat: int
    tonic: int
    mode: str
    seconds: float
    parts: tuple[Part, ...]
    sections: tuple[Section, ...]
    meter: tuple[int, int] = (4, 4)
    feel: str = "straight"
    source: str = "generative"

    @property
    def key(self) -> str:
        """Key name as AAM writes it, e.g. ``Gmaj`` or ``C#min``."""
        return key_name(self.tonic, self.mode)

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
