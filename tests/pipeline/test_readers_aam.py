"""AAM reader against the generated AAM fixture (tests/fixtures/aam) and broken inputs.

Expected values below were read off the fixture by hand: the onsets file has 433 data rows
(lines starting with a digit); an instrument is active over each run of consecutive rows
whose cell is not '[]' (a key listed in a cell is sounding, so the union of its keys'
intervals is exactly the run), the run ending at the first '[]' row.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.readers import read_dataset
from pipeline.readers.aam import key_intervals, parse_key_cell
from pipeline.readers.taxonomy import AAM_INSTRUMENTS
from pipeline.track import DatasetError, Track, TrackProblem, deterministic_split, merge_intervals

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "aam"
SONG_END = 133.43253  # time of the last onsets row (all cells '[]')


def write_silence(path: Path, seconds: float, sr: int = 8000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(seconds * sr), dtype=np.float32), sr)
    return path


@pytest.fixture
def aam_root(tmp_path: Path) -> Path:
    """The fixture in AAM's archive layout (annotations/, midis/) plus audio/9999_mix.flac."""
    root = tmp_path / "aam"
    shutil.copytree(FIXTURE, root)
    write_silence(root / "audio" / "9999_mix.flac", 134.0)
    return root


def by_label(track: Track, label: str) -> list[tuple[float, float]]:
    return [(e.onset, e.offset) for e in track.events if e.label == label]


def test_aam_fixture_events_and_labels(aam_root):
    (track,) = list(read_dataset("aam", aam_root))
    assert isinstance(track, Track)
    assert track.track_id == "9999" and track.dataset == "aam"
    assert track.audio == aam_root / "audio" / "9999_mix.flac"
    assert track.duration == pytest.approx(134.0) and track.sample_rate == 8000
    assert track.split == deterministic_split("9999")
    # DoubleBassPizz cells are non-empty from row 0.0 until the '[]' at 17.349384 (the
    # 'C' segment drops the bass), and again from 87.167496 to the last row.
    assert by_label(track, "DoubleBassPizz") == [(0.0, 17.349384), (87.167496, SONG_END)]
    # Piano has a chord in every row but the last: one event over the whole song.
    assert by_label(track, "Piano") == [(0.0, SONG_END)]
    # ElectricGuitarCrunch plays only in the final 'B' segment (starts 87.167496).
    assert by_label(track, "ElectricGuitarCrunch") == [(87.167496, SONG_END)]
    # Drums: row 0.0 '[+36,+42]', 0.361445 '[]' -> (0, 0.361445); row 0.722891 '[+40,+42]',
    # 1.084336 '[+40]' (40 restarts, the instrument stays active), 1.445782 '[+42]',
    # 1.807227 '[]' -> (0.722891, 1.807227).  160 runs in all.
    drums = by_label(track, "Drums")
    assert drums[:2] == [(0.0, 0.361445), (0.722891, 1.807227)]
    assert len(drums) == 160 and drums[-1] == (132.70963, SONG_END)
    flugelhorn = by_label(track, "Flugelhorn")
    assert flugelhorn[:2] == [(0.0, 0.722891), (1.084336, 5.060237)]
    assert len(flugelhorn) == 42 and flugelhorn[-1] == (82.531136, 86.07659)
    fujara = by_label(track, "Fujara")
    assert len(fujara) == 17 and fujara[0] == (87.89038, 88.25183) and fujara[-1] == (129.09517, 131.98674)
    assert len(track.events) == 2 + 1 + 1 + 160 + 42 + 17
    active = {"DoubleBassPizz", "Drums", "ElectricGuitarCrunch", "Flugelhorn", "Fujara", "Piano"}
    assert {name for name, value in track.clip_labels.items() if value == 1.0} == active
    assert set(track.clip_labels) == set(AAM_INSTRUMENTS) and all(track.clip_mask.values())
    assert track.dominant == "Piano"  # active for the whole song
    assert track.strong_labels is True
    assert set(track.source_hashes) == {
        "annotations/9999_onsets.arff", "annotations/9999_segments.arff", "audio/9999_mix.flac",
    }


def test_aam_vocabulary_is_the_31_onset_columns_of_the_fixture():
    header = (FIXTURE / "annotations" / "9999_onsets.arff").read_text()
    columns = re.findall(r"@ATTRIBUTE 'Onset events of (\w+)' STRING", header)
    assert len(columns) == 31
    assert AAM_INSTRUMENTS == tuple(columns) == tuple(sorted(columns))


