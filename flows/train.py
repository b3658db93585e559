"""``train-model``: train one model from the feature store (deployed to the GPU work pool)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact

from flows.params import TrainParams


@task(name="check-device")
def check_device(requested: str) -> str:
    """The device the run will use; warns when a GPU was wanted and none is there."""
    import torch

    logger = get_run_logger()
    if requested in ("auto", "cuda") and not torch.cuda.is_available():
        logger.warning("no CUDA device on this worker: training on the CPU (slower, same results)")
        return "cpu"
    if requested == "auto":
        return "cuda"
    return requested


@task(name="fit-model")
def fit_model(params: TrainParams, device: str) -> str:
    from training.loop import train

    config = params.model_copy(update={"device": device}).to_config()
    return str(train(config, resume=params.resume))


@task(name="tune-thresholds")
def tune_thresholds(params: TrainParams, run_dir: str) -> str:
    """Tune the run's decision rule on its validation split; one line saying what was chosen."""
    from evaluation.tune import tune_after_training

    decision = tune_after_training(params.to_config(), run_dir)
    message = ("no validation tracks: thresholds not tuned (decisions use 0.5)" if decision is None else
               f"thresholds tuned on {decision.info['tuned_on']['n_tracks']} validation tracks: default rule "
               f"{decision.default}")
    get_run_logger().info(message)
    return message


@task(name="publish-training-metrics")
def publish_training_metrics(run_dir: str) -> dict[str, Any]:
    from training.run import read_history
    from pathlib import Path

    history = read_history(Path(run_dir))
    rows = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in record.items()} for record in history]
    create_table_artifact(
        key="training-metrics", table=rows,
        description=f"Per-epoch metrics of the run in `{run_dir}`",
    )
    return history[-1] if history else {}


@flow(name="train-model", log_prints=True)
def train_model(
    store: str,
    out: str,
    features: str = "logmel",
    model: str = "crnn",
    epochs: int | None = None,
    device: str = "auto",
    options: dict[str, Any] | None = None,
) -> str:
    """Train ``model`` on ``features`` of ``store`` into the run directory ``out``.

    ``options`` holds any other :class:`flows.params.TrainParams` field (batch_size, window,
    lr, seed, augment, attention, patience, resume, model_options, endpoint_url).
    """
    fields: dict[str, Any] = dict(options or {})
    if epochs is not None:
        fields["epochs"] = epochs
    params = TrainParams(store=store, out=out, features=features, model=model, device=device, **fields)
    run_dir = fit_model(params, check_device(params.device))
    tune_thresholds(params, run_dir)
    publish_training_metrics(run_dir)
    return run_dir
