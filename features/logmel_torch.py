"""The log-mel of :mod:`features.logmel` in torch, batched over clips (CPU or CUDA).

Same window, mel filterbank and fixed-reference log as :func:`features.logmel.logmel`, with
the FFT in float32: CPU torch equals numpy within float32 rounding; on CUDA a whole batch of
clips goes through one FFT.  Used by ``benchmarks/bench_logmel_torch.py``; extraction itself
computes log-mel with :func:`features.logmel.logmel`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from features.logmel import LogMelConfig, fft_window


class TorchLogMel(nn.Module):
    """Log-mel spectrogram of a batch of clips; the window and the filterbank are buffers.

    Parameters
    ----------
    config : LogMelConfig

    Examples
    --------
    >>> module = TorchLogMel(LogMelConfig()).to("cuda")  # doctest: +SKIP
    >>> S = module(torch.randn(8, 220500, device="cuda"))  # (8, 431, 128) dB  # doctest: +SKIP
    """

    def __init__(self, config: LogMelConfig = LogMelConfig()) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("window", torch.as_tensor(fft_window(config), dtype=torch.float32), persistent=False)
        self.register_buffer("mel_basis_t", torch.as_tensor(config.mel_basis().T.copy()), persistent=False)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Log-mel spectrograms of equal-length clips.

        Parameters
        ----------
        y : torch.Tensor [shape=(batch, n_samples) or (n_samples,)]
            Mono audio at ``config.sr``.

        Returns
        -------
        S : torch.Tensor [shape=(batch, n_frames, n_mels) or (n_frames, n_mels), float32]
            ``n_frames == config.grid.n_frames(n_samples)``, as :func:`features.logmel.logmel`.
        """
        squeeze = y.ndim == 1
        y = y.reshape(1, -1) if squeeze else y
        if y.ndim != 2:
            raise ValueError(f"expected (batch, n_samples) or (n_samples,), got shape {tuple(y.shape)}")
        config = self.config
        half = config.n_fft // 2
        padded = torch.nn.functional.pad(y.to(torch.float32), (half, half))
        frames = padded.unfold(-1, config.n_fft, config.hop_length)  # (batch, n_frames, n_fft)
        spectrum = torch.fft.rfft(frames * self.window, dim=-1)
        power = spectrum.real.square() + spectrum.imag.square()
        if config.power != 2.0:
            power = power.pow(config.power / 2.0)
        mel = power @ self.mel_basis_t
        if config.scale == "log_offset":
            out = torch.log(mel + config.log_offset)
        else:
            out = 10.0 * torch.log10(mel.clamp_min(config.amin)) - 10.0 * math.log10(config.ref)
            out = out.clamp_min(config.floor_db)
        return out[0] if squeeze else out
