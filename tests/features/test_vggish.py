"""VGGish: front end framing, architecture, safe checkpoint loading, PCA and quantisation."""

import hashlib
import io
import logging

import numpy as np
import pytest
import torch

from features.base import FeatureConfig, config_hash, config_params
from features.vggish import (
    VGGish,
    VGGishConfig,
    random_vggish,
    vggish_device,
    vggish_examples,
    vggish_mel_matrix,
)
from features.vggish_weights import (
    VGGISH_SHAPES,
    PCAParams,
    VGGishWeightsError,
    dequantize,
    load_pca_params,
    load_vggish_checkpoint,
    pca_whiten,
    postprocess,
    quantize,
)

SR = 16000
SPAN = 15360  # 96 frames x 160 samples


@pytest.fixture(scope="module")
def checkpoint_file(tmp_path_factory):
    """A random state dict saved in the torchvggish format (official key names and shapes)."""
    path = tmp_path_factory.mktemp("weights") / "vggish-test.pth"
    torch.save(random_vggish(seed=7).state_dict(), path)
    return path


def test_parameter_count_of_the_published_network():
    # conv: 640 + 73,856 + 295,168 + 590,080 + 1,180,160 + 2,359,808 = 4,499,712
    # fc: 12288*4096+4096 + 4096*4096+4096 + 4096*128+128 = 67,641,472
    model = VGGish()
    assert sum(p.numel() for p in model.parameters()) == 72_141_184
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == VGGISH_SHAPES


def test_forward_shape_and_final_relu():
    x = torch.randn(3, 96, 64)
    with torch.no_grad():
        out = random_vggish(seed=0)(x)
        raw = random_vggish(seed=0, final_relu=False)(x)
    assert out.shape == (3, 128)
    assert torch.all(out >= 0) and torch.any(raw < 0)
    torch.testing.assert_close(out, raw.clamp_min(0))


