"""Tuning a run's decision rule on a validation split: ``instrec tune-thresholds`` and the end of ``instrec train``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from evaluation.decision import Decision, tune_decision
from evaluation.evaluate import EvaluationError, find_feature_set, match_classes, predict_tracks

if TYPE_CHECKING:
    from training.config import TrainConfig


def tune_run(run_dir: str | Path, store_url: str, *, split: str = "validation",
             storage_options: dict | None = None) -> Decision:
    """Tune and save the decision rule of the run at ``run_dir`` on ``split`` of ``store_url``.

    The store must hold the run's feature set and every class of the run.  Writes a new version of
    the run's ``thresholds.json`` (see :mod:`evaluation.decision`) and returns the decision.

    Raises
    ------
    EvaluationError
        No such feature set, classes missing, or no track in the split.
    """
    from storage.store import open_store
    from training.run import load_run, save_decision

    run = load_run(run_dir)
    store = open_store(store_url, mode="r", storage_options=storage_options)
    reader = find_feature_set(store, run)
    match = match_classes(run.classes, reader.classes)
    if match.missing:
        raise EvaluationError(f"{store.url}: lacks the run's classes {match.missing}; tune the thresholds on a store "
                              "of the run's taxonomy")
    entries = reader.tracks(split)
    results, problems = predict_tracks(reader, run, entries, match)
    if not results:
        raise EvaluationError(f"{store.url}: no {split!r} track to tune thresholds on"
                              + (f" ({problems[0]})" if problems else "") + "; pass a store with a validation split")
    decision = tune_decision([(r.labels, r.scores, r.mask) for r in results], run.classes,
                             frame_rate=reader.frame_rate)
    tuned_on: dict[str, Any] = {"store": str(store.url), "snapshot_id": store.snapshot_id, "split": split,
                                "feature_set": reader.key, "n_tracks": len(results)}
    decision = Decision(decision.classes, decision.per_class, decision.tuned, decision.micro, decision.default,
                        {**decision.info, "tuned_on": tuned_on})
    save_decision(run.run_dir, decision.to_json())
    return decision


def tune_after_training(config: TrainConfig, run_dir: str | Path) -> Decision | None:
    """Tune a just-trained run on the split that chose its epoch (``config.validation_store`` or the
    training store's ``config.validation_split``); None, with nothing written, when that split is empty."""
    url = config.validation_store or config.store
    try:
        return tune_run(run_dir, url, split=config.validation_split,
                        storage_options=dict(config.storage_options) or None)
    except EvaluationError as exc:
        if "no " + repr(config.validation_split) + " track" in str(exc):
            return None
        raise
