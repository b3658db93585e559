"""Random but musical multitrack arrangements, as plain data (no files, no audio).

A song (:class:`~pipeline.demo.song.Song`) is drawn from one ``numpy.random.Generator``:

* **Frame**: meter (4/4, 3/4, 6/8), tempo 60-180 quarter notes a minute, key, feel
  (straight, swing, shuffle), a form of 2-, 4- or 8-bar sections (``AABA``, ``ABAC``...,
  sometimes an intro), one velocity offset per section.
* **Material**: :data:`PIECE_RATE` of the songs are built on a real composition from
  music21's corpus (:mod:`pipeline.demo.pieces`): a Bach chorale (2-4 of its voices become
  parts: soprano as melody, alto/tenor as counter-lines, bass as a bass line; its harmony is
  read off the voices) or a folk tune (the melody, harmonised); the piece is transposed to
  the song's key and looped if short.  The rest are generative (diatonic progressions).
* **Arrangement**: 2-9 parts.  Drums in 75 % of songs, a bass line in 80 %; the other roles
  (melody, counter-line, chords, pad, arpeggio, riff/ostinato, stabs, a second bass-register
  line) are drawn freely, and each role's instrument is drawn from every voice that can play
  it (:mod:`pipeline.demo.instruments`: a cello, tuba or square lead may play the bass, an
  organ the melody), so role and family are decoupled.  Per part: register, velocity,
  articulation (staccato..legato), density, style, chord size (2-5 notes), inversions,
  open/close voicing, strumming, timing jitter, and the sections it plays in (staggered
  entries, drop-outs, early exits).  Two stems may share a class (Slakh layout), never a
  GM program; the AAM layout keeps one stem per instrument.

Times are MIDI ticks (480 per quarter note) at one integer tempo, so the seconds written to
the annotations are exactly what a MIDI player computes.  Every note ends before
``seconds - min(0.5, seconds / 10)`` so the last releases are heard.
"""

from __future__ import annotations

import math

import numpy as np

from pipeline.demo.drums import draw_groove, write_drums
from pipeline.demo.harmony import chords_from_voices, harmonise, progression_harmony
from pipeline.demo.instruments import Voice, class_weight, role_weight
from pipeline.demo.parts import STYLES, WRITERS, Frame, PartPlan, place_line
from pipeline.demo.pieces import KINDS, Piece, PieceLibrary
from pipeline.demo.rhythm import GAP, METERS, STEP, TICKS_PER_BEAT, Meter, draw_feel, draw_meter, warp
from pipeline.demo.song import Note, Part, Section, Song

PIECE_RATE = 0.35  # share of songs built on a real piece (when a PieceLibrary is given)
_FORMS = ("AABA", "ABAB", "AABB", "ABAC", "AAAA", "ABCB", "ABBA", "ABCD", "AB", "ABC")
_N_PARTS = (2, 3, 4, 5, 6, 7, 8, 9)
_N_PARTS_P = (0.06, 0.12, 0.17, 0.19, 0.17, 0.13, 0.09, 0.07)
_EXTRA_ROLES = ("chords", "pad", "arpeggio", "counter", "riff", "stabs", "melody", "bass")
_EXTRA_P = (0.22, 0.13, 0.14, 0.15, 0.13, 0.09, 0.07, 0.07)
_CHORALE_ROLES = ("melody", "counter", "counter", "bass")
_CHORD_SIZES = {"pad": (3, 4, 5), "stabs": (2, 3, 4)}

__all__ = ["Note", "Part", "Section", "Song", "compose_song", "PIECE_RATE"]


