"""The ``instrec train`` command line: defaults and option checks."""

from __future__ import annotations

import argparse

import pytest

from training.commands import TrainOptionError, config_from_args, register


def _parse(*argv):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["train", "--store", "s3://bucket/store", "--out", "runs/a", *argv])


def test_defaults_give_a_valid_config():
    config = config_from_args(_parse())
    assert (config.features, config.model, config.device, config.window, config.batch_size) == (
        "logmel", "crnn", "auto", 1000, 16)
    assert config.model_options == {}


def test_attention_switch_and_augment_list():
    config = config_from_args(_parse("--model", "crnn-gru", "--attention", "--augment", "mixup,reverse"))
    assert config.model_options == {"attention": True}
    assert config.augment == ("mixup", "reverse")
    assert config_from_args(_parse("--augment", "none")).augment == ()


def test_bad_options_are_one_line_errors():
    with pytest.raises(TrainOptionError, match="--attention applies to --model crnn-gru only"):
        config_from_args(_parse("--attention"))
    with pytest.raises(TrainOptionError, match="--model-options is not valid JSON"):
        config_from_args(_parse("--model-options", "{hidden: 3}"))
    with pytest.raises(TrainOptionError, match="epochs must be >= 1"):
        config_from_args(_parse("--epochs", "0"))
    with pytest.raises(SystemExit):
        _parse("--augment", "pitchshift")


def test_panns_and_its_front_end_are_train_options():
    config = config_from_args(_parse("--model", "panns-gru", "--model-options", '{"frontend": "pcen"}'))
    assert (config.model, config.model_options) == ("panns-gru", {"frontend": "pcen"})
