"""The choices the command line offers (light ``choices`` modules) are what the heavy modules implement."""

from __future__ import annotations

import importlib

import pytest

import evaluation.choices
import features.choices
import pipeline.demo.choices
import training.choices
from instrec.cli import build_parser


def test_model_names_are_the_registry():
    from training.registry import MODELS

    assert tuple(MODELS) == training.choices.MODEL_NAMES


def test_augmentations_are_what_the_augmenter_applies():
    from training import augment

    assert sorted(augment._IN_ORDER) == sorted(training.choices.AUGMENTATIONS)
    assert augment.AUGMENTATIONS is training.choices.AUGMENTATIONS


def test_train_config_checks_the_same_names():
    from training.config import TrainConfig

    for field, value in (("model", "resnet"), ("device", "tpu"), ("monitor", "loss"), ("augment", ("warp",))):
        with pytest.raises(ValueError, match="invalid training configuration"):
            TrainConfig(**{"store": "s", "features": "logmel", "model": "crnn", "out": "o", field: value})
    for model in training.choices.MODEL_NAMES:
        TrainConfig(store="s", features="logmel", model=model, out="o", augment=training.choices.AUGMENTATIONS)


def test_a_registry_that_disagrees_with_the_choices_fails_on_import(monkeypatch):
    import training.registry

    monkeypatch.setattr(training.choices, "MODEL_NAMES", training.choices.MODEL_NAMES + ("resnet",))
    with pytest.raises(ImportError, match="add the model to both"):
        importlib.reload(training.registry)
    monkeypatch.undo()
    importlib.reload(training.registry)


def test_feature_sets_are_the_registry(capsys):
    from features.registry import feature_names

    assert feature_names() == features.choices.FEATURE_SETS
    with pytest.raises(SystemExit):
        build_parser(["extract"]).parse_args(["extract", "--help"])
    help_text = " ".join(capsys.readouterr().out.split()).replace("- ", "-")  # argparse wraps at hyphens
    assert all(f"{name}," in help_text or f"{name})" in help_text for name in features.choices.FEATURE_SETS)


def test_musicnn_models_are_the_checkpoints():
    from features.musicnn_weights import CHECKPOINTS, PATCH_FRAMES

    assert tuple(CHECKPOINTS) == features.choices.MUSICNN_MODELS
    assert PATCH_FRAMES == features.choices.MUSICNN_PATCH_FRAMES


def test_activity_choices_are_the_config():
    from features.activity import ActivityConfig

    assert ActivityConfig().threshold_db == features.choices.ACTIVITY_THRESHOLD_DB
    for mode in features.choices.ACTIVITY_MODES:
        ActivityConfig(mode=mode)
    with pytest.raises(ValueError, match="activity mode"):
        ActivityConfig(mode="loudness")


def test_demo_choices_are_the_renderer():
    from pipeline.demo import corpus, instruments, render

    for layout in pipeline.demo.choices.LAYOUTS:
        assert instruments.voices_for(layout)
    with pytest.raises(ValueError, match="unknown layout"):
        instruments.voices_for("medleydb")
    assert corpus.SOUNDFONT_SPLITS is pipeline.demo.choices.SOUNDFONT_SPLITS
    assert render.SOUNDFONT_ENV == pipeline.demo.choices.SOUNDFONT_ENV


def test_evaluation_choices_are_checked_by_the_library():
    from evaluation.evaluate import SPLIT_CHOICES
    from evaluation.predict import THRESHOLD_MODES

    assert SPLIT_CHOICES is evaluation.choices.SPLIT_CHOICES
    assert THRESHOLD_MODES is evaluation.choices.THRESHOLD_MODES


@pytest.mark.parametrize(("argv", "choices"), [
    (["train", "--model", "x"], training.choices.MODEL_NAMES),
    (["extract", "R", "--dataset", "aam", "--store", "S", "--activity", "x"], features.choices.ACTIVITY_MODES),
    (["extract", "R", "--dataset", "aam", "--store", "S", "--musicnn-model", "x"], features.choices.MUSICNN_MODELS),
    (["demo-corpus", "OUT", "--layout", "x"], pipeline.demo.choices.LAYOUTS),
    (["predict", "a.wav", "--out", "o", "--thresholds", "x"], evaluation.choices.THRESHOLD_MODES),
])
def test_the_parser_offers_the_choices(argv, choices, capsys):
    with pytest.raises(SystemExit):
        build_parser(argv).parse_args(argv)
    err = capsys.readouterr().err
    assert "invalid choice: 'x'" in err
    assert all(repr(choice) in err for choice in choices)
