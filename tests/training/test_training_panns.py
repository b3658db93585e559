"""The PANNs-style CNN: shapes for any T, padding invariance, gradients, options, checkpoints, fitting."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from training.blocks import FRONTENDS, Standardized
from training.losses import MaskedLoss
from training.registry import build_model
from training.run import load_checkpoint, model_checkpoint, save_checkpoint

N_BINS, N_CLASSES = 16, 3
SMALL = {"channels": (4, 8, 8, 16), "fc": 16}
SMALL_GRU = {**SMALL, "rnn_hidden": 8}


def _batch(t: int, lengths: tuple[int, ...], *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), t, N_BINS, generator=gen)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    return x, mask


@pytest.mark.parametrize("t", [1, 7, 257])
@pytest.mark.parametrize("name, options", [
    ("panns", SMALL), ("panns-gru", SMALL_GRU),
    ("panns", {**SMALL, "time_pool": (2, 2, 2, 1), "clip_pooling": "attention"}),
    ("panns", {**SMALL, "time_pool": (3, 1, 1, 1), "clip_pooling": "mean"}),
])
def test_frame_logits_come_back_to_the_input_frame_count(name, options, t):
    model = build_model(name, n_classes=N_CLASSES, frame_shape=(N_BINS,), **options).eval()
    x, mask = _batch(t, (t, max(1, t // 2)))
    out = model(x, mask)
    assert out["frame"].shape == (2, t, N_CLASSES) and out["clip"].shape == (2, N_CLASSES)
    assert torch.isfinite(out["frame"]).all() and torch.isfinite(out["clip"]).all()
    assert model(x)["frame"].shape == (2, t, N_CLASSES)  # no mask: every frame is real


@pytest.mark.parametrize("frontend", FRONTENDS)
@pytest.mark.parametrize("options", [SMALL, SMALL_GRU, {**SMALL, "clip_pooling": "attention"}])
@pytest.mark.parametrize("training", [False, True])
def test_padded_values_never_reach_real_frames_or_the_clip(options, frontend, training):
    """Exact: padded frames are zeroed before every conv and pooling, the GRU packs them away."""
    torch.manual_seed(0)
    model = build_model("panns", n_classes=N_CLASSES, frame_shape=(N_BINS,), frontend=frontend, **options)
    model = Standardized(model, frame_shape=(N_BINS,)).train(training)
    x, mask = _batch(38, (38, 23, 1))  # 23 and 1: real frames share a pooled frame with padding
    outputs = []
    for fill in (0.0, 1e6, float("nan")):
        garbled = torch.where(mask[..., None], x, torch.full_like(x, fill))
        torch.manual_seed(1)  # the same dropout draws
        outputs.append(model(garbled, mask))
    first = outputs[0]
    for out in outputs[1:]:
        for row, length in enumerate((38, 23, 1)):
            torch.testing.assert_close(out["frame"][row, :length], first["frame"][row, :length], rtol=0, atol=1e-6)
        torch.testing.assert_close(out["clip"], first["clip"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("options", [SMALL, SMALL_GRU])
@pytest.mark.parametrize("length", [1, 6, 23])
def test_in_eval_mode_a_padded_sequence_gets_what_it_gets_alone(options, length):
    torch.manual_seed(0)
    model = build_model("panns", n_classes=N_CLASSES, frame_shape=(N_BINS,), **options).eval()
    x, mask = _batch(40, (40, length))
    padded = model(x, mask)
    alone = model(x[1:, :length])
    torch.testing.assert_close(padded["frame"][1, :length], alone["frame"][0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(padded["clip"][1], alone["clip"][0], atol=1e-5, rtol=1e-5)


def test_frames_of_one_pooled_step_share_their_logits():
    model = build_model("panns", n_classes=N_CLASSES, frame_shape=(N_BINS,), **SMALL).eval()
    frame = model(torch.randn(1, 10, N_BINS))["frame"][0]  # time pooling x4: frames 0-3, 4-7, 8-9
    for start, stop in ((0, 4), (4, 8), (8, 10)):
        assert torch.equal(frame[start:stop], frame[start:start + 1].expand(stop - start, -1))
    assert not torch.equal(frame[3], frame[4])


@pytest.mark.parametrize("name, options", [("panns", SMALL), ("panns-gru", {**SMALL_GRU, "frontend": "pcen"})])
def test_gradients_reach_every_parameter_and_the_input(name, options):
    model = build_model(name, n_classes=N_CLASSES, frame_shape=(N_BINS,), clip_pooling="attention", **options)
    x, mask = _batch(21, (21, 9))
    x = (x * 10 - 30).requires_grad_()
    out = model(x, mask)
    (out["frame"][mask].sum() + out["clip"].sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert float(x.grad[1, 9:].abs().sum()) == 0.0  # padded frames get no gradient
    for key, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and float(p.grad.abs().sum()) > 0, key


def test_panns_gru_registers_the_recurrent_variant():
    plain = build_model("panns", n_classes=2, frame_shape=(N_BINS,))
    gru = build_model("panns-gru", n_classes=2, frame_shape=(N_BINS,))
    assert plain.rnn is None and isinstance(gru.rnn.rnn, torch.nn.GRU) and gru.rnn.rnn.hidden_size == 128
    assert [b.conv2.out_channels for b in plain.blocks] == [16, 32, 64, 128, 256]
    assert plain.time_factor == 4
    assert build_model("panns", n_classes=2, frame_shape=(N_BINS,), channels=(8,)).time_factor == 2


@pytest.mark.parametrize("options, message", [
    ({"channels": ()}, "channels must name 1 to 8 conv blocks"),
    ({"channels": (8, 0)}, "channels must be a list of positive integers"),
    ({"channels": (8, 16), "time_pool": (2, 2, 1)}, r"time_pool needs one factor per conv block \(2\)"),
    ({"time_pool": (2, 2, 0.5, 1)}, "time_pool must be a list of positive integers"),
    ({"rnn_hidden": -1}, "rnn_hidden, fc >= 0"),
    ({"dropout": 1.0}, r"dropout must lie in \[0, 1\)"),
    ({"clip_pooling": "sum"}, "clip_pooling must be one of"),
    ({"frontend": "pcen2"}, "unknown frontend 'pcen2'"),
])
def test_bad_options_are_clear_errors(options, message):
    with pytest.raises(ValueError, match=message):
        build_model("panns", n_classes=2, frame_shape=(N_BINS,), **options)
    with pytest.raises(ValueError, match=r"frames of shape \(n_bins,\)"):
        build_model("panns", n_classes=2, frame_shape=(8, 4))


def test_checkpoint_round_trip_rebuilds_the_same_model(tmp_path):
    # options as they come back from config.json (lists, not tuples)
    options = json.loads(json.dumps({**SMALL_GRU, "frontend": "pcen", "clip_pooling": "attention"}))
    model = Standardized(build_model("panns-gru", n_classes=N_CLASSES, frame_shape=(N_BINS,), **options),
                         frame_shape=(N_BINS,))
    assert not model.uses_statistics
    x, mask = _batch(30, (30, 17))
    x = x * 10 - 30
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(2):  # move the weights, PCEN parameters and BatchNorm running statistics
        loss = model(x, mask)["frame"].square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path = tmp_path / "model.pt"
    save_checkpoint(path, model_checkpoint(model, name="panns-gru", options=options, n_classes=N_CLASSES,
                                           frame_shape=(N_BINS,), epoch=1, score=0.5, standardized=True))
    checkpoint = load_checkpoint(path)  # weights_only=True
    rebuilt = build_model(checkpoint["model"], n_classes=checkpoint["n_classes"],
                          frame_shape=tuple(checkpoint["frame_shape"]), **checkpoint["options"])
    rebuilt = Standardized(rebuilt, frame_shape=(N_BINS,))
    rebuilt.load_state_dict(checkpoint["state_dict"])
    model.eval(), rebuilt.eval()
    with torch.no_grad():
        a, b = model(x, mask), rebuilt(x, mask)
    assert torch.equal(a["frame"], b["frame"]) and torch.equal(a["clip"], b["clip"])
    assert any(k.startswith("model.frontend.") for k in checkpoint["state_dict"])


def _band_task(seed: int, *, n: int = 8, t: int = 48) -> dict[str, torch.Tensor]:
    """Class c raises bins c*k .. (c+1)*k by 12 dB over a random stretch of frames."""
    rng = np.random.default_rng(seed)
    band = N_BINS // N_CLASSES
    labels = np.zeros((n, t, N_CLASSES), dtype=np.float32)
    for i in range(n):
        for c in range(N_CLASSES):
            start = int(rng.integers(0, t // 2))
            labels[i, start:start + int(rng.integers(t // 4, t // 2)), c] = 1
    x = rng.normal(-40.0, 2.0, (n, t, N_BINS)).astype(np.float32)
    for c in range(N_CLASSES):
        x[:, :, c * band:(c + 1) * band] += 12.0 * labels[:, :, c:c + 1]
    y = torch.from_numpy(labels)
    return {"features": torch.from_numpy(x), "labels": y, "label_mask": torch.ones_like(y, dtype=torch.bool),
            "frame_mask": torch.ones(n, t, dtype=torch.bool), "clip": y.amax(dim=1),
            "clip_mask": torch.ones(n, N_CLASSES, dtype=torch.bool)}


@pytest.mark.parametrize("name, frontend, ratio", [
    ("panns", "none", 0.5), ("panns", "instance", 0.5), ("panns-gru", "pcen", 0.7), ("panns", "pcen-multi", 0.7),
])
def test_a_short_fit_learns_the_band_task(name, frontend, ratio):
    """PCEN's gain control normalises a band's sustained level away within its time constant
    (here 17 frames, the stretches last 12-24): it keeps onsets and offsets, so it learns the
    task more slowly than the level-preserving front ends."""
    torch.manual_seed(0)
    options = SMALL_GRU if name == "panns-gru" else SMALL
    model = build_model(name, n_classes=N_CLASSES, frame_shape=(N_BINS,), dropout=0.0, frontend=frontend,
                        **options)
    model = Standardized(model, frame_shape=(N_BINS,))
    train_batch, held_out = _band_task(0), _band_task(1)
    if model.uses_statistics:
        flat = train_batch["features"].reshape(-1, N_BINS)
        model.set_statistics(flat.mean(dim=0), flat.std(dim=0))
    loss_fn = MaskedLoss(clip_weight=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def held_out_loss() -> float:
        model.eval()
        with torch.no_grad():
            return float(loss_fn(model(held_out["features"], held_out["frame_mask"]), held_out))

    before = held_out_loss()
    model.train()
    for _ in range(40):
        loss = loss_fn(model(train_batch["features"], train_batch["frame_mask"]), train_batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = held_out_loss()
    assert after < ratio * before, f"{name} + {frontend}: held-out loss {before:.3f} -> {after:.3f}"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_pcen_panns_trains_under_bf16_autocast_on_cuda():
    torch.manual_seed(0)
    model = build_model("panns-gru", n_classes=N_CLASSES, frame_shape=(N_BINS,), frontend="pcen", **SMALL_GRU)
    model = Standardized(model, frame_shape=(N_BINS,)).cuda()
    x, mask = _batch(64, (64, 30))
    x, mask = (x * 10 - 40).cuda(), mask.cuda()
    with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
        out = model(x, mask)
        front = model.model.frontend(x, mask)
    assert front.dtype == torch.float32  # PCEN leaves autocast
    torch.testing.assert_close(front, model.model.frontend(x, mask), rtol=0, atol=0)
    (out["frame"].float()[mask].mean() + out["clip"].float().mean()).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
