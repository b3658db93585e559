"""Shared building blocks of every model: conv front ends, recurrent encoders, pooling, heads.

Every block works on frame sequences ``(B, T, D)`` with an optional frame mask ``(B, T)``
(``True`` = a real frame, ``False`` = padding).  Pooling never lets a padded frame count:
masked frames get zero attention weight, are left out of means and can never be the maximum.
Models in :mod:`training.models` are these blocks, configured.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
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


class ConvPairBlock(nn.Module):
    """Two 3x3 Conv2d + BatchNorm + ReLU, then (time, frequency) average pooling and dropout
    (the conv block of PANNs, Kong et al. 2020), keeping padded frames out.

    Input ``(B, in_channels, T, F)`` and a frame mask ``(B, T)`` (None: every frame is real);
    ``T`` must be divisible by ``time_pool``.  Padded frames are set to zero before each
    convolution and before pooling, so they act exactly as the convolutions' own zero padding:
    real frames never see their values.  Returns ``(B, out_channels, T / time_pool,
    F / freq_pool)`` and the pooled mask (a pooled frame is real when any of its frames is).
    """

    def __init__(self, in_channels: int, out_channels: int, *, time_pool: int = 1, freq_pool: int = 2,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(out_channels)
        self.time_pool, self.freq_pool = int(time_pool), int(freq_pool)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        # channels_last weights make the activations channels_last: oneDNN's faster layout
        # (about 1.4x for these convolutions on an AVX-512 CPU; also what CUDA tensor cores prefer)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        def keep_real(h: torch.Tensor) -> torch.Tensor:
            return h if mask is None else torch.where(mask[:, None, :, None], h, 0.0)

        h = torch.relu_(self.norm1(self.conv1(keep_real(x))))
        h = keep_real(torch.relu_(self.norm2(self.conv2(keep_real(h)))))
        if self.time_pool > 1 or self.freq_pool > 1:
            h = F.avg_pool2d(h, (self.time_pool, self.freq_pool))
            if mask is not None:
                b, t = mask.shape
                mask = mask.reshape(b, t // self.time_pool, self.time_pool).any(dim=2)
        return self.dropout(h), mask


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


# Front ends that take log-mel frames (B, T, n_mels) to normalised frames of the same shape.
FRONTENDS = ("none", "pcen", "pcen-multi", "instance", "instance-affine")
# Front ends that read the features as stored (dB), not globally standardised.
RAW_INPUT_FRONTENDS = ("pcen", "pcen-multi")
# The time constants (s) of the smoothers pcen-multi mixes.
PCEN_MULTI_TIME_CONSTANTS = (0.1, 0.4, 1.6, 6.4)
# The stored log-mel: 10 log10(power) floored at -100 dB (features.logmel.LogMelConfig).
DB_FLOOR = -100.0
# 10 ** (dB / 10) overflows float32 above ~385 dB; inputs are clamped below that.
DB_CEILING = 300.0
# The log-mel frame rate (22050 Hz / hop 512), for the default PCEN time constant.
LOGMEL_FRAME_RATE = 22050 / 512


def pcen_smoothing(time_constant: float, frame_rate: float = LOGMEL_FRAME_RATE) -> float:
    """The smoother coefficient ``s`` of a PCEN time constant, as :func:`librosa.pcen` picks it.

    ``s = (sqrt(1 + 4 T^2) - 1) / (2 T^2)`` with ``T = time_constant * frame_rate`` frames
    (0.4 s at 43 frames/s gives s = 0.0564).
    """
    if time_constant <= 0 or frame_rate <= 0:
        raise ValueError(f"time_constant and frame_rate must be positive, got {time_constant}, {frame_rate}")
    frames = time_constant * frame_rate
    return (math.sqrt(1.0 + 4.0 * frames ** 2) - 1.0) / (2.0 * frames ** 2)


def exponential_smoothing(energy: torch.Tensor, s: torch.Tensor, *, chunk: int = 64) -> torch.Tensor:
    """The first-order IIR smoother of PCEN, exactly: ``M_t = (1 - s) M_{t-1} + s E_t``, ``M_{-1} = E_0``.

    The recursion runs over chunks of ``chunk`` frames: inside a chunk it is one product with
    the lower-triangular matrix ``s (1 - s)^(t - k)``, between chunks a carry ``(1 - s)^(t + 1)
    M_end`` (a loop of ``T / chunk`` steps).  This is the recursion rearranged, not an
    approximation; every weight lies in [0, 1], so nothing overflows.  It is causal: frame
    ``t`` depends on frames ``<= t`` only.

    Parameters
    ----------
    energy : torch.Tensor [shape=(B, T, F)]
        Non-negative energies.
    s : torch.Tensor [shape=(F,)]
        Smoother coefficient per band, in (0, 1).
    chunk : int

    Returns
    -------
    torch.Tensor [shape=(B, T, F)]
    """
    b, t, f = energy.shape
    n = -(-t // chunk)
    blocks = F.pad(energy, (0, 0, 0, n * chunk - t)).reshape(b, n, chunk, f)
    log_keep = torch.log1p(-s)  # (F,)
    steps = torch.arange(chunk, device=energy.device, dtype=energy.dtype)
    lag = steps[:, None] - steps[None, :]  # (t, k)
    weights = torch.exp(lag.clamp(min=0)[..., None] * log_keep) * s  # (t, k, F)
    weights = torch.where((lag >= 0)[..., None], weights, 0.0)
    local = torch.einsum("bnkf,tkf->bntf", blocks, weights)
    decay = torch.exp((steps + 1)[:, None] * log_keep)  # (t, F): weight of the previous chunk's end
    carry, out = energy[:, 0], []
    for i in range(n):
        smoothed = local[:, i] + decay * carry[:, None]
        out.append(smoothed)
        carry = smoothed[:, -1]
    return torch.cat(out, dim=1)[:, :t]


def _logit(p: float) -> float:
    return math.log(p) - math.log1p(-p)


class PCEN(nn.Module):
    """Trainable per-channel energy normalisation (Wang et al. 2017; Lostanlen et al. 2019).

    ``PCEN(t, f) = (E / (eps + M)^alpha + delta)^r - delta^r`` with ``E = 10^(x / 10)`` the
    mel power of the stored dB input and ``M`` its exponential smoothing over time
    (:func:`exponential_smoothing`, the exact IIR recursion, started at ``M_0 = E_0``).
    ``alpha``, ``delta``, ``r`` and the smoother ``s`` are learned per band, parametrised so
    they stay valid: ``alpha = sigmoid(.)`` in (0, 1), ``delta = exp(.)`` > 0, ``r = sigmoid(.)``
    in (0, 1), ``s = sigmoid(.)`` clamped to [1e-4, 0.999].  The defaults are
    :func:`librosa.pcen`'s (gain 0.98, bias 2, power 0.5, time constant 0.4 s, eps 1e-6),
    computed in the same log-space form; it runs in float32 even under autocast.

    With several smoother coefficients ``s`` (e.g. time constants 0.1 - 6.4 s), ``M`` is a
    learned per-band convex mix of one smoother per coefficient (softmax weights, uniform at
    first), as in Wang et al.'s multi-rate PCEN: the model picks per band how fast the gain
    control adapts, i.e. how much sustained level it normalises away.

    The input must be the features as stored in dB (the ``logmel`` feature sets, ``scale='db'``;
    not VGGish's ``log(mel + 0.01)``), not standardised: models with this front end declare
    ``raw_input = True`` and :class:`Standardized` keeps identity statistics.
    Padded frames are replaced by the dB floor before the smoother, which is causal, so they
    never reach a real frame; their outputs are zero.

    Parameters
    ----------
    n_bins : int
    alpha, delta, r, eps : float
        Initial values (``eps`` is fixed).
    s : float or sequence of float
        Initial smoother coefficient(s), each in (0, 1).
    trainable : bool
        False freezes every parameter (fixed PCEN).
    """

    raw_input = True

    def __init__(self, n_bins: int, *, alpha: float = 0.98, delta: float = 2.0, r: float = 0.5,
                 s: float | Sequence[float] = pcen_smoothing(0.4), eps: float = 1e-6,
                 trainable: bool = True) -> None:
        super().__init__()
        coefficients = (float(s),) if isinstance(s, (int, float)) else tuple(float(v) for v in s)
        if not (0 < alpha < 1 and delta > 0 and 0 < r < 1 and eps > 0 and coefficients
                and all(0 < v < 1 for v in coefficients)):
            raise ValueError(f"PCEN needs 0 < alpha < 1, delta > 0, 0 < r < 1, 0 < s < 1 and eps > 0, "
                             f"got alpha={alpha}, delta={delta}, r={r}, s={s}, eps={eps}")
        self.eps = float(eps)

        def parameter(values: torch.Tensor) -> nn.Parameter:
            return nn.Parameter(values, requires_grad=trainable)

        self.alpha_logit = parameter(torch.full((n_bins,), _logit(alpha)))
        self.log_delta = parameter(torch.full((n_bins,), math.log(delta)))
        self.r_logit = parameter(torch.full((n_bins,), _logit(r)))
        self.s_logit = parameter(torch.tensor([_logit(v) for v in coefficients])[:, None].repeat(1, n_bins))
        self.mix_logit = parameter(torch.zeros(len(coefficients), n_bins)) if len(coefficients) > 1 else None

    def values(self) -> dict[str, torch.Tensor]:
        """The current ``alpha``, ``delta``, ``r`` (each ``(n_bins,)``), smoother coefficients
        ``s`` and their mixing weights ``mix`` (each ``(n_smoothers, n_bins)``)."""
        s = torch.sigmoid(self.s_logit).clamp(1e-4, 0.999)
        mix = torch.ones_like(s) if self.mix_logit is None else torch.softmax(self.mix_logit, dim=0)
        return {"alpha": torch.sigmoid(self.alpha_logit), "delta": torch.exp(self.log_delta),
                "r": torch.sigmoid(self.r_logit), "s": s, "mix": mix}

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()
            if mask is not None:
                x = torch.where(mask.unsqueeze(-1), x, DB_FLOOR)
            energy = torch.exp(x.clamp(max=DB_CEILING) * (math.log(10.0) / 10.0))
            v = self.values()
            k, f = v["s"].shape
            smoothed = exponential_smoothing(energy.repeat(1, 1, k), v["s"].reshape(k * f))
            smoothed = (smoothed.unflatten(2, (k, f)) * v["mix"]).sum(dim=2)
            gain = torch.exp(-v["alpha"] * (math.log(self.eps) + torch.log1p(smoothed / self.eps)))
            out = v["delta"] ** v["r"] * torch.expm1(v["r"] * torch.log1p(energy * gain / v["delta"]))
            if mask is not None:
                out = torch.where(mask.unsqueeze(-1), out, 0.0)
        return out


class InstanceNorm(nn.Module):
    """Per-example, per-bin normalisation over the real frames: ``(x - mean_t) / sqrt(var_t + eps)``.

    Removes each example's fixed per-band level (its channel or timbre colouring), as instance
    normalisation does in domain-generalisation work on acoustic scenes.  Means and (biased)
    variances are taken over the real frames only; padded frames come out as zero.  With
    ``affine=True`` a learned per-bin scale and shift follow.  Input and output ``(B, T, F)``.
    """

    raw_input = False

    def __init__(self, n_bins: int, *, affine: bool = False, eps: float = 1e-5) -> None:
        super().__init__()
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.eps = float(eps)
        self.weight = nn.Parameter(torch.ones(n_bins)) if affine else None
        self.bias = nn.Parameter(torch.zeros(n_bins)) if affine else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        real = (full_mask(x) if mask is None else mask).unsqueeze(-1)
        count = real.sum(dim=1, keepdim=True).clamp(min=1).to(x.dtype)
        x = torch.where(real, x, 0.0)
        mean = x.sum(dim=1, keepdim=True) / count
        centred = torch.where(real, x - mean, 0.0)
        var = (centred ** 2).sum(dim=1, keepdim=True) / count
        out = centred * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            out = torch.where(real, out * self.weight + self.bias, 0.0)
        return out


def make_frontend(name: str, *, n_bins: int) -> nn.Module | None:
    """The log-mel front end called ``name`` (one of :data:`FRONTENDS`); None for ``none``.

    ``pcen``: :class:`PCEN` as librosa defines it (one smoother, 0.4 s); ``pcen-multi``: PCEN
    with a learned per-band mix of smoothers at :data:`PCEN_MULTI_TIME_CONSTANTS`;
    ``instance`` / ``instance-affine``: :class:`InstanceNorm` without / with a learned per-bin
    affine.  A front end maps ``(x [B, T, F], mask [B, T])`` to ``(B, T, F)``; the PCEN ones
    want the stored dB input (see :data:`RAW_INPUT_FRONTENDS`).
    """
    if name == "none":
        return None
    if name == "pcen":
        return PCEN(n_bins)
    if name == "pcen-multi":
        return PCEN(n_bins, s=[pcen_smoothing(t) for t in PCEN_MULTI_TIME_CONSTANTS])
    if name in ("instance", "instance-affine"):
        return InstanceNorm(n_bins, affine=name == "instance-affine")
    raise ValueError(f"unknown frontend {name!r}; expected one of {', '.join(FRONTENDS)}")


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
    saved in the checkpoint), so prediction applies exactly the training normalisation.  A
    model that declares ``raw_input = True`` keeps mean 0 and std 1 (see :attr:`uses_statistics`).
    """

    def __init__(self, model: nn.Module, *, frame_shape: Sequence[int]) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.zeros(tuple(frame_shape)))
        self.register_buffer("std", torch.ones(tuple(frame_shape)))

    @property
    def uses_statistics(self) -> bool:
        """False when the wrapped model reads the features as stored (it declares
        ``raw_input = True``, as models with a ``pcen`` front end do): mean and std stay 0 and 1."""
        return not getattr(self.model, "raw_input", False)

    def set_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        if not self.uses_statistics:
            raise ValueError("this model reads the features as stored (raw_input): "
                             "leave its statistics at mean 0, std 1")
        self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype))
        self.std.copy_(torch.as_tensor(std, dtype=self.std.dtype).clamp(min=1e-3))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return self.model((x - self.mean) / self.std, mask)
