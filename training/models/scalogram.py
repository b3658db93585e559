"""CRNN with attention pooling on Morse-wavelet scalograms (the OpenMIC scalogram experiments)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from training.blocks import (
    AttentionPooling, ConvFrontEnd, FrameHead, RecurrentEncoder, check_frame_shape, full_mask,
)

SMALL_CHANNELS = (8, 16)


class ScalogramCRNN(nn.Module):
    """3x3 conv blocks (8-16-32-32, (1, 2) scale pooling, dropout) + BiLSTM + attention pooling.

    ``channels=(8, 16)`` is the reduced two-conv variant (registered as
    ``scalogram-crnn-small``).  Input ``(B, T, n_scales)``; output
    ``{"frame": (B, T, C), "clip": (B, C)}`` logits.
    """

    def __init__(self, *, n_classes: int, frame_shape: Sequence[int], channels: Sequence[int] = (8, 16, 32, 32),
                 hidden: int = 64, dropout: float = 0.25) -> None:
        super().__init__()
        n_bins = check_frame_shape(frame_shape, "scalogram-crnn")
        self.front = ConvFrontEnd(n_bins=n_bins, channels=channels, activation="relu",
                                  dropout=dropout, reduce="flatten")
        self.rnn = RecurrentEncoder(self.front.out_features, hidden=hidden, cell="lstm")
        self.head = FrameHead(self.rnn.out_features, n_classes)
        self.pool = AttentionPooling(self.rnn.out_features, n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        mask = full_mask(x) if mask is None else mask
        h = self.rnn(self.front(x), mask)
        frame = self.head(h)
        return {"frame": frame, "clip": self.pool(h, frame, mask)}


def small_scalogram_crnn(**options) -> ScalogramCRNN:
    """The reduced two-conv scalogram CRNN (channels 8-16)."""
    options.setdefault("channels", SMALL_CHANNELS)
    return ScalogramCRNN(**options)