def test_random_weights_are_seeded():
    a, b, c = (random_vggish(seed=s).state_dict()["features.0.weight"] for s in (1, 1, 2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_mel_matrix_follows_vggish():
    weights = vggish_mel_matrix()
    assert weights.shape == (257, 64)
    assert np.all(weights[0] == 0)  # DC bin zeroed
    assert np.all(weights.max(axis=0) <= 1) and np.all(weights.max(axis=0) > 0.5)  # peak 1, no area norm
    f = np.linspace(0, 8000, 257)
    assert f[weights[:, 0] > 0].min() > 125 and f[weights[:, -1] > 0].max() < 7500


@pytest.mark.parametrize("n_samples", [0, SPAN - 1, SPAN, SPAN + 239, SPAN + 240, 10 * SR])
def test_examples_follow_the_grid(n_samples):
    config = VGGishConfig()
    examples = vggish_examples(np.zeros(n_samples, np.float32))
    assert examples.shape == (config.grid.n_frames(n_samples), 96, 64)
    assert np.allclose(examples, np.log(0.01))
    official = 0 if n_samples < 15600 else 1 + ((1 + (n_samples - 400) // 160) - 96) // 96
    if n_samples % SPAN >= 240:  # where the official framing and the grid agree on the count
        assert len(examples) == official


def test_example_covers_its_15600_samples():
    y = np.zeros(4 * SPAN, np.float32)
    base = vggish_examples(y)
    # example i covers [15360 i, 15360 i + 15600): consecutive examples share 240 samples
    # (the first sample of a frame is weighted 0 by the periodic Hann window, hence 2 * SPAN + 1)
    cases = ((15599, {0, 1}), (2 * SPAN - 1, {1}), (2 * SPAN + 1, {1, 2}), (SPAN + 15599, {1, 2}), (SPAN + 15600, {2}))
    for sample, changed in cases:
        z = y.copy()
        z[sample] = 1.0
        diff = {i for i in range(4) if not np.array_equal(vggish_examples(z)[i], base[i])}
        assert diff == changed, sample


def test_tone_lands_in_its_mel_band():
    t = np.arange(SR) / SR
    examples = vggish_examples(np.sin(2 * np.pi * 1000 * t).astype(np.float32))
    band = int(np.argmax(examples[0].mean(axis=0)))
    assert band == int(np.argmax(vggish_mel_matrix()[np.argmin(np.abs(np.linspace(0, 8000, 257) - 1000))]))


def test_config_protocol_grid_and_hash():
    config = VGGishConfig()
    assert isinstance(config, FeatureConfig)
    assert config.grid.hop_length == SPAN and not config.grid.centered and config.sr == SR
    assert config.frame_shape() == (128,) and config.context_samples == 240
    assert config_hash(config) == config_hash(VGGishConfig())
    assert config_hash(config) != config_hash(VGGishConfig(seed=1))
    assert "checkpoint" not in config_params(config) and "_models" not in config_params(config)
    out = config.compute(np.random.default_rng(0).standard_normal(2 * SPAN + 5).astype(np.float32))
    assert out.shape == (2, 128) and out.dtype == np.float32
    with pytest.raises(ValueError, match="needs PCA parameters"):
        VGGishConfig(postprocess=True)
    with pytest.raises(ValueError, match="needs a checkpoint"):
        VGGishConfig(weights="official")
    with pytest.raises(ValueError, match="16 kHz"):
        VGGishConfig(sr=22050)


def test_checkpoint_round_trip(checkpoint_file):
    data = checkpoint_file.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    y = np.random.default_rng(1).standard_normal(2 * SPAN).astype(np.float32)
    expected_model = random_vggish(seed=7).eval()
    with torch.no_grad():
        expected = expected_model(torch.from_numpy(vggish_examples(y))).numpy()
    for source in (str(checkpoint_file), data, io.BytesIO(data)):
        assert load_vggish_checkpoint(source).sha256 == sha
    config = VGGishConfig(weights="official", checkpoint=checkpoint_file)
    assert config.weights_sha256 == sha
    np.testing.assert_allclose(config.embed(y, device="cpu"), expected, rtol=1e-4, atol=1e-5)
    # the stored parameters identify the weights; without the file there is nothing to compute
    rebuilt = VGGishConfig(**{k: v for k, v in config_params(config).items() if k != "name"})
    assert rebuilt == config and config_hash(rebuilt) == config_hash(config)
    with pytest.raises(VGGishWeightsError, match="no weights loaded"):
        rebuilt.compute(y)
    with pytest.raises(VGGishWeightsError, match="does not match"):
        VGGishConfig(weights="official", weights_sha256="0" * 64, checkpoint=data)


def _record(log):
    log.append("executed")
    return torch.zeros(1)


EXECUTED: list = []


class Payload:
    """Unpickling this would call _record: weights_only loading must refuse it."""

    def __reduce__(self):
        return (_record, (EXECUTED,))


def test_unsafe_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": Payload()}, path)
    with pytest.raises(VGGishWeightsError, match=r"evil\.pth: refused to load"):
        load_vggish_checkpoint(path)
    with pytest.raises(VGGishWeightsError, match="refused to load"):
        VGGishConfig(weights="official", checkpoint=path)
    assert EXECUTED == []


def test_wrong_checkpoints_are_named(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(VGGishWeightsError, match="junk.pth: not a readable torch checkpoint"):
        load_vggish_checkpoint(junk)
    partial = tmp_path / "partial.pth"
    torch.save({"features.0.weight": torch.zeros(64, 1, 3, 3)}, partial)
    with pytest.raises(VGGishWeightsError, match="partial.pth: not a VGGish state dict: missing keys"):
        load_vggish_checkpoint(partial)
    with pytest.raises(VGGishWeightsError, match="cannot read"):
        load_vggish_checkpoint(tmp_path / "absent.pth")


def test_pca_whitening_and_quantisation_by_hand():
    # means (1, -1), eigenvectors rows (0.6, 0.8) and (-0.8, 0.6)
    pca = PCAParams(means=np.array([1.0, -1.0]), eigen_vectors=np.array([[0.6, 0.8], [-0.8, 0.6]]),
                    sha256="", source="hand")
    emb = np.array([[2.0, 0.5], [-3.0, -1.0]])
    # row 0: (2-1, 0.5+1) = (1, 1.5) -> (0.6*1 + 0.8*1.5, -0.8*1 + 0.6*1.5) = (1.8, 0.1)
    # row 1: (-4, 0) -> (-2.4, 3.2), clipped to (-2, 2)
    whitened = pca_whiten(emb, pca=pca)
    np.testing.assert_allclose(whitened, [[1.8, 0.1], [-2.4, 3.2]], atol=1e-12)
    # (x + 2) * 255 / 4: 3.8 * 63.75 = 242.25 -> 242; 2.1 * 63.75 = 133.875 -> 133 (floor) / 134 (round)
    np.testing.assert_array_equal(postprocess(emb, pca=pca), [[242, 133], [0, 255]])
    np.testing.assert_array_equal(postprocess(emb, pca=pca, rounding="round"), [[242, 134], [0, 255]])
    assert quantize(np.array([1.8])).dtype == np.uint8
    # 242 * 4 / 255 - 2 = 1.796078..., 133 * 4 / 255 - 2 = 0.086274...
    np.testing.assert_allclose(dequantize(np.array([242, 133, 0, 255], np.uint8)),
                               [968 / 255 - 2, 532 / 255 - 2, -2.0, 2.0], rtol=1e-6)


def test_pca_files_in_both_formats(tmp_path, checkpoint_file):
    rng = np.random.default_rng(0)
    vectors, means = rng.standard_normal((128, 128)), rng.standard_normal((128, 1))
    npz = tmp_path / "vggish_pca_params.npz"
    np.savez(npz, pca_eigen_vectors=vectors, pca_means=means)
    pth = tmp_path / "vggish_pca_params.pth"
    torch.save({"pca_eigen_vectors": torch.from_numpy(vectors), "pca_means": torch.from_numpy(means)}, pth)
    for path in (npz, pth):
        pca = load_pca_params(path)
        np.testing.assert_array_equal(pca.eigen_vectors, vectors)
        np.testing.assert_array_equal(pca.means, means.ravel())
        assert pca.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    bad = tmp_path / "bad.npz"
    np.savez(bad, something=vectors)
    with pytest.raises(VGGishWeightsError, match="bad.npz: expected PCA parameters"):
        load_pca_params(bad)
    config = VGGishConfig(weights="official", checkpoint=checkpoint_file, pca_params=npz, postprocess=True)
    assert config.pca_sha256 == hashlib.sha256(npz.read_bytes()).hexdigest()
    out = config.embed(np.random.default_rng(2).standard_normal(SPAN).astype(np.float32), device="cpu")
    codes = (out + 2) * 255 / 4
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-3)  # on the 8-bit lattice
    assert out.min() >= -2 and out.max() <= 2


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_close_to_cpu_in_float32_and_bfloat16():
    y = np.random.default_rng(3).standard_normal(4 * SPAN).astype(np.float32)
    for precision, correlation in (("float32", 0.9999), ("bfloat16", 0.99)):
        config = VGGishConfig(final_relu=False, precision=precision)
        cpu, gpu = config.embed(y, device="cpu"), config.embed(y, device="cuda")
        assert np.corrcoef(cpu.ravel(), gpu.ravel())[0, 1] > correlation


def test_vggish_chooses_its_device_by_the_one_device_rule(monkeypatch, caplog):
    from core.errors import DeviceError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with caplog.at_level(logging.WARNING):
        assert vggish_device() == vggish_device("auto") == torch.device("cpu")
    assert caplog.text == ""  # extraction on the CPU is the usual case: no warning per track
    assert vggish_device("cpu") == torch.device("cpu")
    assert vggish_device(torch.device("cpu", 0)) == torch.device("cpu", 0)  # a torch device as given
    with pytest.raises(DeviceError, match="^device cuda was requested but torch sees no CUDA device"):
        VGGishConfig(final_relu=False).embed(np.zeros(SPAN, np.float32), device="cuda")
    with pytest.raises(DeviceError, match="unknown device 'gpu'; choose one of auto, cpu, cuda"):
        vggish_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert vggish_device() == torch.device("cuda")


def test_registry_builds_and_rebuilds_vggish(checkpoint_file):
    from features.registry import build_config, config_from_params

    config = build_config("vggish", weights="official", checkpoint=checkpoint_file)
    assert config.has_weights()
    rebuilt = config_from_params(config_params(config))
    assert rebuilt == config and not rebuilt.has_weights()


def test_denoising_corruptions():
    from features.vggish_pretrain import PretrainConfig, corrupt

    generator = torch.Generator().manual_seed(0)
    x = torch.zeros(20_000)
    masked = corrupt(x + 1, config=PretrainConfig(noise="bernoulli", mask_p=0.5), generator=generator)
    assert set(masked.unique().tolist()) == {0.0, 1.0} and abs(masked.mean().item() - 0.5) < 0.02
    noisy = corrupt(x, config=PretrainConfig(noise_std=0.1), generator=generator)
    assert abs(noisy.std().item() - 0.1) < 0.005
    with pytest.raises(ValueError, match="noise must be"):
        PretrainConfig(noise="salt")


@pytest.mark.slow
def test_denoising_pretraining_reduces_the_loss_and_saves_a_loadable_encoder():
    from features.vggish_pretrain import PretrainConfig, pretrain, save_encoder

    examples = vggish_examples(np.random.default_rng(0).standard_normal(SPAN).astype(np.float32))
    config = PretrainConfig(steps=3, learning_rate=1e-4)
    model, losses = pretrain(iter([examples] * 10), config=config)
    assert len(losses) == 3 and losses[-1] < losses[0]
    buffer = io.BytesIO()
    save_encoder(model, buffer)
    loaded = VGGishConfig(weights="pretrained", final_relu=False, checkpoint=buffer.getvalue())
    y = np.random.default_rng(5).standard_normal(SPAN).astype(np.float32)
    with torch.no_grad():
        expected = model.encoder(torch.from_numpy(vggish_examples(y))).numpy()
    np.testing.assert_allclose(loaded.embed(y, device="cpu"), expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="batches of shape"):
        pretrain(iter([np.zeros((2, 10, 64), np.float32)]), config=config, model=model)


def test_chunked_with_context_equals_whole():
    # blocks of 2 examples with context rounded up to whole examples, as the extractor does
    config = VGGishConfig()
    y = np.random.default_rng(6).standard_normal(5 * SPAN + 100).astype(np.float32)
    whole = config.compute(y)
    pad = -(-config.context_samples // SPAN) * SPAN
    padded = np.concatenate([np.zeros(pad, np.float32), y, np.zeros(3 * SPAN, np.float32)])
    blocks = [config.compute(padded[f0 * SPAN : (f0 + 2) * SPAN + 2 * pad])[1:3] for f0 in (0, 2, 4)]
    np.testing.assert_allclose(np.concatenate(blocks)[: len(whole)], whole, rtol=1e-5, atol=1e-6)
