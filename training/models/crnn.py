"""Convolutional-recurrent models: the AAM reference CRNN and the Slakh reference CRNN-GRU."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from training.blocks import (
    RAW_INPUT_FRONTENDS, ClipPooling, ConvFrontEnd, FrameHead, RecurrentEncoder, SelfAttentionBlock,
    check_frame_shape, full_mask, make_frontend,
)


class CRNN(nn.Module):
    """Two conv layers (32 channels, (1, 2) frequency pooling) + BiLSTM(64) + FC 128 + logits.

    The conv output keeps its frequency bins (flattened into the LSTM input), as in the AAM
    reference project.  ``frontend`` picks an input normalisation
    (:func:`training.blocks.make_frontend`).  Input ``(B, T, n_bins)``; output
    ``{"frame": (B, T, C), "clip": (B, C)}``.
    """

    def __init__(self, *, n_classes: int, frame_shape: Sequence[int], channels: Sequence[int] = (32, 32),
                 freq_pool: int = 2, hidden: int = 64, fc: int = 128, dropout: float = 0.2,
                 clip_pooling: str = "max", frontend: str = "none") -> None:
        super().__init__()
        n_bins = check_frame_shape(frame_shape, "crnn")
        self.frontend = make_frontend(frontend, n_bins=n_bins)
        self.raw_input = frontend in RAW_INPUT_FRONTENDS
        self.front = ConvFrontEnd(n_bins=n_bins, channels=channels, activation="relu",
                                  freq_pool=freq_pool, dropout=dropout, reduce="flatten")
        self.rnn = RecurrentEncoder(self.front.out_features, hidden=hidden, cell="lstm")
        self.head = FrameHead(self.rnn.out_features, n_classes, hidden=(fc,), dropout=dropout)
        self.pool = ClipPooling(clip_pooling, in_features=self.rnn.out_features, n_classes=n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        mask = full_mask(x) if mask is None else mask
        if self.frontend is not None:
            x = self.frontend(x, mask)
        h = self.rnn(self.front(x), mask)
        frame = self.head(h)
        return {"frame": frame, "clip": self.pool(h, frame, mask)}


class CRNNGRU(nn.Module):
    """The CNN front end (64-128-128, ELU, frequency mean) + 2 BiGRU(64) layers.

    With ``attention=True``, 2-head self-attention + LayerNorm follows the GRU (the Slakh
    reference project's "CRNN + attention").  ``frontend`` picks an input normalisation
    (:func:`training.blocks.make_frontend`).  Input ``(B, T, n_bins)``; output
    ``{"frame": (B, T, C), "clip": (B, C)}`` logits.
    """

    def __init__(self, *, n_classes: int, frame_shape: Sequence[int], channels: Sequence[int] = (64, 128, 128),
                 hidden: int = 64, num_layers: int = 2, attention: bool = False, heads: int = 2,
                 dropout: float = 0.2, clip_pooling: str = "max", frontend: str = "none") -> None:
        super().__init__()
        n_bins = check_frame_shape(frame_shape, "crnn-gru")
        self.frontend = make_frontend(frontend, n_bins=n_bins)
        self.raw_input = frontend in RAW_INPUT_FRONTENDS
        self.front = ConvFrontEnd(n_bins=n_bins, channels=channels, activation="elu",
                                  dropout=dropout, reduce="mean")
        self.rnn = RecurrentEncoder(self.front.out_features, hidden=hidden, num_layers=num_layers,
                                    cell="gru", dropout=dropout)
        width = self.rnn.out_features
        self.attention = SelfAttentionBlock(width, heads=heads, dropout=dropout) if attention else None
        self.head = FrameHead(width, n_classes)
        self.pool = ClipPooling(clip_pooling, in_features=width, n_classes=n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        mask = full_mask(x) if mask is None else mask
        if self.frontend is not None:
            x = self.frontend(x, mask)
        h = self.rnn(self.front(x), mask)
        if self.attention is not None:
            h = self.attention(h, mask)
        frame = self.head(h)
        return {"frame": frame, "clip": self.pool(h, frame, mask)}
