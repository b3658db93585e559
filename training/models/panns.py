"""A PANNs-style CNN with a frame head (after Kong et al. 2020, "PANNs", Cnn14 / its SED variant)."""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from training.blocks import (
    CLIP_POOLINGS, FRONTENDS, RAW_INPUT_FRONTENDS, ClipPooling, ConvPairBlock, FrameHead, RecurrentEncoder,
    check_frame_shape, full_mask, make_frontend,
)


class PANNsCNN(nn.Module):
    """Conv blocks of two 3x3 convs (BatchNorm, ReLU, average pooling), frequency mean + max,
    an optional BiGRU, dropout and a frame head; frame logits come back to the input frame count.

    Each block halves the frequency bins (``freq_pool``) and divides time by its
    ``time_pool`` entry (default /2 in the first two blocks, /4 in all), which is what makes
    the model affordable on a CPU.  The input is zero-padded at the end to a multiple of the
    total time pooling; after the head each pooled frame's logits are repeated over the input
    frames it covers and the result is cropped to the input length ``T`` (any ``T >= 1``).
    Clip logits pool the frame logits over the real input frames (:class:`ClipPooling`).

    Padding: padded frames are zeroed before every convolution and pooling and the GRU packs
    them away, so real frames' outputs and the clip output never depend on padded values (in
    training mode too, for the same dropout draws).  In eval mode a padded sequence's real
    frames get what the sequence alone gets, up to float rounding.  When a real length ``L`` is
    not a multiple of the time pooling, its last pooled frame averages real frames with zeros,
    in a padded batch and alone alike.  In training mode the BatchNorm batch statistics include
    the padded positions (as zeros), as in every conv model here.

    Parameters
    ----------
    n_classes : int
    frame_shape : (n_bins,)
    channels : sequence of int
        Output channels of each block (1 to 8 blocks).  The default, 16-32-64-128-256, keeps
        the full-resolution first block thin (it costs the most per channel) and puts the
        width in the pooled blocks: 1.25 M parameters (11 classes) at about the training
        speed of ``crnn`` (``benchmarks/bench_models.py``).
    time_pool : sequence of int, optional
        Time pooling of each block, one per block (1 = none); default /2 in the first two
        blocks and none after (``(2, 2, 1, 1, 1)`` for five blocks).
    freq_pool : int
        Frequency pooling of every block (skipped once a single bin is left).
    rnn_hidden : int
        Hidden size of one BiGRU layer after the blocks; 0 for none.
    fc : int
        Width of the frame head's hidden layer; 0 for a linear head.
    dropout : float
        After each block, before the head and inside it.
    clip_pooling : {"max", "mean", "attention"}
    frontend : {"none", "pcen", "pcen-multi", "instance", "instance-affine"}
        Input normalisation (see :func:`training.blocks.make_frontend`).

    Input ``(B, T, n_bins)`` and mask ``(B, T)``; output ``{"frame": (B, T, C), "clip": (B, C)}`` logits.
    """

    def __init__(self, *, n_classes: int, frame_shape: Sequence[int],
                 channels: Sequence[int] = (16, 32, 64, 128, 256), time_pool: Sequence[int] | None = None,
                 freq_pool: int = 2, rnn_hidden: int = 0,
                 fc: int = 256, dropout: float = 0.2, clip_pooling: str = "max", frontend: str = "none") -> None:
        super().__init__()
        n_bins = check_frame_shape(frame_shape, "panns")
        channels = _positive_ints(channels, "channels")
        if not 1 <= len(channels) <= 8:
            raise ValueError(f"panns: channels must name 1 to 8 conv blocks, got {len(channels)}")
        if time_pool is None:
            time_pool = tuple(2 if i < 2 else 1 for i in range(len(channels)))
        time_pool = _positive_ints(time_pool, "time_pool")
        if len(time_pool) != len(channels):
            raise ValueError(f"panns: time_pool needs one factor per conv block ({len(channels)}), "
                             f"got {len(time_pool)}: {list(time_pool)}")
        if int(freq_pool) < 1 or int(rnn_hidden) < 0 or int(fc) < 0:
            raise ValueError(f"panns: freq_pool must be >= 1 and rnn_hidden, fc >= 0, "
                             f"got {freq_pool}, {rnn_hidden}, {fc}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"panns: dropout must lie in [0, 1), got {dropout}")
        if clip_pooling not in CLIP_POOLINGS:
            raise ValueError(f"panns: clip_pooling must be one of {CLIP_POOLINGS}, got {clip_pooling!r}")
        if frontend not in FRONTENDS:
            raise ValueError(f"panns: unknown frontend {frontend!r}; expected one of {', '.join(FRONTENDS)}")
        self.frontend = make_frontend(frontend, n_bins=n_bins)
        self.raw_input = frontend in RAW_INPUT_FRONTENDS
        blocks, in_ch, bins = [], 1, n_bins
        for out_ch, t_pool in zip(channels, time_pool):
            f_pool = int(freq_pool) if bins >= int(freq_pool) else 1
            blocks.append(ConvPairBlock(in_ch, out_ch, time_pool=t_pool, freq_pool=f_pool, dropout=dropout))
            in_ch, bins = out_ch, bins // f_pool
        self.blocks = nn.ModuleList(blocks)
        self.time_factor = math.prod(time_pool)
        width = channels[-1]
        self.rnn = RecurrentEncoder(width, hidden=int(rnn_hidden), cell="gru") if rnn_hidden else None
        width = self.rnn.out_features if self.rnn is not None else width
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = FrameHead(width, n_classes, hidden=(int(fc),) if fc else (), activation="relu", dropout=dropout)
        self.pool = ClipPooling(clip_pooling, in_features=width, n_classes=n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        mask = full_mask(x) if mask is None else mask
        t = x.shape[1]
        if self.frontend is not None:
            x = self.frontend(x, mask)
        pad = -t % self.time_factor
        real = F.pad(mask, (0, pad), value=False)
        block_mask = None if bool(real.all()) else real  # no padding: skip the masking
        h = F.pad(x, (0, 0, 0, pad)).unsqueeze(1)
        for block in self.blocks:
            h, block_mask = block(h, block_mask)
        h = (h.mean(dim=3) + h.amax(dim=3)).transpose(1, 2)  # (B, T / time_factor, channels)
        if self.rnn is not None:
            h = self.rnn(h, block_mask)
        h = self.dropout(h)
        frame = self.head(h)
        frame = frame.repeat_interleave(self.time_factor, dim=1)[:, :t]
        features = h.repeat_interleave(self.time_factor, dim=1)[:, :t]
        return {"frame": frame, "clip": self.pool(features, frame, mask)}


def panns_gru(**options) -> PANNsCNN:
    """The PANNs-style CNN with a BiGRU(128) over the pooled frames (registered as ``panns-gru``)."""
    options.setdefault("rnn_hidden", 128)
    return PANNsCNN(**options)


def _positive_ints(values: Sequence[int], name: str) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
        raise ValueError(f"panns: {name} must be a list of positive integers, got {values!r}")
    return tuple(values)
