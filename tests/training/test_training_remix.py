"""Remixing stems into new training mixtures: the feature-domain mix, the sampler, the dataset, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from features.mixing import mix_frames, mixing_domain
from storage import open_store
from training.config import TrainConfig
from training.data import WindowDataset
from training.loop import train
from training.remix import RemixDataset, RemixOptions, RemixRequest, RemixSampler, StemPool
from training.run import RunError, load_checkpoint
from training.sampler import RandomWindowSampler

DB = mixing_domain({"name": "logmel", "scale": "db", "power": 2.0, "ref": 1.0, "floor_db": -100.0})


def test_mixing_adds_power_and_keeps_silence_silent():
    a = np.array([[-20.0, -100.0, -30.0]], dtype=np.float32)
    b = np.array([[-20.0, -100.0, -100.0]], dtype=np.float32)
    mixed = mix_frames([a, b], [0.0, 0.0], DB)
    np.testing.assert_allclose(mixed, [[-20 + 10 * np.log10(2), -100.0, -30.0]], atol=1e-4)
    np.testing.assert_allclose(mix_frames([a], [-6.0], DB), [[-26.0, -100.0, -36.0]], atol=1e-4)
    vggish_style = mixing_domain({"name": "logmel", "scale": "log_offset", "power": 1.0, "log_offset": 0.01})
    s = np.array([[0.5, 2.0]])
    x = np.log(s + 0.01)
    np.testing.assert_allclose(mix_frames([x, x], [0.0, 0.0], vggish_style), np.log(np.sqrt(2) * s + 0.01),
                               rtol=1e-5)
    with pytest.raises(ValueError, match="cannot be mixed"):
        mixing_domain({"name": "vggish"})


def test_remix_sampler_is_deterministic_per_epoch_and_keeps_the_plan_length():
    base = RandomWindowSampler([100] * 50, window=20, seed=3)
    sampler = RemixSampler(base, probability=0.3, seed=3)
    sampler.set_epoch(1)
    first = sampler.plan()
    assert first == sampler.plan() and len(first) == len(base)
    remixes = [item for item in first if isinstance(item, RemixRequest)]
    assert 0.15 < len(remixes) / len(first) < 0.45
    plain = [item for item in first if not isinstance(item, RemixRequest)]
    assert all(item in base.plan() for item in plain)  # the other windows are the base's
    sampler.set_epoch(2)
    assert sampler.plan() != first
    resumed = RemixSampler(RandomWindowSampler([100] * 50, window=20, seed=0), probability=0.3)
    resumed.load_state_dict({"seed": 3, "epoch": 1})
    assert resumed.plan() == first
    assert all(not isinstance(i, RemixRequest) for i in RemixSampler(base, probability=0.0).plan())


def _remix_dataset(url: str, window: int = 32, **options) -> RemixDataset:
    reader = open_store(url).feature_set("logmel")
    tracks = reader.tracks("train")
    base = WindowDataset(reader, track_ids=[t.track_id for t in tracks], n_frames=[t.n_frames for t in tracks],
                         window=window)
    pool = StemPool(reader, "train", reader.classes)
    return RemixDataset(base, pool, options=RemixOptions(**options), domain=DB)


def test_a_remix_is_the_power_sum_of_its_stems_with_the_union_of_their_labels(stem_store):
    data = _remix_dataset(stem_store, eq_db=0.0, gain_db=0.0, min_stems=3, max_stems=3)
    pool = data.pool
    assert len(pool) > 0 and set(pool.songs) <= {f"song{s:02d}" for s in range(6)}  # train songs only
    example = data[RemixRequest(7)]
    again = data[RemixRequest(7)]
    assert all(torch.equal(example[k], again[k]) for k in example)  # the seed decides everything
    chosen = data.choose_stems(np.random.default_rng(7))
    classes = [int(pool.class_of[i]) for i in chosen]
    songs = [pool.songs[i] for i in chosen]
    assert len(set(classes)) == len(classes) == 3 and len(set(songs)) == len(songs)
    assert example["features"].shape == (32, 16) and example["label_mask"].all() and example["frame_mask"].all()
    labels = example["labels"].numpy()
    assert set(np.flatnonzero(labels.any(axis=0))) <= set(classes)
    assert not labels[:, [c for c in range(4) if c not in classes]].any()
    # each active class's band is loud where its label is on and silent where off (gain 0, no EQ)
    features = example["features"].numpy()
    for c in classes:
        band = features[:, c * 4:(c + 1) * 4].mean(axis=1)
        on = labels[:, c] == 1
        assert (band[on] > -30).all() and (band[~on] == -100).all()
    assert torch.equal(example["clip"], example["labels"].max(dim=0).values)


def test_a_plain_item_is_the_window_of_a_real_mix(stem_store):
    data = _remix_dataset(stem_store)
    assert torch.equal(data[(0, 5)]["features"], data.base[(0, 5)]["features"])


def _config(tmp_path, url, name="run", **overrides):
    values = dict(store=url, features="logmel", model="crnn", out=str(tmp_path / name),
                  model_options={"channels": (4, 4), "hidden": 8, "fc": 16}, epochs=2, batch_size=4, window=32,
                  lr=3e-3, device="cpu", workers=0, progress=False, augment=(), remix=0.5)
    values.update(overrides)
    return TrainConfig(**values)


def test_training_with_remixes_is_reproducible_and_resumable(tmp_path, stem_store):
    full = train(_config(tmp_path, stem_store, "full"))
    again = train(_config(tmp_path, stem_store, "again"))
    one = train(_config(tmp_path, stem_store, "resumed", epochs=1))
    resumed = train(_config(tmp_path, stem_store, "resumed", epochs=2), resume=True)
    weights = [load_checkpoint(run / "last.pt")["model"] for run in (full, again, resumed)]
    for name, value in weights[0].items():
        assert torch.equal(value, weights[1][name]) and torch.equal(value, weights[2][name]), name
    assert one == resumed


def test_remix_on_a_store_without_stems_fails_at_once_naming_the_flag(tmp_path, make_store):
    with pytest.raises(RunError, match="holds no stems.*instrec extract --stems"):
        train(_config(tmp_path, "memory://fake-store"), store=_NoStems(make_store()))


class _NoStems:
    """The training test double, whose feature set reports no stems."""

    def __init__(self, store):
        self._store = store
        self.url, self.snapshot_id, self.classes, self.dataset = store.url, store.snapshot_id, store.classes, "demo"

    def feature_set(self, name):
        reader = self._store.feature_set(name)
        reader.has_stems = False
        return reader
