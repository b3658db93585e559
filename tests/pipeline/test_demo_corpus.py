"""The demo corpus end to end: annotation formats, soundfont modes, layouts, determinism, readers."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import arff
import numpy as np
import pretty_midi
import pytest
import soundfile
import yaml

from pipeline.demo.composer import Note, Part, Song
from pipeline.demo.corpus import assign_soundfonts, compose_corpus, generate_corpus, track_id_for
from pipeline.demo.instruments import AAM_INSTRUMENTS, AAM_VOICES, SLAKH_VOICES, gm_class, gm_program_name
from pipeline.demo.layouts import arff_time, onsets_arff, segments_arff
from pipeline.demo.render import RenderError, check_soundfont, find_soundfonts
from pipeline.track import InstrecError, assign_splits, deterministic_split

needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None,
    reason="the `fluidsynth` program is not installed (Debian: apt-get install fluidsynth)",
)
SR = 22050
FRAME = 512 / 22050

# Column names of AAM's onsets.arff, copied from a file written by the ArtificialSongGenerator.
AAM_COLUMNS = (
    "AcousticGuitar AltoSax Balalaika BrightPiano Cello Clarinet DoubleBassArco DoubleBassPizz "
    "Drums ElectricBass ElectricGuitarClean ElectricGuitarCrunch ElectricGuitarLead ElectricPiano "
    "Erhu Flugelhorn Flute Fujara Jinghu MorinKhuur OrganBass PanFlute Piano Shakuhachi Sitar "
    "TenorSax Trombone Trumpet Ukulele Viola Violin"
).split()


def _notes_by_label(song: Song) -> dict[str, list[tuple[int, float, float]]]:
    return {
        part.label: sorted((n.pitch, song.seconds_at(n.start), song.seconds_at(n.end)) for n in part.notes)
        for part in song.parts
    }


def _parse_onsets(text: str) -> dict[str, list[tuple[int, float, float]]]:
    """Per instrument, (key, on, off) from onsets.arff rows (independent of the readers)."""
    data = arff.loads(text)
    names = [name.removeprefix("Onset events of ") for name, _ in data["attributes"][1:]]
    open_keys: dict[str, dict[int, float]] = {name: {} for name in names}
    notes: dict[str, list[tuple[int, float, float]]] = {name: [] for name in names}
    for row in data["data"]:
        time = float(row[0])
        for name, cell in zip(names, row[1:]):
            tokens = [t for t in cell.strip("[]").split(",") if t]
            struck = {int(t[1:]) for t in tokens if t.startswith("+")}
            held = {int(t) for t in tokens if not t.startswith("+")}
            for key in list(open_keys[name]):
                if key not in held:  # released, or struck again
                    notes[name].append((key, open_keys[name].pop(key), time))
            for key in struck:
                open_keys[name][key] = time
            assert held <= set(open_keys[name]), f"{name}: held key without onset at {time}"
    assert not any(open_keys.values()), "a key is still sounding after the last row"
    return {name: sorted(found) for name, found in notes.items() if found}


def _assert_same_notes(expected, found, tol):
    assert set(expected) == set(found)
    for label in expected:
        assert len(expected[label]) == len(found[label]), label
        for (p1, on1, off1), (p2, on2, off2) in zip(expected[label], found[label]):
            assert p1 == p2, (label, on1)
            assert abs(on1 - on2) <= tol and abs(off1 - off2) <= tol, (label, p1, on1, off1, on2, off2)


# ---------------------------------------------------------------- annotation formats (no audio)


def test_slakh_classes_follow_the_gm_table():
    assert gm_class(0) == "Piano" and gm_class(48) == "Strings (continued)"
    assert gm_class(115) == "Percussive" and gm_class(120) == "Sound effects"
    assert gm_class(100) == "Sound Effects" and gm_class(128) == "Drums"
    for voice in SLAKH_VOICES:
        assert voice.label == gm_class(voice.program)
    assert [v.label for v in AAM_VOICES] == AAM_COLUMNS == list(AAM_INSTRUMENTS)
    with pytest.raises(ValueError, match="0..128"):
        gm_class(129)


def test_onsets_arff_has_the_generator_format_and_the_composed_notes():
    song = compose_corpus(layout="aam", songs=2, seconds=12, seed=5)[1]
    text = onsets_arff(song, "0042")
    lines = text.splitlines()
    assert lines[0] == "@RELATION 'Onset events in 0042'"
    assert lines[2] == "@ATTRIBUTE 'Onset time in seconds' NUMERIC"
    assert lines[3:34] == [f"@ATTRIBUTE 'Onset events of {name}' STRING" for name in AAM_COLUMNS]
    assert lines[35] == "@DATA"
    assert all(line.count(",") >= 31 for line in lines[36:])
    _assert_same_notes(_notes_by_label(song), _parse_onsets(text), tol=1e-5)
    # a row at every note-on or note-off time, nothing else
    ticks = {t for p in song.parts for n in p.notes for t in (n.start, n.end)}
    assert len(lines) - 36 == len(ticks)


def test_arff_times_are_printed_like_the_generator():
    # times of ArtificialSongGenerator output at 722891 us per beat, 128 ticks per beat
    seconds_per_tick = 722891 / (1e6 * 128)
    printed = {0: "0.0", 64: "0.361445", 192: "1.084336", 704: "3.9759", 1472: "8.313246",
               2496: "14.096374", 1600: "9.036137", 2112: "11.927701"}  # fmt: skip
    assert {tick: arff_time(tick * seconds_per_tick) for tick in printed} == printed
    assert arff_time(1.0) == "1.0" and arff_time(0.5 + 1e-12) == "0.5"


def test_onsets_arff_marks_retriggered_and_held_keys():
    piano = next(v for v in AAM_VOICES if v.label == "Piano")
    notes = (Note(60, 90, 0, 480), Note(64, 90, 0, 960), Note(60, 90, 480, 960))
    song = Song(120, 500000, 480, 0, "maj", 2.0, (Part("chords", piano, notes),), ())
    rows = onsets_arff(song, "0001").splitlines()[36:]
    column = AAM_COLUMNS.index("Piano") + 1
    parsed = [row[column] for row in arff.loads(onsets_arff(song, "0001"))["data"]]
    assert [r.split(",")[0] for r in rows] == ["0.0", "0.5", "1.0"]
    assert parsed == ["[+60,+64]", "[+60,64]", "[]"]


def test_segments_arff_parses():
    song = compose_corpus(layout="aam", songs=1, seconds=20, seed=2)[0]
    data = arff.loads(segments_arff(song, "0007"))
    assert data["relation"] == "Segment information of 0007"
    names = ["Start time in seconds", "Mark", "Tempo", "Key", "Instruments", "Generator"]
    assert [a[0] for a in data["attributes"]] == names
    rows = data["data"]
    assert rows[0][0] == 0.0 and rows[-1][1:] == ["end", 0.0, "", "[]", "[]"]
    assert all(row[2] == song.bpm and row[3] == song.key for row in rows[:-1])
    playing = {name for row in rows[:-1] for name in row[4].strip("[]").split(",") if name}
    assert playing == set(song.labels)


# ---------------------------------------------------------------- soundfonts


def test_soundfont_discovery_and_errors(tmp_path, monkeypatch):
    fake = tmp_path / "mine.sf2"
    fake.write_bytes(b"RIFF\0\0\0\0sfbk")
    found = find_soundfonts(environ={"INSTREC_SOUNDFONTS": str(fake)})
    assert found[0] == fake.resolve()
    with pytest.raises(RenderError, match="INSTREC_SOUNDFONTS"):
        find_soundfonts(environ={"INSTREC_SOUNDFONTS": str(tmp_path / "missing.sf2")})
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"not a soundfont")
    with pytest.raises(RenderError, match="bad.sf2: not a SoundFont 2 file"):
        check_soundfont(bad)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RenderError, match="apt-get install fluidsynth"):
        generate_corpus(tmp_path / "out", songs=1, seconds=2)


def test_soundfont_assignment_modes():
    fonts = [Path("a.sf2"), Path("b.sf2"), Path("c.sf2")]
    ids = [track_id_for("slakh", i) for i in range(200)]
    splits = [deterministic_split(t) for t in ids]
    counts = [3 + i % 5 for i in range(200)]
    stems = assign_soundfonts(counts, splits, fonts, mode="stem", seed=0)
    assert [len(s) for s in stems] == counts
    assert sum(len(set(s)) > 1 for s in stems) > 150  # stems of one song use several soundfonts
    assert {f for s in stems for f in s} == set(fonts)
    assert stems == assign_soundfonts(counts, splits, fonts, mode="stem", seed=0)
    assert stems != assign_soundfonts(counts, splits, fonts, mode="stem", seed=1)
    # a song's draws do not depend on the other songs
    assert assign_soundfonts(counts[:7], splits[:7], fonts, mode="stem", seed=0) == stems[:7]
    held = assign_soundfonts(counts, splits, fonts, mode="holdout", seed=0)
    assert "test" in splits
    for song_fonts, split in zip(held, splits):
        if split == "test":
            assert set(song_fonts) == {fonts[2]}
        else:
            assert fonts[2] not in song_fonts
    assert {f for s, split in zip(held, splits) if split != "test" for f in s} == set(fonts[:2])
    cycled = assign_soundfonts(counts, splits, fonts, mode="cycle", seed=0)
    assert [s[0] for s in cycled[:4]] == [fonts[0], fonts[1], fonts[2], fonts[0]]
    assert all(len(set(s)) == 1 for s in cycled)
    drawn = assign_soundfonts(counts, splits, fonts, mode="random", seed=3)
    assert drawn == assign_soundfonts(counts, splits, fonts, mode="random", seed=3)
    assert all(len(set(s)) == 1 for s in drawn) and len({s[0] for s in drawn}) == 3
    with pytest.raises(InstrecError, match="at least two soundfonts"):
        assign_soundfonts(counts, splits, fonts[:1], mode="holdout", seed=0)
    with pytest.raises(InstrecError, match="unknown soundfont split"):
        assign_soundfonts(counts, splits, fonts, mode="song", seed=0)
    with pytest.raises(InstrecError, match="--songs"):
        generate_corpus("unused", songs=0)


# ---------------------------------------------------------------- generated corpora


@pytest.fixture(scope="module")
def aam_corpus(tmp_path_factory):
    """Two AAM songs with every effect; soundfonts held out (song 0002 is in the test split)."""
    if shutil.which("fluidsynth") is None:
        pytest.skip("the `fluidsynth` program is not installed (Debian: apt-get install fluidsynth)")
    if len(find_soundfonts()) < 2:
        pytest.skip("the holdout mode needs two soundfonts (install fluid-soundfont-gm)")
    out = tmp_path_factory.mktemp("demo") / "aam"
    infos = generate_corpus(out, layout="aam", songs=2, seconds=4, seed=11, soundfont_split="holdout")
    return out, infos


@pytest.fixture(scope="module")
def slakh_corpus(tmp_path_factory):
    """Three Slakh songs, default per-stem soundfonts and sound design, no mix bus effects."""
    if shutil.which("fluidsynth") is None:
        pytest.skip("the `fluidsynth` program is not installed (Debian: apt-get install fluidsynth)")
    out = tmp_path_factory.mktemp("demo") / "slakh"
    infos = generate_corpus(out, layout="slakh", songs=3, seconds=4, seed=11, effects=False)
    return out, infos


def _tree_hashes(root: Path) -> dict[str, str]:
    files = [p for p in sorted(root.rglob("*")) if p.is_file()]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_aam_layout_files_and_annotations(aam_corpus):
    out, infos = aam_corpus
    songs = compose_corpus(layout="aam", songs=2, seconds=4, seed=11)
    held_out = find_soundfonts()[-1]
    assert [i["track_id"] for i in infos] == ["0001", "0002"]
    assert [i["split"] for i in infos] == ["train", "test"]
    expected = set()
    for info, song in zip(infos, songs):
        tid = info["track_id"]
        assert "problem" not in info and info["instruments"] == list(song.labels)
        assert len(set(song.labels)) == len(song.labels)  # one stem per AAM instrument
        assert info["split"] == deterministic_split(tid)
        expected |= {f"{tid}_{s}" for s in ("mix.flac", "onsets.arff", "segments.arff", "render.json")}
        expected |= {f"{tid}_{label}.{ext}" for label in song.labels for ext in ("mid", "flac")}
        found = _parse_onsets((out / f"{tid}_onsets.arff").read_text())
        _assert_same_notes(_notes_by_label(song), found, tol=1e-5)
        mix, sr = soundfile.read(out / f"{tid}_mix.flac", dtype="float32")
        assert sr == SR and mix.shape == (4 * SR,) and np.abs(mix).max() > 0.5
        stems = np.stack(
            [soundfile.read(out / f"{tid}_{label}.flac", dtype="float32")[0] for label in song.labels]
        )
        assert np.abs(stems.sum(axis=0) - mix).max() < 1e-3  # the mix is the sum of the stems
        render = json.loads((out / f"{tid}_render.json").read_text())
        assert render["effects"]["enabled"] is True and render["sound_design"] is True
        assert render["soundfont_split"] == "holdout" and render["source"] == song.source
        assert [p["label"] for p in render["parts"]] == list(song.labels)
        fonts = {Path(p["soundfont"]) for p in render["parts"]}
        assert fonts == {Path(f) for f in info["soundfonts"]}
        # the held-out soundfont is heard in test songs only, and only it
        assert fonts == {held_out} if info["split"] == "test" else held_out not in fonts
        for part, record in zip(song.parts, render["parts"]):
            assert record["program"] == part.voice.program and record["role"] == part.role
            assert record["composition"] == part.details
            assert record["sound_design"]["enabled"] is True and isinstance(
                record["sound_design"]["chain"], list
            )
    assert {p.name for p in out.iterdir()} == expected


def test_slakh_layout_metadata_agrees_with_render_json_and_the_reader(slakh_corpus):
    from pipeline.readers import read_dataset

    out, infos = slakh_corpus
    songs = compose_corpus(layout="slakh", songs=3, seconds=4, seed=11)
    tracks = {t.track_id: t for t in read_dataset("slakh", out)}
    fonts_heard = set()
    for info, song in zip(infos, songs):
        tid, split = info["track_id"], info["split"]
        track = out / split / tid
        assert Path(info["path"]) == track and tid == track_id_for("slakh", info["index"])
        stems = [f"S{i:02d}" for i in range(len(song.parts))]
        assert {str(p.relative_to(track)) for p in track.rglob("*") if p.is_file()} == {
            "metadata.yaml", "all_src.mid", "mix.flac", "render.json",
            *(f"MIDI/{s}.mid" for s in stems), *(f"stems/{s}.flac" for s in stems),
        }  # fmt: skip
        meta = yaml.safe_load((track / "metadata.yaml").read_text())
        render = json.loads((track / "render.json").read_text())
        assert meta["UUID"] == hashlib.md5((track / "all_src.mid").read_bytes()).hexdigest()
        assert meta["audio_dir"] == f"{tid}/stems" and meta["midi_dir"] == f"{tid}/MIDI"
        assert render["effects"]["enabled"] is False and render["soundfont_split"] == "stem"
        for name, part, record in zip(stems, song.parts, render["parts"]):
            entry = meta["stems"][name]
            assert set(entry) == {
                "audio_rendered", "inst_class", "integrated_loudness", "is_drum",
                "midi_program_name", "midi_saved", "plugin_name", "program_num",
            }  # fmt: skip
            # the per-stem draws are recorded the same way in both files
            assert entry["program_num"] == record["program"] == part.voice.program
            assert entry["inst_class"] == record["label"] == part.label == gm_class(entry["program_num"])
            assert (
                entry["midi_program_name"] == record["program_name"] == gm_program_name(entry["program_num"])
            )
            assert entry["is_drum"] == record["is_drum"] == (entry["program_num"] == 128)
            assert entry["plugin_name"] == record["soundfont_name"] == Path(record["soundfont"]).name
            fonts_heard.add(entry["plugin_name"])
            pm = pretty_midi.PrettyMIDI(str(track / "MIDI" / f"{name}.mid"))
            got = sorted((n.pitch, n.start, n.end) for n in pm.instruments[0].notes)
            want = sorted((n.pitch, song.seconds_at(n.start), song.seconds_at(n.end)) for n in part.notes)
            _assert_same_notes({name: want}, {name: got}, tol=1e-6)
        assert len(pretty_midi.PrettyMIDI(str(track / "all_src.mid")).instruments) == len(song.parts)
        mix = soundfile.read(track / "mix.flac", dtype="float32")[0]
        summed = sum(soundfile.read(track / "stems" / f"{s}.flac", dtype="float32")[0] for s in stems)
        assert np.abs(summed - mix).max() < 1e-3
        # the reader labels each stem with the class of its program_num
        assert set(tracks[tid].classes) >= set(song.labels)
        assert {event.label for event in tracks[tid].events} == set(song.labels)
    if len(find_soundfonts()) > 1:
        assert len(fonts_heard) > 1  # stems drew different soundfonts


def test_recorded_stem_settings_reproduce_the_written_stems(slakh_corpus):
    """Re-render one song's stems from what render.json records: the same sound, up to the
    mix bus's common gain (this corpus has no mix bus effects, only the peak normalisation)."""
    from pipeline.demo.render import fade_out, render_batch, stem_request
    from pipeline.demo.sound_design import apply_sound_design, restore_timing

    out, infos = slakh_corpus
    song = compose_corpus(layout="slakh", songs=1, seconds=4, seed=11)[0]
    track = Path(infos[0]["path"])
    render = json.loads((track / "render.json").read_text())
    n = 4 * SR
    remade = np.zeros((len(song.parts), n), dtype=np.float32)
    for font in {p["soundfont"] for p in render["parts"]}:
        picked = [k for k, p in enumerate(render["parts"]) if p["soundfont"] == font]
        requests = []
        for k in picked:
            record = render["parts"][k]
            shift = record["sound_design"]["shift_semitones"]
            requests.append(stem_request(song, song.parts[k], semitones=shift, kit=record.get("drum_kit", 0)))
        for k, audio in zip(picked, render_batch(requests, Path(font), sr=SR)):
            design = render["parts"][k]["sound_design"]
            restored = restore_timing(audio, semitones=design["shift_semitones"], sr=SR, n_samples=n)
            remade[k] = apply_sound_design(restored, design, sr=SR)
    fade_out(remade, sr=SR)
    written = np.stack(
        [soundfile.read(track / "stems" / f"S{k:02d}.flac", dtype="float32")[0] for k in range(len(remade))]
    )
    gains = [float(w @ r / (r @ r)) for w, r in zip(written, remade)]
    assert max(gains) == pytest.approx(min(gains), rel=1e-3)  # one common gain for every stem
    np.testing.assert_allclose(written, remade * gains[0], atol=2e-4)  # 16-bit FLAC rounding


