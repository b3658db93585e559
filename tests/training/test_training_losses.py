"""Masked losses: unknown labels and padded frames never count."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from training.losses import MaskedLoss, masked_bce_with_logits


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(2, 10, 3, generator=g) < 0.5).float()
    label_mask = torch.rand(2, 10, 3, generator=g) < 0.7
    frame_mask = torch.ones(2, 10, dtype=torch.bool)
    frame_mask[1, 6:] = False
    clip = labels.amax(dim=1)
    clip_mask = torch.tensor([[True, False, True], [True, True, False]])
    output = {"frame": torch.randn(2, 10, 3, generator=g), "clip": torch.randn(2, 3, generator=g)}
    batch = {"labels": labels, "label_mask": label_mask, "frame_mask": frame_mask,
             "clip": clip, "clip_mask": clip_mask}
    return output, batch


def test_unknown_labels_do_not_change_the_loss():
    output, batch = _batch()
    loss_fn = MaskedLoss(pos_weight=torch.tensor([1.0, 3.0, 2.0]), clip_weight=0.5)
    reference = loss_fn(output, batch)
    flipped = dict(batch)
    flipped["labels"] = torch.where(batch["label_mask"], batch["labels"], 1.0 - batch["labels"])
    flipped["clip"] = torch.where(batch["clip_mask"], batch["clip"], 1.0 - batch["clip"])
    assert torch.equal(loss_fn(output, flipped), reference)


def test_padded_frames_do_not_change_the_loss():
    output, batch = _batch()
    loss_fn = MaskedLoss(clip_weight=0.0)
    reference = loss_fn(output, batch)
    changed = {k: v.clone() for k, v in output.items()}
    changed["frame"][1, 6:] = 40.0
    other = dict(batch)
    other["labels"] = batch["labels"].clone()
    other["labels"][1, 6:] = 0.0
    assert torch.equal(loss_fn(changed, other), reference)


def test_loss_is_the_mean_over_known_entries_only():
    logits = torch.tensor([[0.5, -1.0, 2.0]])
    targets = torch.tensor([[1.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, False]])
    expected = F.binary_cross_entropy_with_logits(logits[:, :2], targets[:, :2])
    assert torch.allclose(masked_bce_with_logits(logits, targets, mask), expected)


def test_pos_weight_scales_positive_terms():
    logits, targets = torch.zeros(1, 2), torch.tensor([[1.0, 1.0]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    plain = masked_bce_with_logits(logits, targets, mask)
    weighted = masked_bce_with_logits(logits, targets, mask, pos_weight=torch.tensor([3.0, 3.0]))
    assert torch.allclose(weighted, 3 * plain)


def test_nothing_known_gives_zero_with_a_gradient():
    logits = torch.randn(2, 3, requires_grad=True)
    loss = masked_bce_with_logits(logits, torch.ones(2, 3), torch.zeros(2, 3, dtype=torch.bool))
    loss.backward()
    assert float(loss.detach()) == 0.0 and logits.grad is not None


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="must have the same shape"):
        masked_bce_with_logits(torch.zeros(2, 3), torch.zeros(2, 4), torch.ones(2, 3, dtype=torch.bool))
