"""Safe loading of VGGish weights and PCA parameters in the torchvggish format, and the
PCA-whitening + 8-bit quantisation postprocessing of AudioSet / OpenMIC embeddings.

Sources are bytes, binary file objects, local paths, or any object with ``name`` and
``read_bytes()`` (a :class:`ReopenableSource`; opening URLs such as ``s3://...`` is the
caller's job: ``pipeline.vggish_options.WeightsFile`` does it through ``storage/``).
Checkpoints are read with ``torch.load(weights_only=True)``: plain tensors and containers
only, never arbitrary pickled objects.  Every error names the file.

Checkpoints that can be reopened (a path, a :class:`ReopenableSource`) travel to worker
processes as that reference plus their sha256, not as 290 MB of tensors: each process loads
them once into :data:`PROCESS_CHECKPOINTS`, a small cache keyed by sha256 (content-addressed,
so an entry is never stale; the file is re-hashed on load and a mismatch is an error).
"""

from __future__ import annotations

import hashlib
import io
import pickle
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, Protocol, Union, runtime_checkable

import numpy as np
import torch

from core.errors import VGGishWeightsError  # re-exported: defined in core.errors



@runtime_checkable
class ReopenableSource(Protocol):
    """A file that can be read again, in any process (it must pickle small)."""

    name: str

    def read_bytes(self) -> bytes: ...


Source = Union[bytes, bytearray, BinaryIO, str, Path, ReopenableSource]

QUANTIZE_MIN = -2.0
QUANTIZE_MAX = 2.0
EMBEDDING_SIZE = 128

# torchvggish's key names and shapes (conv layers at Sequential indices 0, 3, 6, 8, 11, 13)
_CONV = [(0, 1, 64), (3, 64, 128), (6, 128, 256), (8, 256, 256), (11, 256, 512), (13, 512, 512)]
_FC = [(0, 512 * 4 * 6, 4096), (2, 4096, 4096), (4, 4096, EMBEDDING_SIZE)]
VGGISH_SHAPES: dict[str, tuple[int, ...]] = {
    **{f"features.{i}.weight": (c_out, c_in, 3, 3) for i, c_in, c_out in _CONV},
    **{f"features.{i}.bias": (c_out,) for i, _, c_out in _CONV},
    **{f"embeddings.{i}.weight": (n_out, n_in) for i, n_in, n_out in _FC},
    **{f"embeddings.{i}.bias": (n_out,) for i, _, n_out in _FC},
}


