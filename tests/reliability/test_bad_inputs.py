"""Bad-input suite: generated broken (and odd but valid) inputs through the real entry points.

Each dataset batch mixes good songs with bad ones and goes through ``read_dataset`` and
``instrec extract --workers 0`` into a fresh store, then ``instrec store verify --deep``.
For every bad input the run reports a failure whose path is the bad file and whose message
says what is wrong; every good song of the same batch is committed with the frame count its
audio implies; the store verifies.  Odd but valid inputs (silence, 8 channels, 8 kHz and
192 kHz, a WAV named .flac, an MP3 named .wav, names with spaces or non-UTF-8 bytes) are
extracted, silence with a warning naming the file.

Decisions documented here:
- the file type comes from the content (libsndfile), not the extension: a WAV named .flac
  and an MP3 named .wav are read as what they are, not errors;
- audio shorter than ``pipeline.audio.MIN_DURATION_S`` (10 ms, e.g. a 1 ms song) is refused;
- directory links are not followed (a loop cannot trap the scan; a warning names the link);
  a file link that is broken or loops is a failure naming it; one that leads outside the
  dataset root is refused unread (``test_security.py``);
- messages give the file, the line and what was expected, never the offending text;
- track ids of non-UTF-8 file names have the bad bytes escaped (``\\xff``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.readers import read_dataset
from pipeline.track import Track, TrackProblem
from storage.store import open_store

from .conftest import (
    GOOD_ONSETS, SR, aam_song, arff_text, directory_link_loop, expected_frames, extract_json, failure_for,
    garbage_wav, header_only_wav, id3_only_mp3, long_wav_in_chunks, mp3_named_wav, non_utf8_name, nonfinite_wav,
    one_ms, openmic_root, run_cli, segments_text, silent_wav, slakh_track, symlink_loop, truncated_flac, verify,
    wav_named_flac, write_audio, write_midi_tempo_in_note_track, zero_byte,
)


def committed(store: Path) -> dict[str, int]:
    """track id -> n_frames of the committed logmel tracks."""
    reader = open_store(str(store)).feature_set("logmel")
    return {entry.track_id: entry.n_frames for entry in reader.tracks()}


def frames_of(path: Path) -> int:
    info = sf.info(os.fsencode(path))
    return expected_frames(info.frames, info.samplerate)


def assert_store_verifies(store: Path) -> None:
    rc, report = verify(store)
    assert rc == 0 and ": OK," in report, report


# --- folder of audio files ------------------------------------------------------------------

FOLDER_BAD = {
    # kind: (file name, regex the problem must match)
    "truncated FLAC": ("truncated.flac", r"audio cannot be decoded .*the file may be truncated"),
    "zero-byte file": ("empty.wav", r"audio file is empty \(0 bytes\); re-export or remove it"),
    "header-only WAV": ("header_only.wav", r"audio file has no samples \(header only\)"),
    "random bytes named .wav": ("garbage.wav", r"cannot read the audio header .*is it really wav\?"),
    "NaN samples": ("nan.wav", r"audio contains NaN or Inf samples"),
    "Inf samples": ("inf.wav", r"audio contains NaN or Inf samples"),
    "1 ms song": ("one_ms.wav", r"audio lasts 0\.0010 s \(22 samples\), shorter than 0\.01 s; it is too short"),
    "symlink loop (file)": ("loop.wav", r"symbolic link is broken or loops \(points to 'loop\.wav'\)"),
    "MP3 holding only an ID3 tag": ("tag_only.mp3", r"holds only an ID3 tag and no audio frames; re-export"),
}
# Odd but valid: extracted, with the frame count of their audio.  kind: (track id, file name)
FOLDER_VALID = {
    "8-channel audio": ("eight_channels", "eight_channels.wav"),
    "8 kHz audio": ("rate_8k", "rate_8k.wav"),
    "192 kHz audio": ("rate_192k", "rate_192k.flac"),
    "pure silence": ("silence", "silence.wav"),
    "WAV named .flac": ("really_wav", "really_wav.flac"),
    "MP3 named .wav": ("really_mp3", "really_mp3.wav"),
    "space-containing name": ("song with spaces", "song with spaces.flac"),
    "non-UTF-8 name": ("caf\\xe9 \\xff", os.fsdecode(b"caf\xe9 \xff.wav")),
    "same stem, two extensions (a)": ("dup.wav", "dup.wav"),
    "same stem, two extensions (b)": ("dup.flac", "dup.flac"),
    "good": ("good", "good.wav"),
    "song in a folder named like audio": ("dir.wav/inside", "dir.wav/inside.wav"),
}


@pytest.fixture(scope="module")
def folder_batch(tmp_path_factory):
    """One folder holding every bad and odd audio input, extracted once."""
    base = tmp_path_factory.mktemp("folder")
    root = base / "songs"
    truncated_flac(root)
    zero_byte(root)
    header_only_wav(root)
    garbage_wav(root)
    nonfinite_wav(root, "nan.wav", np.nan)
    nonfinite_wav(root, "inf.wav", np.inf)
    one_ms(root)
    symlink_loop(root)
    directory_link_loop(root)
    write_audio(root / "eight_channels.wav", 1.0, channels=8)
    write_audio(root / "rate_8k.wav", 1.0, sr=8000)
    write_audio(root / "rate_192k.flac", 1.0, sr=192000, format="FLAC")
    silent_wav(root)
    wav_named_flac(root)
    mp3_named_wav(root)
    write_audio(root / "song with spaces.flac", 1.0, format="FLAC")
    non_utf8_name(root)
    write_audio(root / "dup.wav", 1.0)
    write_audio(root / "dup.flac", 0.5, format="FLAC")
    write_audio(root / "good.wav", 1.0)
    write_audio(root / "dir.wav" / "inside.wav", 1.0)
    id3_only_mp3(root)
    (root / "notes.txt").write_text("not audio: ignored\n")
    store = base / "store"
    rc, summary = extract_json(root, "folder", store)
    return root, store, rc, summary


@pytest.mark.parametrize("kind", sorted(FOLDER_BAD))
def test_bad_audio_fails_with_a_message_naming_the_file(folder_batch, kind):
    root, _, rc, summary = folder_batch
    name, pattern = FOLDER_BAD[kind]
    record = failure_for(summary, name)
    assert record["path"] == str(root / name)
    assert re.search(pattern, record["problem"]), record["problem"]
    assert rc == 1  # some tracks failed


def test_bad_audio_leaves_the_other_songs_committed_and_the_store_verifying(folder_batch):
    root, store, _, summary = folder_batch
    tracks = committed(store)
    assert len(summary["failed"]) == len(FOLDER_BAD)
    assert tracks == {track_id: frames_of(root / name) for track_id, name in FOLDER_VALID.values()}
    reader = open_store(str(store)).feature_set("logmel")
    for track_id in tracks:
        features = reader.read_features(track_id)
        assert features.shape[0] == tracks[track_id] and np.isfinite(features).all()
    # 8 identical channels downmix to the same tone as good.wav (both 16-bit, 22.05 kHz).
    assert np.array_equal(reader.read_features("eight_channels"), reader.read_features("good"))
    assert_store_verifies(store)


def test_silence_is_a_warning_naming_the_file_not_a_failure(folder_batch):
    root, _, _, summary = folder_batch
    (warning,) = [w for w in summary["warnings"] if w["track_id"] == "silence"]
    assert re.search(rf"^{re.escape(str(root / 'silence.wav'))}: audio is silent", warning["message"])


def test_reader_reports_header_problems_before_extraction(folder_batch):
    root = folder_batch[0]
    problems = {Path(p.path).name: p.message for p in read_dataset("folder", root) if isinstance(p, TrackProblem)}
    assert problems.keys() == {"empty.wav", "header_only.wav", "garbage.wav", "one_ms.wav", "loop.wav",
                               "tag_only.mp3"}
    for name, message in problems.items():
        kind = next(k for k, (n, _) in FOLDER_BAD.items() if n == name)
        assert re.search(FOLDER_BAD[kind][1], message), message


def test_directory_link_loop_is_not_followed_and_is_named(tmp_path, caplog):
    root = tmp_path / "songs"
    write_audio(root / "sub" / "a.wav", 0.5)
    link = directory_link_loop(root)
    with caplog.at_level(logging.WARNING, logger="pipeline.readers.files"):
        items = list(read_dataset("folder", root))
    assert [t.track_id for t in items] == ["sub/a"]
    assert any(re.search(rf"^{re.escape(str(link))}: directory link not followed", r.getMessage())
               for r in caplog.records), [r.getMessage() for r in caplog.records]


def test_non_utf8_name_gets_a_printable_track_id(tmp_path):
    path = non_utf8_name(tmp_path)
    (track,) = read_dataset("folder", tmp_path)
    assert isinstance(track, Track) and track.audio == path
    assert track.track_id == "caf\\xe9 \\xff"
    record = json.loads(json.dumps(track.to_json()))  # the manifest line: ASCII JSON
    assert Path(record["audio"]) == path  # the real (undecodable) name survives the round trip
    assert record["track_id"] == track.track_id and list(record["source_hashes"]) == ["caf\\xe9 \\xff.wav"]


def test_text_summary_names_each_bad_file(folder_batch, tmp_path):
    root = folder_batch[0]
    rc, out, err = run_cli(["extract", str(root), "--dataset", "folder", "--store", str(tmp_path / "s"),
                            "--workers", "0", "--no-progress"])
    assert rc == 1, err
    failed = [line for line in out.splitlines() if line.startswith("  failed ")]
    assert len(failed) == len(FOLDER_BAD), out
    for name, pattern in FOLDER_BAD.values():
        assert any(re.search(rf"{re.escape(str(root / name))}: {pattern}", line) for line in failed), (name, out)


def test_text_summary_prints_non_utf8_file_names(tmp_path):
    root = tmp_path / "songs"
    silent = write_audio(os.fsencode(root) + b"/quiet \xff.wav", data=np.zeros(SR, dtype=np.float32))
    store = tmp_path / "store"
    try:
        rc, out, err = run_cli(["extract", str(root), "--dataset", "folder", "--store", str(store),
                                "--workers", "0", "--no-progress"])
    finally:
        track_id = "quiet \\xff"  # the 0xff byte escaped
        assert committed(store) == {track_id: expected_frames(SR, SR)}
        assert_store_verifies(store)
    assert rc == 0, err
    shown = str(silent).encode("utf-8", "backslashreplace").decode("utf-8")  # as the fixed CLI prints it
    assert f"  warning {track_id}: {shown}: audio is silent" in out, out


# --- AAM: broken annotations ----------------------------------------------------------------

AAM_BAD = {
    "ARFF with missing columns": (
        "2", arff_text(["Onset events of Piano", "Onset events of Drums"], ["0.0,'[+60]'", "0.9,'[]'"]),
        r"malformed ARFF"),
    "ARFF with only a time column": (
        "3", arff_text([], ["0.0", "0.9"]),
        r"expected a time column and 'Onset events of <Instrument>' columns"),
    "ARFF with an unknown instrument": (
        "4", arff_text(["Onset events of Theremin"], ["0.0,'[+60]'", "0.9,'[]'"]),
        r"line 4: column 2 names an instrument outside the AAM vocabulary \(AcousticGuitar, "),
    "ARFF with an unparseable time": (
        "5", arff_text(["Onset events of Piano"], ["0.0,'[+60]'", "half past,'[]'"]),
        r"malformed ARFF .*re-download the AAM annotations"),
    "ARFF with times going backwards": (
        "6", arff_text(["Onset events of Piano"], ["0.0,'[+60]'", "0.5,'[60]'", "0.2,'[]'"]),
        r"line 9 \(data row 3\): the time is negative, not finite or earlier than the row before"),
    "ARFF with a bad key cell": (
        "7", arff_text(["Onset events of Piano"], ["0.0,'+60'", "0.9,'[]'"]),
        r"line 7 \(data row 1\), column 2: expected a bracketed list of MIDI keys like '\[\+36,42\]'"),
}


# Onsets that would give a normal-looking track with all-negative or early-ending labels.
# kind: (track id, onsets, audio seconds, segments file or None, regex); see pipeline.readers.aam.
AAM_CUT_SHORT = {
    "ARFF with an empty @DATA": (
        "9", arff_text(["Onset events of Piano"], []), 1.0, None,
        r"the @DATA section has no rows, so the song would have no labels; the file is cut short"),
    "ARFF ending long before the audio": (
        "10", GOOD_ONSETS, 12.0, None,
        r"the onsets end at 0\.900 s but the audio 10_mix\.flac lasts 12\.000 s \(more than 10 s unannotated"),
    "ARFF ending before the segments 'end'": (
        "11", GOOD_ONSETS, 6.0, segments_text(5.0),
        r"the onsets end at 0\.900 s but 11_segments\.arff says the song ends at 5\.000 s; the onsets file is "
        r"cut short: re-download"),
}
# Odd but valid: committed.  track id -> (onsets, audio seconds, segments, file encoding)
AAM_VALID = {
    "1": (GOOD_ONSETS, 1.0, None, "utf-8"),
    "8": (GOOD_ONSETS, 2.0, None, "utf-8"),
    "12": (GOOD_ONSETS, 1.0, segments_text(0.9), "utf-8-sig"),  # UTF-8 byte-order marks (Windows editors)
    "13": (GOOD_ONSETS, 12.0, segments_text(0.9), "utf-8"),  # a long silent tail the segments file confirms
}


@pytest.fixture(scope="module")
def aam_batch(tmp_path_factory):
    base = tmp_path_factory.mktemp("aam")
    root = base / "aam"
    for track_id, (text, seconds, segments, encoding) in AAM_VALID.items():
        aam_song(root, track_id, onsets=text, seconds=seconds, segments=segments, encoding=encoding)
    for track_id, text, _ in AAM_BAD.values():
        aam_song(root, track_id, onsets=text)
    for track_id, text, seconds, segments, _ in AAM_CUT_SHORT.values():
        aam_song(root, track_id, onsets=text, seconds=seconds, segments=segments)
    store = base / "store"
    rc, summary = extract_json(root, "aam", store)
    return root, store, rc, summary


@pytest.mark.parametrize("kind", sorted(AAM_BAD))
def test_broken_arff_fails_with_a_message_naming_it(aam_batch, kind):
    root, _, rc, summary = aam_batch
    track_id, _, pattern = AAM_BAD[kind]
    (record,) = [f for f in summary["failed"] if f["track_id"] == track_id]
    assert record["path"] == str(root / f"{track_id}_onsets.arff")
    assert re.search(pattern, record["problem"]), record["problem"]
    assert rc == 1


@pytest.mark.parametrize("kind", sorted(AAM_CUT_SHORT))
def test_empty_or_cut_short_arff_fails_naming_it(aam_batch, kind):
    root, _, rc, summary = aam_batch
    track_id, *_, pattern = AAM_CUT_SHORT[kind]
    (record,) = [f for f in summary["failed"] if f["track_id"] == track_id]
    assert record["path"] == str(root / f"{track_id}_onsets.arff")
    assert re.search(pattern, record["problem"]), record["problem"]
    assert rc == 1


def test_broken_arff_leaves_the_good_songs_committed(aam_batch):
    root, store, _, summary = aam_batch
    assert committed(store) == {track_id: expected_frames(int(seconds * SR), SR)
                                for track_id, (_, seconds, _, _) in AAM_VALID.items()}
    reader = open_store(str(store)).feature_set("logmel")
    labels, known = reader.read_labels("1")
    piano = reader.classes.index("Piano")
    times = reader.first_centre + np.arange(labels.shape[0]) * reader.hop_s
    # conftest.GOOD_ONSETS: Piano sounds from 0.0 until the '[]' row at 0.5 s.
    assert np.array_equal(labels[:, piano].astype(bool), times < 0.5) and known.all()
    assert np.array_equal(reader.read_labels("12")[0], labels)  # read through the byte-order mark
    assert len(summary["failed"]) == len(AAM_BAD) + len(AAM_CUT_SHORT)
    assert_store_verifies(store)


# --- Slakh: metadata, MIDI, paths outside the root, duplicate ids ---------------------------

SLAKH_META_NO_STEMS = "audio_dir: stems\nmidi_dir: MIDI\n"
SLAKH_META_NO_PROGRAM = "audio_dir: stems\nmidi_dir: MIDI\nstems:\n  S00:\n    inst_class: Piano\n"
SLAKH_META = "audio_dir: {audio}\nmidi_dir: MIDI\nstems:\n  S00:\n    is_drum: false\n    program_num: 0\n"
SLAKH_BAD = {
    # kind: (track id, split folder, file relative to the track, regex)
    "metadata.yaml with missing stems": (
        "Track00002", "train", "metadata.yaml", r"field 'stems' is missing or empty; re-download the track"),
    "metadata.yaml with missing fields": (
        "Track00003", "train", "metadata.yaml", r"line 4: stem has no field 'program_num'"),
    "annotation path outside the root (relative)": (
        "Track00004", "train", "metadata.yaml",
        r"audio_dir is absolute or points outside the dataset root .*refusing"),
    "annotation path outside the root (absolute)": (
        "Track00005", "train", "metadata.yaml", r"audio_dir is absolute or points outside .*refusing"),
    "MIDI with no notes": ("Track00006", "train", "MIDI/S00.mid", r"MIDI file has no notes"),
    "invalid MIDI file": ("Track00007", "train", "MIDI/S00.mid", r"cannot parse the MIDI file"),
    "duplicate track id": ("Track00008", "validation", "", r"track id Track00008 also used by .*test/Track00008"),
    "unreadable YAML": ("Track00009", "train", "metadata.yaml",
                        r"cannot read the track metadata: not valid YAML at line 2, column 1; expected a mapping"),
    "stem listed twice in metadata.yaml": (
        "Track00010", "train", "metadata.yaml",
        r"line 7: stem S00 is listed twice \(first at line 4\); which entry holds is ambiguous"),
}
SLAKH_META_TWICE = ("audio_dir: stems\nmidi_dir: MIDI\nstems:\n  S00:\n    inst_class: Piano\n    program_num: 0\n"
                    "  S00:\n    inst_class: Bass\n    program_num: 33\n")


@pytest.fixture(scope="module")
def slakh_batch(tmp_path_factory):
    base = tmp_path_factory.mktemp("slakh")
    root = base / "slakh"
    outside = base / "outside"
    write_audio(outside / "S00.flac", 1.0, format="FLAC")  # real audio outside the root: still refused
    slakh_track(root, "Track00001")
    slakh_track(root, "Track00002", metadata=SLAKH_META_NO_STEMS)
    slakh_track(root, "Track00003", metadata=SLAKH_META_NO_PROGRAM)
    slakh_track(root, "Track00004", metadata=SLAKH_META.format(audio="../../../outside"))
    slakh_track(root, "Track00005", metadata=SLAKH_META.format(audio=str(outside)))
    slakh_track(root, "Track00006", notes=())
    slakh_track(root, "Track00007", midi_bytes=b"MThd\x00\x00\x00\x06garbage")
    slakh_track(root, "Track00008", split="test")
    slakh_track(root, "Track00008", split="validation", seconds=2.0)
    slakh_track(root, "Track00009", metadata="stems: [unclosed\n")
    slakh_track(root, "Track00010", metadata=SLAKH_META_TWICE)
    store = base / "store"
    rc, summary = extract_json(root, "slakh", store)
    return root, store, rc, summary


@pytest.mark.parametrize("kind", sorted(SLAKH_BAD))
def test_bad_slakh_track_fails_with_a_message_naming_the_file(slakh_batch, kind):
    root, _, rc, summary = slakh_batch
    track_id, split, relative, pattern = SLAKH_BAD[kind]
    records = [f for f in summary["failed"] if f["track_id"] == track_id]
    assert len(records) == 1, summary["failed"]
    expected = root / split / track_id / relative if relative else root / split / track_id
    assert records[0]["path"] == str(expected)
    assert re.search(pattern, records[0]["problem"]), records[0]["problem"]
    assert rc == 1


def test_bad_slakh_tracks_leave_the_good_ones_committed(slakh_batch):
    _, store, _, summary = slakh_batch
    # Track00008's first copy (test/, 1 s) is kept, the second (validation/, 2 s) refused.
    assert committed(store) == {"Track00001": expected_frames(SR, SR), "Track00008": expected_frames(SR, SR)}
    split = {e.track_id: e.split for e in open_store(str(store)).feature_set("logmel").tracks()}
    assert split == {"Track00001": "train", "Track00008": "test"}
    assert len(summary["failed"]) == len(SLAKH_BAD)
    assert_store_verifies(store)


def test_tempo_change_in_a_note_track_is_honoured_and_reported(tmp_path, caplog):
    """FluidSynth applies a tempo change written on any track to the whole song; so do the labels."""
    root = tmp_path / "slakh"
    folder = slakh_track(root, "Track00001", seconds=4.0)
    midi = write_midi_tempo_in_note_track(folder / "MIDI" / "S00.mid")
    with caplog.at_level(logging.WARNING, logger="pipeline.readers.midi"):
        (track,) = read_dataset("slakh", root)
    assert isinstance(track, Track), track
    assert [(e.label, e.onset, e.offset) for e in track.events] == [("Piano", 0.0, 0.5), ("Piano", 2.0, 3.0)]
    assert any(r.getMessage().startswith(f"{midi}: tempo changes on track(s) 1 applied to the whole song")
               for r in caplog.records), [r.getMessage() for r in caplog.records]


def test_conflicting_tempos_on_two_tracks_refuse_the_track(tmp_path):
    import mido

    root = tmp_path / "slakh"
    folder = slakh_track(root, "Track00001")
    midi = mido.MidiFile(folder / "MIDI" / "S00.mid")
    midi.tracks[1].insert(0, mido.MetaMessage("set_tempo", tempo=400_000, time=0))  # pretty_midi wrote 120 BPM in 0
    midi.save(folder / "MIDI" / "S00.mid")
    (problem,) = read_dataset("slakh", root)
    assert isinstance(problem, TrackProblem) and problem.path == folder / "MIDI" / "S00.mid"
    assert re.search(r"tracks 0 and 1 set different tempos at tick 0 \(120\.00 and 150\.00 BPM\).*re-export",
                     problem.message), problem.message


# --- OpenMIC: a labelled key without audio --------------------------------------------------

def test_openmic_key_without_audio_fails_and_the_others_are_committed(tmp_path):
    root = openmic_root(tmp_path / "openmic", {"000001_0": True, "000002_0": False, "000003_0": True})
    problems = [p for p in read_dataset("openmic", root) if isinstance(p, TrackProblem)]
    assert [(p.track_id, p.path) for p in problems] == [("000002_0", root / "audio" / "000" / "000002_0.ogg")]
    store = tmp_path / "store"
    rc, summary = extract_json(root, "openmic", store)
    (record,) = summary["failed"]
    assert record["path"] == str(root / "audio" / "000" / "000002_0.ogg") and rc == 1
    assert re.search(r"audio file is missing for a labelled clip; download the OpenMIC audio", record["problem"])
    assert committed(store) == {"000001_0": expected_frames(SR, SR), "000003_0": expected_frames(SR, SR)}
    assert_store_verifies(store)


def test_openmic_labels_with_a_byte_order_mark_are_read(tmp_path):
    root = openmic_root(tmp_path / "openmic", {"000001_0": True})
    labels = root / "openmic-2018-aggregated-labels.csv"
    labels.write_text(labels.read_text(encoding="utf-8"), encoding="utf-8-sig")  # as Excel saves CSV
    (track,) = read_dataset("openmic", root)
    assert isinstance(track, Track), track
    assert track.clip_labels["piano"] == 1.0 and track.clip_mask["piano"]


# --- a 2-hour song: streamed, bounded memory -------------------------------------------------

TWO_HOURS_SAMPLES = 2 * 3600 * 8000
OUTPUT_BYTES = 4 * math.ceil(TWO_HOURS_SAMPLES * SR / 8000)  # the 22.05 kHz float32 copy: 635 MB


def run_measured(code: str, timeout: float) -> tuple[dict, str]:
    """Run ``code`` in a fresh interpreter; it leaves its result in ``result``; adds peak RSS in bytes."""
    script = textwrap.dedent(code) + textwrap.dedent("""
        import json, sys
        # VmHWM belongs to this process's own address space; ru_maxrss can carry the high-water
        # mark of the (large) pytest process that spawned it across exec.
        with open("/proc/self/status") as status:
            hwm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
        result["maxrss_bytes"] = hwm_kb * 1024
        print(json.dumps(result), file=sys.stderr)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout)
    assert done.stderr.strip(), done
    return json.loads(done.stderr.strip().splitlines()[-1]), done.stdout