def test_aam_onset_intervals_agree_with_the_midi(aam_root):
    """Union of each instrument's MIDI notes (pretty_midi, read here) vs the onsets.arff runs."""
    import pretty_midi

    (track,) = list(read_dataset("aam", aam_root))
    for instrument in ("DoubleBassPizz", "Drums", "ElectricGuitarCrunch", "Flugelhorn", "Fujara", "Piano"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            midi = pretty_midi.PrettyMIDI(str(aam_root / "midis" / f"9999_{instrument}.mid"))
        notes = merge_intervals((n.start, n.end) for inst in midi.instruments for n in inst.notes)
        from_arff = by_label(track, instrument)
        assert len(notes) == len(from_arff), instrument
        # the arff rounds times to ~6 significant digits
        np.testing.assert_allclose(np.array(notes), np.array(from_arff), atol=1e-4)
    (from_midi,) = list(read_dataset("aam", aam_root, events_from="midi"))
    assert len(from_midi.events) == len(track.events)
    assert "midis/9999_Drums.mid" in from_midi.source_hashes
    assert "midis/9999_Demo.mid" not in from_midi.source_hashes  # not an instrument


def test_key_cells_and_restarts():
    assert parse_key_cell("[+36,42]") == [(36, True), (42, False)]
    assert parse_key_cell("[]") == []
    with pytest.raises(ValueError, match="bracketed"):
        parse_key_cell("36")
    rows = [
        (0.0, [(60, True)]),
        (1.0, [(60, True)]),  # restart: note 0..1, new note from 1
        (2.0, [(60, False), (64, True)]),
        (3.0, [(64, False)]),  # 60 ends at 3
        (4.0, []),
        (5.0, [(67, False)]),  # bare key not sounding yet: starts here
        (6.0, [(67, False)]),  # last row ends everything
    ]
    assert key_intervals(rows) == [(0.0, 1.0), (1.0, 3.0), (2.0, 4.0), (5.0, 6.0)]


def test_aam_flat_folder_with_stems_and_beatinfo_without_data(tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    for path in (FIXTURE / "annotations").iterdir():
        shutil.copy(path, root / path.name)
    write_silence(root / "9999_mix.wav", 134.0)
    write_silence(root / "9999_Piano.flac", 1.0)
    (root / "9999_beatinfo.arff").write_text("@RELATION 'Beat information of 9999'\n\n@ATTRIBUTE 'Time' NUMERIC\n")
    (track,) = list(read_dataset("aam", root))
    assert isinstance(track, Track)
    assert track.audio.name == "9999_mix.wav"
    assert {k: v.audio for k, v in track.stems.items()} == {"Piano": root / "9999_Piano.flac"}
    assert track.stems["Piano"].label == "Piano"
    assert track.stems["Piano"].events == tuple(e for e in track.events if e.label == "Piano")
    assert "9999_beatinfo.arff" in track.source_hashes and "9999_Piano.flac" not in track.source_hashes
    (hashed,) = list(read_dataset("aam", root, stems=True))
    assert "9999_Piano.flac" in hashed.source_hashes


def test_aam_events_are_cut_at_the_end_of_the_audio(aam_root, caplog):
    write_silence(aam_root / "audio" / "9999_mix.flac", 10.0)
    (track,) = list(read_dataset("aam", aam_root))
    assert by_label(track, "Piano") == [(0.0, 10.0)]
    assert by_label(track, "DoubleBassPizz") == [(0.0, 10.0)]
    assert "ElectricGuitarCrunch" not in {e.label for e in track.events}
    assert "audio lasts 10.00 s" in caplog.text


def test_aam_min_event_length_option(aam_root):
    (plain,) = list(read_dataset("aam", aam_root))
    (smoothed,) = list(read_dataset("aam", aam_root, min_event_s=1.0))
    assert min(e.offset - e.onset for e in plain.events) < 1.0
    assert all(e.offset - e.onset >= 1.0 for e in smoothed.events)
    assert by_label(smoothed, "Piano") == by_label(plain, "Piano")
    # closing one-row gaps (0.361 s) joins the drum hits (0, 0.361445) and (0.722891, 1.807227)
    (merged,) = list(read_dataset("aam", aam_root, merge_gap_s=0.4))
    assert by_label(merged, "Drums")[0][0] == 0.0 and by_label(merged, "Drums")[0][1] >= 1.807227


def write_onsets(path: Path, columns: list[str], rows: list[str]) -> None:
    header = ["@RELATION 'Onset events in x'", "", "@ATTRIBUTE 'Onset time in seconds' NUMERIC"]
    header += [f"@ATTRIBUTE 'Onset events of {name}' STRING" for name in columns]
    path.write_text("\n".join(header + ["", "@DATA", *rows]) + "\n")


def test_aam_bad_songs_are_reported_and_the_good_one_still_comes(aam_root):
    root = aam_root
    good_rows = ["0.0,'[+60]'", "1.0,'[]'"]
    # 0001: corrupt onsets (truncated in the middle of the header)
    (root / "0001_onsets.arff").write_text("@RELATION 'Onset events in 0001'\n@ATTRIBUTE 'Onset time\n")
    write_silence(root / "0001_mix.flac", 2.0)
    # 0002: an instrument AAM does not have
    write_onsets(root / "0002_onsets.arff", ["Piano", "Theremin"], ["0.0,'[+60]','[]'", "1.0,'[]','[]'"])
    write_silence(root / "0002_mix.flac", 2.0)
    # 0003: no audio at all
    write_onsets(root / "0003_onsets.arff", ["Piano"], good_rows)
    # 0004: empty audio file
    write_onsets(root / "0004_onsets.arff", ["Piano"], good_rows)
    (root / "0004_mix.flac").write_bytes(b"")
    # 0005: undecodable audio
    write_onsets(root / "0005_onsets.arff", ["Piano"], good_rows)
    (root / "0005_mix.flac").write_bytes(b"this is not a flac file" * 10)
    # 0006: audio but no onsets annotation
    write_silence(root / "0006_mix.flac", 2.0)
    # 0007: a cell that is not a key list
    write_onsets(root / "0007_onsets.arff", ["Piano"], ["0.0,'60'", "1.0,'[]'"])
    write_silence(root / "0007_mix.flac", 2.0)
    # 0008: a fine song, to show small hand-written files work
    write_onsets(root / "0008_onsets.arff", ["Piano"], good_rows)
    write_silence(root / "0008_mix.flac", 2.0)

    items = {item.track_id: item for item in read_dataset("aam", root)}
    assert isinstance(items["9999"], Track) and isinstance(items["0008"], Track)
    assert [(e.label, e.onset, e.offset) for e in items["0008"].events] == [("Piano", 0.0, 1.0)]
    problems = {key: item for key, item in items.items() if isinstance(item, TrackProblem)}
    assert set(problems) == {"0001", "0002", "0003", "0004", "0005", "0006", "0007"}
    assert problems["0001"].path.name == "0001_onsets.arff" and "malformed ARFF" in problems["0001"].message
    assert problems["0002"].path.name == "0002_onsets.arff"
    assert "line 5: column 3 names an instrument outside the AAM vocabulary" in problems["0002"].message
    assert "Theremin" not in problems["0002"].message  # the line and column, not the file's content
    assert problems["0003"].path.name == "0003_onsets.arff" and "0003_mix.flac" in problems["0003"].message
    assert problems["0004"].path.name == "0004_mix.flac" and "empty" in problems["0004"].message
    assert problems["0005"].path.name == "0005_mix.flac" and "cannot read the audio" in problems["0005"].message
    assert problems["0006"].path.name == "0006_mix.flac" and "0006_onsets.arff" in problems["0006"].message
    assert problems["0007"].path.name == "0007_onsets.arff" and "row 1" in problems["0007"].message


def test_aam_missing_onsets_file_while_segments_exist(aam_root):
    (aam_root / "annotations" / "9999_onsets.arff").unlink()
    (problem,) = list(read_dataset("aam", aam_root))
    assert isinstance(problem, TrackProblem) and "9999_onsets.arff is missing" in problem.message


def test_aam_root_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        read_dataset("aam", tmp_path / "nowhere")
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(DatasetError, match="no AAM song found"):
        list(read_dataset("aam", tmp_path))
    with pytest.raises(DatasetError, match="one class vocabulary"):
        read_dataset("aam", tmp_path, taxonomy="program")
    with pytest.raises(DatasetError, match="do not apply to aam"):
        read_dataset("aam", tmp_path, validation_fraction=0.2)


def test_a_corpus_of_three_songs_has_a_validation_and_a_test_song(tmp_path):
    """80/10/10 by hash alone would put all three in train (ids chosen so); the reader moves two."""
    ids = [t for t in (f"{i:04d}" for i in range(200)) if deterministic_split(t) == "train"][:3]
    onsets = (FIXTURE / "annotations" / "9999_onsets.arff").read_text()
    for track_id in ids:
        write_silence(tmp_path / f"{track_id}_mix.flac", 134.0)
        (tmp_path / f"{track_id}_onsets.arff").write_text(onsets)
    splits = {t.track_id: t.split for t in read_dataset("aam", tmp_path)}
    assert sorted(splits.values()) == ["test", "train", "validation"]
