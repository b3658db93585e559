"""`instrec pretrain-embedding`: denoising pre-training on the store's vggish-input frames, then
extraction with the saved encoder records `pretrained` and its sha256."""

from __future__ import annotations

import argparse
import hashlib
import json

import numpy as np
import pytest
import soundfile as sf

from pipeline import embedding_commands
from instrec.cli import main
from pipeline.extraction import FeatureTarget, extract_dataset
from pipeline.readers import read_dataset
from pipeline.track import InstrecError
from pipeline.vggish_options import VGGishOptions, build_feature_configs
from storage.store import open_store
from storage.verify import verify_store

SR = 16000


def run_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="instrec")
    embedding_commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture(scope="module")
def input_store(tmp_path_factory):
    """Two 3 s songs (tones + noise) extracted as vggish-input and logmel."""
    base = tmp_path_factory.mktemp("pretrain")
    rng = np.random.default_rng(0)
    t = np.arange(3 * SR) / SR
    (base / "songs").mkdir()
    for i, freq in enumerate((220.0, 1760.0)):
        y = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)
        sf.write(base / "songs" / f"song{i}.wav", y.astype(np.float32), SR)
    url = str(base / "store")
    assert main(["extract", "--dataset", "folder", str(base / "songs"), "--store", url, "--workers", "0",
                 "--no-progress", "--features", "vggish-input,logmel"]) == 0
    return base, url


def test_pretrain_then_extract_with_the_encoder(input_store, capsys):
    base, url = input_store
    reader = open_store(url).feature_set("vggish-input")
    assert reader.frame_shape == (64,) and reader.hop_s == pytest.approx(0.01)
    assert [e.n_frames for e in reader.tracks()] == [300, 300]  # 3 s // 10 ms
    ckpt = str(base / "weights" / "vggish-pretrained.pth")
    assert run_command(["pretrain-embedding", "--store", url, "--out", ckpt, "--steps", "2", "--batch-size", "2",
                        "--split", "test", "--objective", "bernoulli", "--device", "cpu"]) == 0
    assert "2 steps" in capsys.readouterr().out
    sidecar = json.loads(open(ckpt + ".json").read())
    sha = hashlib.sha256(open(ckpt, "rb").read()).hexdigest()
    assert sidecar["weights"] == "pretrained" and sidecar["final_relu"] is False and sidecar["sha256"] == sha
    assert sidecar["objective"] == "bernoulli" and sidecar["feature_set"] == reader.key
    assert np.isfinite(sidecar["first_loss"]) and np.isfinite(sidecar["last_loss"])

    configs = build_feature_configs(["vggish"], vggish=VGGishOptions(weights=ckpt))
    summary = extract_dataset(read_dataset("folder", base / "songs"), url,
                              targets=[FeatureTarget.from_config(c) for c in configs], workers=0, progress=False)
    assert len(summary.done) == 2 and not summary.failed
    store = open_store(url)
    vggish = store.feature_set("vggish")
    assert vggish.params["weights"] == "pretrained" and vggish.params["weights_sha256"] == sha
    assert vggish.params["final_relu"] is False
    x = vggish.read_features("song0")
    assert x.shape == (3, 128) and (x < 0).any()  # the encoder has no final ReLU
    assert verify_store(url, deep=True).ok


def test_pretrain_refuses_other_feature_sets(input_store, tmp_path):
    _, url = input_store
    with pytest.raises(InstrecError, match="run `instrec extract ... --features vggish-input` first"):
        run_command(["pretrain-embedding", "--store", url, "--features", "logmel", "--out",
                     str(tmp_path / "x.pth"), "--steps", "1"])
    with pytest.raises(InstrecError, match="no 'train' track"):
        run_command(["pretrain-embedding", "--store", url, "--out", str(tmp_path / "x.pth"), "--steps", "1"])


def test_pretrain_on_cuda_without_cuda_is_the_one_line_error_of_train(input_store, tmp_path, monkeypatch):
    import torch

    from training.device import DeviceError

    _, url = input_store
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="^device cuda was requested but torch sees no CUDA device"):
        run_command(["pretrain-embedding", "--store", url, "--out", str(tmp_path / "x.pth"), "--steps", "1",
                     "--device", "cuda"])
    assert not (tmp_path / "x.pth").exists()