@pytest.fixture(scope="module")
def two_hour_song(tmp_path_factory):
    """A 2-hour 8 kHz mono 16-bit WAV (115 MB, written in 10-minute chunks), extracted once."""
    base = tmp_path_factory.mktemp("long")
    path = long_wav_in_chunks(base / "songs" / "two_hours.wav", hours=2.0, sr=8000)
    store = base / "store"
    usage, out = run_measured(f"""
        from instrec.cli import main
        result = {{"rc": main(["extract", {str(path.parent)!r}, "--dataset", "folder", "--store", {str(store)!r},
                               "--workers", "0", "--no-progress", "--json"])}}
    """, timeout=170)
    return path, store, usage, json.loads(out)


@pytest.mark.slow
def test_two_hour_song_is_extracted_and_verifies(two_hour_song):
    path, store, usage, summary = two_hour_song
    assert path.stat().st_size > 110e6
    assert usage["rc"] == 0 and summary["done"] == 1 and not summary["failed"], summary
    assert committed(store) == {"two_hours": expected_frames(TWO_HOURS_SAMPLES, 8000)}
    assert_store_verifies(store)


@pytest.mark.slow
def test_two_hour_song_decodes_streamed(two_hour_song):
    """Decoding never holds the native-rate audio next to the 22.05 kHz copy."""
    path = two_hour_song[0]
    usage, _ = run_measured(f"""
        from pipeline.audio import load_resampled
        y = load_resampled({str(path)!r}, [22050])[22050]
        result = {{"n": len(y), "below_full_scale": bool(max(float(y.max()), -float(y.min())) < 1.0)}}
    """, timeout=60)
    assert usage["n"] == OUTPUT_BYTES // 4 and usage["below_full_scale"]
    assert usage["maxrss_bytes"] < OUTPUT_BYTES + 200e6, usage  # the output plus the interpreter and one block


@pytest.mark.slow
def test_two_hour_song_extraction_memory_is_bounded(two_hour_song):
    usage = two_hour_song[2]
    assert usage["maxrss_bytes"] < 1.4e9, usage
