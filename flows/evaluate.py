"""``evaluate-model``: write a run's report on a store and publish its headline metrics."""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from flows.params import EvaluateParams

HEADLINE = ("frame.f1_micro", "frame.f1_macro", "frame.map_macro", "segment.f1_micro", "dominant.accuracy")


@task(name="write-report")
def write_report(params: EvaluateParams) -> dict[str, Any]:
    from evaluation.evaluate import evaluate

    return evaluate(params.store, params.run, params.split, params.out,
                    storage_options=params.storage_options())


def headline_markdown(metrics: dict[str, Any], params: EvaluateParams) -> str:
    """The headline table of a report as Markdown (undefined values shown as n/a)."""
    lines = [f"Report: `{params.out}/report.html` (run `{params.run}`, store `{params.store}`, "
             f"split `{params.split}`)", "", "| metric | value |", "| --- | --- |"]
    for key in HEADLINE:
        value = metrics.get(key)
        lines.append(f"| {key} | {'n/a' if value is None or value != value else f'{value:.3f}'} |")
    return "\n".join(lines)


@task(name="publish-headline")
def publish_headline(metrics: dict[str, Any], params: EvaluateParams) -> None:
    create_markdown_artifact(key="evaluation-headline", markdown=headline_markdown(metrics, params),
                             description="Headline metrics and where the full report is")


@flow(name="evaluate-model", log_prints=True)
def evaluate_model(store: str, run: str, out: str, split: str = "test",
                   endpoint_url: str | None = None) -> dict[str, Any]:
    """Evaluate the run ``run`` on ``split`` of ``store``; the report goes to ``out``."""
    params = EvaluateParams(store=store, run=run, out=out, split=split, endpoint_url=endpoint_url)
    metrics = write_report(params)
    publish_headline(metrics, params)
    print(f"report written to {params.out}/report.html")
    return metrics