def test_same_seed_gives_identical_files_whatever_the_batching(aam_corpus, tmp_path, caplog):
    out, _ = aam_corpus
    again = tmp_path / "again"
    shutil.copytree(out, again)
    (again / "0001_mix.flac").write_bytes(b"overwritten")
    # one worker: both songs in one batch (two workers gave one song a batch)
    generate_corpus(again, layout="aam", songs=2, seconds=4, seed=11, soundfont_split="holdout", workers=1)
    assert _tree_hashes(again) == _tree_hashes(out)
    assert "this run did not write" not in caplog.text
    infos = generate_corpus(again, layout="aam", songs=1, seconds=4, seed=11, soundfont_split="holdout")
    assert _tree_hashes(again)["0001_onsets.arff"] == _tree_hashes(out)["0001_onsets.arff"]
    assert _tree_hashes(again)["0001_mix.flac"] == _tree_hashes(out)["0001_mix.flac"]
    assert [i["track_id"] for i in infos] == ["0001"]
    assert "also holds 1 song(s) this run did not write (0002_render.json)" in caplog.text


@needs_fluidsynth
def test_cli_writes_a_corpus(tmp_path, capsys):
    from instrec.cli import main

    code = main(["demo-corpus", str(tmp_path / "c"), "--songs", "1", "--seconds", "2", "--no-effects",
                 "--no-sound-design", "--layout", "slakh", "--seed", "3", "--soundfont-split", "cycle"])  # fmt: skip
    assert code == 0
    record = json.loads(capsys.readouterr().out.splitlines()[0])
    assert record["track_id"] == "Track00001" and len(set(record["soundfonts"])) == 1
    track = tmp_path / "c" / record["split"] / "Track00001"
    render = json.loads((track / "render.json").read_text())
    assert render["sound_design"] is False and render["soundfont_split"] == "cycle"
    assert all(
        p["sound_design"] == {"enabled": False, "shift_semitones": 0.0, "chain": []} for p in render["parts"]
    )
    assert main(["demo-corpus", str(tmp_path / "d"), "--sr", "100"]) == 2


