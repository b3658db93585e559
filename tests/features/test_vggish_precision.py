"""VGGish precision: bfloat16 and int8 stay close to float32, are keyed apart, and are built once."""

import pickle
import threading

import numpy as np
import pytest
import torch

from core.errors import DeviceError
from features.base import config_hash, config_params
from features.vggish import VGGishConfig
from features.vggish_int8 import calibration_examples

SPAN = 15360
# config_hash(VGGishConfig()) of the release before `precision` existed: stores keep their key
KEY_BEFORE_PRECISION = "c19fadc82bf3f067231e7688aa769aeec59fc9e79e5a09fa4b9c4732dac40443"


def music_like(seconds: float, seed: int) -> np.ndarray:
    """Harmonic notes over quiet noise, 16 kHz: spectra like those the network sees in a store."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    y = 0.01 * rng.standard_normal(n)
    for start in np.arange(0, seconds, 0.25):
        f0 = 80 * 2 ** rng.uniform(0, 4)
        part = slice(int(start * 16000), min(n, int((start + 0.25) * 16000)))
        y[part] += sum(np.sin(2 * np.pi * k * f0 * t[part]) / k for k in range(1, 8)) * rng.uniform(0.05, 0.4)
    return y.astype(np.float32)


@pytest.fixture(scope="module")
def embeddings():
    y = music_like(8 * 0.96, seed=1)
    return {precision: VGGishConfig(precision=precision).embed(y, device="cpu")
            for precision in ("float32", "bfloat16", "int8")}


@pytest.mark.parametrize("precision, mean_tolerance", [("bfloat16", 0.01), ("int8", 0.03)])
def test_low_precision_embeddings_stay_close_to_float32(embeddings, precision, mean_tolerance):
    reference, out = embeddings["float32"], embeddings[precision]
    assert out.shape == reference.shape == (8, 128) and out.dtype == np.float32
    assert not np.array_equal(out, reference)  # it really ran in another precision
    assert np.abs(out - reference).mean() < mean_tolerance * np.abs(reference).mean()
    cosine = (out * reference).sum(1) / (np.linalg.norm(out, axis=1) * np.linalg.norm(reference, axis=1))
    assert cosine.min() > 0.999


def test_precision_is_part_of_the_key_except_float32():
    assert "precision" not in config_params(VGGishConfig())
    assert config_hash(VGGishConfig()) == KEY_BEFORE_PRECISION
    assert config_hash(VGGishConfig(precision="float32")) == KEY_BEFORE_PRECISION
    keys = {config_hash(VGGishConfig(precision=p)) for p in ("float32", "bfloat16", "int8")}
    assert len(keys) == 3
    assert config_params(VGGishConfig(precision="int8"))["precision"] == "int8"


def test_spec_and_rebuild_from_stored_params():
    from features.registry import config_from_params
    from pipeline.feature_specs import build_feature_config

    config = build_feature_config("vggish:precision=int8")
    assert isinstance(config, VGGishConfig) and config.precision == "int8"
    assert config_from_params(config_params(config)) == config
    with pytest.raises(ValueError, match="precision must be one of"):
        VGGishConfig(precision="float16")


def test_int8_runs_on_the_cpu_only():
    config = VGGishConfig(precision="int8")
    assert config.device() == torch.device("cpu")
    assert config.device("auto") == torch.device("cpu")
    with pytest.raises(DeviceError, match="CPU only.*precision=bfloat16"):
        config.device(torch.device("cuda"))


def test_int8_model_depends_only_on_the_weights(embeddings):
    """A second, independent quantisation (no process cache) gives the same embeddings: the
    calibration set is fixed, so the track order or the machine cannot change the int8 model."""
    from features.vggish import random_vggish
    from features.vggish_int8 import quantize_vggish

    again = quantize_vggish(random_vggish(seed=0))
    examples = torch.from_numpy(calibration_examples()[:4]).unsqueeze(1)
    first = VGGishConfig(precision="int8").model("cpu")
    with torch.inference_mode():
        assert torch.equal(first(examples), again(examples))
    assert calibration_examples().shape == (32, 96, 64)
    assert np.isfinite(calibration_examples()).all()


def test_pickled_configs_share_the_process_network():
    config = VGGishConfig(precision="int8")
    copy = pickle.loads(pickle.dumps(config))
    assert copy.model("cpu") is config.model("cpu")
    assert VGGishConfig(seed=5).model("cpu") is not VGGishConfig(seed=6).model("cpu")


def test_the_process_keeps_a_bounded_number_of_networks():
    from features.vggish import ProcessNetworks

    networks, built = ProcessNetworks(capacity=2), []

    def build(name):
        built.append(name)
        return torch.nn.Identity()

    first = networks.get(("a", True, "float32", "cpu"), lambda: build("a"))
    networks.get(("b", True, "float32", "cpu"), lambda: build("b"))
    assert networks.get(("a", True, "float32", "cpu"), lambda: build("a")) is first  # a is now the newest
    networks.get(("c", True, "float32", "cpu"), lambda: build("c"))  # evicts b, the least recently used
    networks.get(("a", True, "float32", "cpu"), lambda: build("a"))
    networks.get(("b", True, "float32", "cpu"), lambda: build("b"))
    assert built == ["a", "b", "c", "b"] and len(networks) == 2


def test_threads_embedding_while_another_builds():
    """Worker threads share configurations: a build (int8 calibration) beside a running network
    must neither fail nor change results."""
    y = music_like(2 * 0.96, seed=2)
    expected = VGGishConfig(seed=11).embed(y, device="cpu")
    results, errors = [], []

    def embed(config):
        try:
            results.append(config.embed(y, device="cpu"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=embed, args=(VGGishConfig(seed=11),)) for _ in range(3)]
    threads.append(threading.Thread(target=embed, args=(VGGishConfig(seed=12, precision="int8"),)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(np.array_equal(r, expected) for r in results) == 3
