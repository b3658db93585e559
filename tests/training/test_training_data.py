"""Windows from the store interface, samplers and augmentations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.augment import Augmenter, gaussian_noise, mixup, random_eq, spec_augment, time_reversal
from training.data import WindowDataset, default_workers, feature_statistics, label_statistics, make_loader
from training.sampler import RandomWindowSampler, SequentialWindowSampler, rare_class_repeats



def _dataset(make_store, window=32):
    reader = make_store().feature_set("logmel")
    tracks = reader.tracks("train")
    return reader, WindowDataset(reader, track_ids=[t.track_id for t in tracks],
                                 n_frames=[t.n_frames for t in tracks], window=window)


def test_short_track_is_padded_and_masked(make_store):
    reader, ds = _dataset(make_store, window=100)
    n = ds.n_frames[0]
    item = ds[(0, 0)]
    assert item["features"].shape == (100, 16)
    assert item["frame_mask"].sum() == n and item["frame_mask"][:n].all()
    assert not item["label_mask"][n:].any()
    np.testing.assert_array_equal(item["features"][:n].numpy(), reader.read_features(ds.track_ids[0]))
    assert (item["features"][n:] == 0).all()
    # whole track in the window: the clip target is the track's clip label
    np.testing.assert_array_equal(item["clip"].numpy(), reader.read_clip(ds.track_ids[0])[0])


def test_window_clip_target_follows_the_frames_in_the_window(make_store):
    reader, ds = _dataset(make_store, window=8)
    track = reader._tracks[ds.track_ids[0]]
    item = ds[(0, 5)]
    np.testing.assert_array_equal(item["clip"].numpy(), track["labels"][5:13].max(axis=0))
    assert item["clip_mask"].all()


def test_weak_labels_keep_only_negatives_for_part_of_a_track(make_store):
    reader, ds = _dataset(make_store, window=8)
    track = reader._tracks[ds.track_ids[0]]
    track["label_mask"][:] = False
    track["clip"] = np.array([1.0, 0.0, 0.3], dtype=np.float32)
    part = ds[(0, 0)]
    np.testing.assert_array_equal(part["clip_mask"].numpy(), [False, True, True])
    whole = WindowDataset(reader, track_ids=ds.track_ids[:1], n_frames=ds.n_frames[:1], window=200)[(0, 0)]
    assert whole["clip_mask"].all()
    np.testing.assert_allclose(whole["clip"].numpy(), [1.0, 0.0, 0.3])


def test_sequential_sampler_covers_every_frame_once(make_store):
    _, ds = _dataset(make_store, window=16)
    sampler = SequentialWindowSampler(ds.n_frames, window=16)
    seen = [np.zeros(n, dtype=int) for n in ds.n_frames]
    for track, start in sampler:
        mask = ds[(track, start)]["frame_mask"].numpy()
        seen[track][start:start + mask.sum()] += 1
    assert all((s == 1).all() for s in seen)


def test_random_sampler_is_reproducible_per_epoch_and_within_bounds():
    sampler = RandomWindowSampler([50, 10, 200], window=20, repeats=[1, 4, 1], seed=3)
    sampler.set_epoch(1)
    first = list(sampler)
    sampler.set_epoch(2)
    second = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) == first and first != second
    counts = np.bincount([t for t, _ in first], minlength=3)
    np.testing.assert_array_equal(counts, [3, 4, 10])  # ceil(n / window) x repeats
    assert all(0 <= s <= max(0, [50, 10, 200][t] - 20) for t, s in first)
    assert len(sampler) == 17


def test_rare_classes_are_oversampled():
    presence = np.zeros((8, 2), dtype=bool)
    presence[:, 0] = True  # common in every track
    presence[2, 1] = True  # rare: one track
    np.testing.assert_array_equal(rare_class_repeats(presence, rare_track_count=5, factor=4),
                                  [1, 1, 4, 1, 1, 1, 1, 1])


def test_label_statistics_and_clipped_pos_weight(make_store):
    reader, ds = _dataset(make_store)
    stats = label_statistics(reader, ds.track_ids)
    labels = np.concatenate([reader._tracks[t]["labels"] for t in ds.track_ids])
    np.testing.assert_array_equal(stats.frame_positive, labels.sum(axis=0))
    np.testing.assert_array_equal(stats.frame_negative, (1 - labels).sum(axis=0))
    weights = stats.pos_weight(max_weight=1.5)
    assert ((weights >= 1.0) & (weights <= 1.5)).all()


def test_loader_with_a_worker_yields_batches(make_store):
    _, ds = _dataset(make_store, window=16)
    loader = make_loader(ds, SequentialWindowSampler(ds.n_frames, window=16), batch_size=4, workers=1,
                         device=torch.device("cpu"))
    batch = next(iter(loader))
    assert batch["features"].shape == (4, 16, 16) and batch["frame_mask"].dtype == torch.bool
    assert default_workers(torch.device("cpu")) >= 0
    # shut the persistent worker down now, while its store exists, not at a later garbage collection
    loader._iterator._shutdown_workers()


def _aug_batch():
    torch.manual_seed(0)
    frame_mask = torch.ones(3, 12, dtype=torch.bool)
    frame_mask[1, 8:] = False
    labels = (torch.rand(3, 12, 2) < 0.5).float() * frame_mask.unsqueeze(-1)
    features = torch.arange(3 * 12 * 4, dtype=torch.float32).reshape(3, 12, 4) * frame_mask.unsqueeze(-1)
    return {"features": features, "labels": labels, "label_mask": frame_mask.unsqueeze(-1).expand(3, 12, 2).clone(),
            "frame_mask": frame_mask, "clip": labels.amax(dim=1), "clip_mask": torch.ones(3, 2, dtype=torch.bool)}


def test_time_reversal_reverses_real_frames_and_keeps_padding_at_the_end():
    batch = _aug_batch()
    out = time_reversal(batch, p=1.0)
    assert torch.equal(out["features"][1, :8], batch["features"][1, :8].flip(0))
    assert torch.equal(out["features"][1, 8:], batch["features"][1, 8:])
    assert torch.equal(out["labels"][0], batch["labels"][0].flip(0))
    assert torch.equal(out["frame_mask"], batch["frame_mask"])


def test_spec_augment_masks_stripes_and_keeps_labels():
    batch = _aug_batch()
    out = spec_augment(batch, time_masks=1, time_width=0.5, freq_masks=1, freq_width=0.5)
    assert out["features"].shape == batch["features"].shape
    assert torch.equal(out["labels"], batch["labels"])
    assert (out["features"] != batch["features"]).any()


def test_mixup_mixes_labels_and_intersects_masks():
    batch = _aug_batch()
    out = mixup(batch, alpha=0.2)
    assert ((out["labels"] >= 0) & (out["labels"] <= 1)).all()
    assert not out["frame_mask"][batch["frame_mask"] == 0].any()
    assert out["frame_mask"].sum() <= batch["frame_mask"].sum()


def test_noise_leaves_padding_alone_and_augmenter_checks_names():
    batch = _aug_batch()
    out = gaussian_noise(batch, level=0.5)
    assert torch.equal(out["features"][1, 8:], batch["features"][1, 8:])
    assert not torch.equal(out["features"][0], batch["features"][0])
    all_of_them = Augmenter(("reverse", "specaugment", "noise", "mixup"))(batch)
    assert all_of_them["features"].shape == batch["features"].shape
    with pytest.raises(ValueError, match="unknown augmentation"):
        Augmenter(("pitchshift",))


def test_feature_statistics_are_per_bin_mean_and_std(make_store):
    reader, ds = _dataset(make_store)
    mean, std = feature_statistics(reader, ds.track_ids, ds.n_frames, window=1000)
    frames = np.concatenate([reader.read_features(t) for t in ds.track_ids])
    np.testing.assert_allclose(mean, frames.mean(axis=0), atol=1e-4)
    np.testing.assert_allclose(std, frames.std(axis=0), atol=1e-4)


def test_random_eq_adds_one_curve_per_example_over_frequency():
    batch = _aug_batch()
    out = random_eq(batch, gain_db=6.0, tilt_db=10.0, bumps=2, bump_db=6.0)
    delta = out["features"] - batch["features"]
    # padded frames untouched; every real frame of an example gets the same curve
    assert torch.equal(out["features"][1, 8:], batch["features"][1, 8:])
    assert torch.allclose(delta[1, :8], delta[1, :1].expand(8, 4), atol=1e-5)
    assert torch.allclose(delta[0], delta[0, :1].expand(12, 4), atol=1e-5)
    assert not torch.allclose(delta[0, 0], delta[2, 0])  # examples differ
    assert delta.abs().max() <= 6.0 + 5.0 + 2 * 6.0 + 1e-4  # gain + half tilt + bumps
    assert torch.equal(out["labels"], batch["labels"])
    # gain alone: a constant shift within +-gain_db over the frequency axis
    flat = random_eq(batch, gain_db=3.0, tilt_db=0.0, bumps=0)["features"] - batch["features"]
    assert torch.allclose(flat[0], flat[0, 0, 0].expand(12, 4)) and flat.abs().max() <= 3.0
    # tilt alone: linear in frequency, antisymmetric around the middle
    tilted = (random_eq(batch, gain_db=0.0, tilt_db=10.0, bumps=0)["features"] - batch["features"])[0, 0]
    steps = tilted[1:] - tilted[:-1]
    assert torch.allclose(steps, steps[:1].expand(3), atol=1e-5)
    assert torch.allclose(tilted[0], -tilted[-1], atol=1e-5)
    assert Augmenter(("eq",))(batch)["features"].shape == batch["features"].shape
