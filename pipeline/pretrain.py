"""Denoising pre-training of VGGish on a store's own audio (``instrec pretrain-embedding``).

Reads VGGish's own log-mel input frames from the store (feature set ``vggish-input``, made by
``instrec extract --features vggish-input``: exactly the front end VGGish extraction feeds the
network, so the encoder sees at extraction what it saw in training), draws random 96-frame
(0.96 s) examples from the training split, trains
:class:`features.vggish_pretrain.DenoisingAutoencoder`, and saves the encoder as a
torchvggish-format state dict plus a sidecar ``<out>.json`` that tells
``instrec extract --vggish-weights <out>`` these weights are ``pretrained`` (and have no final
ReLU).  The store then records ``weights: pretrained`` and the file's sha256.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from features.vggish import EXAMPLE_FRAMES
from pipeline.track import InstrecError
from pipeline.vggish_options import sidecar_of

if TYPE_CHECKING:
    from storage.store import FeatureSetReader

INPUT_FEATURES = "vggish-input"


@dataclass(frozen=True)
class PretrainResult:
    """Where the encoder went, its sha256, and the loss per step."""

    out: str
    sha256: str
    losses: list[float]
    sidecar: dict


def example_batches(reader: FeatureSetReader, *, split: str = "train", batch_size: int = 32, seed: int = 0) -> Iterator[np.ndarray]:
    """Endless batches of random 96-frame examples ``[shape=(batch_size, 96, 64)]`` float32.

    A track is drawn with probability proportional to its length, then a start frame
    uniformly among those leaving a whole example; tracks shorter than 0.96 s are not used.

    Raises
    ------
    InstrecError
        No track of ``split`` is long enough.
    """
    entries = [e for e in reader.tracks(split) if e.n_frames >= EXAMPLE_FRAMES]
    if not entries:
        raise InstrecError(
            f"feature set {reader.key}: no {split!r} track has {EXAMPLE_FRAMES} frames (0.96 s) or more; "
            "extract more audio or pick another --split"
        )
    lengths = np.array([e.n_frames for e in entries], dtype=np.float64)
    rng = np.random.default_rng(seed)
    while True:
        picks = rng.choice(len(entries), size=batch_size, p=lengths / lengths.sum())
        batch = np.empty((batch_size, EXAMPLE_FRAMES, reader.frame_shape[0]), dtype=np.float32)
        for row, index in enumerate(picks):
            entry = entries[index]
            start = int(rng.integers(0, entry.n_frames - EXAMPLE_FRAMES + 1))
            batch[row] = reader.read_features(entry.track_id, start, start + EXAMPLE_FRAMES)
        yield batch


def steps_for_epochs(reader: FeatureSetReader, *, epochs: float, split: str, batch_size: int) -> int:
    """Steps that show each 0.96 s of the split's audio ``epochs`` times on average."""
    examples = sum(e.n_frames // EXAMPLE_FRAMES for e in reader.tracks(split))
    return max(1, math.ceil(epochs * examples / batch_size))


def write_bytes(url: str, data: bytes, *, storage_options: dict | None = None) -> None:
    """Write a file at a local path or fsspec URL (parents created)."""
    from storage.layout import resolve

    loc = resolve(url, storage_options)
    parent = loc.root.rsplit("/", 1)[0]
    if parent and loc.is_local:
        loc.fs.makedirs(parent, exist_ok=True)
    loc.fs.pipe_file(loc.root, data)


def pretrain_embedding(
    store_url: str,
    *,
    out: str,
    features: str = INPUT_FEATURES,
    objective: str = "gaussian",
    steps: int | None = None,
    epochs: float | None = None,
    batch_size: int = 32,
    learning_rate: float = 1e-4,
    split: str = "train",
    seed: int = 0,
    device: str = "cpu",
    storage_options: dict | None = None,
) -> PretrainResult:
    """Pre-train a VGGish encoder on the store's ``vggish-input`` frames and save it.

    Parameters
    ----------
    store_url : str
    out : str
        Checkpoint path or fsspec URL (torchvggish state dict); ``<out>.json`` describes it.
    features : str
        The input feature set (name or key); must be of family ``vggish-input``.
    objective : {"gaussian", "bernoulli"}
        Additive Gaussian noise (std 0.1) or Bernoulli masking (p = 0.5) of the input.
    steps, epochs
        Length of training: ``steps`` batches, or ``epochs`` passes over the split (default 1 epoch).

    Returns
    -------
    PretrainResult
    """
    from features.vggish_pretrain import PretrainConfig, pretrain, save_encoder
    from storage.store import open_store

    if steps is not None and epochs is not None:
        raise InstrecError("give --steps or --epochs, not both")
    store = open_store(store_url, storage_options=storage_options)
    reader = store.feature_set(features)
    if reader.name != INPUT_FEATURES:
        raise InstrecError(
            f"{store_url}: feature set {reader.key} is {reader.name!r}; pre-training needs VGGish's own input "
            f"frames: run `instrec extract ... --features {INPUT_FEATURES}` first"
        )
    if steps is None:
        steps = steps_for_epochs(reader, epochs=1.0 if epochs is None else epochs, split=split,
                                 batch_size=batch_size)
    try:
        config = PretrainConfig(noise=objective, steps=steps, seed=seed, learning_rate=learning_rate)
    except ValueError as exc:
        raise InstrecError(f"pretrain-embedding: {exc}") from exc
    started = time.perf_counter()
    model, losses = pretrain(example_batches(reader, split=split, batch_size=batch_size, seed=seed),
                             config=config, device=device)
    buffer = io.BytesIO()
    save_encoder(model, buffer)
    data = buffer.getvalue()
    sha256 = hashlib.sha256(data).hexdigest()
    sidecar = {
        "weights": "pretrained", "final_relu": False, "format": "torchvggish state dict (features.*, embeddings.*)",
        "sha256": sha256, "objective": objective, "pretrain_config": asdict(config), "batch_size": batch_size,
        "store": str(store_url), "feature_set": reader.key, "snapshot_id": store.snapshot_id, "split": split,
        "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
        "wall_seconds": round(time.perf_counter() - started, 3),
    }
    write_bytes(out, data, storage_options=storage_options)
    write_bytes(sidecar_of(out), (json.dumps(sidecar, indent=1) + "\n").encode(), storage_options=storage_options)
    return PretrainResult(out=out, sha256=sha256, losses=losses, sidecar=sidecar)
