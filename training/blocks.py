"""Shared building blocks of every model: conv front ends, recurrent encoders, pooling, heads.

Every block works on frame sequences ``(B, T, D)`` with an optional frame mask ``(B, T)``
(``True`` = a real frame, ``False`` = padding).  Pooling never lets a padded frame count:
masked frames get zero attention weight, are left out of means and can never be the maximum.
Models in :mod:`training.models` are these blocks, configured.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU, "gelu": nn.GELU}
CLIP_POOLINGS = ("max", "mean", "attention")
# Probabilities are clamped to [EPS, 1 - EPS] before turning them back into logits.
PROB_EPS = 1e-6


def make_activation(name: str) -> nn.Module:
    """An activation module by name (``relu``, ``elu``, ``gelu``)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}") from None


def full_mask(x: torch.Tensor) -> torch.Tensor:
    """An all-true frame mask ``(B, T)`` for an input ``(B, T, ...)``."""
    return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)


class ConvBlock(nn.Module):
    """Conv2d over (time, frequency) + BatchNorm + activation + frequency pooling + dropout.

    Input and output are ``(B, channels, T, F)``; time is never pooled, so the block keeps
    one output per input frame.
    """

    def __init__(
        self, in_channels: int, out_channels: int, *, kernel_size: int = 3,
        activation: str = "relu", freq_pool: int = 2, dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd to keep the frame count, got {kernel_size}")
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.norm = nn.BatchNorm2d(out_channels)
        self.activation = make_activation(activation)
        self.pool = nn.MaxPool2d((1, freq_pool)) if freq_pool > 1 else nn.Identity()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.pool(self.activation(self.norm(self.conv(x)))))


class ConvFrontEnd(nn.Module):
    """A stack of :class:`ConvBlock` turning ``(B, T, F)`` into per-frame vectors ``(B, T, D)``.

    Parameters
    ----------
    n_bins : int
        Frequency bins ``F`` of the input.
    channels : sequence of int
        Output channels of each block.
    reduce : {"mean", "flatten"}
        ``mean`` averages over the remaining frequency bins (``D = channels[-1]``);
        ``flatten`` keeps them (``D = channels[-1] * F'``).
    """

    def __init__(
        self, *, n_bins: int, channels: Sequence[int], kernel_size: int = 3,
        activation: str = "relu", freq_pool: int = 2, dropout: float = 0.0, reduce: str = "mean",
    ) -> None:
        super().__init__()
        if not channels:
            raise ValueError("channels must name at least one conv block")
        if reduce not in ("mean", "flatten"):
            raise ValueError(f"reduce must be 'mean' or 'flatten', got {reduce!r}")
        blocks, in_ch, bins = [], 1, n_bins
        for out_ch in channels:
            pool = freq_pool if bins >= freq_pool else 1
            blocks.append(ConvBlock(in_ch, out_ch, kernel_size=kernel_size, activation=activation,
                                    freq_pool=pool, dropout=dropout))
            in_ch, bins = out_ch, bins // pool
        self.blocks = nn.Sequential(*blocks)
        self.reduce = reduce
        self.out_features = channels[-1] if reduce == "mean" else channels[-1] * bins

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(x.unsqueeze(1))  # (B, ch, T, F')
        if self.reduce == "mean":
            return h.mean(dim=3).transpose(1, 2)
        b, ch, t, f = h.shape
        return h.permute(0, 2, 1, 3).reshape(b, t, ch * f)


class PointwiseBlock(nn.Module):
    """1x1 conv over time (a per-frame linear map) + BatchNorm + ReLU + dropout, ``(B, T, D)``."""

    def __init__(self, in_features: int, out_features: int, *, dropout: float = 0.0,
                 activation: str = "relu") -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_features, out_features, kernel_size=1, bias=False)
        self.norm = nn.BatchNorm1d(out_features)
        self.activation = make_activation(activation)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.activation(self.norm(self.conv(x.transpose(1, 2))))
        return self.dropout(h).transpose(1, 2)


