"""The real musicnn checkpoints: loading, per-layer agreement with the TensorFlow graph, and the
one-line refusal of missing, truncated or foreign files.

The reference outputs (``tests/fixtures/musicnn/tf_reference.npz``) were written by
``benchmarks/validate_musicnn.py reference`` with TensorFlow 2.15.1 from the wheel's own
``models.py`` (see ``tests/fixtures/README.md``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from features.musicnn import MusicnnConfig, loaded_network, musicnn_log_mel
from features.musicnn_weights import CHECKPOINTS, MusicnnWeightsError, musicnn_checkpoint
from features.tensor_bundle import read_bundle_index
from pipeline.musicnn_options import checkpoint_paths, load_musicnn_checkpoint

FIXTURE = Path(__file__).parents[1] / "fixtures" / "musicnn" / "tf_reference.npz"
LAYERS = {
    "musicnn": ("timbral", "temporal", "cnn1", "cnn2", "cnn3", "mean_pool", "max_pool", "penultimate", "taggram"),
    "vgg": ("pool1", "pool2", "pool3", "pool4", "pool5", "taggram"),
}


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURE) as npz:
        return {k: npz[k] for k in npz.files}


@pytest.mark.parametrize("model", list(CHECKPOINTS))
def test_every_layer_agrees_with_tensorflow(musicnn_weights_dir, reference, model):
    network = loaded_network(load_musicnn_checkpoint(model, musicnn_weights_dir))
    with torch.inference_mode():
        ours = network(torch.from_numpy(reference["input"]))
    for layer in LAYERS["vgg" if model.endswith("_vgg") else "musicnn"]:
        key = f"{model}/{layer}"
        got = ours[layer].numpy().reshape(-1)
        if key + ":index" in reference:  # a large layer: 4096 fixed elements of it were kept
            assert tuple(reference[key + ":shape"])[:2] == tuple(ours[layer].shape)[:2]
            got = got[reference[key + ":index"]]
        want = reference[key].reshape(-1)
        scale = float(np.abs(want).max())
        assert scale > 0.1, f"{key}: the reference is all but zero; a degenerate input"
        assert np.abs(got - want).max() <= 2e-5 * scale + 1e-5, key


def test_front_end_and_end_to_end_match_the_release(musicnn_weights_dir, reference):
    audio = reference["audio_int16"].astype(np.float32) / 32768.0
    batch = reference["input"]
    ours = musicnn_log_mel(audio)[: batch.shape[0] * 187].reshape(batch.shape)
    err = np.abs(ours - batch)
    assert err.max() < 1e-3 and err.mean() < 1e-6  # float16 rounding of the mel power may flip a step
    config = MusicnnConfig(layer="taggram", checkpoint=load_musicnn_checkpoint("MTT_musicnn", musicnn_weights_dir))
    taggram = config.compute(audio)
    assert taggram.shape == (2, 50)
    np.testing.assert_allclose(taggram, reference["MTT_musicnn/taggram"], atol=1e-4)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_a_missing_checkpoint_names_the_file_its_sha256_and_the_fetch_command(tmp_path):
    with pytest.raises(MusicnnWeightsError) as exc:
        load_musicnn_checkpoint("MTT_musicnn", tmp_path)
    text = _one_line(exc)
    assert text.startswith(f"{tmp_path}/MTT_musicnn/.index: cannot read musicnn's MTT_musicnn checkpoint")
    assert CHECKPOINTS["MTT_musicnn"].index_sha256 in text and "`instrec fetch-musicnn`" in text


def test_a_foreign_checkpoint_is_refused_by_sha256(tmp_path):
    index, data = checkpoint_paths(tmp_path, "MSD_vgg")
    index.parent.mkdir(parents=True)
    index.write_bytes(b"not an index")
    data.write_bytes(b"\x00" * 1000)
    with pytest.raises(MusicnnWeightsError) as exc:
        load_musicnn_checkpoint("MSD_vgg", tmp_path)
    text = _one_line(exc)
    assert text.startswith(f"{index}: sha256 ") and CHECKPOINTS["MSD_vgg"].index_sha256 in text
    assert "truncated, damaged or another file" in text and "`instrec fetch-musicnn --force`" in text


def test_a_truncated_or_swapped_real_checkpoint_is_refused(musicnn_weights_dir, tmp_path):
    for model in ("MTT_musicnn", "MSD_musicnn"):
        shutil.copytree(musicnn_weights_dir / model, tmp_path / model)
    _, data = checkpoint_paths(tmp_path, "MTT_musicnn")
    data.write_bytes(data.read_bytes()[:-4096])
    with pytest.raises(MusicnnWeightsError) as exc:
        load_musicnn_checkpoint("MTT_musicnn", tmp_path)
    text = _one_line(exc)
    assert text.startswith(f"{data}: sha256 ") and CHECKPOINTS["MTT_musicnn"].data_sha256 in text
    # the MSD files under the MTT name: same architecture, other weights -> refused
    for name in (".index", ".data-00000-of-00001"):
        shutil.copy(tmp_path / "MSD_musicnn" / name, tmp_path / "MTT_musicnn" / name)
    with pytest.raises(MusicnnWeightsError, match="is not the expected .* of musicnn 0.1.0's MTT_musicnn checkpoint"):
        load_musicnn_checkpoint("MTT_musicnn", tmp_path)


def test_a_damaged_tensor_fails_its_crc32c_even_without_the_sha256_check(musicnn_weights_dir):
    index, data = (p.read_bytes() for p in checkpoint_paths(musicnn_weights_dir, "MTT_vgg"))
    entry = read_bundle_index(index)["3CNN/kernel"]
    damaged = bytearray(data)
    damaged[entry.offset + entry.size // 2] ^= 0x40
    assert musicnn_checkpoint("MTT_vgg", index=index, data=data, check_sha256=False).sha256 == CHECKPOINTS[
        "MTT_vgg"].data_sha256
    with pytest.raises(MusicnnWeightsError, match=r"variable 3CNN/kernel fails its crc32c check"):
        musicnn_checkpoint("MTT_vgg", index=index, data=bytes(damaged), check_sha256=False)