# ---------------------------------------------------------------- round trip through the readers


def _readers_available() -> bool:
    try:
        return importlib.util.find_spec("pipeline.readers") is not None
    except ImportError:
        return False


@pytest.mark.skipif(not _readers_available(), reason="pipeline.readers is not importable")
@pytest.mark.parametrize("layout", ["aam", "slakh"])
def test_readers_read_back_the_composed_events(layout, aam_corpus, slakh_corpus):
    from pipeline.readers import read_dataset
    from pipeline.track import Event, merge_events

    out, infos = aam_corpus if layout == "aam" else slakh_corpus
    songs = compose_corpus(layout=layout, songs=len(infos), seconds=4, seed=11)
    for dataset in (layout, "demo"):
        tracks = {t.track_id: t for t in read_dataset(dataset, out)}
        assert sorted(tracks) == [info["track_id"] for info in infos]
        for info, song in zip(infos, songs):
            track = tracks[info["track_id"]]
            assert track.split == info["split"]
            assert track.duration == pytest.approx(4.0, abs=1e-3) and track.sample_rate == SR
            want = merge_events(Event(*e) for e in song.events())
            got = merge_events(track.events)
            assert [e.label for e in got] == [e.label for e in want]
            for a, b in zip(want, got):
                assert abs(a.onset - b.onset) <= FRAME and abs(a.offset - b.offset) <= FRAME, (a, b)


