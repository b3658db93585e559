"""``train-model``: train one model from the feature store (deployed to the GPU work pool)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact

from flows.logs import library_logs
from flows.params import Device, FlowParameterError, ModelName, Positive, TrainParams, parse_parameters, rejected
from training.device import DeviceError


@task(name="check-device")
def check_device(requested: str) -> str:
    """The device the run will use (:func:`training.device.resolve_device`, as ``instrec train``):
    ``auto`` falls back to the CPU with a warning in the run log; ``cuda`` on a worker without CUDA
    raises :class:`training.device.DeviceError`."""
    from training.device import resolve_device

    with library_logs():
        return resolve_device(requested).type


@task(name="remove-previous-run")
def remove_previous_run(out: str) -> None:
    from training.run import remove_run

    remove_run(out)


@task(name="fit-model")
def fit_model(params: TrainParams, device: str) -> str:
    """Train; the loop's progress, per-epoch metrics and warnings go to this task's log."""
    from training.loop import train

    config = params.model_copy(update={"device": device}).to_config()
    with library_logs():
        return str(train(config, resume=params.resume))


@task(name="tune-thresholds")
def tune_thresholds(params: TrainParams, run_dir: str) -> str:
    """Tune the run's decision rule on its validation split; one line saying what was chosen."""
    from evaluation.tune import tune_after_training

    with library_logs():
        decision = tune_after_training(params.to_config(), run_dir)
    message = ("no validation tracks: thresholds not tuned (decisions use 0.5)" if decision is None else
               f"thresholds tuned on {decision.info['tuned_on']['n_tracks']} validation tracks: default rule "
               f"{decision.default}")
    (get_run_logger().warning if decision is None else get_run_logger().info)(message)
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


@flow(name="train-model", log_prints=True, validate_parameters=False)
def train_model(
    store: str,
    out: str,
    features: str = "logmel",
    model: ModelName = "crnn",
    epochs: Positive | None = None,
    device: Device = "auto",
    options: dict[str, Any] | None = None,
    fresh: bool = False,
) -> str:
    """Train ``model`` on ``features`` of ``store`` into the run directory ``out``.

    ``options`` holds any other :class:`flows.params.TrainParams` field (batch_size, window,
    lr, seed, augment, attention, patience, resume, model_options, remix, validation_store,
    endpoint_url).  ``fresh`` replaces a run already in ``out`` (a run directory only).
    """
    fields: dict[str, Any] = dict(options or {})
    if epochs is not None:
        fields["epochs"] = epochs
    try:
        params = parse_parameters(TrainParams, store=store, out=out, features=features, model=model, device=device,
                                  **fields)
        params.to_config()  # the rules instrec train applies (attention on crnn-gru only...), before any work
        run_device = check_device(params.device)
    except (FlowParameterError, DeviceError) as exc:
        return rejected(exc)
    if fresh:
        remove_previous_run(params.out)
    run_dir = fit_model(params, run_device)
    tune_thresholds(params, run_dir)
    publish_training_metrics(run_dir)
    return run_dir
