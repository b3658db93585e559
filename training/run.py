"""The run directory: what a training run leaves behind, and loading it back for prediction.

Layout of ``RUN/`` (the names are constants of :mod:`training.run_files`)::

    config.json      the exact TrainConfig
    classes.json     the class vocabulary, in output order
    features.json    feature set name, key, parameters and config hash, frame grid, frame shape
    store.json       store URL, dataset and the snapshot id trained on
    model.pt         best weights: state_dict + plain metadata (loads with weights_only=True)
    last.pt          resume checkpoint: model, optimizer, scheduler, RNG states, epoch, sampler
    metrics.jsonl    one JSON object per epoch
    loss_curve.png   training and validation loss per epoch
    .lock            present while `instrec train` writes the run (pid, host; see storage/locking.py)
    thresholds.json  the decision rule tuned on validation when training ended (or by
                     ``instrec tune-thresholds``): per-class and micro thresholds, the default
                     variant and where they were tuned (see evaluation/decision.py); 0.5 without it

Checkpoints hold only tensors and plain Python values, so they load with
``torch.load(weights_only=True)``; a checkpoint holding anything else is refused.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import torch
from torch import nn

from core.errors import RunError  # re-exported: defined in core.errors
from training.blocks import Standardized
from training.registry import build_model
from training.run_files import (
    CLASSES_FILE, CONFIG_FILE, FEATURES_FILE, LEGACY_MICRO_THRESHOLD_FILE, METRICS_FILE, MODEL_FILE, STORE_FILE,
    THRESHOLDS_FILE,
)

if TYPE_CHECKING:
    from storage.store import FeatureSetReader


def write_atomically(path: Path, write: Any) -> None:
    """Call ``write(tmp)`` for a temporary file beside ``path``, then rename it over ``path``.

    A failure (a full disk...) removes the temporary file, leaves ``path`` as it was and is a
    :class:`RunError` naming ``path``.
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RunError(f"{path}: cannot write it ({exc.strerror or exc}); free disk space or choose a writable "
                       "--out (a run interrupted this way continues with --resume)") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a temporary file renamed over the target)."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    write_atomically(path, lambda tmp: tmp.write_text(text))


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RunError(f"{path}: missing; is {path.parent} a run directory written by `instrec train`?") from None
    except json.JSONDecodeError as exc:
        raise RunError(f"{path}: not valid JSON ({exc}); re-run training or restore the file") from None