class RecurrentEncoder(nn.Module):
    """Bidirectional LSTM or GRU over ``(B, T, D)``; padded frames are packed away.

    Padding must be at the end of each sequence (how :mod:`training.data` builds batches);
    the backward direction then starts at each sequence's last real frame.
    """

    def __init__(self, in_features: int, *, hidden: int = 64, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.0) -> None:
        super().__init__()
        kinds = {"lstm": nn.LSTM, "gru": nn.GRU}
        if cell not in kinds:
            raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}")
        self.rnn = kinds[cell](
            in_features, hidden, num_layers=num_layers, batch_first=True, bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.out_features = 2 * hidden

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None or bool(mask.all()):
            return self.rnn(x)[0]
        lengths = mask.sum(dim=1).clamp(min=1).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out


class SelfAttentionBlock(nn.Module):
    """Multi-head self-attention with a residual connection and LayerNorm, ``(B, T, D)``.

    Padded frames are never attended to (``key_padding_mask``).
    """

    def __init__(self, features: int, *, heads: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        if features % heads:
            raise ValueError(f"features ({features}) must be divisible by heads ({heads})")
        self.attention = nn.MultiheadAttention(features, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(features)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        padding = None if mask is None else ~mask
        h, _ = self.attention(x, x, x, key_padding_mask=padding, need_weights=False)
        return self.norm(x + h)


class FrameHead(nn.Module):
    """Per-frame classifier: optional hidden layers, then ``n_classes`` logits."""

    def __init__(self, in_features: int, n_classes: int, *, hidden: Sequence[int] = (),
                 activation: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(in_features, width), make_activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            in_features = width
        layers.append(nn.Linear(in_features, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def masked_max(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over time of ``(B, T, C)`` ignoring padded frames -> ``(B, C)``."""
    fill = torch.finfo(logits.dtype).min
    return logits.masked_fill(~mask.unsqueeze(-1), fill).amax(dim=1)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over time of ``(B, T, C)`` over real frames only -> ``(B, C)``."""
    weights = mask.unsqueeze(-1).to(values.dtype)
    return (values * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def probability_to_logit(prob: torch.Tensor) -> torch.Tensor:
    """``logit(clamp(p, eps, 1 - eps))``: pooled probabilities as logits for the BCE loss."""
    prob = prob.clamp(PROB_EPS, 1.0 - PROB_EPS)
    return torch.log(prob) - torch.log1p(-prob)


class AttentionPooling(nn.Module):
    """Decision-level attention pooling (Gururani et al. 2019).

    Per class, an attention score ``a_tc = sigmoid(w_c . h_t)`` is normalised over the real
    frames of the sequence and weights the frame probabilities ``sigmoid(frame_tc)``.  The
    pooled value is a probability; it is returned as a logit (clamped, see
    :func:`probability_to_logit`) so every model's ``clip`` output feeds the same loss.
    """

    def __init__(self, in_features: int, n_classes: int) -> None:
        super().__init__()
        self.attention = nn.Linear(in_features, n_classes)

    def forward(self, features: torch.Tensor, frame_logits: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.attention(features).float()) * mask.unsqueeze(-1)
        weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=PROB_EPS)
        prob = (weights * torch.sigmoid(frame_logits.float())).sum(dim=1)
        return probability_to_logit(prob)


class ClipPooling(nn.Module):
    """Clip logits ``(B, C)`` from frame logits ``(B, T, C)``: ``max``, ``mean`` or ``attention``.

    ``mean`` averages frame probabilities and returns the logit of the mean; ``attention``
    uses :class:`AttentionPooling` over the frame features.
    """

    def __init__(self, mode: str, *, in_features: int, n_classes: int) -> None:
        super().__init__()
        if mode not in CLIP_POOLINGS:
            raise ValueError(f"clip pooling must be one of {CLIP_POOLINGS}, got {mode!r}")
        self.mode = mode
        self.attention = AttentionPooling(in_features, n_classes) if mode == "attention" else None

    def forward(self, features: torch.Tensor, frame_logits: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        if self.attention is not None:
            return self.attention(features, frame_logits, mask)
        if self.mode == "max":
            return masked_max(frame_logits, mask)
        return probability_to_logit(masked_mean(torch.sigmoid(frame_logits.float()), mask))


def check_frame_shape(frame_shape: Sequence[int], model: str) -> int:
    """The number of bins of a one-dimensional frame shape, or a clear error."""
    shape = tuple(int(n) for n in frame_shape)
    if len(shape) != 1 or shape[0] <= 0:
        raise ValueError(
            f"model {model!r} takes frames of shape (n_bins,), got {shape}; "
            "use a feature set with one value vector per frame (logmel, scalogram, vggish)"
        )
    return shape[0]


class Standardized(nn.Module):
    """A model whose input is standardised per feature bin: ``(x - mean) / std``.

    ``mean`` and ``std`` are buffers of shape ``frame_shape`` (set from training statistics,
    saved in the checkpoint), so prediction applies exactly the training normalisation.
    """

    def __init__(self, model: nn.Module, *, frame_shape: Sequence[int]) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.zeros(tuple(frame_shape)))
        self.register_buffer("std", torch.ones(tuple(frame_shape)))

    def set_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype))
        self.std.copy_(torch.as_tensor(std, dtype=self.std.dtype).clamp(min=1e-3))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return self.model((x - self.mean) / self.std, mask)