@needs_fluidsynth
def test_split_ratios_choose_the_splits_songs_go_to(tmp_path):
    infos = generate_corpus(tmp_path / "held", layout="slakh", songs=6, seconds=2, seed=4,
                            soundfonts=find_soundfonts()[:1], split_ratios=(0.0, 0.5, 0.5))
    assert {info["split"] for info in infos} <= {"validation", "test"}
    splits = assign_splits([info["track_id"] for info in infos], (0.0, 0.5, 0.5))
    assert all(info["split"] == splits[info["track_id"]] for info in infos)
    assert {info["split"] for info in infos} == {"validation", "test"}
    assert not (tmp_path / "held" / "train").exists()
    with pytest.raises(InstrecError, match="--split-ratios must be three non-negative numbers"):
        generate_corpus(tmp_path / "bad", songs=1, seconds=2, split_ratios=(0.5, -0.5, 1.0))


@needs_fluidsynth
def test_progress_bar_counts_the_songs(tmp_path, capsys):
    infos = generate_corpus(tmp_path / "c", layout="aam", songs=2, seconds=1, seed=3,
                            soundfonts=find_soundfonts()[:1], workers=1, progress=True)
    assert len(infos) == 2
    err = capsys.readouterr().err
    assert "demo-corpus: 100%" in err and "| 2/2 [" in err, err


def test_a_song_moved_to_another_split_leaves_no_copy_behind(tmp_path):
    from pipeline.demo.corpus import remove_earlier_copies

    for split in ("validation", "test"):
        (tmp_path / split / "Track00001").mkdir(parents=True)
    (tmp_path / "validation" / "Track00001" / "render.json").write_text("{}")  # written by the generator
    remove_earlier_copies(tmp_path, "Track00001", "train")
    assert not (tmp_path / "validation" / "Track00001").exists()
    assert (tmp_path / "test" / "Track00001").is_dir()  # not the generator's: left alone