def compose_song(
    rng: np.random.Generator,
    *,
    seconds: float,
    voices: tuple[Voice, ...],
    distinct_labels: bool = True,
    pieces: PieceLibrary | None = None,
    piece_rate: float = PIECE_RATE,
) -> Song:
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
        ``SLAKH_VOICES``).
    distinct_labels : bool
        One stem per class (AAM); otherwise two stems may share a class (Slakh).
    pieces : PieceLibrary, optional
        Real compositions; without one every song is generative.
    piece_rate : float
        Share of songs built on a real piece.

    Returns
    -------
    Song
    """
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    piece = None
    if pieces is not None and rng.random() < piece_rate:
        kind = str(rng.choice(KINDS))
        piece = pieces.piece(kind, int(rng.integers(1 << 30)))
    meter = METERS[piece.meter] if piece else draw_meter(rng)
    low_bpm, high_bpm = (60, 181) if piece is None else (56, 101) if piece.kind == "chorale" else (72, 161)
    bpm = int(rng.integers(low_bpm, high_bpm))
    tempo = int(round(60e6 / bpm))
    limit = int(math.floor((seconds - min(0.5, seconds / 10)) / (tempo / 1e6) * TICKS_PER_BEAT))
    n_bars = max(1, math.ceil(limit / meter.bar))
    tonic = int(rng.integers(0, 12))
    mode = piece.mode if piece else str(rng.choice(("maj", "min")))
    chorale = piece is not None and piece.kind == "chorale"
    feel, ratio, unit = ("straight", 0.5, TICKS_PER_BEAT) if chorale else draw_feel(rng, meter)
    sections = _form(rng, n_bars, meter, intro=piece is None)
    total = n_bars * meter.bar
    strong = set(range(0, total, meter.beat * STEP))
    lines: list[list[tuple[int, int, int]]] = []
    if piece is None:
        slot = (
            meter.bar * int(rng.choice((1, 1, 2)))
            if meter.numerator == 3
            else meter.bar * float(rng.choice((0.5, 1, 1, 2)))
        )
        harmony = progression_harmony(rng, tonic=tonic, mode=mode, sections=sections, slot=int(slot))
    else:
        lines = _piece_lines(rng, piece, meter, n_bars, tonic)
        slot = meter.bar // 2 if meter.numerator == 4 else meter.bar
        if chorale:
            harmony = chords_from_voices(lines, end=total, slot=slot, strong=strong)
        else:
            harmony = harmonise(lines[0], tonic=tonic, mode=mode, end=total, slot=slot, strong=strong)
    frame = Frame(meter, tonic, mode, bpm, harmony, tuple(sections),
                  tuple(int(rng.integers(-12, 9)) for _ in sections))  # fmt: skip

    line_roles = _line_roles(rng, piece)
    roles = _pick_roles(rng, [role for _, role in line_roles])
    plans = _plan_parts(rng, roles, voices, distinct_labels, bpm)
    sources = [None] * len(plans)
    for k, (line_index, _role) in enumerate(line_roles):
        if k < len(plans) and plans[k] is not None:
            sources[k] = line_index
    activity = _activity(rng, roles, len(sections), sources)
    parts = []
    for plan, active, source in zip(plans, activity, sources):
        if plan is None:
            continue
        notes = _write_part(
            rng, frame, plan, active, None if source is None else lines[source], piece is None
        )
        jitter = int(rng.integers(0, 6 if plan.role == "drums" else 14))
        notes = [_humanise(rng, n, ratio, unit, jitter) for n in notes]
        fitted = _fit(notes, limit)
        if not fitted:
            continue
        details = plan.record() | {
            "sections": [i for i, on in enumerate(active) if on],
            "source": "generative" if source is None else f"music21:{piece.name}:voice{source}",
        }
        parts.append(Part(plan.role, plan.voice, fitted, details))
    if not parts:
        raise ValueError(f"no part has a note in a {seconds} s song; make songs longer")
    song_sections = _sections(sections, parts)
    source = "generative" if piece is None else f"music21:{piece.name}"
    return Song(bpm, tempo, TICKS_PER_BEAT, tonic, mode, float(seconds), tuple(parts), song_sections,
                (meter.numerator, meter.denominator), feel, source)  # fmt: skip


def _form(rng: np.random.Generator, n_bars: int, meter: Meter, *, intro: bool) -> list[tuple[int, int, str]]:
    """Sections ``(start, end, letter)`` of 2, 4 or 8 bars following a form string."""
    if n_bars <= 4:
        length = max(1, n_bars // 2)
    elif n_bars <= 10:
        length = int(rng.choice((2, 4), p=(0.6, 0.4)))
    elif n_bars <= 24:
        length = int(rng.choice((2, 4, 8), p=(0.2, 0.65, 0.15)))
    else:
        length = int(rng.choice((4, 8)))
    form = str(rng.choice(_FORMS))
    n_sections = math.ceil(n_bars / length)
    letters = [form[k % len(form)] for k in range(n_sections)]
    if intro and n_sections >= 3 and rng.random() < 0.25:
        letters = ["I"] + letters[:-1]
    return [
        (k * length * meter.bar, min((k + 1) * length, n_bars) * meter.bar, letter)
        for k, letter in enumerate(letters)
    ]


def _piece_lines(
    rng: np.random.Generator, piece: Piece, meter: Meter, n_bars: int, tonic: int
) -> list[list[tuple[int, int, int]]]:
    """The piece's voices over the song: from a random bar, looped, moved to the song's key."""
    bar = meter.bar
    first = int(rng.integers(0, max(1, piece.length // bar - n_bars + 1)))
    shift = (tonic - piece.tonic + 6) % 12 - 6
    total = n_bars * bar
    out = []
    for line in piece.lines:
        notes = []
        offset = -first * bar
        while offset < total:
            for pitch, start, end in line:
                if 0 <= start + offset < total:
                    notes.append((pitch + shift, start + offset, min(end, piece.length) + offset))
            offset += piece.length
        out.append(notes)
    return out


def _line_roles(rng: np.random.Generator, piece: Piece | None) -> list[tuple[int, str]]:
    """(line index, role) of the piece's voices that become parts."""
    if piece is None:
        return []
    if piece.kind == "tune":
        return [(0, "melody")]
    n = int(rng.choice((4, 3, 2), p=(0.5, 0.3, 0.2)))
    kept = sorted(int(i) for i in rng.permutation(4)[:n])
    return [(i, _CHORALE_ROLES[i]) for i in kept]


