"""Input front ends (PCEN, instance normalisation): agreement with librosa, statistics, masks,
every front end on every log-mel model, and the raw-input contract with Standardized / train()."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import scipy.signal
import torch

from training.blocks import (
    FRONTENDS, PCEN, PCEN_MULTI_TIME_CONSTANTS, InstanceNorm, Standardized, exponential_smoothing,
    make_frontend, pcen_smoothing,
)
from training.registry import build_model

N_BINS, N_CLASSES = 16, 3
LOGMEL_MODELS = {
    "cnn": {"channels": (4, 8, 8)},
    "crnn": {"channels": (4, 4), "hidden": 8, "fc": 16},
    "crnn-gru": {"channels": (4, 8, 8), "hidden": 8},
    "panns": {"channels": (4, 8, 8, 16), "fc": 16},
    "panns-gru": {"channels": (4, 8, 8, 16), "fc": 16, "rnn_hidden": 8},
}


def _energies(n_bins: int, t: int, *, seed: int = 0) -> np.ndarray:
    """Positive mel-like energies ``(n_bins, t)`` with slow level changes, onsets and silences."""
    rng = np.random.default_rng(seed)
    level = np.cumsum(rng.normal(0.0, 1.5, (n_bins, t)), axis=1) + rng.normal(0.0, 10.0, (n_bins, 1))
    level[:, t // 3: t // 3 + 10] -= 60.0  # a near-silent stretch
    return 10.0 ** (level / 10.0)


def test_default_smoother_is_librosas_for_the_logmel_frame_rate():
    assert pcen_smoothing(0.4) == pytest.approx(0.0564, abs=1e-4)
    e = _energies(4, 50)
    s = pcen_smoothing(0.4, 22050 / 512)
    ours = librosa.pcen(e, sr=22050, hop_length=512, time_constant=0.4, zi=(1 - s) * e[:, :1])
    ref = librosa.pcen(e, b=s, zi=(1 - s) * e[:, :1])
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_smoother_is_the_exact_recursion_across_chunks():
    """Per-band s from slow to almost no smoothing; T spans several 64-frame chunks (float64)."""
    s = torch.tensor([1e-3, 0.02, 0.0565, 0.3, 0.9, 0.999], dtype=torch.float64)
    energy = torch.from_numpy(_energies(6, 200).T.copy())[None]  # (1, T, F)
    expected = torch.empty_like(energy)
    state = energy[:, 0]
    for t in range(energy.shape[1]):
        state = (1 - s) * state + s * energy[:, t]
        expected[:, t] = state
    for chunk in (1, 7, 64, 256):
        torch.testing.assert_close(exponential_smoothing(energy, s, chunk=chunk), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("alpha, delta, r, s", [(0.98, 2.0, 0.5, pcen_smoothing(0.4)), (0.8, 10.0, 0.25, 0.1)])
def test_pcen_agrees_with_librosa_for_fixed_parameters(alpha, delta, r, s):
    """float32 against librosa's float64.  The dB -> power step ``exp(x ln10 / 10)`` turns the
    input's float32 rounding (6e-8 relative, |x| <= 100 dB) into up to ~1.5e-6 relative error
    in E; the smoother (positive weights) and the compression add no more than that, so 1e-5
    relative (1e-6 absolute, for outputs near 0 in silent stretches) is several times the
    worst case and far below any effect of a parameter change (see the last assertion)."""
    e = _energies(N_BINS, 300)
    db = (10.0 * np.log10(e)).astype(np.float32)
    pcen = PCEN(N_BINS, alpha=alpha, delta=delta, r=r, s=s, eps=1e-6, trainable=False)
    with torch.no_grad():
        ours = pcen(torch.from_numpy(db.T.copy())[None])[0].numpy().T
    e32 = 10.0 ** (db.astype(np.float64) / 10.0)  # the same input, in power
    # librosa starts its smoother at M_{-1} = 1 unless told; ours starts at M_0 = E_0
    ref = librosa.pcen(e32, gain=alpha, bias=delta, power=r, b=s, eps=1e-6, zi=(1 - s) * e32[:, :1])
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
    other = librosa.pcen(e32, gain=alpha, bias=delta, power=r * 1.01, b=s, eps=1e-6, zi=(1 - s) * e32[:, :1])
    assert np.abs(other - ref).max() > 100 * np.abs(ours - ref).max()


def test_multi_rate_pcen_mixes_one_smoother_per_time_constant():
    """pcen-multi at its start (uniform mix) against the formula on scipy's IIR filters (float64)."""
    pcen = make_frontend("pcen-multi", n_bins=N_BINS)
    values = pcen.values()
    assert values["s"].shape == values["mix"].shape == (len(PCEN_MULTI_TIME_CONSTANTS), N_BINS)
    e = _energies(N_BINS, 200, seed=3)
    db = (10.0 * np.log10(e)).astype(np.float32)
    e = 10.0 ** (db.astype(np.float64) / 10.0)
    smoothed = np.mean([scipy.signal.lfilter([s], [1, s - 1], e, zi=(1 - s) * e[:, :1], axis=-1)[0]
                        for s in (pcen_smoothing(t) for t in PCEN_MULTI_TIME_CONSTANTS)], axis=0)
    expected = (e / (1e-6 + smoothed) ** 0.98 + 2.0) ** 0.5 - 2.0 ** 0.5
    with torch.no_grad():
        ours = pcen(torch.from_numpy(db.T.copy())[None])[0].numpy().T
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    single = PCEN(N_BINS, s=[0.1, 0.1])  # a mix of equal smoothers is that smoother
    x = torch.from_numpy(db.T.copy())[None]
    torch.testing.assert_close(single(x), PCEN(N_BINS, s=0.1)(x))


