"""Batch augmentations, each switchable by name: SpecAugment, mixup, Gaussian noise, time reversal,
random equalisation (gain, spectral tilt and smooth EQ bumps: a change of timbre, as from
another soundfont, another microphone or another mix).

Each function takes and returns a batch dict as built by :mod:`training.data` (tensors
``features (B, T, *frame_shape)``, ``labels (B, T, C)``, ``label_mask (B, T, C)``,
``frame_mask (B, T)``, ``clip (B, C)``, ``clip_mask (B, C)``) and draws its randomness
from torch's global generator, so a seeded run is reproducible and resumable.
Padded frames stay padded and stay at the end of each sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from training.choices import AUGMENTATIONS

Batch = dict[str, torch.Tensor]


def spec_augment(batch: Batch, *, time_masks: int = 2, time_width: float = 0.05,
                 freq_masks: int = 2, freq_width: float = 0.1) -> Batch:
    """SpecAugment time and frequency masking.

    Masks ``time_masks`` stripes of up to ``time_width`` of the frames and ``freq_masks``
    stripes of up to ``freq_width`` of the bins of each example, filling them with the
    example's mean value (features are log magnitudes: zero is not silence).  Labels are
    unchanged.
    """
    x = batch["features"]
    b, t = x.shape[:2]
    flat = x.reshape(b, t, -1)
    f = flat.shape[2]
    fill = flat.mean(dim=(1, 2), keepdim=True)
    keep = torch.ones(b, t, f, dtype=torch.bool, device=x.device)
    steps_t = torch.arange(t, device=x.device)
    steps_f = torch.arange(f, device=x.device)
    for size, count, steps, axis in ((t, time_masks, steps_t, 1), (f, freq_masks, steps_f, 2)):
        max_width = max(1, int((time_width if axis == 1 else freq_width) * size))
        for _ in range(count):
            width = torch.randint(0, max_width + 1, (b, 1), device=x.device)
            start = (torch.rand(b, 1, device=x.device) * (size - width + 1)).long()
            inside = (steps.unsqueeze(0) >= start) & (steps.unsqueeze(0) < start + width)
            keep &= ~(inside.unsqueeze(2) if axis == 1 else inside.unsqueeze(1))
    flat = torch.where(keep, flat, fill)
    return {**batch, "features": flat.reshape(x.shape)}


def mixup(batch: Batch, *, alpha: float = 0.2) -> Batch:
    """Mix each example with a random partner: ``lam * a + (1 - lam) * b``, ``lam ~ Beta(alpha, alpha)``.

    Labels mix with the same weights; a label (frame) counts only where both examples know it.
    """
    x = batch["features"]
    b = x.shape[0]
    lam = torch.distributions.Beta(alpha, alpha).sample((b,)).to(x.device)
    perm = torch.randperm(b, device=x.device)
    out = dict(batch)

    def mix(value: torch.Tensor) -> torch.Tensor:
        shape = (b,) + (1,) * (value.dim() - 1)
        w = lam.reshape(shape).to(value.dtype)
        return w * value + (1 - w) * value[perm]

    out["features"] = mix(x)
    out["labels"] = mix(batch["labels"])
    out["clip"] = mix(batch["clip"])
    out["frame_mask"] = batch["frame_mask"] & batch["frame_mask"][perm]
    out["label_mask"] = batch["label_mask"] & batch["label_mask"][perm]
    out["clip_mask"] = batch["clip_mask"] & batch["clip_mask"][perm]
    return out


def gaussian_noise(batch: Batch, *, level: float = 0.05) -> Batch:
    """Add Gaussian noise with standard deviation ``level`` x each example's feature std."""
    x = batch["features"]
    scale = x.reshape(x.shape[0], -1).std(dim=1).reshape((-1,) + (1,) * (x.dim() - 1))
    noisy = x + level * scale * torch.randn_like(x)
    mask = batch["frame_mask"].reshape(batch["frame_mask"].shape + (1,) * (x.dim() - 2))
    return {**batch, "features": torch.where(mask, noisy, x)}