def _pick_roles(rng: np.random.Generator, line_roles: list[str]) -> list[str]:
    """Roles of the song's parts: the piece's lines first, then drums, bass and extras."""
    n_parts = max(int(rng.choice(_N_PARTS, p=_N_PARTS_P)), len(line_roles) + 1)
    roles = list(line_roles)
    if rng.random() < (0.75 if n_parts >= 3 else 0.35):
        roles.append("drums")
    if "bass" not in roles and len(roles) < n_parts and rng.random() < 0.8:
        roles.append("bass")
    if "melody" not in roles and len(roles) < n_parts and rng.random() < 0.85:
        roles.append("melody")
    while len(roles) < n_parts:
        roles.append(str(rng.choice(_EXTRA_ROLES, p=_EXTRA_P)))
    return roles


def _choose_voice(
    rng: np.random.Generator,
    role: str,
    voices,
    used_labels: set[str],
    used_programs: set[int],
    distinct: bool,
):
    """A voice for ``role``: a class first (:func:`class_weight`), then one of its programs."""
    candidates = [
        v for v in voices
        if role in v.roles and v.program not in used_programs and not (distinct and v.label in used_labels)
    ]  # fmt: skip
    if not candidates:
        return None
    labels = list(dict.fromkeys(v.label for v in candidates))
    weights = np.array([class_weight(voices, label, role) for label in labels])
    label = labels[int(rng.choice(len(labels), p=weights / weights.sum()))]
    own = [v for v in candidates if v.label == label]
    weights = np.array([role_weight(v, role) for v in own])
    return own[int(rng.choice(len(own), p=weights / weights.sum()))]


