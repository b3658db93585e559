"""VGGish (Hershey et al. 2017) in torch: its log-mel front end, the network, the embedding config.

Front end, as the official ``vggish_input``: audio at 16 kHz is cut into frames of 400 samples
(25 ms) every 160 samples (10 ms) *without* centring, windowed by a periodic Hann window, the
magnitude of a 512-point FFT is mapped to 64 HTK mel bands 125-7500 Hz (triangles in the mel
domain, peak 1, no area normalisation, DC bin zeroed), then ``log(mel + 0.01)``; examples are
96 consecutive frames every 96 frames (0.96 s).  The parameters come from
:meth:`features.logmel.LogMelConfig.vggish`; its *framing* is not reused because librosa's
``center=True`` framing and Slaney-normalised, Hz-domain mel triangles differ from VGGish's.

:class:`VGGishInputConfig` (feature set ``vggish-input``) stores these log-mel frames themselves on
their 10 ms grid, for ``pretrain-embedding``: cutting them into 96-frame blocks gives exactly
the examples the network sees at extraction.

Grid: example ``i`` covers samples ``[15360 i, 15360 i + 15600)``; the store's grid is
``FrameGrid(16000, 15360, centered=False)`` (``n_samples // 15360`` examples, centre
``15360 i + 7680``).  Deviation from the official code: when fewer than 240 samples follow the
last whole 0.96 s span, the official code drops that example; we zero-pad the missing tail of
its last STFT frame so the count follows the grid.  The embedding's true centre is 7.5 ms
later than the grid's.

Network: conv 3x3 64 - pool - 128 - pool - 256, 256 - pool - 512, 512 - pool (ReLU after each
conv, 2x2 max-pooling), then fully connected 12288-4096-4096-128 with ReLU; the flatten is in
(height, width, channel) order as in the TensorFlow original so torchvggish weights apply.
72,141,184 parameters.

References
----------
S. Hershey et al., "CNN architectures for large-scale audio classification", ICASSP 2017.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import InitVar, dataclass, field
from typing import Callable, Literal

import numpy as np
import torch
from torch import nn

from core.device import resolve_device
from core.errors import DeviceError
from features.base import OMIT_AT_DEFAULT
from features.grid import FrameGrid
from features.logmel import LogMelConfig
from features.vggish_weights import (
    EMBEDDING_SIZE,
    PROCESS_CHECKPOINTS,
    PCAParams,
    ReopenableSource,
    Source,
    VGGishCheckpoint,
    VGGishWeightsError,
    dequantize,
    load_pca_params,
    load_vggish_checkpoint,
    postprocess,
    reopenable,
)

EXAMPLE_FRAMES = 96  # frames per example (0.96 s)
# Examples per forward pass.  On a CPU the first conv block's activations of 256 examples are
# ~400 MB for no speed gain over 64 (measured: 63x vs 59x realtime, peak RSS 1,375 vs 882 MiB).
BATCH_EXAMPLES = {"cuda": 256, "cpu": 64}
PRECISIONS = ("float32", "bfloat16", "int8")
Precision = Literal["float32", "bfloat16", "int8"]


def vggish_mel_matrix(
    *, sr: int = 16000, n_fft: int = 512, n_mels: int = 64, fmin: float = 125.0, fmax: float = 7500.0
) -> np.ndarray:
    """VGGish's mel weights: HTK mel, triangles in the mel domain, DC bin zeroed.

    Returns
    -------
    weights : np.ndarray [shape=(1 + n_fft // 2, n_mels), dtype=float64]
        ``mel = spectrogram @ weights``.
    """
    if not 0 <= fmin < fmax <= sr / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= sr/2, got fmin={fmin}, fmax={fmax}, sr={sr}")

    def hz_to_mel(f):
        return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)

    bins_mel = hz_to_mel(np.linspace(0.0, sr / 2, n_fft // 2 + 1))
    edges = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (centre - lower)
    falling = (upper - bins_mel[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights


def vggish_examples(y: np.ndarray, *, config: LogMelConfig = LogMelConfig.vggish()) -> np.ndarray:
    """Log-mel examples as VGGish's input.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Mono audio at 16 kHz.
    config : LogMelConfig
        The VGGish preset (window 400, hop 160, n_fft 512, 64 mels 125-7500 Hz, offset 0.01).

    Returns
    -------
    examples : np.ndarray [shape=(n_samples // (96 * hop_length), 96, n_mels), dtype=float32]
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n_samples,), got shape {y.shape}")
    n_examples = len(y) // (EXAMPLE_FRAMES * config.hop_length)
    log_mel = vggish_log_mel(y, n_frames=n_examples * EXAMPLE_FRAMES, config=config)
    return log_mel.reshape(n_examples, EXAMPLE_FRAMES, config.n_mels)


def vggish_log_mel(
    y: np.ndarray, *, n_frames: int | None = None, config: LogMelConfig = LogMelConfig.vggish()
) -> np.ndarray:
    """VGGish's log-mel frames (its input before cutting into examples).

    Frame ``j`` is the 400-sample window starting at sample ``160 j``; a window reaching past
    the end of ``y`` is zero-padded (see the module docstring).

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Mono audio at 16 kHz.
    n_frames : int, optional
        Frames to compute (default ``n_samples // hop_length``, the grid of
        :class:`VGGishInputConfig`).
    config : LogMelConfig
        The VGGish preset.

    Returns
    -------
    log_mel : np.ndarray [shape=(n_frames, n_mels), dtype=float32]
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n_samples,), got shape {y.shape}")
    win, hop = config.win_length or config.n_fft, config.hop_length
    n_frames = len(y) // hop if n_frames is None else n_frames
    if n_frames <= 0:
        return np.zeros((0, config.n_mels), dtype=np.float32)
    needed = (n_frames - 1) * hop + win
    if len(y) < needed:  # see the module docstring: zero-pad the last frame's tail
        y = np.concatenate([y, np.zeros(needed - len(y), dtype=np.float32)])
    frames = np.lib.stride_tricks.as_strided(
        y, shape=(n_frames, win), strides=(y.strides[0] * hop, y.strides[0]), writeable=False
    )
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)).astype(np.float32)  # periodic
    spectrogram = np.abs(np.fft.rfft(frames * window, n=config.n_fft))
    mel = spectrogram @ vggish_mel_matrix(
        sr=config.sr, n_fft=config.n_fft, n_mels=config.n_mels, fmin=config.fmin,
        fmax=config.fmax or config.sr / 2,
    )
    return np.log(mel + config.log_offset).astype(np.float32)


@dataclass(frozen=True)
class VGGishInputConfig:
    """VGGish's own log-mel input frames (10 ms grid, not centred), for denoising pre-training.

    ``examples = frames[96 i : 96 i + 96]`` equals :func:`vggish_examples` exactly, so an
    encoder pre-trained on these frames sees at extraction what it saw in training (the
    ``logmel-vggish`` preset uses librosa's centred framing and Hz-domain triangles instead).
    """

    name: str = "vggish-input"
    sr: int = 16000

    def __post_init__(self) -> None:
        if self.sr != 16000:
            raise ValueError(f"VGGish input works on 16 kHz audio, got sr={self.sr}")

    @property
    def grid(self) -> FrameGrid:
        return FrameGrid(sr=self.sr, hop_length=LogMelConfig.vggish().hop_length, centered=False)

    @property
    def context_samples(self) -> int:
        front_end = LogMelConfig.vggish()
        return (front_end.win_length or front_end.n_fft) - front_end.hop_length

    def frame_shape(self) -> tuple[int, ...]:
        return (LogMelConfig.vggish().n_mels,)

    def bin_frequencies(self) -> np.ndarray:
        """Centre frequency of each of the 64 HTK mel bands in Hz (125-7500 Hz), ``[shape=(64,)]``."""
        return LogMelConfig.vggish().bin_frequencies()

    def compute(self, y: np.ndarray) -> np.ndarray:
        """Frames ``[shape=(n_samples // 160, 64)]`` float32."""
        return vggish_log_mel(y)


class VGGish(nn.Module):
    """The VGGish network; parameter names follow torchvggish (``features.*``, ``embeddings.*``).

    Input ``(batch, 96, 64)`` or ``(batch, 1, 96, 64)`` log-mel examples; output
    ``(batch, 128)`` embeddings.
    """

    def __init__(self, *, final_relu: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for block in ((64,), (128,), (256, 256), (512, 512)):
            for width in block:
                layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = width
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.features = nn.Sequential(*layers)
        head: list[nn.Module] = [
            nn.Linear(512 * 6 * 4, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, EMBEDDING_SIZE),
        ]
        if final_relu:
            head.append(nn.ReLU(inplace=True))
        self.embeddings = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            x = x.unsqueeze(1)
        x = self.features(x)  # (batch, 512, 6, 4)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # TensorFlow's (H, W, C) flatten order
        return self.embeddings(x)


def empty_vggish(*, final_relu: bool = True) -> VGGish:
    """A VGGish with uninitialised parameters (skips the default initialisation: 72M draws)."""
    with torch.device("meta"):
        model = VGGish(final_relu=final_relu)
    return model.to_empty(device="cpu")


def random_vggish(*, seed: int, final_relu: bool = True) -> VGGish:
    """A VGGish with PyTorch's default initialisation drawn from ``torch.Generator`` ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    model = empty_vggish(final_relu=final_relu)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in)
                # PyTorch's default: kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in))
                module.weight.uniform_(-bound, bound, generator=generator)
                module.bias.uniform_(-bound, bound, generator=generator)
    return model


class ProcessNetworks:
    """The VGGish networks this process has built, by (weights, final ReLU, precision, device).

    See :meth:`VGGishModels.module`.  At most ``capacity`` are kept (least recently used out:
    a float32 network holds 290 MB, and a long-lived worker may see many configurations);
    :meth:`clear` gives a process's fresh start (tests).
    """

    def __init__(self, capacity: int = 4) -> None:
        self.capacity = capacity
        self._networks: OrderedDict[tuple[str, bool, str, str], nn.Module] = OrderedDict()
        self._lock = threading.Lock()  # worker threads build nothing twice

    def get(self, key: tuple[str, bool, str, str], build: Callable[[], nn.Module]) -> nn.Module:
        with self._lock:
            if key not in self._networks:
                self._networks[key] = build()
                while len(self._networks) > self.capacity:
                    self._networks.popitem(last=False)
            self._networks.move_to_end(key)
            return self._networks[key]

    def clear(self) -> None:
        with self._lock:
            self._networks.clear()

    def __len__(self) -> int:
        return len(self._networks)


PROCESS_NETWORKS = ProcessNetworks()


class VGGishModels:
    """The weights a :class:`VGGishConfig` was given, and the modules built from them per device.

    One instance per configuration object: it loads nothing twice and builds the network once
    per device.  Pickled (for a Dask worker), it keeps a reopenable checkpoint as its reference
    and sha256 only; the worker loads the tensors through
    :data:`features.vggish_weights.PROCESS_CHECKPOINTS` once per process.
    """

    def __init__(
        self, *, checkpoint: VGGishCheckpoint | None, pca: PCAParams | None, seed: int, final_relu: bool,
        source: str | ReopenableSource | None = None, precision: Precision = "float32",
    ) -> None:
        self.precision = precision
        self.checkpoint = checkpoint
        self.sha256 = checkpoint.sha256 if checkpoint is not None else ""
        self.source = source
        self.pca = pca
        self.seed = seed
        self.final_relu = final_relu

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if self.source is not None:
            state["checkpoint"] = None  # reloaded by sha256 in the receiving process
        return state

    def has_checkpoint(self) -> bool:
        return self.checkpoint is not None or self.source is not None

    def module(self, device: torch.device) -> nn.Module:
        """The network on ``device``; for ``int8`` the quantised copy (CPU only).

        Built once per process for each (weights, output ReLU, precision, device): a Dask worker
        receives a pickled copy of the configuration with every batch of tracks, and the copies
        share the process's network (a random or int8 build takes 1-4 s).
        """
        key = (self.sha256 or f"random-{self.seed}", self.final_relu, self.precision, str(device))
        return PROCESS_NETWORKS.get(key, lambda: self._build(device))

    def _build(self, device: torch.device) -> nn.Module:
        if not self.sha256:
            model = random_vggish(seed=self.seed, final_relu=self.final_relu)
        else:
            if self.checkpoint is None:
                self.checkpoint = PROCESS_CHECKPOINTS.load(self.sha256, self.source)
            model = empty_vggish(final_relu=self.final_relu)
            model.load_state_dict(self.checkpoint.state_dict)
        if self.precision == "int8":
            from features.vggish_int8 import quantize_vggish

            return quantize_vggish(model.eval(), inplace=True)
        # channels_last: oneDNN / cuDNN run these 3x3 convolutions fastest in NHWC
        return model.to(device, memory_format=torch.channels_last).eval()


def vggish_device(device: torch.device | str | None = None) -> torch.device:
    """The device VGGish runs on: :func:`core.device.resolve_device`'s rule, as training follows it.

    None or ``auto`` is CUDA when torch sees it, else the CPU (silently: extraction on the CPU is
    the usual case, and this runs once per track); ``cuda`` without CUDA is a one-line
    :class:`DeviceError`; a ``torch.device`` is used as given.
    """
    if isinstance(device, torch.device):
        return device
    return resolve_device("auto" if device is None else device, job=None)


def embed_examples(
    examples: np.ndarray, *, model: nn.Module, device: torch.device, precision: Precision = "float32",
) -> np.ndarray:
    """Embeddings of log-mel examples ``(n, 96, 64)`` -> ``(n, 128)`` float32.

    ``precision="bfloat16"`` runs the network under bf16 autocast (CPU or CUDA); ``int8`` expects
    the quantised module of :meth:`VGGishModels.module` (CPU).
    """
    out = np.zeros((len(examples), EMBEDDING_SIZE), dtype=np.float32)
    step = BATCH_EXAMPLES.get(device.type, BATCH_EXAMPLES["cpu"])
    with torch.inference_mode(), torch.autocast(
        device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16"
    ):
        for start in range(0, len(examples), step):
            batch = torch.from_numpy(examples[start : start + step]).to(device)
            batch = batch.unsqueeze(1).contiguous(memory_format=torch.channels_last)
            out[start : start + len(batch)] = model(batch).float().cpu().numpy()
    return out


@dataclass(frozen=True)
class VGGishConfig:
    """VGGish embeddings on a 0.96 s grid.

    Parameters
    ----------
    weights : {"random", "pretrained", "official"}
        ``random``: seeded initialisation (an honest baseline); ``pretrained``: weights from
        instrec's own denoising pre-training; ``official``: a torchvggish-format copy of Google's.
    seed : int
        Seed of the ``random`` weights.
    weights_sha256, pca_sha256 : str
        sha256 of the checkpoint and PCA files: the identity of the weights in the store.  Set
        from the files when ``checkpoint`` / ``pca_params`` are given (a mismatch is an error).
    postprocess : bool
        PCA whitening + 8-bit quantisation (then dequantised to [-2, 2] floats), as the AudioSet
        and OpenMIC releases; needs ``pca_params``.
    quantize_rounding : {"floor", "round"}
        ``floor`` as the official TensorFlow postprocessor, ``round`` as torchvggish.
    final_relu : bool
        ReLU on the 128-d output, as in the original release and torchvggish.
    precision : {"float32", "bfloat16", "int8"}
        Arithmetic of the network, on every device (so a feature set's values do not depend on
        where it was computed): ``float32`` (the reference), ``bfloat16`` (autocast; CPU or
        CUDA) or ``int8`` (:mod:`features.vggish_int8`, CPU only: about 4x float32's speed on a
        CPU with VNNI).  How far each is from float32, and the effect on a downstream score,
        is measured by ``benchmarks/bench_vggish_precision.py``.  Part of the feature set's key
        (``float32`` is left out of it, so stores made before the option keep their key).
    checkpoint, pca_params : bytes, binary file, local path or reopenable source (init-only)
        The files themselves; not fields, so they are not part of ``config_params``.  A config
        rebuilt from stored parameters has the hashes but no weights: pass the files again.
        A checkpoint given as a path or a :class:`~features.vggish_weights.ReopenableSource`
        pickles as that reference (workers reload it, checked by sha256); bytes and file
        objects pickle with all their tensors.
    """

    name: str = "vggish"
    sr: int = 16000
    weights: Literal["random", "pretrained", "official"] = "random"
    seed: int = 0
    weights_sha256: str = ""
    pca_sha256: str = ""
    postprocess: bool = False
    quantize_rounding: Literal["floor", "round"] = "floor"
    final_relu: bool = True
    precision: Precision = field(default="float32", metadata={OMIT_AT_DEFAULT: True})
    checkpoint: InitVar[Source | None] = None
    pca_params: InitVar[Source | None] = None

    def __post_init__(self, checkpoint: Source | None, pca_params: Source | None) -> None:
        if self.sr != 16000:
            raise ValueError(f"VGGish works on 16 kHz audio, got sr={self.sr}")
        if self.weights not in ("random", "pretrained", "official"):
            raise ValueError(f"weights must be 'random', 'pretrained' or 'official', got {self.weights!r}")
        if self.quantize_rounding not in ("floor", "round"):
            raise ValueError(f"quantize_rounding must be 'floor' or 'round', got {self.quantize_rounding!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        loaded, source = None, None
        if self.weights == "random":
            if checkpoint is not None or self.weights_sha256:
                raise ValueError("weights='random' takes no checkpoint; use weights='pretrained' or 'official'")
        elif checkpoint is not None:
            loaded = load_vggish_checkpoint(checkpoint)
            _check_hash("weights_sha256", self.weights_sha256, loaded.sha256, loaded.source)
            object.__setattr__(self, "weights_sha256", loaded.sha256)
            source = reopenable(checkpoint)
            if source is not None:
                PROCESS_CHECKPOINTS.put(loaded)
        elif not self.weights_sha256:
            raise ValueError(f"weights={self.weights!r} needs a checkpoint (or its weights_sha256)")
        pca = None
        if pca_params is not None:
            pca = load_pca_params(pca_params)
            _check_hash("pca_sha256", self.pca_sha256, pca.sha256, pca.source)
            object.__setattr__(self, "pca_sha256", pca.sha256)
        if self.postprocess and not self.pca_sha256:
            raise ValueError("postprocess=True needs PCA parameters (pca_params=...)")
        if not self.postprocess and self.pca_sha256:
            object.__setattr__(self, "pca_sha256", "")  # unused: keep it out of the hash
            pca = None
        # not a dataclass field: invisible to config_params, config_hash, ==, hash and repr
        models = VGGishModels(
            checkpoint=loaded, pca=pca, seed=self.seed, final_relu=self.final_relu, source=source,
            precision=self.precision,
        )
        object.__setattr__(self, "_models", models)

    @property
    def grid(self) -> FrameGrid:
        return FrameGrid(sr=self.sr, hop_length=EXAMPLE_FRAMES * LogMelConfig.vggish().hop_length, centered=False)

    @property
    def context_samples(self) -> int:
        """The last STFT frame of an example reaches 240 samples past the example's 0.96 s."""
        front_end = LogMelConfig.vggish()
        return (front_end.win_length or front_end.n_fft) - front_end.hop_length

    def frame_shape(self) -> tuple[int, ...]:
        return (EMBEDDING_SIZE,)

    def has_weights(self) -> bool:
        """Whether :meth:`compute` can run (random weights, or the checkpoint was given)."""
        return self.weights == "random" or self._models.has_checkpoint()

    def device(self, device: torch.device | str | None = None) -> torch.device:
        """Where this configuration runs: :func:`vggish_device`'s rule, but ``int8`` on the CPU.

        Raises
        ------
        DeviceError
            ``precision="int8"`` asked to run on a device other than the CPU.
        """
        if self.precision == "int8" and device in (None, "auto"):
            return torch.device("cpu")
        resolved = vggish_device(device)
        if self.precision == "int8" and resolved.type != "cpu":
            raise DeviceError(
                f"vggish precision=int8 runs on the CPU only (its kernels are fbgemm's), not on {resolved}; "
                "use vggish:precision=bfloat16 on a GPU"
            )
        return resolved

    def model(self, device: torch.device | str | None = None) -> nn.Module:
        """The network on ``device`` (default: :meth:`device`), built once per process."""
        if not self.has_weights():
            raise VGGishWeightsError(
                f"this VGGish configuration ({self.weights} weights, sha256 {self.weights_sha256[:12]}...) "
                "has no weights loaded: build it with VGGishConfig(..., checkpoint=<the .pth file>)"
            )
        if self.postprocess and self._models.pca is None:
            raise VGGishWeightsError(
                f"postprocess=True but the PCA parameters (sha256 {self.pca_sha256[:12]}...) are not "
                "loaded: pass pca_params=<vggish_pca_params .pth or .npz>"
            )
        return self._models.module(self.device(device))

    def compute(self, y: np.ndarray) -> np.ndarray:
        """Embeddings ``[shape=(n_samples // 15360, 128)]`` float32 of 16 kHz mono audio."""
        return self.embed(y)

    def embed(self, y: np.ndarray, *, device: torch.device | str | None = None) -> np.ndarray:
        device = self.device(device)
        model = self.model(device)
        examples = vggish_examples(y)
        embeddings = embed_examples(examples, model=model, device=device, precision=self.precision)
        if self.postprocess:
            codes = postprocess(embeddings, pca=self._models.pca, rounding=self.quantize_rounding)
            embeddings = dequantize(codes)
        return embeddings.astype(np.float32)

def _check_hash(field_name: str, expected: str, actual: str, source: str) -> None:
    if expected and expected != actual:
        raise VGGishWeightsError(
            f"{source}: sha256 {actual} does not match the configuration's {field_name} {expected}; "
            "this is a different file from the one the feature set was made with"
        )