def test_pcen_parameters_stay_valid_and_learn():
    pcen = PCEN(N_BINS)
    values = pcen.values()
    torch.testing.assert_close(values["alpha"], torch.full((N_BINS,), 0.98))
    torch.testing.assert_close(values["delta"], torch.full((N_BINS,), 2.0))
    torch.testing.assert_close(values["r"], torch.full((N_BINS,), 0.5))
    with torch.no_grad():
        for p in pcen.parameters():
            p.copy_(torch.linspace(-60.0, 60.0, N_BINS))
    values = pcen.values()
    assert ((values["alpha"] >= 0) & (values["alpha"] <= 1)).all() and (values["delta"] > 0).all()
    assert ((values["r"] >= 0) & (values["r"] <= 1)).all()
    assert ((values["s"] >= 1e-4) & (values["s"] <= 0.999)).all()
    x = torch.from_numpy((10 * np.log10(_energies(N_BINS, 70))).T.astype(np.float32).copy())[None]
    assert torch.isfinite(pcen(x)).all()
    pcen = make_frontend("pcen-multi", n_bins=N_BINS)
    pcen(x).sum().backward()
    for name, p in pcen.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and float(p.grad.abs().sum()) > 0, name
    with pytest.raises(ValueError, match="PCEN needs 0 < alpha < 1"):
        PCEN(N_BINS, alpha=1.5)


def test_pcen_padding_never_reaches_real_frames():
    pcen = PCEN(N_BINS)
    x = torch.from_numpy((10 * np.log10(_energies(N_BINS, 90))).T.astype(np.float32).copy())[None].repeat(2, 1, 1)
    mask = torch.ones(2, 90, dtype=torch.bool)
    mask[1, 40:] = False
    garbled = x.clone()
    garbled[1, 40:] = float("nan")
    with torch.no_grad():
        out = pcen(garbled, mask)
        assert torch.equal(out[:, :40], pcen(torch.where(mask[..., None], x, 1e4), mask)[:, :40])
        torch.testing.assert_close(out[1, :40], pcen(x[1:, :40])[0], rtol=1e-5, atol=1e-6)  # the sequence alone
    assert float(out[1, 40:].abs().sum()) == 0.0


