"""Attention models on VGGish embeddings (OpenMIC): attention MIL and BiLSTM + attention."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from training.blocks import (
    AttentionPooling, FrameHead, PointwiseBlock, RecurrentEncoder, check_frame_shape, full_mask,
)


class AttentionMIL(nn.Module):
    """Multiple-instance learning with decision-level attention (Gururani et al. 2019).

    ``n_layers`` x (1x1 conv + BatchNorm + ReLU + dropout) with a residual connection around
    the stack, per-frame logits, and attention pooling (sigmoid attention normalised over
    time, weighted sum of sigmoid frame predictions).  The pooled probability is returned as
    a clamped logit.  Input ``(B, T, n_features)``; output ``{"frame": (B, T, C), "clip": (B, C)}``.
    """

    def __init__(self, *, n_classes: int, frame_shape: Sequence[int], width: int = 128, n_layers: int = 3,
                 dropout: float = 0.3) -> None:
        super().__init__()
        n_features = check_frame_shape(frame_shape, "attention-mil")
        self.input = nn.Linear(n_features, width) if n_features != width else nn.Identity()
        self.layers = nn.Sequential(*(PointwiseBlock(width, width, dropout=dropout) for _ in range(n_layers)))
        self.head = FrameHead(width, n_classes)
        self.pool = AttentionPooling(width, n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        mask = full_mask(x) if mask is None else mask
        h0 = self.input(x)
        h = h0 + self.layers(h0)
        frame = self.head(h)
        return {"frame": frame, "clip": self.pool(h, frame, mask)}


class BiLSTMAttention(nn.Module):
    """One BiLSTM layer + dropout + attention pooling (Kenarsari-Anhari 2020).

    Input ``(B, T, n_features)``; output ``{"frame": (B, T, C), "clip": (B, C)}`` logits.
    """

    def __init__(self, *, n_classes: int, frame_shape: Sequence[int], hidden: int = 64,
                 dropout: float = 0.2) -> None:
        super().__init__()
        n_features = check_frame_shape(frame_shape, "bilstm-attention")
        self.rnn = RecurrentEncoder(n_features, hidden=hidden, cell="lstm")
        self.dropout = nn.Dropout(dropout)
        self.head = FrameHead(self.rnn.out_features, n_classes)
        self.pool = AttentionPooling(self.rnn.out_features, n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        mask = full_mask(x) if mask is None else mask
        h = self.dropout(self.rnn(x, mask))
        frame = self.head(h)
        return {"frame": frame, "clip": self.pool(h, frame, mask)}
