"""What a report says about the model it scores: architecture, training, augmentation, data.

Read from the run directory (``config.json``, ``metrics.jsonl``, ``training_data.json``,
``store.json``) through the loaded run; nothing is recomputed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from training.run_files import TRAINING_DATA_FILE

# TrainConfig fields that describe augmentation and remixing, shown as the run set them.
AUGMENTATION_KEYS = ("augment", "remix", "remix_stems", "remix_gain_db", "remix_eq_db")
OPTIMISATION_KEYS = ("lr", "batch_size", "window", "weight_decay", "patience", "monitor", "steps_per_epoch", "seed")


def run_summary(run: Any) -> dict[str, Any]:
    """The model section of a report.

    Returns
    -------
    dict
        ``architecture`` (name, options, trainable parameters), ``features``, ``epochs`` (maximum,
        trained, best by the validation score), ``augmentation``, ``optimisation``, ``training_data``
        (train / validation tracks, validation store, remixed stems) and ``data`` (the store and
        snapshot trained on).
    """
    config = dict(getattr(run, "config", {}) or {})
    history = [row for row in (getattr(run, "history", None) or []) if isinstance(row, dict)]
    scored = [row for row in history if isinstance(row.get("score"), (int, float))]
    best = max(scored, key=lambda row: row["score"]) if scored else None
    model = getattr(run, "model", None)
    parameters = None
    if model is not None and hasattr(model, "parameters"):
        parameters = int(sum(p.numel() for p in model.parameters() if p.requires_grad))
    training = {}
    path = Path(run.run_dir) / TRAINING_DATA_FILE
    if path.is_file():
        data = json.loads(path.read_text())
        training = {k: data[k] for k in ("train_tracks", "validation_tracks", "validation_store", "remix_stems",
                                          "oversampled_tracks") if k in data}
    store = dict(getattr(run, "store", {}) or {})
    return {
        "architecture": {"model": config.get("model"), "options": config.get("model_options", {}),
                         "trainable_parameters": parameters},
        "features": {"name": getattr(run, "feature_name", None),
                     "config_hash": str(getattr(run, "feature_config_hash", ""))[:8]},
        "epochs": {"maximum": config.get("epochs"), "trained": len(history),
                   "best": None if best is None else best.get("epoch"),
                   "best_score": None if best is None else best["score"], "monitor": config.get("monitor")},
        "augmentation": {k: config[k] for k in AUGMENTATION_KEYS if k in config},
        "optimisation": {k: config[k] for k in OPTIMISATION_KEYS if k in config},
        "training_data": training,
        "data": {k: store[k] for k in ("url", "dataset", "snapshot_id") if k in store},
    }
