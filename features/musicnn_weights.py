"""The musicnn checkpoints: which files they are, and their tensors as PyTorch state dicts.

The ``musicnn`` 0.1.0 wheel on PyPI (Pons & Serra 2019, ISC licence; see ``features/MUSICNN.md``)
ships four TensorFlow 1 checkpoints, each a folder ``<model>/`` holding ``.index`` and
``.data-00000-of-00001`` (checkpoint prefix ``""``), read here with
:mod:`features.tensor_bundle`.  :data:`CHECKPOINTS` records the sha256 of every file: a
checkpoint is accepted only when both files hash to these values, and the data file's sha256
is the identity of the weights in the store (``weights_sha256`` of the feature set).

Only bytes come in (the caller reads the files: ``pipeline.musicnn_options``); the result is
a :class:`MusicnnCheckpoint` of float32 tensors named as the modules of
:mod:`features.musicnn` expect.  The Adam slots and step counters in the files are not read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from core.errors import MusicnnWeightsError  # re-exported: defined in core.errors
from features.choices import MUSICNN_MODELS, MUSICNN_PATCH_FRAMES
from features.tensor_bundle import TensorBundleError, read_tensor_bundle

if TYPE_CHECKING:
    import torch

ModelName = Literal["MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg"]
INDEX_FILE = ".index"
DATA_FILE = ".data-00000-of-00001"
WHEEL = "musicnn-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"


@dataclass(frozen=True)
class CheckpointFiles:
    """sha256 of a checkpoint's two files inside the musicnn 0.1.0 wheel."""

    index_sha256: str
    data_sha256: str


CHECKPOINTS: dict[str, CheckpointFiles] = {
    "MTT_musicnn": CheckpointFiles(
        "da2d7bb670b2b31e9bc441bb1bd75eca31b5b061f963cc1f9630c1aff3238f57",
        "041f3935e981a65cea739842d30c188d3a7d2adf4410955c8668eb3de4a5acab",
    ),
    "MSD_musicnn": CheckpointFiles(
        "87f3e0f3550c8d3bafc840374003e5c8af5eeb5ecf6add61af09a7822d3282c8",
        "8579734ee6388f799ed0def4bbd0d1fdcbeaf213ef2a9dc860917bd76a303de6",
    ),
    "MTT_vgg": CheckpointFiles(
        "4b0d3d2d02bbe0919c063c1fb74bfa9018ac3517e362d681b07444d4207a5f5f",
        "458f5c8bcecc086a3bba3dce83809df6da6e0a3560a59ddd84711bf3d5fd8303",
    ),
    "MSD_vgg": CheckpointFiles(
        "50e499238457558bba9f34f8b84d4afb8279afd43520cdf0a4fdf805a49c9ca3",
        "9683d756b8311146534f333502ebf4a2a78a3e320c54ab0411dff6186d8375fc",
    ),
}
MODEL_NAMES = MUSICNN_MODELS
if tuple(CHECKPOINTS) != MODEL_NAMES:  # the command line offers features.choices.MUSICNN_MODELS
    raise ImportError(f"features.musicnn_weights.CHECKPOINTS {tuple(CHECKPOINTS)} and features.choices.MUSICNN_MODELS "
                      f"{MODEL_NAMES} differ; add the checkpoint to both")
PATCH_FRAMES = MUSICNN_PATCH_FRAMES  # the models' input: 3 s of 16 ms mel frames
# what each architecture can store per patch, and its width
LAYERS: dict[str, dict[str, int]] = {
    "musicnn": {"max_pool": 753, "mean_pool": 753, "penultimate": 200, "taggram": 50},
    "vgg": {"pool5": 256, "taggram": 50},
}


def architecture(model: str) -> str:
    """``musicnn`` or ``vgg``."""
    return "vgg" if model.endswith("_vgg") else "musicnn"

# musicnn's configuration.py: the tags of the two training sets, in the order of the outputs
MTT_LABELS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
    "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing",
    "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal",
    "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice",
    "female vocal", "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice",
    "choral",
)
MSD_LABELS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock",
    "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk",
    "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist", "guitar",
    "Hip-Hop", "70s", "party", "country", "easy listening", "sexy", "catchy", "funk", "electro",
    "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)


def labels_of(model: str) -> tuple[str, ...]:
    """The 50 tags a model's outputs stand for."""
    return MTT_LABELS if model.startswith("MTT") else MSD_LABELS


def _bn(tf: str, torch_name: str) -> dict[str, tuple[str, str]]:
    return {
        f"{torch_name}.weight": (f"{tf}/gamma", "vector"), f"{torch_name}.bias": (f"{tf}/beta", "vector"),
        f"{torch_name}.running_mean": (f"{tf}/moving_mean", "vector"),
        f"{torch_name}.running_var": (f"{tf}/moving_variance", "vector"),
    }


def _conv(tf: str, torch_name: str, kind: str) -> dict[str, tuple[str, str]]:
    return {f"{torch_name}.weight": (f"{tf}/kernel", kind), f"{torch_name}.bias": (f"{tf}/bias", "vector")}