def _register(rng: np.random.Generator, voice: Voice, role: str) -> tuple[int, int]:
    """A register inside the voice's range: 14-26 semitones, low for bass lines."""
    span = voice.high - voice.low
    width = min(span, int(rng.integers(14, 27)))
    room = span - width
    if role == "bass":
        low = voice.low + int(rng.integers(0, room // 3 + 1))
    elif role == "melody":
        low = voice.low + int(rng.integers(room // 3, room + 1))
    else:
        low = voice.low + int(rng.integers(0, room + 1))
    return low, low + width


def _plan_parts(
    rng: np.random.Generator, roles: list[str], voices, distinct: bool, bpm: int
) -> list[PartPlan | None]:
    """One plan per role (None where the palette has no free voice for it)."""
    used_labels: set[str] = set()
    used_programs: set[int] = set()
    plans: list[PartPlan | None] = []
    ticks_per_ms = TICKS_PER_BEAT * bpm / 60000
    for role in roles:
        voice = _choose_voice(rng, role, voices, used_labels, used_programs, distinct)
        if voice is None:
            plans.append(None)
            continue
        used_labels.add(voice.label)
        used_programs.add(voice.program)
        low, high = (voice.low, voice.high) if voice.is_drum else _register(rng, voice, role)
        legato = {"pad": (0.85, 1.0), "stabs": (0.15, 0.4), "counter": (0.6, 1.0), "melody": (0.45, 1.0)}.get(
            role, (0.25, 1.0)
        )
        velocity = int(rng.integers(35, 91)) if role == "pad" else int(rng.integers(50, 116))
        strum = (
            int(round(rng.uniform(8, 45) * ticks_per_ms))
            if role in ("chords", "stabs") and rng.random() < 0.35
            else 0
        )
        plans.append(PartPlan(
            role=role, voice=voice, low=low, high=high, velocity=velocity,
            legato=float(rng.uniform(*legato)), density=float(rng.uniform(0.15, 0.95)),
            style=str(rng.choice(STYLES.get(role, ("groove",)))),
            n_notes=int(rng.choice(_CHORD_SIZES.get(role, (2, 3, 3, 4, 4, 5)))),
            spread="open" if rng.random() < 0.35 else "close", strum=strum,
        ))  # fmt: skip
    return plans


def _activity(
    rng: np.random.Generator, roles: list[str], n_sections: int, sources: list[int | None]
) -> list[list[bool]]:
    """Per part, whether it plays in each section: entries, drop-outs and early exits."""
    if n_sections == 1:
        return [[True] for _ in roles]
    out = []
    for role, source in zip(roles, sources):
        core = source is not None or role in ("drums", "bass", "melody")
        entry = (
            0 if rng.random() < (0.6 if core else 0.35) else int(rng.integers(1, max(2, n_sections // 2 + 1)))
        )
        entry = min(entry, n_sections - 1)
        stop = (
            int(rng.integers(entry + 1, n_sections))
            if rng.random() < 0.15 and entry < n_sections - 1
            else n_sections
        )
        out.append([entry <= s < stop and (s == entry or rng.random() > 0.12) for s in range(n_sections)])
    for s in range(n_sections):  # never a silent section
        if not any(active[s] for active in out):
            out[0][s] = True
    return out


def _write_part(
    rng: np.random.Generator, frame: Frame, plan: PartPlan, active: list[bool], line, generative: bool
) -> list[Note]:
    """All sections of one part; a generative part repeats its material when a letter returns."""
    groove = draw_groove(rng, frame.meter) if plan.role == "drums" else None
    remembered: dict[str, tuple[int, int, list[Note]]] = {}
    notes: list[Note] = []
    for index, ((start, end, letter), on) in enumerate(zip(frame.sections, active)):
        if not on:
            continue
        if line is not None:
            notes += place_line(rng, frame, plan, line, start=start, end=end)
        elif groove is not None:
            fill = index + 1 < len(frame.sections)
            notes += write_drums(rng, frame, plan, start, end, groove=groove, fill=fill)
        elif (
            generative
            and letter in remembered
            and remembered[letter][1] == end - start
            and rng.random() < 0.8
        ):
            first, _length, earlier = remembered[letter]
            notes += [
                Note(n.pitch, n.velocity, n.start - first + start, n.end - first + start) for n in earlier
            ]
        else:
            written = WRITERS[plan.role](rng, frame, plan, start, end)
            remembered[letter] = (start, end - start, written)
            notes += written
    return notes


def _humanise(rng: np.random.Generator, note: Note, ratio: float, unit: int, jitter: int) -> Note:
    """Swing the note onto the feel and move it by up to ``jitter`` ticks."""
    start, end = warp(note.start, ratio, unit), warp(note.end, ratio, unit)
    if jitter:
        shift = int(rng.integers(-jitter, jitter + 1))
        start, end = max(0, start + shift), max(0, end + shift)
    return Note(note.pitch, note.velocity, start, max(end, start + GAP))


def _fit(notes: list[Note], limit: int) -> tuple[Note, ...]:
    """Cut notes at ``limit`` ticks and make same-pitch notes of a part never overlap."""
    kept: list[Note] = []
    for note in sorted(notes, key=lambda n: (n.pitch, n.start, n.end)):
        end = min(note.end, limit)
        if kept and kept[-1].pitch == note.pitch and kept[-1].end > note.start:
            prev = kept.pop()
            if note.start - prev.start >= GAP:
                kept.append(Note(prev.pitch, prev.velocity, prev.start, note.start))
            elif note.start == prev.start:
                note = Note(
                    note.pitch, max(note.velocity, prev.velocity), note.start, max(note.end, prev.end)
                )
                end = min(note.end, limit)
        if end - note.start >= GAP:
            kept.append(Note(note.pitch, note.velocity, note.start, end))
    return tuple(sorted(kept, key=lambda n: (n.start, n.pitch)))


def _sections(sections: list[tuple[int, int, str]], parts: list[Part]) -> tuple[Section, ...]:
    """Song sections with the parts that start a note in each."""
    out = []
    for start, end, letter in sections:
        playing = [p for p in parts if any(start <= n.start < end for n in p.notes)]
        out.append(Section(start, letter, tuple(p.label for p in playing), tuple(p.role for p in playing)))
    return tuple(out)
