"""musicnn (Pons & Serra 2019) in PyTorch: its log-mel input, the networks, the embedding config.

Input, as the released ``musicnn.extractor.batch_data``: 16 kHz mono audio; librosa's power
mel spectrogram (``n_fft`` 512 with a periodic Hann window, hop 256, centred frames, 96 Slaney
mel bands 0-8 kHz, Slaney area normalisation); the mel power rounded to float16 (the release
stores it so), then ``log10(1 + 10000 x)`` in float32; patches of 187 frames (2.99 s).
Centring pads with zeros, as librosa >= 0.10 does (0.7, current in 2019, reflected: the first
and last 256 samples differ).  The 2019 code ran with NumPy < 1.17, where ``10000 * x16``
promotes to float32; NumPy 2 keeps float16 and overflows above ``x = 6.55``, so the
compression here is written in float32 explicitly.

Networks (``musicnn/models.py``; weights in :mod:`features.musicnn_weights`):

* :class:`Musicnn`: batch-normalised input; front end of musically motivated filters, timbral
  (7 x 38 and 7 x 67 over time x mel, 204 each) and temporal (128, 64 and 32 frames x 1 band,
  51 each), each ReLU - BN - max over frequency (561 channels); mid-end of three 7-frame
  convolutions (64, ReLU - BN; the 2nd and 3rd residual) densely concatenated to 753 channels;
  back end: max and mean over time (753 each, interleaved as TF flattens them), BN, dense 200
  ReLU - BN ("penultimate"), dense 50 (tag logits; ``taggram`` = sigmoid).
* :class:`MusicnnVGG`: the VGG-like baseline, BN input then five 3 x 3 convolutions of 128
  (ReLU - BN - max-pool 4x1/2, 2x2, 2x2, 2x2, 4x4), pool5 flattened to 256, dense 50.

BatchNorm uses TF's epsilon 1e-3 and inference statistics.  Outputs are dicts keyed by the
names the release's ``extractor()`` returns (``timbral``, ``temporal``, ``cnn1``...).

Grid (:class:`MusicnnConfig`): with ``hop_frames`` ``h``, store frame ``i`` covers samples
``[256 h i, 256 h (i + 1))`` (``FrameGrid(16000, 256 h, centered=False, min_frames=1)``) and
holds the embedding of the 187-frame patch starting at mel frame ``h i + h // 2 - 93``, the
patch centred on the store frame (mel frames outside the song are computed from zeros, so
chunked extraction equals whole-song extraction).  ``h = 187`` (default) is musicnn's own
tiling (patch ``i`` = frames ``187 i ..``, non-overlapping); a smaller ``h`` gives a denser grid
of overlapping patches at ``187 / h`` times the cost.  A song shorter than one patch
(< 186 hops) is one patch repeat-padded as musicnn's training did (``pad_short: repeat-pad``,
its mel frames tiled and cropped to 187), held on each of its store frames.

References
----------
J. Pons and X. Serra, "musicnn: pre-trained convolutional neural networks for music audio
tagging", ISMIR 2019 late-breaking/demo.  J. Pons et al., "End-to-end learning for music
audio tagging at scale", ISMIR 2018.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass
from typing import Literal

import librosa
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from features.grid import FrameGrid
from features.musicnn_weights import (
    CHECKPOINTS,
    LAYERS,
    MODEL_NAMES,
    PATCH_FRAMES,
    MusicnnCheckpoint,
    MusicnnWeightsError,
    architecture,
    labels_of,
)

SR = 16000
N_FFT = 512
HOP_LENGTH = 256
N_MELS = 96
BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization's default
BATCH_PATCHES = 4  # patches per forward pass (the 7x38 front end holds ~9 MB per patch; 4 ran fastest on a CPU)


def musicnn_mel_basis() -> np.ndarray:
    """librosa's default mel filterbank for musicnn, ``[shape=(96, 257)]`` float32.

    Building it takes ~0.1 s: callers that compute many blocks build it once and pass it to
    :func:`musicnn_log_mel` (``MusicnnConfig`` keeps one per configuration object).
    """
    return librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS).astype(np.float32)


def musicnn_log_mel(
    y: np.ndarray, *, start: int = 0, n_frames: int | None = None, mel_basis: np.ndarray | None = None
) -> np.ndarray:
    """musicnn's input frames: float16-rounded mel power, ``log10(1 + 10000 x)``.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Mono audio at 16 kHz.
    start : int
        First frame; frame ``j`` is the 512-sample window centred on sample ``256 j`` (may be
        negative: samples outside ``y`` are zeros).
    n_frames : int, optional
        Frames to compute (default: up to librosa's last, ``1 + n_samples // 256``).
    mel_basis : np.ndarray [shape=(96, 257)], optional
        :func:`musicnn_mel_basis`, when the caller already has it.

    Returns
    -------
    log_mel : np.ndarray [shape=(n_frames, 96), dtype=float32]
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n_samples,), got shape {y.shape}")
    if n_frames is None:
        n_frames = 1 + len(y) // HOP_LENGTH - start
    if n_frames <= 0:
        return np.zeros((0, N_MELS), dtype=np.float32)
    lo = start * HOP_LENGTH - N_FFT // 2
    hi = (start + n_frames - 1) * HOP_LENGTH + N_FFT // 2
    buf = np.zeros(hi - lo, dtype=np.float32)
    src_lo, src_hi = max(lo, 0), min(hi, len(y))
    if src_hi > src_lo:
        buf[src_lo - lo : src_hi - lo] = y[src_lo:src_hi]
    frames = np.lib.stride_tricks.as_strided(
        buf, shape=(n_frames, N_FFT), strides=(buf.strides[0] * HOP_LENGTH, buf.strides[0]), writeable=False
    )
    window = librosa.filters.get_window("hann", N_FFT, fftbins=True).astype(np.float32)
    power = np.abs(np.fft.rfft(frames * window, axis=1).astype(np.complex64)) ** 2
    mel = power @ (musicnn_mel_basis() if mel_basis is None else mel_basis).T
    mel = mel.astype(np.float16).astype(np.float32)  # the release rounds the mel power to float16
    return np.log10(np.float32(1.0) + np.float32(10000.0) * mel)


