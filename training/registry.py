"""Model names -> constructors.  ``build_model("crnn", n_classes=..., frame_shape=...)``."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from torch import nn

from training.choices import MODEL_NAMES
from training.models.attention import AttentionMIL, BiLSTMAttention
from training.models.cnn import FrameCNN
from training.models.crnn import CRNN, CRNNGRU
from training.models.mlp import FrameMLP
from training.models.panns import PANNsCNN, panns_gru
from training.models.scalogram import ScalogramCRNN, small_scalogram_crnn

MODELS: dict[str, Callable[..., nn.Module]] = {
    "mlp": FrameMLP,
    "cnn": FrameCNN,
    "crnn": CRNN,
    "crnn-gru": CRNNGRU,
    "panns": PANNsCNN,
    "panns-gru": panns_gru,
    "attention-mil": AttentionMIL,
    "bilstm-attention": BiLSTMAttention,
    "scalogram-crnn": ScalogramCRNN,
    "scalogram-crnn-small": small_scalogram_crnn,
}
if tuple(MODELS) != MODEL_NAMES:  # the command line offers training.choices.MODEL_NAMES
    raise ImportError(f"training.registry.MODELS {tuple(MODELS)} and training.choices.MODEL_NAMES {MODEL_NAMES} "
                      "differ; add the model to both")


def build_model(name: str, *, n_classes: int, frame_shape: Sequence[int], **options: Any) -> nn.Module:
    """Build a model by registry name.

    Parameters
    ----------
    name : str
        One of :data:`MODEL_NAMES`.
    n_classes : int
    frame_shape : sequence of int
        Shape of one input frame: ``(n_mels,)`` for log-mel, ``(n_scales,)`` for scalograms,
        ``(128,)`` for VGGish embeddings.
    **options
        Keyword options of the model's class (widths, dropout, ``attention`` for crnn-gru,
        ``clip_pooling``, ``frontend`` for the log-mel models cnn, crnn, crnn-gru, panns...).

    Returns
    -------
    model : torch.nn.Module
        ``model(x, mask)`` with ``x`` of shape ``(B, T, *frame_shape)`` and an optional bool
        frame mask ``(B, T)`` returns ``{"frame": (B, T, C), "clip": (B, C)}`` logits.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODEL_NAMES)}")
    if n_classes <= 0:
        raise ValueError(f"n_classes must be positive, got {n_classes}")
    try:
        return MODELS[name](n_classes=n_classes, frame_shape=tuple(frame_shape), **options)
    except TypeError as exc:
        raise ValueError(f"bad options for model {name!r}: {exc}") from None