def _musicnn_names() -> dict[str, tuple[str, str]]:
    """torch name -> (TF variable, conversion) for :class:`features.musicnn.Musicnn`.

    TF1 numbers its layers in creation order (``models.py``: input BN; timbral 7x38 and 7x67;
    temporal 128, 64, 32; mid-end 1-3; pooled-feature BN; dense 200 and its BN; output).
    """
    names = _bn("batch_normalization", "input_bn")
    for i in range(2):
        names |= _conv("conv2d" if i == 0 else f"conv2d_{i}", f"timbral.{i}.conv", "conv2d")
        names |= _bn(f"batch_normalization_{1 + i}", f"timbral.{i}.bn")
    for i in range(3):
        names |= _conv(f"conv2d_{2 + i}", f"temporal.{i}.conv", "conv2d")
        names |= _bn(f"batch_normalization_{3 + i}", f"temporal.{i}.bn")
    for i in range(3):
        names |= _conv(f"conv2d_{5 + i}", f"midend.{i}.conv", "conv1d")
        names |= _bn(f"batch_normalization_{6 + i}", f"midend.{i}.bn")
    names |= _bn("batch_normalization_9", "pool_bn")
    names |= _conv("dense", "dense", "dense") | _bn("batch_normalization_10", "dense_bn")
    names |= _conv("dense_1", "classifier", "dense")
    return names


def _vgg_names() -> dict[str, tuple[str, str]]:
    """torch name -> (TF variable, conversion) for :class:`features.musicnn.MusicnnVGG`."""
    names = _bn("batch_normalization", "input_bn")
    for i in range(5):
        names |= _conv(f"{i + 1}CNN", f"blocks.{i}.conv", "conv2d")
        names |= _bn(f"batch_normalization_{i + 1}", f"blocks.{i}.bn")
    return names | _conv("dense", "classifier", "dense")


def tf_variable_names(model: str) -> dict[str, tuple[str, str]]:
    """torch parameter name -> (TF variable name, conversion kind) of ``model``."""
    if model not in CHECKPOINTS:
        raise ValueError(f"unknown musicnn model {model!r}; choose one of {', '.join(MODEL_NAMES)}")
    return _vgg_names() if model.endswith("_vgg") else _musicnn_names()


def _convert(array: np.ndarray, kind: str) -> np.ndarray:
    """A TF kernel in PyTorch's layout: conv2d ``(kh, kw, in, out) -> (out, in, kh, kw)``;
    conv1d (a ``[7, C]`` kernel over a one-channel map) ``(k, C, 1, out) -> (out, C, k)``;
    dense ``(in, out) -> (out, in)``."""
    if kind == "conv2d":
        return array.transpose(3, 2, 0, 1)
    if kind == "conv1d":
        return array[:, :, 0, :].transpose(2, 1, 0)
    if kind == "dense":
        return array.T
    return array


@dataclass(frozen=True, eq=False)
class MusicnnCheckpoint:
    """The float32 state dict of one musicnn model, and the sha256 of its data file."""

    model: str
    state_dict: dict[str, torch.Tensor]
    sha256: str
    source: str


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def musicnn_checkpoint(
    model: str, *, index: bytes, data: bytes, index_label: str = "<index>", data_label: str = "<data>",
    check_sha256: bool = True,
) -> MusicnnCheckpoint:
    """Parse one model's checkpoint files into a PyTorch state dict.

    Parameters
    ----------
    model : {"MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg"}
    index, data : bytes
        The ``.index`` and ``.data-00000-of-00001`` files.
    index_label, data_label : str
        Their names, for messages.
    check_sha256 : bool
        Refuse files whose sha256 is not the wheel's (:data:`CHECKPOINTS`).  Tests of the
        reader turn it off for synthetic bundles; the feature set never does.

    Raises
    ------
    MusicnnWeightsError
        Another file than the expected one, a damaged or truncated bundle (crc32c), or a
        variable of the wrong shape.
    """
    import torch

    names = tf_variable_names(model)
    expected = CHECKPOINTS[model]
    if check_sha256:
        for label, blob, want in ((index_label, index, expected.index_sha256), (data_label, data, expected.data_sha256)):
            got = sha256_hex(blob)
            if got != want:
                raise MusicnnWeightsError(
                    f"{label}: sha256 {got} is not the expected {want} of musicnn 0.1.0's {model} checkpoint "
                    f"({len(blob)} bytes: truncated, damaged or another file)"
                )
    try:
        tensors = read_tensor_bundle(
            index, data, names={tf for tf, _ in names.values()}, index_label=index_label, data_label=data_label
        )
    except TensorBundleError as exc:
        raise MusicnnWeightsError(str(exc)) from exc
    state = {
        name: torch.from_numpy(np.array(_convert(tensors[tf], kind), dtype=np.float32, order="C"))
        for name, (tf, kind) in names.items()
    }
    return MusicnnCheckpoint(model=model, state_dict=state, sha256=sha256_hex(data), source=data_label)