def time_reversal(batch: Batch, *, p: float = 0.5) -> Batch:
    """Reverse the real frames of each example with probability ``p`` (padding stays at the end)."""
    x = batch["features"]
    b, t = x.shape[:2]
    flip = torch.rand(b, device=x.device) < p
    lengths = batch["frame_mask"].sum(dim=1)
    steps = torch.arange(t, device=x.device).unsqueeze(0)
    reversed_index = (lengths.unsqueeze(1) - 1 - steps).clamp(min=0)
    index = torch.where(flip.unsqueeze(1) & (steps < lengths.unsqueeze(1)), reversed_index, steps)
    out = dict(batch)
    for key in ("features", "labels", "label_mask"):
        value = batch[key]
        gather = index.reshape(index.shape + (1,) * (value.dim() - 2)).expand_as(value)
        out[key] = torch.gather(value, 1, gather)
    return out


def random_eq(batch: Batch, *, gain_db: float = 6.0, tilt_db: float = 10.0, bumps: int = 3,
              bump_db: float = 6.0) -> Batch:
    """Random equalisation of each example, in the features' dB units (log-mel).

    Adds to every real frame of an example one curve over the last (frequency) axis: a gain
    drawn from ``U(-gain_db, gain_db)``, a linear tilt from ``-t`` at the lowest to ``+t`` at
    the highest bin with ``t ~ U(-tilt_db, tilt_db) / 2``, and ``bumps`` Gaussian bumps of
    height ``U(-bump_db, bump_db)``, random centre and a width of 5-25 % of the axis.  The
    same curve applies to all frames of the example (a fixed timbre change); labels are
    unchanged and padded frames stay untouched.

    Parameters
    ----------
    batch : dict
        ``features [shape=(B, T, ..., F)]`` with frequency last, and ``frame_mask [shape=(B, T)]``.
    """
    x = batch["features"]
    b, f = x.shape[0], x.shape[-1]
    device = x.device
    position = torch.linspace(0.0, 1.0, f, device=device)  # (F,)
    gain = (torch.rand(b, 1, device=device) * 2 - 1) * gain_db
    tilt = (torch.rand(b, 1, device=device) * 2 - 1) * tilt_db * (position - 0.5)
    curve = gain + tilt  # (B, F)
    if bumps > 0:
        centre = torch.rand(b, bumps, 1, device=device)
        width = 0.05 + 0.2 * torch.rand(b, bumps, 1, device=device)
        height = (torch.rand(b, bumps, 1, device=device) * 2 - 1) * bump_db
        curve = curve + (height * torch.exp(-0.5 * ((position - centre) / width) ** 2)).sum(dim=1)
    shape = (b,) + (1,) * (x.dim() - 2) + (f,)
    equalised = x + curve.reshape(shape).to(x.dtype)
    mask = batch["frame_mask"].reshape(batch["frame_mask"].shape + (1,) * (x.dim() - 2))
    return {**batch, "features": torch.where(mask, equalised, x)}


@dataclass(frozen=True)
class Augmenter:
    """Apply the named augmentations in a fixed order (reverse, EQ, SpecAugment, noise, mixup)."""

    names: Sequence[str] = ()

    def __post_init__(self) -> None:
        unknown = [n for n in self.names if n not in AUGMENTATIONS]
        if unknown:
            raise ValueError(f"unknown augmentation(s) {unknown}; choose from {', '.join(AUGMENTATIONS)}")

    def __call__(self, batch: Batch) -> Batch:
        for name, augment in _IN_ORDER.items():
            if name in self.names:
                batch = augment(batch)
        return batch


_IN_ORDER: dict[str, Callable[[Batch], Batch]] = {
    "reverse": time_reversal, "eq": random_eq, "specaugment": spec_augment, "noise": gaussian_noise, "mixup": mixup,
}
if sorted(_IN_ORDER) != sorted(AUGMENTATIONS):  # the command line offers training.choices.AUGMENTATIONS
    raise ImportError(f"training.augment implements {sorted(_IN_ORDER)}, training.choices.AUGMENTATIONS lists "
                      f"{sorted(AUGMENTATIONS)}; add the augmentation to both")
