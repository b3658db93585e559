"""Every registered model builds, runs forward/backward, honours masks and overfits a batch."""

from __future__ import annotations

import pytest
import torch

from training.blocks import AttentionPooling, ClipPooling
from training.losses import MaskedLoss
from training.registry import MODEL_NAMES, build_model

N_BINS = 16
N_CLASSES = 3
# Small widths keep the test fast; the defaults are exercised by test_default_models_build.
SMALL = {
    "mlp": {"hidden": (32, 32)},
    "cnn": {"channels": (8, 16, 16)},
    "crnn": {"channels": (8, 8), "hidden": 16, "fc": 32},
    "crnn-gru": {"channels": (8, 16, 16), "hidden": 16, "attention": True},
    # no time pooling: pooled frames share their logits, and the overfit test's labels are
    # random per frame (test_training_panns covers the pooled default)
    "panns": {"channels": (8, 16, 16, 32), "fc": 32, "time_pool": (1, 1, 1, 1)},
    "panns-gru": {"channels": (8, 16, 16, 32), "fc": 32, "rnn_hidden": 16, "time_pool": (1, 1, 1, 1)},
    "attention-mil": {"width": 32},
    "bilstm-attention": {"hidden": 16},
    "scalogram-crnn": {"channels": (4, 8, 8, 8), "hidden": 16},
    "scalogram-crnn-small": {"hidden": 16},
}


def test_registry_covers_every_model_of_the_issue():
    assert set(SMALL) == set(MODEL_NAMES)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_default_models_build_and_run(name):
    model = build_model(name, n_classes=N_CLASSES, frame_shape=(N_BINS,))
    x = torch.randn(2, 50, N_BINS, requires_grad=True)
    mask = torch.ones(2, 50, dtype=torch.bool)
    mask[1, 35:] = False
    out = model(x, mask)
    assert out["frame"].shape == (2, 50, N_CLASSES)
    assert out["clip"].shape == (2, N_CLASSES)
    assert torch.isfinite(out["frame"]).all() and torch.isfinite(out["clip"]).all()
    (out["frame"].sum() + out["clip"].sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)


def test_crnn_gru_attention_option_adds_self_attention():
    plain = build_model("crnn-gru", n_classes=2, frame_shape=(N_BINS,))
    attended = build_model("crnn-gru", n_classes=2, frame_shape=(N_BINS,), attention=True)
    assert plain.attention is None
    assert isinstance(attended.attention.attention, torch.nn.MultiheadAttention)
    assert attended.attention.attention.num_heads == 2


def test_bad_model_name_and_options_are_clear_errors():
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        build_model("resnet", n_classes=2, frame_shape=(8,))
    with pytest.raises(ValueError, match="bad options for model 'cnn'"):
        build_model("cnn", n_classes=2, frame_shape=(8,), widths=3)
    with pytest.raises(ValueError, match=r"frames of shape \(n_bins,\)"):
        build_model("crnn", n_classes=2, frame_shape=(8, 4))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_overfits_one_small_batch(name):
    torch.manual_seed(0)
    model = build_model(name, n_classes=N_CLASSES, frame_shape=(N_BINS,), dropout=0.0, **SMALL[name])
    x = torch.randn(4, 32, N_BINS)
    labels = (torch.rand(4, 32, N_CLASSES) < 0.4).float()
    batch = {
        "features": x, "labels": labels, "label_mask": torch.ones_like(labels, dtype=torch.bool),
        "frame_mask": torch.ones(4, 32, dtype=torch.bool),
        "clip": labels.amax(dim=1), "clip_mask": torch.ones(4, N_CLASSES, dtype=torch.bool),
    }
    loss_fn = MaskedLoss(clip_weight=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    first = None
    for _ in range(60):
        loss = loss_fn(model(x, batch["frame_mask"]), batch)
        first = float(loss.detach()) if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        final = float(loss_fn(model(x, batch["frame_mask"]), batch))
    assert final < first / 5, f"{name}: loss {first:.3f} -> {final:.3f}"


@pytest.mark.parametrize("mode", ["max", "mean", "attention"])
def test_clip_pooling_ignores_padded_frames(mode):
    torch.manual_seed(0)
    pool = ClipPooling(mode, in_features=6, n_classes=3)
    features, logits = torch.randn(2, 20, 6), torch.randn(2, 20, 3)
    mask = torch.ones(2, 20, dtype=torch.bool)
    mask[0, 12:] = False
    pooled = pool(features, logits, mask)
    features2, logits2 = features.clone(), logits.clone()
    features2[0, 12:] = 50.0
    logits2[0, 12:] = 50.0
    assert torch.allclose(pool(features2, logits2, mask), pooled)
    alone = pool(features[:1, :12], logits[:1, :12], torch.ones(1, 12, dtype=torch.bool))
    assert torch.allclose(alone, pooled[:1], atol=1e-5)


def test_attention_pooling_is_a_weighted_mean_of_frame_probabilities():
    pool = AttentionPooling(4, 2)
    logits = torch.full((1, 5, 2), 2.0)  # every frame has probability sigmoid(2)
    clip = pool(torch.randn(1, 5, 4), logits, torch.ones(1, 5, dtype=torch.bool))
    assert torch.allclose(clip, logits[:, 0], atol=1e-4)


@pytest.mark.parametrize("name", ["mlp", "attention-mil", "bilstm-attention"])
def test_models_without_time_convolution_ignore_padding_entirely(name):
    torch.manual_seed(0)
    model = build_model(name, n_classes=N_CLASSES, frame_shape=(N_BINS,), **SMALL[name]).eval()
    x = torch.randn(2, 30, N_BINS)
    mask = torch.ones(2, 30, dtype=torch.bool)
    mask[0, 18:] = False
    out = model(x, mask)
    x2 = x.clone()
    x2[0, 18:] = 100.0
    out2 = model(x2, mask)
    assert torch.allclose(out["clip"], out2["clip"], atol=1e-5)
    assert torch.allclose(out["frame"][0, :18], out2["frame"][0, :18], atol=1e-5)
