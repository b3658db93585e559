"""The file names of a run directory, defined once for training, evaluation, the model card and the flows.

Layout of ``RUN/`` (what each file holds: :mod:`training.run`)::

    config.json         CONFIG_FILE         the exact TrainConfig
    classes.json        CLASSES_FILE        the class vocabulary, in output order
    features.json       FEATURES_FILE       feature set name, key, parameters, config hash, frame grid
    store.json          STORE_FILE          store URL, dataset and the snapshot id trained on
    training_data.json  TRAINING_DATA_FILE  training statistics (track counts, frame priors) for the baseline
    model.pt            MODEL_FILE          best weights and plain metadata
    last.pt             LAST_FILE           resume checkpoint
    metrics.jsonl       METRICS_FILE        one JSON object per epoch
    loss_curve.png      LOSS_CURVE_FILE     training and validation loss per epoch
    thresholds.json     THRESHOLDS_FILE     the tuned decision rule
    recipe.json         RECIPE_FILE         the recipe that trained it (``instrec recipe``), when one did
    micro_threshold.json  LEGACY_MICRO_THRESHOLD_FILE  written by instrec < 0.2; read for old runs only
    predictions/        PREDICTIONS_DIR     default output folder of the ``reprocess-new-songs`` predictions

Standard library only (no torch): the flows' parameter checks and command modules import it.
"""

from __future__ import annotations

CONFIG_FILE = "config.json"
CLASSES_FILE = "classes.json"
FEATURES_FILE = "features.json"
STORE_FILE = "store.json"
TRAINING_DATA_FILE = "training_data.json"
MODEL_FILE = "model.pt"
LAST_FILE = "last.pt"
METRICS_FILE = "metrics.jsonl"
LOSS_CURVE_FILE = "loss_curve.png"
THRESHOLDS_FILE = "thresholds.json"
RECIPE_FILE = "recipe.json"
PREDICTIONS_DIR = "predictions"
LEGACY_MICRO_THRESHOLD_FILE = "micro_threshold.json"
"""Written by instrec < 0.2 beside a flat thresholds.json; read for old runs only."""

MODEL_FOLDER_FILES = (MODEL_FILE, CONFIG_FILE, CLASSES_FILE, FEATURES_FILE, THRESHOLDS_FILE, TRAINING_DATA_FILE,
                      STORE_FILE, RECIPE_FILE, METRICS_FILE)
"""What a shipped model folder holds (:mod:`evaluation.model_card` copies these from the run)."""
