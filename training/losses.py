"""Masked binary cross-entropy: unknown labels and padded frames never count.

A label takes part in the loss only where it is known (the store's label mask) and, for
frame labels, where the frame is real (the frame mask).  An unknown label is never treated
as a negative.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def masked_bce_with_logits(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, *,
                           pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean BCE-with-logits over the entries where ``mask`` is true.

    Parameters
    ----------
    logits, targets : torch.Tensor [shape=(..., C)]
        Targets in ``[0, 1]`` (soft targets allowed).
    mask : torch.Tensor [shape=(..., C), dtype=bool]
    pos_weight : torch.Tensor [shape=(C,)], optional
        Weight of the positive term per class.

    Returns
    -------
    loss : torch.Tensor (scalar)
        Zero (still attached to the graph) when nothing is known.
    """
    if logits.shape != targets.shape or logits.shape != mask.shape:
        raise ValueError(f"logits {tuple(logits.shape)}, targets {tuple(targets.shape)} and mask "
                         f"{tuple(mask.shape)} must have the same shape")
    # Unknown entries get a neutral target so their (discarded) values stay finite.
    targets = torch.where(mask, targets.to(logits.dtype), torch.zeros_like(logits))
    losses = F.binary_cross_entropy_with_logits(logits.float(), targets.float(), reduction="none",
                                                pos_weight=pos_weight)
    weights = mask.to(losses.dtype)
    return (losses * weights).sum() / weights.sum().clamp(min=1.0)


@dataclass
class MaskedLoss:
    """Frame loss + ``clip_weight`` x clip loss for a model output and a batch.

    ``frame`` loss mask = frame mask AND label mask; ``clip`` loss mask = clip mask.
    ``pos_weight`` / ``clip_pos_weight`` are per-class tensors (see
    :meth:`training.data.LabelStatistics.pos_weight`).
    """

    pos_weight: torch.Tensor | None = None
    clip_pos_weight: torch.Tensor | None = None
    clip_weight: float = 0.5

    def to(self, device: torch.device) -> "MaskedLoss":
        move = (lambda t: None if t is None else t.to(device))
        return MaskedLoss(move(self.pos_weight), move(self.clip_pos_weight), self.clip_weight)

    def __call__(self, output: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        mask = batch["label_mask"] & batch["frame_mask"].unsqueeze(-1)
        loss = masked_bce_with_logits(output["frame"], batch["labels"], mask, pos_weight=self.pos_weight)
        if self.clip_weight > 0:
            loss = loss + self.clip_weight * masked_bce_with_logits(
                output["clip"], batch["clip"], batch["clip_mask"], pos_weight=self.clip_pos_weight)
        return loss
