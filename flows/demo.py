"""``demo-pipeline``: the leave-one-timbre-out recipe on the demo corpus, through the flows.

A table of contents of :mod:`evaluation.protocol`: render the training corpus (stems drawn from
the training soundfonts) and the held-out corpus (a soundfont training never hears), extract
them with ``extract-features`` (stems for the training corpus), train with ``train-model``
(remixing stems, epochs and thresholds chosen on the held-out validation half), write reports on
both test splits with ``evaluate-model``, compare them, and predict a few held-out songs with the
shipped model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import flow, task

from flows.evaluate import evaluate_model
from flows.extract import extract_features
from flows.params import DemoParams, FlowParameterError, ModelName, Positive, Workers, parse_parameters, rejected
from flows.train import train_model

if TYPE_CHECKING:
    from evaluation.protocol import ProtocolConfig

# The demo's recipe: the shipped model's (models/recipes/gm-families.json), smaller, so `make demo`
# takes minutes on 2 cores.
DEMO_RECIPE = {"songs": 160, "seconds": 10.0, "held_out_songs": 32, "held_out_seconds": 10.0}
DEMO_TRAINING = {"epochs": 12, "steps_per_epoch": 80, "patience": 6}


def recipe_file() -> Path:
    from evaluation.model_card import models_root

    return models_root() / "recipes" / "gm-families.json"


@task(name="render-corpora")
def render_corpora(config: ProtocolConfig, out: str) -> dict[str, str]:
    from evaluation.protocol import ProtocolPaths, render_corpora as render

    return {name: str(path) for name, path in render(config, ProtocolPaths(Path(out))).items()}


@task(name="compare-reports")
def compare_reports(reports: list[str], out: str) -> str:
    from evaluation.compare import compare_reports as write_comparison

    return str(write_comparison([Path(r) for r in reports], Path(out)))


@task(name="summarise")
def summarise(config: ProtocolConfig, run: str, metrics: dict[str, dict[str, Any]], reports: dict[str, str]) -> dict[str, Any]:
    from evaluation.protocol import family_table, headline

    return {"recipe": config.to_json(), "run": run, "reports": reports,
            "headline": {name: headline(m) for name, m in metrics.items()},
            "families": family_table(metrics["in_domain"], metrics["held_out"]),
            "held_out_soundfont": config.held_out_soundfont}


@task(name="predict-with-the-shipped-model")
def predict_with_shipped_model(held_out: str, out: str, songs: int = 3) -> list[str]:
    from evaluation.model_card import ModelError, default_model_dir
    from evaluation.predict import predict_files

    try:
        model = default_model_dir()
    except ModelError as exc:
        print(f"no prediction with the shipped model: {exc}")
        return []
    mixes = sorted(Path(held_out).rglob("mix.flac"))[:songs]
    return [str(p) for p in predict_files(mixes, [model], out)["written"]]


def demo_config(*, songs: int | None = None, seed: int = 0, model: str | None = None, epochs: int | None = None,
                workers: int = 2, recipe: dict[str, Any] | None = None,
                training: dict[str, Any] | None = None) -> Any:
    """The shipped model's recipe at demo size, with the caller's overrides (a ProtocolConfig)."""
    from evaluation.protocol import ProtocolConfig

    base = json.loads(recipe_file().read_text())
    fields = {**base, **DEMO_RECIPE, "seed": seed, "workers": workers, **dict(recipe or {})}
    if songs is not None:
        fields["songs"] = songs
    options = {**base.get("training", {}), **DEMO_TRAINING, **dict(training or {})}
    if model is not None:
        options["model"] = model
    if epochs is not None:
        options["epochs"] = epochs
    return ProtocolConfig.from_json({**fields, "training": options})


@flow(name="demo-pipeline", log_prints=True, validate_parameters=False)
def demo_pipeline(out: str = "demo", songs: Positive | None = None, seed: int = 0, model: ModelName | None = None,
                  epochs: Positive | None = None, workers: Workers = 2, recipe: dict[str, Any] | None = None,
                  training: dict[str, Any] | None = None) -> dict[str, Any]:
    """The recipe of the shipped model, demo-sized, on the demo corpus; returns paths and the score tables.

    ``recipe`` overrides fields of the recipe (:class:`evaluation.protocol.ProtocolConfig`),
    ``training`` fields of its training settings (any :class:`flows.params.TrainParams` field).
    """
    from evaluation.protocol import ProtocolPaths, markdown_tables

    try:
        given = parse_parameters(DemoParams, out=out, songs=songs, seed=seed, model=model, epochs=epochs,
                                 workers=workers, recipe=recipe, training=training)
    except FlowParameterError as exc:
        return rejected(exc)
    out, workers, seed = given.out, given.workers, given.seed
    config = demo_config(songs=given.songs, seed=seed, model=given.model, epochs=given.epochs, workers=workers,
                         recipe=given.recipe, training=given.training)
    options = dict(config.training)
    paths = ProtocolPaths(Path(out))
    render_corpora(config, out)
    extract_features(dataset="demo", root=str(paths.corpus), store=str(paths.store), workers=workers,
                     stems=config.stems, activity=config.activity)
    extract_features(dataset="demo", root=str(paths.held_out), store=str(paths.held_out_store), workers=workers,
                     stems=False, activity=config.activity)
    run = train_model(store=str(paths.store), out=str(paths.run), features="logmel",
                      model=options.pop("model", "crnn"),
                      options={**options, "seed": seed, "validation_store": str(paths.held_out_store),
                               "resume": False}, fresh=True)
    reports = {"in_domain": str(paths.reports / "in-domain"), "held_out": str(paths.reports / "held-out")}
    metrics = {"in_domain": evaluate_model(store=str(paths.store), run=run, out=reports["in_domain"], split="test"),
               "held_out": evaluate_model(store=str(paths.held_out_store), run=run, out=reports["held_out"],
                                          split="test")}
    comparison = compare_reports(list(reports.values()), str(paths.reports / "comparison"))
    summary = summarise(config, run, metrics, {k: f"{v}/report.html" for k, v in reports.items()})
    summary["comparison"] = comparison
    summary["predictions"] = predict_with_shipped_model(str(paths.held_out), str(Path(out) / "predictions"))
    print(markdown_tables(summary))
    print(f"in-domain test report:  {summary['reports']['in_domain']}")
    print(f"held-out-timbre report: {summary['reports']['held_out']}  ({config.held_out_soundfont})")
    print(f"side-by-side comparison: {comparison}")
    if summary["predictions"]:
        print(f"shipped model's predictions of held-out songs: {Path(out) / 'predictions'}")
    return summary