def save_checkpoint(path: Path, state: Mapping[str, Any]) -> None:
    """``torch.save`` atomically; ``state`` must hold only tensors and plain Python values."""
    write_atomically(path, lambda tmp: torch.save(dict(state), tmp))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; anything with code in it is refused."""
    if not path.is_file():
        raise RunError(f"{path}: missing; train the run first (instrec train ... --out {path.parent})")
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):  # torch's zip format, or a pickle
        raise RunError(f"{path}: not a PyTorch checkpoint (its content is neither torch's zip format nor a "
                       "pickle: damaged or another kind of file); re-run training or restore the file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise RunError(
            f"{path}: refused to load: the file holds objects other than weights ({unpickling_reason(exc)}). "
            "Only checkpoints written by `instrec train` (tensors and plain values) are loaded; "
            "do not load checkpoints from untrusted sources"
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise RunError(f"{path}: unreadable checkpoint ({exc}); re-run training") from None


def unpickling_reason(exc: Exception) -> str:
    """What torch's weights-only unpickler refused, without its advice to load with
    ``weights_only=False`` (which would run the file's code)."""
    for paragraph in str(exc).split("\n\n"):
        text = " ".join(paragraph.split())
        if text and not text.startswith(("Weights only load failed", "Check the documentation", "Please file")):
            return text
    return type(exc).__name__


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch RNG states as plain values and tensors."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    version, *rest = state["python"]
    random.setstate((version, tuple(rest[0]), rest[1]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def model_checkpoint(model: nn.Module, *, name: str, options: Mapping[str, Any], n_classes: int,
                     frame_shape: tuple[int, ...], epoch: int, score: float,
                     standardized: bool = False) -> dict[str, Any]:
    """The weights-only best-model checkpoint (``standardized``: the model is wrapped in
    :class:`training.blocks.Standardized`)."""
    return {
        "format": "instrec-model-1",
        "model": name,
        "options": dict(options),
        "standardized": bool(standardized),
        "n_classes": int(n_classes),
        "frame_shape": [int(n) for n in frame_shape],
        "epoch": int(epoch),
        "score": float(score),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }


def save_decision(run_dir: str | Path, doc: Mapping[str, Any]) -> Path:
    """Write a run's decision rule (``evaluation.decision.Decision.to_json()``, which checks its
    variants) to ``thresholds.json``.

    The thresholds are checked against the run's classes; the ``version`` is one more than the
    saved one's, so a re-tuned run says so.
    """
    run_dir = Path(run_dir)
    classes = read_json(run_dir / CLASSES_FILE)
    per_class = dict(doc.get("per_class", {}))
    unknown = sorted(set(per_class) - set(classes))
    if unknown:
        raise RunError(f"{run_dir}: thresholds for classes the run does not know: {unknown}")
    values = {**per_class, "micro": doc.get("micro")}
    bad = {k: v for k, v in values.items() if v is None or not 0.0 < float(v) < 1.0}
    if bad:
        raise RunError(f"{run_dir}: thresholds must lie strictly between 0 and 1, got {bad}")
    previous = read_decision(run_dir, classes)
    version = int(previous.get("version", 0)) + 1 if previous else 1
    path = run_dir / THRESHOLDS_FILE
    write_json(path, {**doc, "version": version})
    (run_dir / LEGACY_MICRO_THRESHOLD_FILE).unlink(missing_ok=True)
    return path


def read_decision(run_dir: Path, classes: list[str]) -> dict[str, Any] | None:
    """The saved decision document, old runs' flat thresholds converted; None when never tuned."""
    path = run_dir / THRESHOLDS_FILE
    if not path.exists():
        return None
    doc = read_json(path)
    if "format" in doc:
        return doc
    micro = None  # a run of instrec < 0.2: per-class values, maybe a separate micro threshold
    if (run_dir / LEGACY_MICRO_THRESHOLD_FILE).exists():
        micro = float(read_json(run_dir / LEGACY_MICRO_THRESHOLD_FILE)["threshold"])
    return {"format": "legacy", "default": "per-class", "micro": micro if micro is not None else 0.5,
            "per_class": {c: float(doc.get(c, 0.5)) for c in classes},
            "per_class_tuned": list(doc), "legacy_micro_saved": micro is not None}


def remove_run(run_dir: str | Path) -> None:
    """Delete a run directory so it can be trained again from scratch; refuses a folder that holds
    other things than a run (no ``config.json``), so a wrong path never loses data."""
    import shutil

    run_dir = Path(run_dir)
    if not run_dir.exists():
        return
    if not (run_dir / CONFIG_FILE).is_file() and any(run_dir.iterdir()):
        raise RunError(f"{run_dir}: not a run directory (no config.json) and not empty; refusing to delete it, "
                       "choose another --out")
    shutil.rmtree(run_dir)


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / METRICS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class LoadedRun:
    """A trained model with everything needed to predict on new features.

    ``predict`` and ``predict_clip`` take features computed with ``feature_params`` (the
    same configuration hash as training), shape ``(T, *frame_shape)``.
    """

    model: nn.Module
    classes: list[str]
    feature_name: str
    feature_params: dict[str, Any]
    feature_config_hash: str
    thresholds: np.ndarray
    history: list[dict[str, Any]]
    window: int
    frame_shape: tuple[int, ...]
    run_dir: Path
    config: dict[str, Any] = field(default_factory=dict)
    store: dict[str, Any] = field(default_factory=dict)
    micro_threshold: float | None = None
    decision: dict[str, Any] | None = None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _check(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 1 + len(self.frame_shape) or features.shape[1:] != self.frame_shape:
            raise ValueError(
                f"features of shape {features.shape} do not fit run {self.run_dir}: expected "
                f"(T, {', '.join(map(str, self.frame_shape))}) from feature set {self.feature_name!r} "
                f"(config hash {self.feature_config_hash[:8]})"
            )
        return features

    @torch.no_grad()
    def _forward(self, chunk: np.ndarray) -> dict[str, torch.Tensor]:
        x = torch.from_numpy(chunk).unsqueeze(0).to(self.device)
        return self.model(x, torch.ones(x.shape[:2], dtype=torch.bool, device=x.device))

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Frame probabilities ``[shape=(T, C), float32]``.

        Inputs longer than the training window are cut into windows overlapping by a
        quarter window; each frame's prediction comes from the window where it lies
        furthest from an edge.
        """
        features = self._check(features)
        n = len(features)
        out = np.zeros((n, len(self.classes)), dtype=np.float32)
        if n == 0:
            return out
        if n <= self.window:
            return torch.sigmoid(self._forward(features)["frame"][0]).float().cpu().numpy()
        margin = self.window // 8
        step = self.window - 2 * margin
        start = 0
        while True:
            stop = min(start + self.window, n)
            start = max(0, stop - self.window)
            probs = torch.sigmoid(self._forward(features[start:stop])["frame"][0]).float().cpu().numpy()
            keep_from = 0 if start == 0 else margin
            keep_to = len(probs) if stop == n else len(probs) - margin
            out[start + keep_from: start + keep_to] = probs[keep_from:keep_to]
            if stop == n:
                return out
            start = start + keep_to - margin

    def predict_clip(self, features: np.ndarray) -> np.ndarray:
        """Clip probabilities ``[shape=(C,), float32]``: the model's clip output over the whole
        input when it fits in a training window, else the maximum over windows."""
        features = self._check(features)
        if len(features) == 0:
            raise ValueError("cannot predict a clip from zero frames")
        windows = [features[s: s + self.window] for s in range(0, len(features), self.window)]
        if len(windows) > 1 and len(windows[-1]) < self.window:
            windows[-1] = features[-self.window:]
        probs = [torch.sigmoid(self._forward(w)["clip"][0]).float().cpu().numpy() for w in windows]
        return np.max(probs, axis=0).astype(np.float32)

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        """Binary decisions with the run's per-class thresholds."""
        return np.asarray(probabilities) >= self.thresholds


def load_run(run_dir: str | Path, *, device: str | torch.device = "cpu") -> LoadedRun:
    """Load a run directory written by training, model in eval mode on ``device``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: no such run directory; train one with `instrec train --out {run_dir}`")
    config = read_json(run_dir / CONFIG_FILE)
    classes = list(read_json(run_dir / CLASSES_FILE))
    features = read_json(run_dir / FEATURES_FILE)
    store = read_json(run_dir / STORE_FILE) if (run_dir / STORE_FILE).exists() else {}
    checkpoint = load_checkpoint(run_dir / MODEL_FILE)
    if checkpoint.get("format") != "instrec-model-1" or "state_dict" not in checkpoint:
        raise RunError(f"{run_dir / MODEL_FILE}: not an instrec model checkpoint (no format marker)")
    if checkpoint["n_classes"] != len(classes):
        raise RunError(f"{run_dir}: model has {checkpoint['n_classes']} outputs but classes.json "
                       f"lists {len(classes)} classes; the run directory is inconsistent")
    frame_shape = tuple(checkpoint["frame_shape"])
    model = build_model(checkpoint["model"], n_classes=len(classes), frame_shape=frame_shape,
                        **checkpoint["options"])
    if checkpoint.get("standardized", False):
        model = Standardized(model, frame_shape=frame_shape)
    model.load_state_dict(checkpoint["state_dict"])
    model.to(device).eval()
    decision = read_decision(run_dir, classes)
    thresholds = np.full(len(classes), 0.5, dtype=np.float32)
    micro = None
    if decision is not None:
        micro = float(decision["micro"]) if decision.get("legacy_micro_saved", True) else None
        default = decision.get("default", "per-class")
        if default == "per-class":
            thresholds = np.array([float(decision["per_class"].get(c, 0.5)) for c in classes], dtype=np.float32)
        elif default == "micro":
            thresholds = np.full(len(classes), float(decision["micro"]), dtype=np.float32)
    return LoadedRun(
        model=model, classes=classes, feature_name=features["name"],
        feature_params=dict(features["params"]), feature_config_hash=features["config_hash"],
        thresholds=thresholds, history=read_history(run_dir), window=int(config["window"]),
        frame_shape=frame_shape, run_dir=run_dir, config=config, store=store, micro_threshold=micro,
        decision=decision,
    )


def describe_features(reader: FeatureSetReader) -> dict[str, Any]:
    """The ``features.json`` record of a feature set reader."""
    return {
        "name": reader.name, "key": reader.key, "params": dict(reader.params),
        "config_hash": reader.config_hash, "frame_rate": float(reader.frame_rate),
        "hop_s": float(reader.hop_s), "first_centre": float(reader.first_centre),
        "frame_shape": [int(n) for n in reader.frame_shape],
    }


def finite_or_none(value: float) -> float | None:
    """JSON has no NaN: undefined scores are written as null."""
    return None if value is None or not math.isfinite(value) else float(value)
