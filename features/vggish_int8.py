"""VGGish with int8 weights and activations for the CPU (``vggish:precision=int8``).

Static post-training quantisation in PyTorch's eager mode on the x86 backend (fbgemm / oneDNN
kernels; VNNI where the CPU has it): each convolution and fully connected layer is fused with
its ReLU and runs in int8, weights quantised per output channel, activations per tensor with ranges found by running
a fixed calibration set through the float network (histogram observers).  The calibration set
is synthetic and seeded (:func:`calibration_examples`), so the quantised network, and with it
every embedding, depends only on the float weights: two machines, or two runs in a different
track order, give the same int8 model.  Eager mode, not FX graph mode: FX tracing patches
``torch.nn.Module.__call__`` for the whole process while it runs, which breaks any network that
another worker thread runs at the same time.

How close it is to float32 and what it costs or gains downstream is measured by
``benchmarks/bench_vggish_precision.py`` (README, Performance).  Dynamic quantisation
(``quantize_dynamic``) would only cover the three linear layers, about 8 % of VGGish's
~0.86 GMAC per example, so it is not used.
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings
from functools import lru_cache

import numpy as np
import torch
from torch import nn

CALIBRATION_SEED = 20240917
CALIBRATION_EXAMPLES = 32  # 0.96 s each: 31 s of audio, ~1 s of calibration on one core
_SR = 16000


@lru_cache(maxsize=1)
def calibration_examples(n_examples: int = CALIBRATION_EXAMPLES, *, seed: int = CALIBRATION_SEED) -> np.ndarray:
    """Log-mel examples ``[shape=(n_examples, 96, 64), float32]`` of seeded synthetic music-like audio.

    Each 0.96 s example mixes, at a level between -50 and -3 dBFS: 0-4 harmonic tones (fundamental
    55-1760 Hz, 1-16 partials with a random spectral slope, attack-decay envelopes), noise (white
    or low-passed, random level) and 0-6 percussive bursts, plus one silent example, so the
    observers see quiet, loud, tonal, noisy and percussive spectra.
    """
    from features.vggish import vggish_examples

    rng = np.random.default_rng(seed)
    n = 15360
    t = np.arange(n) / _SR
    examples = []
    for index in range(n_examples):
        y = np.zeros(n)
        if index > 0:
            for _ in range(rng.integers(0, 5)):
                f0 = 55.0 * 2 ** rng.uniform(0, 5)
                slope = rng.uniform(0.5, 2.5)
                onset = rng.uniform(0, 0.6)
                envelope = np.where(t >= onset, np.exp(-(t - onset) * rng.uniform(0.5, 8.0)), 0.0)
                for k in range(1, rng.integers(2, 18)):
                    if k * f0 < _SR / 2:
                        y += envelope * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k**slope
            noise = rng.standard_normal(n)
            if rng.random() < 0.5:  # low-passed: a running mean over 2-40 samples
                width = int(rng.integers(2, 40))
                noise = np.convolve(noise, np.ones(width) / width, mode="same") * np.sqrt(width)
            y += noise * 10 ** rng.uniform(-3, -0.5)
            for _ in range(rng.integers(0, 7)):
                start = int(rng.integers(0, n - 800))
                burst = rng.standard_normal(n - start) * np.exp(-np.arange(n - start) / rng.uniform(80, 4000))
                y[start:] += burst * rng.uniform(0.2, 1.0)
            peak = np.max(np.abs(y)) or 1.0
            y *= 10 ** (rng.uniform(-50, -3) / 20) / peak
        examples.append(vggish_examples(y.astype(np.float32))[0])
    return np.stack(examples).astype(np.float32)


class _QuantizableVGGish(nn.Module):
    """VGGish between a quantise and a dequantise step, for eager-mode static quantisation."""

    def __init__(self, model: nn.Module) -> None:
        from torch.ao.quantization import DeQuantStub, QuantStub

        super().__init__()
        self.quant = QuantStub()
        self.features = model.features
        self.embeddings = model.embeddings
        self.dequant = DeQuantStub()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            x = x.unsqueeze(1)
        x = self.features(self.quant(x))
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # TensorFlow's (H, W, C) flatten order
        return self.dequant(self.embeddings(x))

    def fusable(self) -> list[list[str]]:
        """Names of every (conv or linear, ReLU) pair, which run as one int8 operation."""
        pairs = []
        for prefix, block in (("features", self.features), ("embeddings", self.embeddings)):
            layers = list(block)
            for i, (layer, after) in enumerate(zip(layers, layers[1:])):
                if isinstance(layer, (nn.Conv2d, nn.Linear)) and isinstance(after, nn.ReLU):
                    pairs.append([f"{prefix}.{i}", f"{prefix}.{i + 1}"])
        return pairs


def quantize_vggish(model: nn.Module, *, examples: np.ndarray | None = None, inplace: bool = False) -> nn.Module:
    """An int8 copy of a float VGGish (CPU only).

    Parameters
    ----------
    model : features.vggish.VGGish
        The float network (any device: it is copied to the CPU).
    examples : np.ndarray [shape=(n, 96, 64)], optional
        Calibration examples; default :func:`calibration_examples` (use the default for anything
        that goes into a store: other examples give another int8 model).
    inplace : bool
        Quantise ``model``'s own layers (saves copying 290 MB; ``model`` is unusable afterwards)
        instead of a copy.

    Returns
    -------
    torch.nn.Module
        Takes ``(batch, 96, 64)`` or ``(batch, 1, 96, 64)`` float input, returns ``(batch, 128)`` float.
    """
    from torch.ao.quantization import convert, fuse_modules, get_default_qconfig, prepare

    torch.backends.quantized.engine = "x86"
    calibration = torch.from_numpy(calibration_examples() if examples is None else examples).unsqueeze(1)
    wrapped = _QuantizableVGGish((model if inplace else copy.deepcopy(model)).cpu().float().eval()).eval()
    with warnings.catch_warnings():
        # torch 2.13 prints a notice that torch.ao quantisation is moving to torchao and warns about
        # reduce_range: neither changes the result here
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()):
            fused = fuse_modules(wrapped, wrapped.fusable(), inplace=True)
            fused.qconfig = get_default_qconfig("x86")
            prepared = prepare(fused, inplace=True)
        with torch.inference_mode():
            for start in range(0, len(calibration), 32):
                prepared(calibration[start:start + 32])
        with contextlib.redirect_stdout(io.StringIO()):
            return convert(prepared, inplace=True).eval()