def read_source(source: Source, *, name: str | None = None) -> tuple[bytes, str]:
    """The bytes of ``source`` and a name for messages (the path, or ``name``)."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source), name or "<bytes>"
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            return path.read_bytes(), name or str(path)
        except OSError as exc:
            raise VGGishWeightsError(f"{path}: cannot read the file ({exc.strerror}); check the path") from exc
    if isinstance(source, ReopenableSource):
        label = name or source.name
        try:
            return source.read_bytes(), label
        except OSError as exc:
            raise VGGishWeightsError(f"{label}: cannot read the file ({exc}); check the path or URL") from exc
    # fsspec file objects carry .path (e.g. s3://bucket/vggish.pth), local ones .name
    label = name or str(getattr(source, "path", None) or getattr(source, "name", None) or "<file object>")
    return source.read(), label


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _safe_torch_load(data: bytes, label: str) -> object:
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        reason = text.split("WeightsUnpickler error:", 1)[-1].strip().splitlines()[0] if text else ""
        if "Unsupported global" in text:
            raise VGGishWeightsError(
                f"{label}: refused to load: the file holds pickled objects other than tensors, "
                f"which could run code ({reason[:160]}). Only plain state dicts of tensors are "
                "accepted; re-save the weights with torch.save(model.state_dict(), path) from a "
                "trusted copy"
            ) from exc
        raise VGGishWeightsError(
            f"{label}: not a readable torch checkpoint ({reason[:160] or type(exc).__name__}); "
            "expected a torchvggish-format state dict such as vggish-10086976.pth"
        ) from exc
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise VGGishWeightsError(
            f"{label}: not a readable torch checkpoint ({type(exc).__name__}: {exc}); expected "
            "a torchvggish-format state dict such as vggish-10086976.pth"
        ) from exc


@dataclass(frozen=True, eq=False)
class VGGishCheckpoint:
    """A validated VGGish state dict and the sha256 of the file it came from."""

    state_dict: dict[str, torch.Tensor]
    sha256: str
    source: str


def load_vggish_checkpoint(source: Source, *, name: str | None = None) -> VGGishCheckpoint:
    """Load a torchvggish-format VGGish state dict (``features.*``, ``embeddings.*``) safely.

    Raises
    ------
    VGGishWeightsError
        Unsafe pickle, unreadable file, missing or unexpected keys, or wrong shapes.
    """
    data, label = read_source(source, name=name)
    state = _safe_torch_load(data, label)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise VGGishWeightsError(
            f"{label}: expected a state dict of tensors (torchvggish format), got {type(state).__name__}"
        )
    missing = sorted(set(VGGISH_SHAPES) - set(state))
    unexpected = sorted(set(state) - set(VGGISH_SHAPES))
    if missing or unexpected:
        raise VGGishWeightsError(
            f"{label}: not a VGGish state dict: missing keys {missing[:4]}, unexpected keys "
            f"{unexpected[:4]}; expected torchvggish's features.* and embeddings.* keys"
        )
    wrong = [f"{k} {tuple(state[k].shape)} != {v}" for k, v in VGGISH_SHAPES.items() if tuple(state[k].shape) != v]
    if wrong:
        raise VGGishWeightsError(f"{label}: wrong tensor shapes: {'; '.join(wrong[:4])}")
    floats = {k: v.to(torch.float32) for k, v in state.items()}
    return VGGishCheckpoint(state_dict=floats, sha256=sha256_hex(data), source=label)


def reopenable(source: Source) -> str | ReopenableSource | None:
    """``source`` as a reference another process can read again (absolute path), else None."""
    if isinstance(source, (str, Path)):
        return str(Path(source).expanduser().resolve())
    if isinstance(source, ReopenableSource):
        return source
    return None


class CheckpointCache:
    """Loaded checkpoints by sha256, at most ``maxsize`` of them (least recently used dropped).

    Content-addressed: an entry is only returned for the sha256 it was loaded with, and a
    file read on a miss must hash to the requested sha256.
    """

    def __init__(self, *, maxsize: int = 2) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[str, VGGishCheckpoint] = OrderedDict()

    def put(self, checkpoint: VGGishCheckpoint) -> None:
        self._entries[checkpoint.sha256] = checkpoint
        self._entries.move_to_end(checkpoint.sha256)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)

    def load(self, sha256: str, source: Source) -> VGGishCheckpoint:
        """The checkpoint with ``sha256``, read from ``source`` unless already loaded."""
        cached = self._entries.get(sha256)
        if cached is not None:
            self._entries.move_to_end(sha256)
            return cached
        checkpoint = load_vggish_checkpoint(source)
        if checkpoint.sha256 != sha256:
            raise VGGishWeightsError(
                f"{checkpoint.source}: sha256 {checkpoint.sha256} is not the {sha256} the configuration was "
                "made with; the file changed during the run: restore it or start the extraction again"
            )
        self.put(checkpoint)
        return checkpoint

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# The one per-process cache of the package (see the module docstring): Dask workers unpickle a
# new configuration per task, and must not re-read 290 MB of weights each time.
PROCESS_CHECKPOINTS = CheckpointCache(maxsize=2)


@dataclass(frozen=True, eq=False)
class PCAParams:
    """PCA whitening parameters: ``(emb - means) @ eigen_vectors.T``."""

    means: np.ndarray  # (128,) float64
    eigen_vectors: np.ndarray  # (128, 128) float64
    sha256: str
    source: str


def load_pca_params(source: Source, *, name: str | None = None) -> PCAParams:
    """Load ``pca_eigen_vectors`` and ``pca_means`` from a torchvggish ``.pth`` or the official
    ``vggish_pca_params.npz`` (read with ``allow_pickle=False``)."""
    data, label = read_source(source, name=name)
    params: dict
    is_npz = False
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            is_npz = any(n.endswith(".npy") for n in archive.namelist()) and not any(
                n.endswith("data.pkl") for n in archive.namelist()
            )
    if is_npz:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                params = {k: npz[k] for k in npz.files}
        except ValueError as exc:
            raise VGGishWeightsError(f"{label}: refused to load: {exc}") from exc
    else:
        params = _safe_torch_load(data, label)
    if not isinstance(params, dict) or not {"pca_eigen_vectors", "pca_means"} <= set(params):
        found = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise VGGishWeightsError(
            f"{label}: expected PCA parameters with keys pca_eigen_vectors and pca_means, found {found}"
        )
    vectors = np.asarray(params["pca_eigen_vectors"], dtype=np.float64)
    means = np.asarray(params["pca_means"], dtype=np.float64).reshape(-1)
    if vectors.shape != (EMBEDDING_SIZE, EMBEDDING_SIZE) or means.shape != (EMBEDDING_SIZE,):
        raise VGGishWeightsError(
            f"{label}: pca_eigen_vectors must be (128, 128) and pca_means (128,) or (128, 1), got "
            f"{vectors.shape} and {np.shape(params['pca_means'])}"
        )
    return PCAParams(means=means, eigen_vectors=vectors, sha256=sha256_hex(data), source=label)


def pca_whiten(embeddings: np.ndarray, *, pca: PCAParams) -> np.ndarray:
    """``(embeddings - means) @ eigen_vectors.T``, ``[shape=(n, 128)]`` float64."""
    return (np.asarray(embeddings, dtype=np.float64) - pca.means) @ pca.eigen_vectors.T


def quantize(
    x: np.ndarray, *, rounding: Literal["floor", "round"] = "floor",
    min_val: float = QUANTIZE_MIN, max_val: float = QUANTIZE_MAX,
) -> np.ndarray:
    """Clip to ``[min_val, max_val]`` and map linearly onto 0..255 as uint8.

    ``rounding="floor"`` truncates as the official TensorFlow postprocessor does
    (``astype(np.uint8)``; the AudioSet and OpenMIC releases); ``"round"`` rounds to nearest as
    torchvggish does.
    """
    if rounding not in ("floor", "round"):
        raise ValueError(f"rounding must be 'floor' or 'round', got {rounding!r}")
    scaled = (np.clip(x, min_val, max_val) - min_val) * (255.0 / (max_val - min_val))
    scaled = np.floor(scaled) if rounding == "floor" else np.round(scaled)
    return scaled.astype(np.uint8)


def dequantize(q: np.ndarray, *, min_val: float = QUANTIZE_MIN, max_val: float = QUANTIZE_MAX) -> np.ndarray:
    """uint8 codes 0..255 back to ``[min_val, max_val]`` (``q * (max - min) / 255 + min``), float32."""
    q = np.asarray(q)
    if q.size and (q.min() < 0 or q.max() > 255):
        raise ValueError(f"quantised embeddings must lie in 0..255, got {q.min()}..{q.max()}")
    return (q.astype(np.float64) * ((max_val - min_val) / 255.0) + min_val).astype(np.float32)


def postprocess(
    embeddings: np.ndarray, *, pca: PCAParams, rounding: Literal["floor", "round"] = "floor"
) -> np.ndarray:
    """PCA whitening then 8-bit quantisation, as the released AudioSet embeddings: uint8 (n, 128)."""
    return quantize(pca_whiten(embeddings, pca=pca), rounding=rounding)
