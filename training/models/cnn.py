"""Frame-level CNN (the Slakh reference project's baseline)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from training.blocks import (
    RAW_INPUT_FRONTENDS, ClipPooling, ConvFrontEnd, FrameHead, check_frame_shape, full_mask, make_frontend,
)


class FrameCNN(nn.Module):
    """Three conv blocks (64-128-128, BatchNorm, ELU, (1, 2) frequency pooling, dropout),
    frequency mean, linear head.  ``frontend`` picks an input normalisation
    (:func:`training.blocks.make_frontend`: ``none``, ``pcen``, ``pcen-multi``, ``instance``,
    ``instance-affine``).

    Input ``(B, T, n_bins)``; output ``{"frame": (B, T, C), "clip": (B, C)}`` logits.
    """

    def __init__(self, *, n_classes: int, frame_shape: Sequence[int], channels: Sequence[int] = (64, 128, 128),
                 dropout: float = 0.2, clip_pooling: str = "max", frontend: str = "none") -> None:
        super().__init__()
        n_bins = check_frame_shape(frame_shape, "cnn")
        self.frontend = make_frontend(frontend, n_bins=n_bins)
        self.raw_input = frontend in RAW_INPUT_FRONTENDS
        self.front = ConvFrontEnd(n_bins=n_bins, channels=channels, activation="elu",
                                  dropout=dropout, reduce="mean")
        self.head = FrameHead(self.front.out_features, n_classes)
        self.pool = ClipPooling(clip_pooling, in_features=self.front.out_features, n_classes=n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        mask = full_mask(x) if mask is None else mask
        if self.frontend is not None:
            x = self.frontend(x, mask)
        h = self.front(x)
        frame = self.head(h)
        return {"frame": frame, "clip": self.pool(h, frame, mask)}