def repeat_pad(log_mel: np.ndarray, n_frames: int = PATCH_FRAMES) -> np.ndarray:
    """musicnn's ``repeat-pad``: tile frames ``[shape=(n, 96)]``, ``0 < n``, and keep ``n_frames``."""
    if len(log_mel) == 0:
        raise ValueError("cannot repeat-pad an empty spectrogram")
    reps = -(-n_frames // len(log_mel))
    return np.tile(log_mel, (reps, 1))[:n_frames]


def bn_relu_max(z: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    """``max over mel of BN(ReLU(z))`` for ``z`` of shape ``(B, C, T, n_mels)``, in inference mode.

    Inference BN is ``a x + c`` per channel and ReLU is monotone, so the maximum is
    ``a ReLU(max z) + c`` where ``a >= 0`` and ``a ReLU(min z) + c`` where ``a < 0``: one pass
    over the feature map (``aminmax``) instead of three.  In training mode (batch statistics)
    the plain composition is used.
    """
    if bn.training:
        return bn(F.relu(z)).amax(dim=3)
    low, high = torch.aminmax(z, dim=3)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - scale * bn.running_mean
    scale, shift = scale[:, None], shift[:, None]
    return torch.where(scale >= 0, scale * F.relu(high), scale * F.relu(low)) + shift


class TimbralBlock(nn.Module):
    """Conv over (time, mel) with a filter spanning part of the mel axis, ReLU, BN, max over mel."""

    def __init__(self, filters: int, kernel: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, filters, kernel_size=kernel)
        self.bn = nn.BatchNorm2d(filters, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, T + 6, 96)`` time-padded input -> ``(B, filters, T)``."""
        return bn_relu_max(self.conv(x), self.bn)


class TemporalBlock(nn.Module):
    """Conv over time only (``k`` frames x 1 band, TF 'same' padding), ReLU, BN, max over mel."""

    def __init__(self, filters: int, length: int) -> None:
        super().__init__()
        self.length = length
        self.conv = nn.Conv2d(1, filters, kernel_size=(length, 1))
        self.bn = nn.BatchNorm2d(filters, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, T, 96)`` -> ``(B, filters, T)``."""
        pad = self.length - 1  # TF 'same': the odd one out goes after
        x = F.pad(x, (0, 0, pad // 2, pad - pad // 2))
        return bn_relu_max(self.conv(x), self.bn)


class MidendBlock(nn.Module):
    """A 7-frame convolution across all channels, ReLU, BN."""

    def __init__(self, in_channels: int, filters: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, filters, kernel_size=7, padding=3)
        self.bn = nn.BatchNorm1d(filters, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(F.relu(self.conv(x)))


class Musicnn(nn.Module):
    """musicnn (``MTT_musicnn`` / ``MSD_musicnn``).

    ``forward(x)`` with ``x`` of shape ``(B, T, 96)`` returns ``timbral (B, T, 408)``,
    ``temporal (B, T, 153)``, ``cnn1``, ``cnn2``, ``cnn3 (B, T, 64)``, ``mean_pool``,
    ``max_pool (B, 753)``, ``penultimate (B, 200)``, ``logits`` and ``taggram (B, 50)``; with
    ``up_to="pool"`` it stops after the pooled features (no back-end dense layers).
    """

    def __init__(self, *, n_classes: int = 50, midend_filters: int = 64, backend_units: int = 200) -> None:
        super().__init__()
        self.input_bn = nn.BatchNorm2d(1, eps=BN_EPS)
        self.timbral = nn.ModuleList([TimbralBlock(204, (7, int(0.4 * N_MELS))), TimbralBlock(204, (7, int(0.7 * N_MELS)))])
        self.temporal = nn.ModuleList([TemporalBlock(51, n) for n in (128, 64, 32)])
        front = 2 * 204 + 3 * 51
        self.midend = nn.ModuleList([
            MidendBlock(front, midend_filters), MidendBlock(midend_filters, midend_filters),
            MidendBlock(midend_filters, midend_filters),
        ])
        pooled = 2 * (front + 3 * midend_filters)
        self.pool_bn = nn.BatchNorm1d(pooled, eps=BN_EPS)
        self.dense = nn.Linear(pooled, backend_units)
        self.dense_bn = nn.BatchNorm1d(backend_units, eps=BN_EPS)
        self.classifier = nn.Linear(backend_units, n_classes)

    def forward(self, x: torch.Tensor, *, up_to: Literal["all", "pool"] = "all") -> dict[str, torch.Tensor]:
        x = self.input_bn(x.unsqueeze(1))  # (B, 1, T, 96)
        padded = F.pad(x, (0, 0, 3, 3))
        timbral = [block(padded) for block in self.timbral]  # (B, 204, T) each
        temporal = [block(x) for block in self.temporal]  # (B, 51, T) each
        front = torch.cat(timbral + temporal, dim=1)  # (B, 561, T)
        cnn1 = self.midend[0](front)
        cnn2 = self.midend[1](cnn1) + cnn1
        cnn3 = self.midend[2](cnn2) + cnn2
        features = torch.cat([front, cnn1, cnn2, cnn3], dim=1)  # (B, 753, T)
        max_pool, mean_pool = features.amax(dim=2), features.mean(dim=2)
        out = {
            "timbral": torch.cat(timbral, dim=1).transpose(1, 2), "temporal": torch.cat(temporal, dim=1).transpose(1, 2),
            "cnn1": cnn1.transpose(1, 2), "cnn2": cnn2.transpose(1, 2), "cnn3": cnn3.transpose(1, 2),
            "max_pool": max_pool, "mean_pool": mean_pool,
        }
        if up_to == "pool":
            return out
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # TF's (753, 2) flatten order
        penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(pooled))))
        logits = self.classifier(penultimate)
        return out | {"penultimate": penultimate, "logits": logits, "taggram": torch.sigmoid(logits)}


class VGGBlock(nn.Module):
    def __init__(self, in_channels: int, filters: int, pool: tuple[int, int], stride: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, filters, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(filters, eps=BN_EPS)
        self.pool = nn.MaxPool2d(kernel_size=pool, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.bn(F.relu(self.conv(x))))


class MusicnnVGG(nn.Module):
    """musicnn's VGG-like baseline (``MTT_vgg`` / ``MSD_vgg``), for 187-frame patches only.

    ``forward(x)``, ``x`` of shape ``(B, 187, 96)``, returns ``pool1`` ... ``pool5`` in TF's
    ``(B, time, mel, 128)`` layout, ``pool5_flat (B, 256)``, ``logits`` and ``taggram (B, 50)``.
    """

    POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))

    def __init__(self, *, n_classes: int = 50, filters: int = 128) -> None:
        super().__init__()
        self.input_bn = nn.BatchNorm2d(1, eps=BN_EPS)
        self.blocks = nn.ModuleList(
            [VGGBlock(1 if i == 0 else filters, filters, pool, stride) for i, (pool, stride) in enumerate(self.POOLS)]
        )
        self.classifier = nn.Linear(filters * 2 * 1, n_classes)

    def forward(self, x: torch.Tensor, *, up_to: Literal["all", "pool"] = "all") -> dict[str, torch.Tensor]:
        x = self.input_bn(x.unsqueeze(1))
        out: dict[str, torch.Tensor] = {}
        for i, block in enumerate(self.blocks):
            x = block(x)
            out[f"pool{i + 1}"] = x.permute(0, 2, 3, 1)  # TF's NHWC
        out["pool5_flat"] = out["pool5"].flatten(1)
        if up_to == "pool":
            return out
        logits = self.classifier(out["pool5_flat"])
        return out | {"logits": logits, "taggram": torch.sigmoid(logits)}


def build_network(model: str) -> Musicnn | MusicnnVGG:
    """An untrained network of ``model``'s architecture (load a checkpoint's state dict into it)."""
    if model not in CHECKPOINTS:
        raise ValueError(f"unknown musicnn model {model!r}; choose one of {', '.join(MODEL_NAMES)}")
    return MusicnnVGG() if model.endswith("_vgg") else Musicnn()


def loaded_network(checkpoint: MusicnnCheckpoint) -> Musicnn | MusicnnVGG:
    """The network of ``checkpoint`` with its weights, in eval mode on the CPU."""
    network = build_network(checkpoint.model)
    network.load_state_dict(checkpoint.state_dict)
    return network.eval()


@dataclass(frozen=True)
class MusicnnConfig:
    """Embeddings of a musicnn model, one per store frame.

    Parameters
    ----------
    model : {"MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg"}
        Architecture and training set (MagnaTagATune or Million Song Dataset tags).
    layer : str
        What is stored: musicnn ``max_pool`` / ``mean_pool`` (753, temporal pooling of the
        front- and mid-end), ``penultimate`` (200) or ``taggram`` (50 tag probabilities); VGG
        ``pool5`` (256) or ``taggram``.
    hop_frames : int
        Mel frames (16 ms) between store frames, 1..187; 187 is musicnn's own 2.99 s tiling.
    pad_short : {"repeat-pad"}
        What happens to songs shorter than one patch (recorded in the store's parameters).
    weights_sha256 : str
        sha256 of the checkpoint's data file, the identity of the weights; set from the model
        (a value naming another file is an error).
    checkpoint : MusicnnCheckpoint, init-only
        The weights (``pipeline.musicnn_options`` reads and checks the files).  Not a field:
        a config rebuilt from stored parameters has the hash but no weights.  The tensors
        (3 MB) pickle with the configuration, so Dask workers need no copy of the files.
    """

    name: str = "musicnn"
    sr: int = SR
    model: str = "MTT_musicnn"
    layer: str = "max_pool"
    hop_frames: int = PATCH_FRAMES
    pad_short: str = "repeat-pad"
    weights_sha256: str = ""
    checkpoint: InitVar[MusicnnCheckpoint | None] = None

    def __post_init__(self, checkpoint: MusicnnCheckpoint | None) -> None:
        if self.sr != SR:
            raise ValueError(f"musicnn works on 16 kHz audio, got sr={self.sr}")
        if self.model not in CHECKPOINTS:
            raise ValueError(f"unknown musicnn model {self.model!r}; choose one of {', '.join(MODEL_NAMES)}")
        layers = LAYERS[architecture(self.model)]
        if self.layer not in layers:
            raise ValueError(f"{self.model} has no layer {self.layer!r}; choose one of {', '.join(layers)}")
        if not 1 <= self.hop_frames <= PATCH_FRAMES:
            raise ValueError(f"hop_frames must be 1..{PATCH_FRAMES} mel frames, got {self.hop_frames}")
        if self.pad_short != "repeat-pad":
            raise ValueError(f"pad_short must be 'repeat-pad' (musicnn's), got {self.pad_short!r}")
        expected = CHECKPOINTS[self.model].data_sha256
        if self.weights_sha256 and self.weights_sha256 != expected:
            raise MusicnnWeightsError(
                f"weights_sha256 {self.weights_sha256} is not musicnn 0.1.0's {self.model} checkpoint ({expected})"
            )
        object.__setattr__(self, "weights_sha256", expected)
        if checkpoint is not None and (checkpoint.model != self.model or checkpoint.sha256 != expected):
            raise MusicnnWeightsError(
                f"{checkpoint.source}: a {checkpoint.model} checkpoint (sha256 {checkpoint.sha256[:12]}...) given "
                f"for model {self.model} ({expected[:12]}...)"
            )
        # not dataclass fields: invisible to config_params, config_hash, ==, hash and repr
        object.__setattr__(self, "_checkpoint", checkpoint)
        object.__setattr__(self, "_networks", {})
        object.__setattr__(self, "_mel_basis", None)

    def __getstate__(self) -> dict:
        return dict(self.__dict__, _networks={})  # the tensors (and filterbank) travel, the built modules do not

    def mel_basis(self) -> np.ndarray:
        """The front end's filterbank, built once per configuration object."""
        if self._mel_basis is None:
            object.__setattr__(self, "_mel_basis", musicnn_mel_basis())
        return self._mel_basis

    @property
    def grid(self) -> FrameGrid:
        return FrameGrid(sr=self.sr, hop_length=self.hop_frames * HOP_LENGTH, centered=False, min_frames=1)

    @property
    def patch_offset(self) -> int:
        """First mel frame of store frame 0's patch (``h // 2 - 93``; 0 for ``h = 187``)."""
        return self.hop_frames // 2 - PATCH_FRAMES // 2

    @property
    def context_samples(self) -> int:
        """Samples a store frame's patch reaches outside the frame, on the wider side."""
        left = HOP_LENGTH * (1 - self.patch_offset)
        right = HOP_LENGTH * (self.patch_offset + PATCH_FRAMES - self.hop_frames)
        return max(left, right, 0)

    @property
    def labels(self) -> tuple[str, ...]:
        """The tags of the ``taggram`` layer."""
        return labels_of(self.model)

    def frame_shape(self) -> tuple[int, ...]:
        return (LAYERS[architecture(self.model)][self.layer],)

    def track_notes(self, n_samples: int) -> tuple[str, ...]:
        """Says when a song is shorter than one patch and so repeat-padded (kept in the store)."""
        if 0 < n_samples and 1 + n_samples // HOP_LENGTH < PATCH_FRAMES:
            return (
                f"{n_samples / self.sr:.2f} s is shorter than one musicnn patch ({PATCH_FRAMES} frames, "
                f"{PATCH_FRAMES * HOP_LENGTH / self.sr:.2f} s): {self.name} repeat-padded it as musicnn does",
            )
        return ()

    def has_weights(self) -> bool:
        return self._checkpoint is not None

    def network(self, device: torch.device | str = "cpu") -> Musicnn | MusicnnVGG:
        """The network on ``device``, built once per device and configuration object."""
        if self._checkpoint is None:
            raise MusicnnWeightsError(
                f"this musicnn configuration ({self.model}, sha256 {self.weights_sha256[:12]}...) has no weights "
                "loaded: build it with pipeline.musicnn_options.musicnn_config() (or checkpoint=...)"
            )
        key = str(device)
        if key not in self._networks:
            self._networks[key] = loaded_network(self._checkpoint).to(device)
        return self._networks[key]

    def compute(self, y: np.ndarray) -> np.ndarray:
        """Embeddings ``[shape=(grid.n_frames(n_samples), frame_shape[0])]`` float32 of 16 kHz mono audio."""
        return self.embed(y)

    def embed(self, y: np.ndarray, *, device: torch.device | str = "cpu", batch_patches: int = BATCH_PATCHES) -> np.ndarray:
        y = np.asarray(y, dtype=np.float32)
        n_frames = self.grid.n_frames(len(y))
        network = self.network(device)
        out = np.zeros((n_frames, *self.frame_shape()), dtype=np.float32)
        if n_frames == 0:
            return out
        if 1 + len(y) // HOP_LENGTH < PATCH_FRAMES:  # shorter than one patch: musicnn's repeat-pad
            patch = repeat_pad(musicnn_log_mel(y, mel_basis=self.mel_basis()))[None]
            out[:] = self._run(network, patch, device)
            return out
        for f0 in range(0, n_frames, batch_patches):
            f1 = min(f0 + batch_patches, n_frames)
            out[f0:f1] = self._run(network, self.patches(y, f0, f1), device)
        return out

    def patches(self, y: np.ndarray, f0: int, f1: int) -> np.ndarray:
        """The input patches of store frames ``f0 .. f1 - 1``, ``[shape=(f1 - f0, 187, 96)]`` float32."""
        start = self.hop_frames * f0 + self.patch_offset
        log_mel = musicnn_log_mel(y, start=start, n_frames=(f1 - f0 - 1) * self.hop_frames + PATCH_FRAMES,
                                  mel_basis=self.mel_basis())
        return np.lib.stride_tricks.as_strided(
            log_mel, shape=(f1 - f0, PATCH_FRAMES, N_MELS),
            strides=(log_mel.strides[0] * self.hop_frames, *log_mel.strides), writeable=False,
        ).copy()

    def _run(self, network: nn.Module, patches: np.ndarray, device: torch.device | str) -> np.ndarray:
        layer = "pool5_flat" if self.layer == "pool5" else self.layer
        up_to = "pool" if layer in ("max_pool", "mean_pool", "pool5_flat") else "all"
        with torch.inference_mode():
            out = network(torch.from_numpy(patches).to(device), up_to=up_to)
        return out[layer].float().cpu().numpy()
