"""Per-frame MLP (the AAM reference project's frame classifier)."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from training.blocks import ClipPooling, FrameHead, PointwiseBlock, full_mask


class FrameMLP(nn.Module):
    """Two hidden layers (Linear + BatchNorm + ReLU + dropout) applied to every frame.

    Parameters
    ----------
    n_classes : int
    frame_shape : tuple of int
        Any frame shape; frames are flattened.
    hidden : sequence of int
        Widths of the hidden layers.
    dropout : float
    clip_pooling : {"max", "mean", "attention"}

    Input ``(B, T, *frame_shape)``; output ``{"frame": (B, T, C), "clip": (B, C)}`` logits.
    """

    def __init__(self, *, n_classes: int, frame_shape: Sequence[int], hidden: Sequence[int] = (256, 256),
                 dropout: float = 0.2, clip_pooling: str = "max") -> None:
        super().__init__()
        in_features = math.prod(int(n) for n in frame_shape)
        layers, width = [], in_features
        for out in hidden:
            layers.append(PointwiseBlock(width, out, dropout=dropout))
            width = out
        self.layers = nn.Sequential(*layers)
        self.head = FrameHead(width, n_classes)
        self.pool = ClipPooling(clip_pooling, in_features=width, n_classes=n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        mask = full_mask(x) if mask is None else mask
        h = self.layers(x.flatten(start_dim=2))
        frame = self.head(h)
        return {"frame": frame, "clip": self.pool(h, frame, mask)}
