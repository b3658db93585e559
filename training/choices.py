"""The names ``instrec train`` offers, without importing torch.

The command line builds its option choices from these tuples, so that ``instrec --help``
starts in a fraction of a second; the heavy modules that implement them use the same tuples
and check, when imported, that they implement exactly these names
(:data:`training.registry.MODELS`, :class:`training.augment.Augmenter`).
"""

from __future__ import annotations

from core.device import DEVICES  # re-exported: the device rule is core.device's

MODEL_NAMES = (
    "mlp", "cnn", "crnn", "crnn-gru", "panns", "panns-gru", "attention-mil", "bilstm-attention",
    "scalogram-crnn", "scalogram-crnn-small",
)
"""Model families of :mod:`training.registry`, in listing order."""

AUGMENTATIONS = ("specaugment", "mixup", "noise", "reverse", "eq")
"""Batch augmentations of :mod:`training.augment`."""

MONITORS = ("f1", "map")
"""Validation scores: frame micro F1 at 0.5, macro mean average precision."""
