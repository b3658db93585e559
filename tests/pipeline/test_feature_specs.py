"""Feature parameters from the command line: ``--features logmel:n_mels=64,hop_length=256``."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import soundfile as sf

from features.base import config_hash
from features.logmel import LogMelConfig
from instrec.cli import main
from pipeline.feature_specs import (
    FeatureSpecError, build_feature_config, feature_set_key, parse_feature_spec, parse_value, split_feature_list,
)
from storage.layout import feature_key
from storage.store import open_store


def test_values_are_typed():
    assert [parse_value(t) for t in ("64", "-3", "0.5", "1e-3", "None", "null", "true", "False", "hann")] == [
        64, -3, 0.5, 1e-3, None, None, True, False, "hann"]
    assert parse_value("(1, 2.5, none)") == (1, 2.5, None) and parse_value("[]") == ()
    assert parse_value("'64'") == "64"


def test_a_list_of_specs_splits_at_the_names():
    assert split_feature_list("logmel") == ["logmel"]
    assert split_feature_list("logmel:n_mels=64,hop_length=256,scalogram") == [
        "logmel:n_mels=64,hop_length=256", "scalogram"]
    assert split_feature_list("logmel, scalogram:fmin=55,n_scales=64 ,vggish") == [
        "logmel", "scalogram:fmin=55,n_scales=64", "vggish"]
    assert parse_feature_spec("logmel:n_mels=64,hop_length=256") == ("logmel", {"n_mels": 64, "hop_length": 256})
    with pytest.raises(FeatureSpecError, match="parameter 'n_mels=64' follows no NAME:"):
        split_feature_list("logmel,n_mels=64")
    with pytest.raises(FeatureSpecError, match="expected param=value after logmel:"):
        parse_feature_spec("logmel:n_mels")
    with pytest.raises(FeatureSpecError, match="parameter n_mels is given twice"):
        parse_feature_spec("logmel:n_mels=64,n_mels=32")


def test_a_spec_builds_the_configuration_python_would():
    assert build_feature_config("logmel:n_mels=64,hop_length=256,fmax=None") == LogMelConfig(n_mels=64,
                                                                                               hop_length=256)
    # an integer for a float parameter hashes like the float: the same feature set
    assert config_hash(build_feature_config("logmel:fmin=0")) == config_hash(LogMelConfig())
    assert feature_set_key("logmel:n_mels=64") == feature_key("logmel", config_hash(LogMelConfig(n_mels=64)))
    assert feature_set_key("logmel") == "logmel" and feature_set_key("logmel-1a2b3c4d") == "logmel-1a2b3c4d"
    with pytest.raises(ValueError, match="unexpected keyword argument 'n_mel'"):
        build_feature_config("logmel:n_mel=64")


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def test_extract_with_feature_parameters_then_train_finds_them(tmp_path):
    songs = tmp_path / "songs"
    songs.mkdir()
    t = np.arange(22050) / 22050
    for i in range(2):
        sf.write(songs / f"s{i}.wav", (0.3 * np.sin(2 * np.pi * 440 * (i + 1) * t)).astype(np.float32), 22050)
    store = tmp_path / "store"
    rc, out, err = run(["extract", str(songs), "--dataset", "folder", "--store", str(store), "--workers", "0",
                        "--no-progress", "--json", "--features", "logmel:n_mels=32,hop_length=1024,logmel"])
    assert rc == 0, err
    expected = feature_key("logmel", config_hash(LogMelConfig(n_mels=32, hop_length=1024)))
    assert sorted(json.loads(out)["feature_sets"]) == sorted([expected, feature_set_key("logmel:n_mels=128")])
    reader = open_store(str(store)).feature_set(expected)
    assert reader.params["n_mels"] == 32 and reader.params["hop_length"] == 1024
    assert reader.read_features("s0").shape == (1 + 22050 // 1024, 32)
    # train resolves the same spec to that key (the folder has no labelled training tracks: that error
    # proves the feature set was found)
    rc, _, err = run(["train", "--store", str(store), "--features", "logmel:n_mels=32,hop_length=1024",
                      "--out", str(tmp_path / "run"), "--device", "cpu", "--no-progress"])
    assert rc == 2 and f"feature set {expected} has no 'train' tracks" in err, err
    rc, _, err = run(["extract", str(songs), "--dataset", "folder", "--store", str(store), "--workers", "0",
                      "--features", "logmel:n_mels=many"])
    assert rc == 2 and err.startswith("instrec extract: error: --features") and len(err.splitlines()) == 1, err
