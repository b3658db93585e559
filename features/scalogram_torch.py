"""The chunked CWT scalogram of :mod:`features.scalogram` in torch, batched over clips and blocks.

Same plan (block layout, decimations, filter bank) and the same arithmetic in float32 /
complex64, so CPU torch equals numpy within rounding; on CUDA all blocks of all clips in a
batch go through each scale group's inverse FFT at once.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from features.scalogram import DEFAULT_BLOCK_LENGTH, ScalogramConfig, plan_cwt


class TorchScalogram(nn.Module):
    """Log-magnitude scalogram of a batch of clips; filters and bin indices are buffers.

    Parameters
    ----------
    config : ScalogramConfig
    method : {"multirate", "plain"}
    block_length : int
    blocks_per_batch : int
        Blocks (of all clips together) sent through the FFTs at once; bounds memory at about
        ``blocks_per_batch * block_length * 24`` bytes for the largest scale group.

    Examples
    --------
    >>> module = TorchScalogram(ScalogramConfig()).to("cuda")  # doctest: +SKIP
    >>> S = module(torch.randn(8, 220500, device="cuda"))  # (8, 431, 128) dB  # doctest: +SKIP
    """

    def __init__(
        self,
        config: ScalogramConfig = ScalogramConfig(),
        *,
        method: Literal["multirate", "plain"] = "multirate",
        block_length: int = DEFAULT_BLOCK_LENGTH,
        blocks_per_batch: int = 32,
    ) -> None:
        super().__init__()
        if blocks_per_batch < 1:
            raise ValueError(f"blocks_per_batch must be >= 1, got {blocks_per_batch}")
        self.config = config
        self.plan = plan_cwt(config, block_length=block_length, method=method)
        self.blocks_per_batch = blocks_per_batch
        for i, group in enumerate(self.plan.groups):
            # copies (torch.tensor): the plan is shared and read-only
            bins = torch.tensor(group.k0)[:, None] + torch.arange(group.filters.shape[1])[None, :]
            self.register_buffer(f"bins_{i}", bins, persistent=False)
            self.register_buffer(f"filters_{i}", torch.tensor(group.filters), persistent=False)
            self.register_buffer(f"columns_{i}", torch.tensor(group.scale_index), persistent=False)

    def pooled_magnitude(self, blocks: torch.Tensor) -> torch.Tensor:
        """``(n_blocks, block_length)`` float32 -> ``(n_blocks, frames_per_block, n_scales)``."""
        plan = self.plan
        hop, frames = plan.hop_length, plan.frames_per_block
        spectrum = torch.fft.rfft(blocks)
        out = blocks.new_empty((blocks.shape[0], frames, plan.n_scales))
        for i, group in enumerate(plan.groups):
            bins = getattr(self, f"bins_{i}")
            z = spectrum[:, bins] * getattr(self, f"filters_{i}")
            w = torch.fft.ifft(z, n=group.ifft_length, dim=-1, norm="forward")
            step = hop // group.decimation
            s0 = (plan.pad - hop // 2) // group.decimation
            mag = w[..., s0 : s0 + frames * step].abs()
            pooled = mag.reshape(mag.shape[0], mag.shape[1], frames, step).mean(dim=-1)
            out[:, :, getattr(self, f"columns_{i}")] = pooled.transpose(1, 2)
        return out

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Scalograms of equal-length clips.

        Parameters
        ----------
        y : torch.Tensor [shape=(batch, n_samples) or (n_samples,)]
            Mono audio at ``config.sr``.

        Returns
        -------
        S : torch.Tensor [shape=(batch, n_frames, n_scales) or (n_frames, n_scales), float32]
            dB, as :func:`features.scalogram.scalogram`.
        """
        squeeze = y.ndim == 1
        y = y.reshape(1, -1) if squeeze else y
        if y.ndim != 2:
            raise ValueError(f"expected (batch, n_samples) or (n_samples,), got shape {tuple(y.shape)}")
        y = y.to(torch.float32)
        plan, config = self.plan, self.config
        n_samples = y.shape[1]
        n_frames = config.grid.n_frames(n_samples)
        step = plan.frames_per_block * plan.hop_length
        n_blocks = -(-n_frames // plan.frames_per_block)
        total = (n_blocks - 1) * step + plan.block_length
        right = max(total - plan.pad - n_samples, 0)
        padded = torch.nn.functional.pad(y, (plan.pad, right))
        blocks = padded.unfold(-1, plan.block_length, step)  # (batch, n_blocks, block_length)
        flat = blocks.reshape(-1, plan.block_length)
        pooled = torch.cat(
            [
                self.pooled_magnitude(flat[i : i + self.blocks_per_batch])
                for i in range(0, flat.shape[0], self.blocks_per_batch)
            ]
        )
        pooled = pooled.reshape(y.shape[0], n_blocks * plan.frames_per_block, plan.n_scales)
        db = 20.0 * torch.log10(pooled[:, :n_frames].clamp_min(config.amin) / config.ref)
        return db[0] if squeeze else db
