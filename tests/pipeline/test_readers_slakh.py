"""Slakh reader against the real Track00001 metadata + MIDI (redux and BabySlakh layouts).

Audio is a stand-in written in tmp_path (a silent 240 s mix, longer than every stem's MIDI
so no event is cut).  Expected values were derived independently of pretty_midi: the MIDI
files were read with mido (tempo-aware message times), and each note-off ended every open
note of its pitch that started before it (the pairing pretty_midi documents; it matters in
S01 and S03, where one pitch is struck twice at the same tick, e.g. S01 pitch 36 at tick
12384, off at 12391 and again at 12395: both notes end at 12391).  The intervals of each
class's stems were then unioned by hand-written code:

    class (stems)                     events  active s   first onset   last offset
    Guitar (S00 S07 S08)                 131   126.1873      0.781152    236.485982
    Drums (S01)                          641    46.0177      2.999624    231.236640
    Piano (S02)                          129   155.3165      2.999624    234.868997
    Bass (S03)                           317   174.3844      2.999624    235.267384
    Strings (continued) (S04)             16    54.3448      4.522871    204.849322
    Organ (S05 S09 S10)                   91   213.4889      3.023059    236.556285

so Organ is dominant.  Programs come from metadata.yaml (program_num, 0-based; drums 128).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from pipeline.readers import read_dataset
from pipeline.readers.taxonomy import slakh_taxonomy
from pipeline.track import DatasetError, Track, TrackProblem, active_time, deterministic_split, merge_events

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "slakh"
STEMS = ("S00", "S01", "S02", "S03", "S04", "S05", "S07", "S08", "S09", "S10")  # no S06
EXPECTED = {
    "Guitar": (131, 126.1873, 0.781152, 236.485982),
    "Drums": (641, 46.0177, 2.999624, 231.23664),
    "Piano": (129, 155.3165, 2.999624, 234.868997),
    "Bass": (317, 174.3844, 2.999624, 235.267384),
    "Strings (continued)": (16, 54.3448, 4.522871, 204.849322),
    "Organ": (91, 213.4889, 3.023059, 236.556285),
}


def write_silence(path: Path, seconds: float, sr: int = 8000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(seconds * sr), dtype=np.float32), sr)
    return path


def add_audio(track_dir: Path, ext: str, stems=STEMS) -> None:
    write_silence(track_dir / f"mix{ext}", 240.0)
    for stem in stems:
        write_silence(track_dir / "stems" / f"{stem}{ext}", 0.1)


@pytest.fixture
def redux_root(tmp_path: Path) -> Path:
    root = tmp_path / "slakh2100_flac_redux"
    shutil.copytree(FIXTURE / "slakh2100_flac_redux", root)
    add_audio(root / "train" / "Track00001", ".flac")
    return root


@pytest.fixture
def baby_root(tmp_path: Path) -> Path:
    root = tmp_path / "babyslakh_16k"
    shutil.copytree(FIXTURE / "babyslakh_16k", root)
    add_audio(root / "Track00001", ".wav")
    return root


def check_inst_class_labels(track: Track) -> None:
    assert len(track.classes) == 17
    totals = active_time(track.events)
    for label, (count, seconds, first, last) in EXPECTED.items():
        events = [e for e in track.events if e.label == label]
        assert len(events) == count, label
        assert totals[label] == pytest.approx(seconds, abs=1e-3), label
        assert events[0].onset == pytest.approx(first, abs=1e-5), label
        assert events[-1].offset == pytest.approx(last, abs=1e-5), label
    assert {e.label for e in track.events} == set(EXPECTED)
    assert {k for k, v in track.clip_labels.items() if v == 1.0} == set(EXPECTED)
    assert all(track.clip_mask.values()) and track.clip_labels["Synth Effects"] == 0.0  # S06 never rendered
    assert track.dominant == "Organ"


def test_slakh_redux_track(redux_root):
    (track,) = list(read_dataset("slakh", redux_root))
    assert isinstance(track, Track), track
    track_dir = redux_root / "train" / "Track00001"
    assert track.track_id == "Track00001" and track.split == "train"
    assert track.audio == track_dir / "mix.flac"
    assert track.duration == pytest.approx(240.0) and track.sample_rate == 8000
    # audio_dir is 'Track00001/stems' in redux: resolved inside the track folder
    assert {k: v.audio for k, v in track.stems.items()} == {
        stem: track_dir / "stems" / f"{stem}.flac" for stem in STEMS}
    check_inst_class_labels(track)
    assert set(track.source_hashes) == {
        "train/Track00001/metadata.yaml", "train/Track00001/mix.flac",
        *(f"train/Track00001/MIDI/{stem}.mid" for stem in STEMS),
    }


def test_slakh_stems_carry_their_class_program_and_notes(redux_root):
    (track,) = list(read_dataset("slakh", redux_root))
    drums, bass = track.stems["S01"], track.stems["S03"]
    assert (drums.label, drums.program) == ("Drums", 128)  # metadata says program_num 128, is_drum
    assert (bass.label, bass.program) == ("Bass", 33)
    # a stem's events are its own notes: the track's Bass events are exactly S03's (the only bass)
    assert bass.events and all(e.label == "Bass" for e in bass.events)
    assert bass.events == tuple(e for e in track.events if e.label == "Bass")
    # the union of the stems' events of one class is the track's events of that class
    organ_stems = [stem for stem in track.stems.values() if stem.label == "Organ"]
    assert len(organ_stems) == 3  # S05 (program 17), S08 and S09 (22)
    union = merge_events(e for stem in organ_stems for e in stem.events)
    assert union == tuple(e for e in track.events if e.label == "Organ")


def test_slakh_stems_option_hashes_stem_audio(redux_root):
    (plain,) = list(read_dataset("slakh", redux_root))
    (with_stems,) = list(read_dataset("slakh", redux_root, stems=True))
    stem_files = {f"train/Track00001/stems/{stem}.flac" for stem in STEMS}
    assert stem_files.isdisjoint(plain.source_hashes)
    assert stem_files <= set(with_stems.source_hashes)
    assert with_stems.content_hash != plain.content_hash
    assert with_stems.events == plain.events


def test_babyslakh_flags_are_ignored_and_flat_layout_splits_deterministically(baby_root):
    # every stem says audio_rendered: false / midi_saved: false, yet the files exist
    (track,) = list(read_dataset("slakh", baby_root))
    assert isinstance(track, Track), track
    assert track.split == deterministic_split("Track00001")
    assert track.audio.name == "mix.wav" and set(track.stems) == set(STEMS)
    check_inst_class_labels(track)


def test_slakh_program_and_slakh34_taxonomies(redux_root):
    (by_program,) = list(read_dataset("slakh", redux_root, taxonomy="program"))
    assert len(by_program.classes) == 129 and by_program.classes[0] == "Acoustic Grand Piano"
    assert by_program.classes[128] == "Drums"
    # program_num of S00..S10 in metadata.yaml: 30, drums, 1, 33, 52, 17, 26, 30, 22, 22
    assert {k for k, v in by_program.clip_labels.items() if v} == {
        "Distortion Guitar", "Drums", "Bright Acoustic Piano", "Electric Bass (finger)",
        "Choir Aahs", "Percussive Organ", "Electric Guitar (jazz)", "Harmonica",
    }
    (by_class34,) = list(read_dataset("slakh", redux_root, taxonomy="slakh34"))
    assert len(by_class34.classes) == 34
    # komplete_strict.json, 1-based: 31 Distorted Electric Guitar, 2 Acoustic Piano, 34 Electric
    # Bass, 53 Choir and Voice, 18 and 23 Organ, 27 Clean Electric Guitar, drums 129
    assert {k for k, v in by_class34.clip_labels.items() if v} == {
        "Distorted Electric Guitar", "Drums", "Acoustic Piano", "Electric Bass",
        "Choir and Voice", "Organ", "Clean Electric Guitar",
    }
    # drums: the union of S01's notes, whatever the taxonomy
    (by_family,) = list(read_dataset("slakh", redux_root))
    drums = [(e.onset, e.offset) for e in by_family.events if e.label == "Drums"]
    assert drums == [(e.onset, e.offset) for e in by_class34.events if e.label == "Drums"]


def test_slakh_vocabularies():
    families = slakh_taxonomy("inst_class")
    assert families.classes[:3] == ("Piano", "Chromatic Percussion", "Organ")
    assert families.classes[-1] == "Drums" and len(families.classes) == 17
    # Slakh spells programs 96-103 "Sound Effects" and 119-127 "Sound effects": two families
    assert families.class_of_program(103) == "Synth Effects"
    assert families.class_of_program(127) == "Sound Effects"
    assert families.class_of_program(0, is_drum=True) == "Drums"
    lower = [name.lower() for name in families.classes]
    assert len(set(lower)) == len(lower)
    strict = slakh_taxonomy("slakh34")
    assert strict.class_of_program(0) == "Acoustic Piano"  # 1-based 1 wins over a stray 0
    assert strict.class_of_program(4) == "Electric Piano"  # 1-based 5
    assert strict.class_of_program(38) is None  # Synth Bass 1 has no Slakh class
    with pytest.raises(DatasetError, match="unknown Slakh taxonomy 'gm'"):
        slakh_taxonomy("gm")


def test_slakh_stem_without_audio_does_not_count(redux_root):
    (redux_root / "train" / "Track00001" / "stems" / "S03.flac").unlink()
    (track,) = list(read_dataset("slakh", redux_root))
    assert "S03" not in track.stems
    assert track.clip_labels["Bass"] == 0.0  # S03 was the only bass
    assert "train/Track00001/MIDI/S03.mid" not in track.source_hashes


def make_track(root: Path, name: str) -> Path:
    track_dir = root / "train" / name
    shutil.copytree(FIXTURE / "slakh2100_flac_redux" / "train" / "Track00001", track_dir)
    text = (track_dir / "metadata.yaml").read_text().replace("Track00001/", f"{name}/")
    (track_dir / "metadata.yaml").write_text(text)
    add_audio(track_dir, ".flac")
    return track_dir


def test_slakh_bad_tracks_are_reported_and_the_good_one_still_comes(redux_root):
    root = redux_root
    # Track00002: metadata without 'stems'
    bad = make_track(root, "Track00002")
    (bad / "metadata.yaml").write_text("UUID: x\naudio_dir: stems\nmidi_dir: MIDI\n")
    # Track00003: a stem without program_num
    bad = make_track(root, "Track00003")
    text = (bad / "metadata.yaml").read_text().replace("    program_num: 33\n", "")
    (bad / "metadata.yaml").write_text(text)
    # Track00004: a stem MIDI with no notes
    bad = make_track(root, "Track00004")
    pretty_midi.PrettyMIDI().write(str(bad / "MIDI" / "S02.mid"))
    # Track00005: audio_dir escaping the dataset root
    bad = make_track(root, "Track00005")
    text = (bad / "metadata.yaml").read_text().replace("audio_dir: Track00005/stems", "audio_dir: ../../../outside")
    (bad / "metadata.yaml").write_text(text)
    # Track00006: mix missing; Track00007: mix undecodable; Track00008: corrupt MIDI
    (make_track(root, "Track00006") / "mix.flac").unlink()
    (make_track(root, "Track00007") / "mix.flac").write_bytes(b"\x00garbage" * 50)
    (make_track(root, "Track00008") / "MIDI" / "S05.mid").write_bytes(b"MThd not really")
    # Track00009: YAML that does not parse
    (make_track(root, "Track00009") / "metadata.yaml").write_text("stems: [unclosed\n")

    items = {item.track_id: item for item in read_dataset("slakh", root)}
    assert isinstance(items["Track00001"], Track)
    problems = {k: v for k, v in items.items() if isinstance(v, TrackProblem)}
    assert set(problems) == {f"Track0000{i}" for i in range(2, 10)}
    expect = {
        "Track00002": ("metadata.yaml", "'stems' is missing"),
        "Track00003": ("metadata.yaml", "line 36: stem has no field 'program_num'"),  # the line of 'S03:'
        "Track00004": ("S02.mid", "no notes"),
        "Track00005": ("metadata.yaml", "outside the dataset root"),
        "Track00006": ("mix.flac", "missing"),
        "Track00007": ("mix.flac", "cannot read the audio header"),
        "Track00008": ("S05.mid", "cannot parse the MIDI file"),
        "Track00009": ("metadata.yaml", "cannot read the track metadata"),
    }
    for track_id, (file_name, text) in expect.items():
        assert problems[track_id].path.name == file_name, (track_id, problems[track_id])
        assert text in problems[track_id].message, (track_id, problems[track_id])


def test_slakh_root_without_tracks(tmp_path):
    with pytest.raises(DatasetError, match="no Slakh track found"):
        read_dataset("slakh", tmp_path)
