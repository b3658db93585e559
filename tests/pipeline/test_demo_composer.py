"""The demo composer: variety, well-formed songs, harmony helpers, music21 pieces (no audio)."""

from __future__ import annotations

import collections
import io

import numpy as np
import pretty_midi
import pytest

from pipeline.demo.composer import compose_song
from pipeline.demo.corpus import compose_corpus
from pipeline.demo.harmony import Chord, chords_from_voices, harmonise, voicing
from pipeline.demo.instruments import AAM_VOICES, ROLES, SLAKH_VOICES, class_weight, gm_class
from pipeline.demo.layouts import onsets_arff
from pipeline.demo.midi import midi_bytes, song_midi, stem_midi
from pipeline.demo.pieces import PieceLibrary, find_key
from pipeline.demo.rhythm import METERS, warp


@pytest.fixture(scope="module")
def library():
    """One music21 piece library for the module (pieces are parsed once)."""
    return PieceLibrary()


def _check_well_formed(song, *, distinct_labels):
    margin = min(0.5, song.seconds / 10)
    assert 1 <= len(song.parts) <= 9
    assert len({p.voice.program for p in song.parts}) == len(song.parts), "a GM program twice in a song"
    if distinct_labels:
        assert len(set(song.labels)) == len(song.labels)
    for part in song.parts:
        assert part.notes and part.role in part.voice.roles
        last_end: dict[int, int] = {}
        for note in sorted(part.notes, key=lambda n: (n.start, n.pitch)):
            assert 0 <= note.start < note.end and 0 < note.velocity <= 127
            assert song.seconds_at(note.end) <= song.seconds - margin + 1e-9, "note past the release margin"
            assert note.start >= last_end.get(note.pitch, 0), "same key overlaps itself"
            last_end[note.pitch] = note.end
            if not part.voice.is_drum:
                assert part.voice.low <= note.pitch <= part.voice.high


def test_composition_is_deterministic_and_seed_dependent(library):
    first = compose_corpus(layout="aam", songs=4, seconds=10, seed=7, pieces=library)
    again = compose_corpus(layout="aam", songs=4, seconds=10, seed=7)  # a fresh library: same songs
    other = compose_corpus(layout="aam", songs=4, seconds=10, seed=8, pieces=library)
    assert first == again and first != other
    for a, b in zip(first, again):
        assert midi_bytes(song_midi(a)) == midi_bytes(song_midi(b))
        assert onsets_arff(a, "0001") == onsets_arff(b, "0001")
    # song i does not depend on how many songs the corpus has
    assert compose_corpus(layout="aam", songs=1, seconds=10, seed=7, pieces=library)[0] == first[0]


@pytest.mark.parametrize("layout", ["aam", "slakh"])
def test_songs_are_well_formed(layout, library):
    songs = compose_corpus(layout=layout, songs=40, seconds=8, seed=3, pieces=library)
    for song in songs:
        _check_well_formed(song, distinct_labels=layout == "aam")


def test_arrangements_vary_in_every_dimension(library):
    songs = compose_corpus(layout="slakh", songs=60, seconds=20, seed=1, pieces=library)
    parts = [p for s in songs for p in s.parts]
    assert {len(s.parts) for s in songs} >= set(range(2, 9))
    assert len({p.label for p in parts}) == 14
    assert len({p.voice.program for p in parts}) >= 60  # many programs per class, not one each
    assert {s.meter for s in songs} == {(4, 4), (3, 4), (6, 8)}
    assert {s.feel for s in songs} == {"straight", "swing", "shuffle"}
    bpms = [s.bpm for s in songs]
    assert min(bpms) < 75 and max(bpms) > 160
    assert set(ROLES) == {p.role for p in parts}
    assert any(len(set(s.labels)) < len(s.labels) for s in songs), "Slakh songs may repeat a class"
    assert any("drums" not in [p.role for p in s.parts] for s in songs)
    assert any("Bass" not in s.labels for s in songs) and any("Bass" in s.labels for s in songs)
    # roles are decoupled from families: the bass line is played by several families
    assert len({p.label for p in parts if p.role == "bass"}) >= 6
    assert len({p.label for p in parts if p.role == "melody"}) >= 10
    # registers, articulation and density differ per stem of one class
    pianos = [p for p in parts if p.label == "Piano"]
    assert len({tuple(p.details["register"]) for p in pianos}) >= 5
    assert (
        np.ptp([p.details["legato"] for p in parts]) > 0.6
        and np.ptp([p.details["density"] for p in parts]) > 0.6
    )
    assert {2, 3, 4, 5} <= {p.details["chord_notes"] for p in parts if p.role == "chords"}
    assert any(p.details["strum_ticks"] > 0 for p in parts) and any(
        p.details["spread"] == "open" for p in parts
    )
    # staggered entries and exits
    assert any(p.details["sections"][0] > 0 for p in parts)
    assert any(s.sections[0].labels != s.sections[-1].labels for s in songs)


def test_slakh_palette_covers_every_program_of_each_family():
    melodic = [v for v in SLAKH_VOICES if not v.is_drum]
    families = collections.defaultdict(set)
    for voice in melodic:
        assert voice.label == gm_class(voice.program)
        families[voice.label].add(voice.program)
    assert len(families) == 13
    for label, programs in families.items():
        assert len(programs) == 8 and programs == set(range(min(programs), min(programs) + 8)), label
    assert len({v.program for v in AAM_VOICES}) == len(AAM_VOICES) == 31
    # a family made for a role is drawn more often for it than one that can also play it
    assert class_weight(SLAKH_VOICES, "Bass", "bass") > 2 * class_weight(SLAKH_VOICES, "Strings", "bass") > 0
    assert class_weight(SLAKH_VOICES, "Synth Pad", "pad") > class_weight(SLAKH_VOICES, "Piano", "pad") > 0


