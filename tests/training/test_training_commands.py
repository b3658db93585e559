"""The ``instrec train`` command line: defaults and option checks."""

from __future__ import annotations

import argparse
import json

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
    with pytest.raises(TrainOptionError, match="attention applies to model crnn-gru only, not 'crnn'"):
        config_from_args(_parse("--attention"))
    with pytest.raises(TrainOptionError, match="--model-options is not valid JSON"):
        config_from_args(_parse("--model-options", "{hidden: 3}"))
    with pytest.raises(SystemExit):  # checked by argparse: "argument --epochs: expected an integer >= 1"
        _parse("--epochs", "0")
    with pytest.raises(SystemExit):
        _parse("--augment", "pitchshift")


def test_panns_and_its_front_end_are_train_options():
    config = config_from_args(_parse("--model", "panns-gru", "--model-options", '{"frontend": "pcen"}'))
    assert (config.model, config.model_options) == ("panns-gru", {"frontend": "pcen"})


def _parse_bare(*argv):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["train", *argv])


def test_a_toml_config_sets_fields_and_options_given_override_it(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('store = "s3://bucket/store"\nout = "runs/b"\nmodel = "cnn"\nepochs = 7\nlr = 0.01\n'
                    'augment = ["mixup"]\nremix_stems = [1, 3]\n\n[model_options]\nhidden = 32\n')
    config = config_from_args(_parse_bare("--config", str(path)))
    assert (config.store, config.out, config.model, config.epochs, config.lr) == (
        "s3://bucket/store", "runs/b", "cnn", 7, 0.01)
    assert config.augment == ("mixup",) and config.remix_stems == (1, 3) and config.model_options == {"hidden": 32}
    assert config.batch_size == 16  # not in the file: TrainConfig's default
    # options given on the command line win, also when they repeat a default
    config = config_from_args(_parse_bare("--config", str(path), "--epochs", "50", "--out", "runs/c",
                                          "--no-progress"))
    assert (config.epochs, config.out, config.model, config.progress) == (50, "runs/c", "cnn", False)


def test_a_runs_config_json_trains_it_again(tmp_path):
    first = config_from_args(_parse("--model", "cnn", "--epochs", "3", "--augment", "none", "--seed", "5"))
    path = tmp_path / "config.json"
    path.write_text(json.dumps(first.to_json()))
    again = config_from_args(_parse_bare("--config", str(path)))
    assert again == first
    assert config_from_args(_parse_bare("--config", str(path), "--out", "runs/again")).out == "runs/again"


def test_config_file_errors_are_one_line_naming_the_file_and_keys(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('store = "s"\nout = "o"\nepoch = 3\nlearning_rate = 0.1\n')
    with pytest.raises(TrainOptionError, match=r"run\.toml: unknown training setting\(s\) epoch, learning_rate; the "
                                               r"settings are the fields of training\.config\.TrainConfig"):
        config_from_args(_parse_bare("--config", str(path)))
    path.write_text('store = "s"\nout = "o"\nepochs = "ten"\n')
    with pytest.raises(TrainOptionError, match=r"run\.toml: epochs should be int, got str 'ten'"):
        config_from_args(_parse_bare("--config", str(path)))
    path.write_text('store = "s"\nout = "o"\nepochs = 0\n')
    with pytest.raises(TrainOptionError, match=r"run\.toml: invalid training configuration: epochs must be >= 1"):
        config_from_args(_parse_bare("--config", str(path)))
    path.write_text("store = \n")
    with pytest.raises(TrainOptionError, match=r"run\.toml: not valid TOML \(.*line 1"):
        config_from_args(_parse_bare("--config", str(path)))
    with pytest.raises(TrainOptionError, match=r"nothing\.toml: cannot read the training config"):
        config_from_args(_parse_bare("--config", str(tmp_path / "nothing.toml")))
    with pytest.raises(TrainOptionError, match=r"--store and --out required: give them on the command line or in "
                                               r"the --config file"):
        config_from_args(_parse_bare())
