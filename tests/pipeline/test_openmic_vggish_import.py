"""`instrec import-openmic-vggish`: OpenMIC's released embeddings as feature set vggish-openmic.

The real fixture clip 000046_3840 (labels: clarinet 0.17105, flute 0, trumpet 0; its real
vggish JSON: 10 examples, first code 173) plus synthetic clips written here (labels rows and
JSON files of random codes) for the keys the fixture's partition files list.  Audio is a
silent OGG stand-in: the reader requires an audio file per labelled clip.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline import embedding_commands
from pipeline.openmic_import import import_openmic_vggish, openmic_feature_spec
from storage.store import open_store
from storage.verify import verify_store

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "openmic2018"
REAL_KEY = "000046_3840"
TRAIN_KEYS = ("000135_483840", "000139_119040", "000141_153600", "000144_30720")
TEST_KEYS = ("000178_3840", "000308_61440")


def run_command(argv: list[str]) -> int:
    """The command as `instrec` runs it (the module's own subparsers)."""
    import argparse

    parser = argparse.ArgumentParser(prog="instrec")
    embedding_commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.handler(args)


def write_silent_ogg(root: Path, key: str, seconds: float = 10.0) -> None:
    path = root / "audio" / key[:3] / f"{key}.ogg"
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(seconds * 8000), np.float32), 8000, format="OGG", subtype="VORBIS")


def write_vggish_json(root: Path, key: str, codes: np.ndarray, times=None) -> Path:
    path = root / "vggish" / key[:3] / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    times = [round(0.96 * i, 2) for i in range(len(codes))] if times is None else times
    path.write_text(json.dumps({"time_points": times, "features": codes.tolist()}))
    return path


@pytest.fixture
def openmic_root(tmp_path):
    root = tmp_path / "openmic-2018"
    shutil.copytree(FIXTURE, root)
    rng = np.random.default_rng(0)
    rows = []
    for i, key in enumerate(TRAIN_KEYS + TEST_KEYS):
        rows += [f"{key},guitar,{1.0 if i % 2 else 0.0},3", f"{key},voice,{0.0 if i % 2 else 0.9},3"]
        write_vggish_json(root, key, rng.integers(0, 256, size=(10, 128)))
    with open(root / "openmic-2018-aggregated-labels.csv", "a") as handle:
        handle.write("\n".join(rows) + "\n")
    for key in (REAL_KEY, *TRAIN_KEYS, *TEST_KEYS):
        write_silent_ogg(root, key)
    return root


def test_import_writes_dequantised_official_embeddings_with_clip_labels(tmp_path, openmic_root):
    url = str(tmp_path / "store")
    summary = import_openmic_vggish(openmic_root, url, validation_fraction=0.0)
    assert len(summary.done) == 7 and not summary.failed and not summary.warnings
    store = open_store(url)
    reader = store.feature_set("vggish-openmic")
    assert reader.key == openmic_feature_spec().key and store.dataset == "openmic"
    assert reader.params["weights"] == "official" and "dequantised" in reader.params["postprocess"]
    assert reader.hop_s == pytest.approx(0.96) and reader.first_centre == pytest.approx(0.48)
    x = reader.read_features(REAL_KEY)
    codes = np.array(json.loads((openmic_root / "vggish" / "000" / f"{REAL_KEY}.json").read_text())["features"])
    assert x.shape == (10, 128) and x.dtype == np.float32
    assert x[0, 0] == pytest.approx(173 * 4 / 255 - 2, abs=1e-6)
    np.testing.assert_allclose(x, codes * (4 / 255) - 2, atol=1e-6)
    labels, mask = reader.read_labels(REAL_KEY)
    assert labels.shape == (10, 20) and not labels.any() and not mask.any()  # frame truth unknown
    clip, clip_mask = reader.read_clip(REAL_KEY)
    classes = store.classes
    assert clip[classes.index("clarinet")] == pytest.approx(0.17105)
    assert {classes[i] for i in np.flatnonzero(clip_mask)} == {"clarinet", "flute", "trumpet"}
    assert {e.split for e in reader.tracks()} == {"train", "test"}
    assert len(reader.tracks("train")) == 5
    assert verify_store(url, deep=True).ok


def test_import_is_incremental_and_names_bad_files(tmp_path, openmic_root, capsys):
    url = str(tmp_path / "store")
    assert run_command(["import-openmic-vggish", str(openmic_root), "--store", url]) == 0
    assert "7 imported, 0 skipped unchanged, 0 failed" in capsys.readouterr().out
    before = open_store(url).feature_set("vggish-openmic").record(TRAIN_KEYS[0])["path"]
    write_vggish_json(openmic_root, TRAIN_KEYS[1], np.full((10, 128), 7))  # changed
    write_vggish_json(openmic_root, TEST_KEYS[0], np.zeros((10, 128), int), times=[0.5 * i for i in range(10)])
    (openmic_root / "vggish" / TEST_KEYS[1][:3] / f"{TEST_KEYS[1]}.json").unlink()
    assert run_command(["import-openmic-vggish", str(openmic_root), "--store", url, "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["done_tracks"] == [TRAIN_KEYS[1]] and summary["skipped_unchanged"] == 4
    problems = {f["track_id"]: f["problem"] for f in summary["failed"]}
    assert "not on the VGGish grid" in problems[TEST_KEYS[0]] and f"{TEST_KEYS[0]}.json" in problems[TEST_KEYS[0]]
    assert "cannot read the VGGish features" in problems[TEST_KEYS[1]]
    reader = open_store(url).feature_set("vggish-openmic")
    assert reader.record(TRAIN_KEYS[0])["path"] == before
    assert np.allclose(reader.read_features(TRAIN_KEYS[1]), 7 * 4 / 255 - 2, atol=1e-6)
    assert verify_store(url).ok


def test_attention_mil_trains_on_the_official_embeddings(tmp_path, openmic_root):
    from training.config import TrainConfig
    from training.loop import train

    url = str(tmp_path / "store")
    import_openmic_vggish(openmic_root, url, validation_fraction=0.0)
    config = TrainConfig(store=url, features="vggish-openmic", model="attention-mil", out=str(tmp_path / "run"),
                         epochs=1, steps_per_epoch=2, batch_size=2, window=10, workers=0, device="cpu",
                         augment=(), validation_split="test", progress=False)
    run_dir = train(config)
    from training.run import load_run

    run = load_run(run_dir)
    assert run.feature_name == "vggish-openmic" and run.classes[0] == "accordion"
    (epoch,) = run.history
    assert np.isfinite(epoch["train_loss"]) and np.isfinite(epoch["val_loss"])
    assert epoch["f1"] is None  # no frame truth in OpenMIC: frame scores undefined, clip scores defined
    assert epoch["clip_map"] is not None
    probs = run.predict_clip(open_store(url).feature_set("vggish-openmic").read_features(REAL_KEY))
    assert probs.shape == (20,) and np.all((probs >= 0) & (probs <= 1))