def test_music21_pieces_are_used_transposed_and_in_bounds(library):
    songs = compose_corpus(layout="slakh", songs=12, seconds=12, seed=4, pieces=library, piece_rate=1.0)
    kinds = collections.Counter()
    for song in songs:
        assert song.source.startswith("music21:"), song.source
        name = song.source.removeprefix("music21:")
        kinds["chorale" if name.startswith("bach/") else "tune"] += 1
        _check_well_formed(song, distinct_labels=False)
        lines = [p for p in song.parts if p.details["source"].startswith("music21:")]
        assert 1 <= len(lines) <= 4
        # the song's melody line is the piece's top voice, moved to the song's key (pitch classes)
        top = next((p for p in lines if p.details["source"].endswith(":voice0")), None)
        if top is not None:
            entry = next(e for e in library._parsed.values() if e is not None and e.name == name)
            shift = (song.tonic - entry.tonic) % 12
            want = {(pitch + shift) % 12 for pitch, _, _ in entry.lines[0]}
            assert {n.pitch % 12 for n in top.notes} <= want
    assert kinds["chorale"] and kinds["tune"], kinds
    # the generative rest: about PIECE_RATE of a default corpus comes from real pieces
    share = np.mean([s.source != "generative" for s in compose_corpus(
        layout="aam", songs=60, seconds=6, seed=2, pieces=library)])  # fmt: skip
    assert 0.2 <= share <= 0.5


def test_piece_library_parses_chorales_and_tunes(library):
    chorale = library.piece("chorale", 5)
    assert chorale is not None and chorale.kind == "chorale" and len(chorale.lines) == 4
    # soprano above bass on average, whole bars, notes inside the piece
    assert np.mean([n[0] for n in chorale.lines[0]]) > np.mean([n[0] for n in chorale.lines[3]]) + 12
    assert chorale.length % METERS[chorale.meter].bar == 0
    assert all(
        0 <= start < end and start < chorale.length for line in chorale.lines for _, start, end in line
    )
    tune = library.piece("tune", 100)
    assert tune is not None and len(tune.lines) == 1 and tune.meter in METERS
    assert library.piece("tune", 100) is tune  # parsed once, kept in memory
    assert find_key([[(60, 0, 480), (64, 480, 960), (67, 960, 1440), (72, 1440, 2400)]]) == (0, "maj")
    assert find_key([[(57, 0, 960), (60, 960, 1440), (64, 1440, 1920), (57, 1920, 2880)]]) == (9, "min")


def test_harmony_helpers():
    c_major = (0, 4, 7, 11)
    for n in (2, 3, 4, 5):
        pitches = voicing(c_major, n_notes=n, low=48, high=84, centre=64, spread="close", inversion=0)
        assert len(pitches) == n and all(48 <= p <= 84 for p in pitches)
        assert {p % 12 for p in pitches} <= set(c_major)
    first = voicing((0, 4, 7), n_notes=3, low=48, high=84, centre=64, spread="close", inversion=1)
    assert first[0] % 12 == 4  # first inversion: the third in the bass
    opened = voicing((0, 4, 7, 11), n_notes=4, low=36, high=84, centre=64, spread="open", inversion=0)
    assert opened[-1] - opened[0] > 12
    melody = [(64, 0, 480), (67, 480, 960), (72, 960, 1920), (65, 1920, 2880), (69, 2880, 3840)]
    chords = harmonise(melody, tonic=0, mode="maj", end=3840, slot=1920, strong={0, 1920})
    assert [c.root for c in chords] == [0, 5]  # C major, then F major under F-A
    voices = [[(72, 0, 1920)], [(67, 0, 1920)], [(64, 0, 1920)], [(48, 0, 1920)]]
    (chord,) = chords_from_voices(voices, end=1920, slot=1920, strong={0})
    assert chord == Chord(0, 1920, 0, (0, 4, 7))


def test_feel_warp_is_monotone_and_keeps_beats():
    ticks = list(range(0, 4 * 480, 10))
    for ratio in (0.5, 0.6, 2 / 3):
        warped = [warp(t, ratio, 480) for t in ticks]
        assert warped == sorted(warped) and all(warp(b, ratio, 480) == b for b in range(0, 4 * 480, 480))
    assert warp(240, 2 / 3, 480) == 320 and warp(240, 0.5, 480) == 240


def test_stem_midi_holds_notes_program_and_meter(library):
    songs = compose_corpus(layout="slakh", songs=6, seconds=8, seed=4, pieces=library)
    song = next(s for s in songs if s.meter != (4, 4))
    for part in song.parts:
        for single in (False, True):
            data = midi_bytes(stem_midi(song, part, single_track=single))
            pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
            (inst,) = pm.instruments
            assert inst.is_drum == part.voice.is_drum
            if not part.voice.is_drum:
                assert inst.program == part.voice.program
            (signature,) = pm.time_signature_changes
            assert (signature.numerator, signature.denominator) == song.meter
            got = sorted((n.pitch, round(n.start, 6), round(n.end, 6)) for n in inst.notes)
            want = sorted(
                (n.pitch, round(song.seconds_at(n.start), 6), round(song.seconds_at(n.end), 6))
                for n in part.notes
            )
            assert got == want


def test_compose_song_without_pieces_and_errors():
    song = compose_song(np.random.default_rng(0), seconds=3.0, voices=AAM_VOICES)
    assert song.source == "generative"
    with pytest.raises(ValueError, match="seconds must be positive"):
        compose_song(np.random.default_rng(0), seconds=0.0, voices=AAM_VOICES)
