"""Stem stores: every song's stems on the mix's frame grid, their activity, stem-energy labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from features.activity import ActivityConfig, energy_activity, frame_energy_db
from features.grid import frame_labels
from features.registry import build_config
from pipeline.extraction import FeatureTarget, extract_dataset
from pipeline.extraction.driver import label_settings
from pipeline.track import Event, Stem, Track, clip_labels_from_events, dominant_instrument, file_hash
from storage.history import expire_snapshots
from storage.store import StoreError, open_store
from storage.verify import verify_store

CLASSES = ("flute", "bass", "drums")
FREQS = {"flute": 1760.0, "bass": 110.0}
SR = 22050
TARGETS = [FeatureTarget.from_config(build_config("logmel"))]


def _tone(label: str, events: list[tuple[float, float]], n: int) -> np.ndarray:
    t = np.arange(n) / SR
    y = np.zeros(n)
    for onset, offset in events:
        if label == "drums":  # a click with an exponential decay that outlasts its 50 ms note
            on = t >= onset
            y[on] += 0.5 * np.random.default_rng(int(onset * 100)).standard_normal(on.sum()) * np.exp(
                -(t[on] - onset) / 0.15)
            continue
        on = (t >= onset) & (t < offset)
        y[on] += 0.3 * np.sin(2 * np.pi * FREQS[label] * t[on])
    return y


def make_song(root: Path, track_id: str, parts: dict[str, list[tuple[float, float]]], *, duration: float = 3.0,
              stem_audio: dict[str, np.ndarray] | None = None, split: str = "train") -> Track:
    """A song whose stems are tones of their class over their notes; the mix is their sum."""
    n = int(duration * SR)
    folder = root / track_id
    folder.mkdir(parents=True, exist_ok=True)
    stems, mix, events = {}, np.zeros(n), []
    for i, (label, notes) in enumerate(parts.items()):
        y = (stem_audio or {}).get(label)
        y = _tone(label, notes, n) if y is None else y
        path = folder / f"S{i:02d}.wav"
        sf.write(path, y.astype(np.float32), SR, subtype="FLOAT")
        mix[: len(y)] += y[:n]
        stem_events = tuple(Event(label, a, b) for a, b in notes)
        stems[f"S{i:02d}"] = Stem(f"S{i:02d}", path, label, i, stem_events)
        events += stem_events
    mix_path = folder / "mix.wav"
    sf.write(mix_path, mix.astype(np.float32), SR, subtype="FLOAT")
    clip, mask = clip_labels_from_events(events, CLASSES)
    sources = {p.name: file_hash(p) for p in [mix_path, *(s.audio for s in stems.values())]}
    events = tuple(sorted(events, key=lambda e: (e.onset, e.label)))
    return Track(track_id=track_id, dataset="demo", audio=mix_path, duration=duration, sample_rate=SR, split=split,
                 classes=CLASSES, events=events, clip_labels=clip, clip_mask=mask,
                 dominant=dominant_instrument(events), source_hashes=sources, stems=stems)


def run(tracks, url, **options):
    return extract_dataset(tracks, url, targets=TARGETS, workers=0, progress=False, **options)


PARTS = {"flute": [(0.5, 1.5), (2.0, 2.5)], "bass": [(0.0, 2.8)], "drums": [(0.25, 0.3), (1.25, 1.3)]}


def test_stems_are_stored_on_the_mix_grid_with_their_own_activity(tmp_path):
    url = str(tmp_path / "store")
    song = make_song(tmp_path / "data", "song1", PARTS)
    summary = run([song], url, stems=True)
    assert summary.done == ["song1"] and not summary.failed
    reader = open_store(url).feature_set("logmel")
    assert reader.has_stems and open_store(url).settings["stems"] is True
    entries = reader.stems()
    assert [(e.stem, e.label, e.program) for e in entries] == [("S00", "flute", 0), ("S01", "bass", 1),
                                                             ("S02", "drums", 2)]
    n = reader.tracks()[0].n_frames
    config = build_config("logmel")
    mix = reader.read_features("song1")
    power = np.zeros_like(mix, dtype=np.float64)
    for entry in entries:
        features, activity = reader.read_stem("song1", entry.index)
        assert features.shape == (n, 128) and activity.shape == (n,)
        expected = frame_labels(song.stems[entry.stem].events, [entry.label], config.grid, n)[:, 0]
        np.testing.assert_array_equal(activity, expected)  # notes mode: the stem's own notes
        power += 10.0 ** (features / 10.0)
    # the mix is the sum of the stems: summing the stems' mel power gives the mix's log-mel
    # (up to phase interference and float16 storage), where the mix is well above the floor
    remix = 10 * np.log10(np.maximum(power, 1e-10))
    loud = mix > -60
    assert np.median(np.abs(remix[loud] - mix[loud])) < 1.0
    assert verify_store(url, deep=True).ok


def test_stem_energy_labels_follow_what_is_audible(tmp_path):
    url = str(tmp_path / "store")
    song = make_song(tmp_path / "data", "song1", PARTS)
    activity = ActivityConfig(mode="stem-energy", threshold_db=30.0)
    run([song], url, stems=True, activity=activity)
    store = open_store(url)
    reader = store.feature_set("logmel")
    assert store.settings["activity"]["mode"] == "stem-energy"
    labels, known = reader.read_labels("song1")
    assert known.all()
    grid, n = build_config("logmel").grid, len(labels)
    notes = frame_labels(song.events, CLASSES, grid, n)
    drums = CLASSES.index("drums")
    # drum notes last 50 ms (2-3 frames), their decay is audible for far longer
    assert labels[:, drums].sum() > 3 * notes[:, drums].sum()
    y, _ = sf.read(song.stems["S02"].audio, dtype="float32")
    expected = energy_activity(frame_energy_db(y, grid, n, window_s=activity.window_s), activity)
    np.testing.assert_array_equal(labels[:, drums], expected)
    # mix labels are the union of the stems' activity per class, also stored with each stem
    for entry in reader.stems():
        _, stem_activity = reader.read_stem("song1", entry.index)
        np.testing.assert_array_equal(stem_activity, labels[:, CLASSES.index(entry.label)])
    np.testing.assert_array_equal(reader.read_clip("song1")[0], labels.max(axis=0))


def test_a_silent_or_short_stem_is_left_out_and_reported(tmp_path):
    url = str(tmp_path / "store")
    n = 3 * SR
    short = _tone("bass", [(0.0, 2.8)], n)[: SR]  # 1 s of audio for notes running to 2.8 s
    song = make_song(tmp_path / "data", "song1", PARTS, stem_audio={"flute": np.zeros(n), "bass": short})
    summary = run([song], url, stems=True)
    assert summary.done == ["song1"] and not summary.failed
    messages = [w["message"] for w in summary.warnings]
    assert any("S00.wav" in m and "silent" in m for m in messages), messages
    assert any("S01.wav" in m and "notes run to 2.80 s" in m for m in messages), messages
    reader = open_store(url).feature_set("logmel")
    assert [e.stem for e in reader.stems()] == ["S02"]
    assert {e["name"] for e in reader.stem_group("song1")["excluded"]} == {"S00", "S01"}
    assert verify_store(url, deep=True).ok


def test_stem_stores_are_incremental_and_keep_their_settings(tmp_path):
    url = str(tmp_path / "store")
    data = tmp_path / "data"
    songs = [make_song(data, f"song{i}", PARTS) for i in range(2)]
    run(songs, url, stems=True)
    again = run(songs, url, stems=True)
    assert again.done == [] and sorted(again.skipped) == ["song0", "song1"]
    old = open_store(url).feature_set("logmel").stem_group("song1")["path"]
    changed = make_song(data, "song1", {"bass": [(0.0, 1.0)], "drums": [(0.5, 0.55)]})
    third = run([songs[0], changed], url, stems=True)
    assert third.done == ["song1"]
    reader = open_store(url).feature_set("logmel")
    assert [e.label for e in reader.stems() if e.track_id == "song1"] == ["bass", "drums"]
    assert (Path(url) / old).exists()  # the replaced stem group stays until it is expired
    assert old in expire_snapshots(url, older_than_s=0).deleted_versions and not (Path(url) / old).exists()
    with pytest.raises(StoreError, match="built with stems=True"):
        run(songs, url, stems=False)
    assert label_settings(url) == (True, ActivityConfig())
    pruned = run([songs[0]], url, stems=True, prune=True)
    assert pruned.pruned == ["song1"] and {e.track_id for e in open_store(url).feature_set("logmel").stems()} == {
        "song0"}
    assert verify_store(url, deep=True).ok


def test_a_store_without_stems_gets_no_stem_groups(tmp_path):
    url = str(tmp_path / "store")
    run([make_song(tmp_path / "data", "song1", PARTS)], url)
    reader = open_store(url).feature_set("logmel")
    assert not reader.has_stems and reader.stems() == []
    assert not (Path(url) / reader.key / "stems").exists()


def test_verify_finds_a_missing_stem_chunk(tmp_path):
    url = str(tmp_path / "store")
    run([make_song(tmp_path / "data", "song1", PARTS)], url, stems=True)
    group = open_store(url).feature_set("logmel").stem_group("song1")
    chunk = Path(url) / group["path"] / "features" / "c.1.0.0"
    assert chunk.is_file()
    chunk.unlink()
    report = verify_store(url)
    assert not report.ok and any("stems" in p and "missing chunks" in p for p in report.problems), report.problems


def test_store_info_counts_stems(tmp_path):
    from storage.info import store_info

    url = str(tmp_path / "store")
    silent = {"flute": np.zeros(3 * SR)}
    run([make_song(tmp_path / "data", "a", PARTS), make_song(tmp_path / "data", "b", PARTS, stem_audio=silent)],
        url, stems=True)
    info = store_info(open_store(url))
    stems = info["feature_sets"][open_store(url).feature_sets()[0]]["stems"]
    assert stems == {"songs": 2, "stems": 5, "excluded": 1, "per_class": {"bass": 2, "drums": 2, "flute": 1},
                     "per_split": {"train": 5}}
    assert info["settings"] == {"stems": True, "activity": {"mode": "notes"}}


needs_fluidsynth = pytest.mark.skipif(__import__("shutil").which("fluidsynth") is None,
                                      reason="the `fluidsynth` program is not installed")


@needs_fluidsynth
def test_extract_command_with_stems_on_a_demo_corpus(tmp_path, capsys):
    from instrec.cli import main
    from pipeline.demo import generate_corpus
    from pipeline.demo.render import find_soundfonts

    corpus, url = tmp_path / "corpus", str(tmp_path / "store")
    made = generate_corpus(corpus, layout="slakh", songs=2, seconds=2.0, seed=3, soundfonts=find_soundfonts()[:1])
    assert all("problem" not in song for song in made)
    args = ["extract", "--dataset", "demo", str(corpus), "--store", url, "--workers", "0", "--no-progress",
            "--stems", "--activity", "stem-energy"]
    assert main(args) == 0
    assert "2 done" in capsys.readouterr().out
    store = open_store(url)
    reader = store.feature_set("logmel")
    assert store.settings["activity"]["mode"] == "stem-energy" and reader.has_stems
    assert {e.track_id for e in reader.stems()} == {song["track_id"] for song in made}
    # a second run without the flags keeps the store's settings and finds nothing to do
    assert main(args[:-3]) == 0
    assert "0 done, 2 skipped unchanged" in capsys.readouterr().out
    assert main([*args[:-3], "--no-stems"]) == 2
    assert "built with stems=True" in capsys.readouterr().err
    assert verify_store(url, deep=True).ok


def test_extract_command_refuses_stems_for_a_dataset_without_stems(tmp_path, capsys):
    from instrec.cli import main

    (tmp_path / "audio").mkdir()
    sf.write(tmp_path / "audio" / "a.wav", np.zeros(SR, dtype=np.float32), SR)
    code = main(["extract", "--dataset", "folder", str(tmp_path / "audio"), "--store", str(tmp_path / "s"),
                 "--stems", "--workers", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "folder tracks have no stems" in err and len(err.strip().splitlines()) == 1
