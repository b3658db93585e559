"""What ``instrec predict`` leaves for a researcher: outputs named after tracks, folders accepted, the
frame-level activations, segments as CSV and JAMS, MIREX clip scores, segments to the true end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from evaluation.mirex import OPENMIC_LABELS, openmic_scores
from evaluation.predict import SCHEMA, activity_segments, predict_files, track_names
from features.base import config_hash
from features.logmel import LogMelConfig

SR = 8000
CONFIG = LogMelConfig(sr=SR, n_fft=512, hop_length=256, n_mels=32)


class ToneRun:
    """'Piano' where the log-mel energy is high, 'Drums' never; clip scores from the frames."""

    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self.classes = ["Piano", "Drums", "Sound Effects"]
        self.decision = None
        self.feature_name = CONFIG.name
        self.feature_config_hash = config_hash(CONFIG)

    def predict(self, features):
        loud = (features.max(axis=1) > -40).astype(np.float32) * 0.9 + 0.05
        return np.stack([loud, np.full_like(loud, 0.05), np.full_like(loud, 0.1)], axis=1)

    def predict_clip(self, features):
        return self.predict(features).max(axis=0)


def _song(path: Path, seconds: float, *, tone: tuple[float, float] | None = None) -> Path:
    t = np.arange(int(seconds * SR)) / SR
    on = np.ones_like(t, bool) if tone is None else (t >= tone[0]) & (t < tone[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.where(on, 0.5 * np.sin(2 * np.pi * 440 * t), 0.0).astype(np.float32), SR)
    return path


@pytest.fixture
def tone_run(tmp_path, monkeypatch):
    run = ToneRun(tmp_path / "crnn")
    monkeypatch.setattr("evaluation.predict.load_runs", lambda dirs: [(run, CONFIG)])
    return run


def test_track_names_follow_the_track_not_the_file():
    assert track_names(["a/Track00013/mix.flac", "a/Track00014/mix.flac"]) == ["Track00013", "Track00014"]
    assert track_names(["aam/0001_mix.flac", "my song.wav"]) == ["0001", "my_song"]
    assert track_names(["x/new.wav", "x/new.ogg"]) == ["new.wav", "new.ogg"]  # as the folder reader names them
    assert track_names(["a/song.wav", "b/song.wav"]) == ["a_song", "b_song"]
    assert track_names(["a/Track1/mix.flac", "b/Track1/mix.flac"]) == ["a_Track1", "b_Track1"]
    assert track_names(["a/song.wav", "a/song.wav"]) == ["song", "song-2"]


def test_slakh_mixes_in_a_folder_each_get_their_own_outputs(tmp_path, tone_run):
    corpus = tmp_path / "slakh"
    _song(corpus / "Track00013" / "mix.flac", 1.0, tone=(0.0, 0.5))
    _song(corpus / "Track00014" / "mix.flac", 1.0, tone=(0.5, 1.0))
    _song(corpus / "Track00014" / "stems" / "S00.flac", 1.0)  # a stem, not a song
    result = predict_files([corpus], ["crnn"], tmp_path / "out")
    assert sorted(result["names"].values()) == ["Track00013", "Track00014"] and not result["problems"]
    first = json.loads((tmp_path / "out" / "Track00013.json").read_text())
    second = json.loads((tmp_path / "out" / "Track00014.json").read_text())
    assert first["track"] == "Track00013" and first["audio"].endswith("Track00013/mix.flac")
    assert second["runs"][0]["segments"][0]["start"] == pytest.approx(0.5, abs=0.08)  # not Track00013's
    assert first["schema"] == SCHEMA == "instrec-prediction-2"


@pytest.mark.filterwarnings("ignore::DeprecationWarning:jsonschema")  # jams validates through a deprecated API
def test_frame_activations_segments_csv_jams_and_mirex_scores(tmp_path, tone_run):
    song = _song(tmp_path / "song.wav", 2.1, tone=(1.0, 2.1))  # 2.1 s: not a whole number of hops
    predict_files([song], ["crnn"], tmp_path / "out")
    out = tmp_path / "out"
    record = json.loads((out / "song.json").read_text())
    run = record["runs"][0]
    frames = np.load(out / "song.framewise.npz")
    activations, times = frames[run["framewise"]["activations"]], frames[run["framewise"]["times"]]
    assert activations.shape == (run["n_frames"], 3) and activations.dtype == np.float32
    np.testing.assert_allclose(times, np.arange(run["n_frames"]) * 256 / SR)
    assert list(frames[run["framewise"]["classes"]]) == ["Piano", "Drums", "Sound Effects"]
    # the tone lasts to the end of the file: so does its segment, to the sample
    (piano,) = [s for s in run["segments"] if s["instrument"] == "Piano"]
    assert piano["end"] == record["duration"] == 2.1
    with open(out / "song.segments.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["run"], r["instrument"], float(r["start"]), float(r["end"])) for r in rows] == [
        ("crnn", s["instrument"], s["start"], s["end"]) for s in run["segments"]]
    import jams

    jam = jams.load(str(out / "song.jams"))
    (annotation,) = jam.annotations
    assert annotation.namespace == "tag_open" and annotation.annotation_metadata.annotator.name == "crnn"
    assert [(o.value, round(o.time, 3), round(o.time + o.duration, 3)) for o in annotation.data] == [
        (s["instrument"], s["start"], s["end"]) for s in run["segments"]]
    # MIREX: one confidence per OpenMIC label; labels without a source class are marked, never 0
    mirex = out / "mirex-crnn.csv"
    with open(mirex) as handle:
        (header, line) = list(csv.reader(handle))
    assert header == ["file", *OPENMIC_LABELS] and line[0] == "song"
    scores = dict(zip(header[1:], line[1:]))
    assert float(scores["piano"]) == pytest.approx(0.95) and float(scores["drums"]) == pytest.approx(0.05)
    assert scores["mandolin"] == scores["ukulele"] == "" and run["openmic"]["unmapped"] == [
        label for label in OPENMIC_LABELS if label not in ("piano", "drums", "cymbals")]
    assert run["openmic"]["mapping"] == "gm-families" and run["dominant"] == "Piano"


def test_segments_end_at_the_true_end():
    active = np.ones((5, 1), np.uint8)
    (seg,) = activity_segments(active, active.astype(float), ["a"], hop_s=0.5, first_centre=0.0, duration=2.3)
    assert seg["start"] == 0.0 and seg["end"] == 2.3  # the last frame's half hop would stop at 2.25


def test_openmic_mapping_of_gm_families_and_aam():
    from pipeline.readers.taxonomy import AAM_INSTRUMENTS, slakh_taxonomy

    gm = list(slakh_taxonomy().classes)
    clip = np.linspace(0.0, 1.0, len(gm))
    result = openmic_scores(gm, clip)
    assert result["mapping"] == "gm-families" and result["unmapped"] == ["mandolin", "ukulele"]
    assert result["scores"]["accordion"] == result["scores"]["organ"] == round(clip[gm.index("Organ")], 4)
    assert result["scores"]["synthesizer"] == round(max(clip[gm.index(c)] for c in ("Synth Lead", "Synth Pad",
                                                                                       "Synth Effects")), 4)
    assert {s["kind"] for s in result["sources"]["violin"]} == {"family"}
    aam = openmic_scores(list(AAM_INSTRUMENTS), np.full(len(AAM_INSTRUMENTS), 0.3))
    assert aam["mapping"] == "aam" and aam["scores"]["ukulele"] == 0.3
    assert aam["unmapped"] == ["accordion", "banjo", "mallet_percussion", "mandolin", "synthesizer", "voice"]
    other = openmic_scores(["Voice", "theremin"], np.array([0.7, 0.9]))
    assert other["mapping"] == "by-name" and other["scores"]["voice"] == 0.7 and len(other["unmapped"]) == 19
