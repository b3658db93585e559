import numpy as np
import pytest

from features.logmel import LogMelConfig
from features.registry import build_config
from pipeline.extraction import FeatureTarget, extract_dataset, iter_feature_blocks
from storage.store import open_store


@pytest.mark.parametrize("config", [LogMelConfig(), LogMelConfig.vggish()], ids=["logmel", "vggish-frontend"])
def test_chunked_equals_whole_song(config):
    rng = np.random.default_rng(1)
    y = (0.1 * rng.standard_normal(config.sr * 7 + 123)).astype(np.float32)
    whole = config.compute(y)
    blocks = list(iter_feature_blocks(config, y, block_frames=64))
    assert len(blocks) > 3 and [s for s, _ in blocks] == list(range(0, whole.shape[0], 64))
    chunked = np.concatenate([b for _, b in blocks])
    assert chunked.shape == whole.shape
    np.testing.assert_allclose(chunked, whole, atol=2e-3, rtol=0)


def test_store_output_does_not_depend_on_block_size(tmp_path, make_track):
    tracks = [make_track("long", duration=12.0, events=(("flute", 1.0, 5.0), ("bass", 4.0, 11.5)))]
    targets = [FeatureTarget.from_config(build_config("logmel"))]
    for name, block in (("whole", 100_000), ("blocks", 512)):
        extract_dataset(tracks, str(tmp_path / name), targets=targets, workers=0, progress=False, block_frames=block)
    a = open_store(str(tmp_path / "whole")).feature_set("logmel")
    b = open_store(str(tmp_path / "blocks")).feature_set("logmel")
    np.testing.assert_allclose(a.read_features("long"), b.read_features("long"), atol=0.07)
    assert np.array_equal(a.read_labels("long")[0], b.read_labels("long")[0])


@pytest.mark.parametrize("name", ["logmel", "logmel-vggish"])
def test_labels_and_energy_on_a_known_tone_burst(tmp_path, make_track, name):
    track = make_track("burst", duration=3.0, events=(("flute", 1.0, 2.0),))
    config = build_config(name)
    extract_dataset([track], str(tmp_path / "s"), targets=[FeatureTarget.from_config(config)], workers=0,
                    progress=False)
    reader = open_store(str(tmp_path / "s")).feature_set(name)
    labels, mask = reader.read_labels("burst")
    features = reader.read_features("burst")
    assert labels.shape[0] == features.shape[0] == reader.tracks()[0].n_frames
    centres = reader.first_centre + np.arange(labels.shape[0]) * reader.hop_s
    inside = (centres >= 1.0) & (centres < 2.0)
    assert np.array_equal(labels[:, 0].astype(bool), inside)  # flute exactly on centres in [1, 2)
    assert not labels[:, 1].any() and mask.all()
    # the 2 kHz tone: energy in the mel band around 2 kHz is far higher inside the burst
    import librosa

    mels = librosa.mel_frequencies(n_mels=config.n_mels + 2, fmin=config.fmin, fmax=config.fmax or config.sr / 2,
                                   htk=config.htk)[1:-1]
    band = int(np.argmin(np.abs(mels - 2000.0)))
    well_inside = (centres > 1.1) & (centres < 1.9)
    well_outside = (centres < 0.85) | ((centres > 2.15) & (centres < 2.8))
    gap = features[well_inside, band].mean() - features[well_outside, band].mean()
    assert gap > (20.0 if config.scale == "db" else 3.0)
    np.testing.assert_array_equal(reader.read_clip("burst")[0], [1.0, 0.0])
    assert reader.tracks()[0].dominant == "flute"
