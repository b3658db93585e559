"""One way to build a TrainConfig from a user's options (``instrec train`` and the ``train-model``
flow) and one device rule (``core.device``, re-exported by ``training.device``)."""

from __future__ import annotations

import argparse
import logging

import pytest
import torch

from flows.params import FlowParameterError, TrainParams
from training.commands import TrainOptionError, config_from_args, register
from training.config import TrainConfig
from training.device import DeviceError, resolve_device


def _cli(*argv: str) -> TrainConfig:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return config_from_args(parser.parse_args(["train", "--store", "s3://b/s", "--out", "run", *argv]))


def test_the_cli_and_the_flow_build_the_same_config():
    cli = _cli("--model", "crnn-gru", "--attention", "--features", "logmel:n_mels=64", "--endpoint-url",
               "http://minio:9000", "--epochs", "3", "--augment", "mixup", "--device", "cpu")
    flow = TrainParams(store="s3://b/s", out="run", model="crnn-gru", attention=True, features="logmel:n_mels=64",
                       endpoint_url="http://minio:9000", epochs=3, augment=["mixup"], device="cpu").to_config()
    assert cli == flow
    assert flow.features.startswith("logmel-") and flow.model_options == {"attention": True}
    assert flow.storage_options == {"client_kwargs": {"endpoint_url": "http://minio:9000"}}


def test_the_flow_applies_the_attention_rule_of_the_cli():
    with pytest.raises(TrainOptionError, match="attention applies to model crnn-gru only, not 'crnn'"):
        _cli("--attention")
    params = TrainParams(store="s", out="run", model="crnn", attention=True)
    with pytest.raises(FlowParameterError, match="^parameters: attention applies to model crnn-gru only, not 'crnn'"):
        params.to_config()


def test_from_options_names_what_is_missing_or_wrong():
    with pytest.raises(ValueError, match="out required"):
        TrainConfig.from_options({"store": "s", "features": "logmel", "model": "crnn"})
    with pytest.raises(ValueError, match=r"unknown training config keys \['epoch'\]"):
        TrainConfig.from_options({"store": "s", "features": "logmel", "model": "crnn", "out": "o", "epoch": 2})
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        TrainConfig.from_options({"store": "s", "features": "logmel", "model": "crnn", "out": "o", "epochs": 0})


def test_auto_falls_back_to_the_cpu_with_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with caplog.at_level(logging.WARNING, logger="core.device"):
        assert resolve_device("auto") == torch.device("cpu")
    assert "no CUDA device found: training on the CPU" in caplog.text
    assert resolve_device("cpu") == torch.device("cpu")


def test_cuda_without_cuda_is_one_line_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="^device cuda was requested but torch sees no CUDA device") as caught:
        resolve_device("cuda")
    assert "\n" not in str(caught.value)
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_the_loop_and_the_flow_use_the_one_device_rule():
    import flows.train
    import training.loop

    import core.device
    import features.vggish

    assert training.loop.resolve_device is resolve_device is core.device.resolve_device
    assert features.vggish.resolve_device is core.device.resolve_device  # VGGish extraction too
    assert "resolve_device" in flows.train.check_device.fn.__code__.co_names
