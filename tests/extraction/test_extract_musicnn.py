"""``instrec extract --features musicnn`` on a small rendered corpus, training embedding models on
it, the repeat-padding of a short song, and the one-line errors for missing weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from features.grid import frame_labels
from features.musicnn_weights import CHECKPOINTS
from features.registry import config_from_params
from instrec.cli import build_parser, main
from pipeline.demo import generate_corpus
from pipeline.extraction import FeatureTarget, extract_dataset
from pipeline.musicnn_options import MusicnnOptions, musicnn_config
from pipeline.readers import read_dataset
from pipeline.track import Track
from storage.store import open_store
from storage.verify import verify_store


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("aam-demo")
    generate_corpus(root, layout="aam", songs=4, seconds=7, seed=1, workers=1)
    return root


@pytest.fixture(scope="module")
def extracted(tmp_path_factory, corpus, musicnn_weights_dir):
    """(store URL, the extract command line, its first output) of the corpus with musicnn and log-mel."""
    url = str(tmp_path_factory.mktemp("store") / "store")
    argv = ["extract", "--dataset", "aam", str(corpus), "--store", url, "--workers", "0", "--no-progress",
            "--json", "--features", "musicnn,logmel"]
    from io import StringIO

    from pipeline.extraction.commands import run_extract

    out = StringIO()
    assert run_extract(build_parser(argv).parse_args(argv), out=out) == 0
    return url, argv, json.loads(out.getvalue())


def _train(url: str, model: str, out) -> None:
    assert main(["train", "--store", url, "--features", "musicnn", "--model", model, "--out", str(out),
                 "--epochs", "1", "--window", "2", "--batch-size", "2", "--workers", "0", "--device", "cpu",
                 "--no-progress"]) == 0, model
    assert (out / "metrics.jsonl").read_text().count("\n") == 1


def test_extract_musicnn_on_the_store_grid_then_incremental(extracted, corpus, capsys):
    url, argv, summary = extracted
    assert summary["done"] == 4 and not summary["failed"]
    store = open_store(url)
    reader = store.feature_set("musicnn")
    assert reader.params["model"] == "MTT_musicnn"
    assert reader.params["weights_sha256"] == CHECKPOINTS["MTT_musicnn"].data_sha256
    assert reader.params["layer"] == "max_pool" and reader.params["pad_short"] == "repeat-pad"
    assert reader.frame_shape == (753,) and reader.spec.frame_dims == ("embedding",)
    assert reader.hop_s == pytest.approx(187 * 256 / 16000) and reader.first_centre == pytest.approx(187 * 128 / 16000)
    tracks = {t.track_id: t for t in read_dataset("aam", corpus) if isinstance(t, Track)}
    grid = config_from_params(reader.params).grid
    for entry in reader.tracks():
        n_samples = int(reader.record(entry.track_id)["n_samples"])
        assert entry.n_frames == grid.n_frames(n_samples) == 2  # 7 s // 2.99 s
        features = reader.read_features(entry.track_id)
        assert features.shape == (2, 753) and np.isfinite(features).all() and features.std() > 0
        labels, mask = reader.read_labels(entry.track_id)
        expected = frame_labels(tracks[entry.track_id].events, store.classes, grid, entry.n_frames)
        assert np.array_equal(labels, expected) and mask.all()
    assert main([a for a in argv if a != "--json"]) == 0
    assert "0 done, 4 skipped unchanged" in capsys.readouterr().out  # incremental
    assert verify_store(url, deep=True).ok


def test_attention_mil_trains_on_musicnn_and_predict_recomputes_it(extracted, corpus, tmp_path):
    url = extracted[0]
    _train(url, "attention-mil", tmp_path / "run")
    song = sorted(corpus.glob("*_mix.flac"))[0]  # predict recomputes musicnn from the raw audio
    assert main(["predict", str(song), "--run", str(tmp_path / "run"), "--out", str(tmp_path / "pred")]) == 0
    (record,) = list((tmp_path / "pred").glob("*.json"))
    assert json.loads(record.read_text())["runs"]


def test_bilstm_attention_and_mlp_train_on_musicnn(extracted, tmp_path):
    for model in ("bilstm-attention", "mlp"):
        _train(extracted[0], model, tmp_path / model)


def test_a_short_song_is_repeat_padded_and_the_store_says_so(tmp_path, make_track, musicnn_weights_dir):
    tracks = [make_track("short", duration=1.5), make_track("long", duration=3.5, events=(("bass", 0.5, 3.0),))]
    config = musicnn_config(MusicnnOptions(layer="taggram", weights_dir=str(musicnn_weights_dir)))
    summary = extract_dataset(tracks, str(tmp_path / "s"), targets=[FeatureTarget.from_config(config)], workers=0,
                              progress=False)
    assert sorted(summary.done) == ["long", "short"]
    reader = open_store(str(tmp_path / "s")).feature_set("musicnn")
    assert [t.n_frames for t in reader.tracks()] == [1, 1]  # long: 3.5 s // 2.99 s; short: padded to one
    (warning,) = reader.record("short")["warnings"]
    assert "1.50 s is shorter than one musicnn patch" in warning and "repeat-padded" in warning
    assert reader.record("long")["warnings"] == []
    taggram = reader.read_features("short")
    assert taggram.shape == (1, 50) and ((taggram > 0) & (taggram < 1)).all()


def test_missing_weights_are_a_one_line_error_naming_file_sha256_and_command(tmp_path, make_track, capsys):
    make_track("one")
    code = main(["extract", "--dataset", "folder", str(tmp_path / "audio"), "--store", str(tmp_path / "s"),
                 "--workers", "0", "--features", "musicnn", "--musicnn-model", "MSD_musicnn",
                 "--musicnn-weights", str(tmp_path / "nowhere")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "nowhere" / "MSD_musicnn" / ".index") in err
    assert CHECKPOINTS["MSD_musicnn"].index_sha256 in err and "instrec fetch-musicnn" in err
    assert not (tmp_path / "s").exists()  # refused before anything was written


def test_musicnn_options_need_the_feature_set(tmp_path, make_track, capsys):
    make_track("one")
    assert main(["extract", "--dataset", "folder", str(tmp_path / "audio"), "--store", str(tmp_path / "s"),
                 "--workers", "0", "--features", "logmel", "--musicnn-hop", "62"]) == 2
    assert "--features does not include musicnn" in capsys.readouterr().err
    assert main(["extract", "--dataset", "folder", str(tmp_path / "audio"), "--store", str(tmp_path / "s"),
                 "--workers", "0", "--features", "musicnn", "--musicnn-model", "MTT_vgg",
                 "--musicnn-layer", "max_pool"]) == 2
    assert "MTT_vgg has layers pool5, taggram, not 'max_pool'" in capsys.readouterr().err