def test_instance_norm_uses_the_real_frames_of_each_example_only():
    torch.manual_seed(0)
    x = torch.randn(3, 50, N_BINS) * torch.linspace(0.5, 4, N_BINS) + torch.linspace(-60, 10, N_BINS)
    lengths = (50, 31, 1)
    mask = torch.arange(50)[None, :] < torch.tensor(lengths)[:, None]
    norm = InstanceNorm(N_BINS)
    garbled = torch.where(mask[..., None], x, torch.full_like(x, 1e6))
    out = norm(garbled, mask)
    for row, length in enumerate(lengths):
        real = out[row, :length]
        if length == 1:  # nothing to normalise against: zero
            assert float(real.abs().sum()) == 0.0
            continue
        expected = torch.nn.functional.instance_norm(x[row:row + 1, :length].transpose(1, 2), eps=1e-5)
        # float32 cancellation: bins sit up to 60 dB from 0, so x - mean loses ~1e-5 absolute
        torch.testing.assert_close(real, expected[0].T, atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(real.mean(dim=0), torch.zeros(N_BINS), atol=1e-4, rtol=0)
        torch.testing.assert_close(real.var(dim=0, unbiased=False), torch.ones(N_BINS), atol=1e-3, rtol=0)
        assert float(out[row, length:].abs().sum()) == 0.0
    # a fixed per-band gain and offset (a channel's colouring, in dB) is removed entirely
    coloured = x * torch.linspace(0.5, 2.0, N_BINS) + torch.linspace(20.0, -20.0, N_BINS)
    torch.testing.assert_close(norm(coloured, mask)[0], norm(x, mask)[0], atol=1e-4, rtol=1e-4)


def test_instance_norm_affine_is_learned_per_bin():
    norm = InstanceNorm(N_BINS, affine=True)
    assert norm.weight.shape == norm.bias.shape == (N_BINS,)
    with torch.no_grad():
        norm.weight.fill_(2.0)
        norm.bias.fill_(3.0)
    x = torch.randn(1, 20, N_BINS)
    torch.testing.assert_close(norm(x), 2.0 * InstanceNorm(N_BINS)(x) + 3.0)
    assert make_frontend("instance", n_bins=N_BINS).weight is None
    assert make_frontend("none", n_bins=N_BINS) is None
    with pytest.raises(ValueError, match="unknown frontend 'pcen2'; expected one of none, pcen"):
        make_frontend("pcen2", n_bins=N_BINS)


@pytest.mark.parametrize("frontend", FRONTENDS)
@pytest.mark.parametrize("name", list(LOGMEL_MODELS))
def test_every_frontend_on_every_logmel_model(name, frontend):
    torch.manual_seed(0)
    model = build_model(name, n_classes=N_CLASSES, frame_shape=(N_BINS,), frontend=frontend, **LOGMEL_MODELS[name])
    wrapped = Standardized(model, frame_shape=(N_BINS,))
    is_pcen = frontend.startswith("pcen")
    assert model.raw_input == is_pcen and wrapped.uses_statistics == (not is_pcen)
    x = (torch.randn(2, 29, N_BINS) * 10 - 40).requires_grad_()
    mask = torch.ones(2, 29, dtype=torch.bool)
    mask[1, 20:] = False
    out = wrapped(x, mask)
    assert out["frame"].shape == (2, 29, N_CLASSES) and out["clip"].shape == (2, N_CLASSES)
    (out["frame"][mask].sum() + out["clip"].sum()).backward()
    assert torch.isfinite(x.grad).all()
    front = [p for k, p in model.named_parameters() if k.startswith("frontend.")]
    assert len(front) == {"none": 0, "instance": 0, "instance-affine": 2, "pcen": 4, "pcen-multi": 5}[frontend]
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in front)
    if frontend == "none":  # the default adds nothing: checkpoints from before still load
        assert not any(k.startswith("frontend") for k in model.state_dict())
        with pytest.raises(ValueError, match="unknown frontend"):
            build_model(name, n_classes=N_CLASSES, frame_shape=(N_BINS,), frontend="pcen2")


def test_standardized_refuses_statistics_for_a_raw_input_model():
    wrapped = Standardized(build_model("crnn", n_classes=2, frame_shape=(N_BINS,), frontend="pcen"),
                           frame_shape=(N_BINS,))
    with pytest.raises(ValueError, match="reads the features as stored"):
        wrapped.set_statistics(torch.ones(N_BINS), torch.ones(N_BINS))
    mlp = Standardized(build_model("mlp", n_classes=2, frame_shape=(N_BINS,)), frame_shape=(N_BINS,))
    assert mlp.uses_statistics  # models without the attribute are standardised as before


@pytest.mark.parametrize("frontend, standardized", [("pcen", False), ("instance", True)])
def test_train_keeps_identity_statistics_for_pcen(tmp_path, make_store, frontend, standardized):
    from training.config import TrainConfig
    from training.loop import train
    from training.run import load_run

    config = TrainConfig(store="memory://fake-store", features="logmel", model="panns", out=str(tmp_path / "run"),
                         model_options={**LOGMEL_MODELS["panns"], "frontend": frontend}, epochs=1,
                         batch_size=4, window=32, device="cpu", workers=0, progress=False)
    run = load_run(train(config, store=make_store()))
    is_identity = bool((run.model.mean == 0).all() and (run.model.std == 1).all())
    assert is_identity != standardized
    assert run.model.model.raw_input == frontend.startswith("pcen")
    probs = run.predict(np.random.default_rng(0).normal(size=(45, N_BINS)).astype(np.float32))
    assert probs.shape == (45, N_CLASSES) and np.isfinite(probs).all()
