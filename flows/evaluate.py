"""``evaluate-model``: write a run's report on a store and publish its headline metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact

from flows.logs import library_logs
from flows.params import EvaluateParams, FlowParameterError, Split, parse_parameters, rejected

HEADLINE = ("frame.f1_micro", "frame.f1_macro", "frame.map_macro", "segment.f1_micro", "dominant.accuracy")


@task(name="write-report")
def write_report(params: EvaluateParams) -> dict[str, Any]:
    from evaluation.evaluate import evaluate

    with library_logs():
        return evaluate(params.store, params.run, params.split, params.out,
                        storage_options=params.storage_options())


def report_uri(params: EvaluateParams) -> str:
    """The report's address: a file:// URI for a local report (open it from the artifact), else its URL."""
    path = f"{params.out.rstrip('/')}/report.html"
    return path if "://" in path else Path(path).resolve().as_uri()


def headline_markdown(metrics: dict[str, Any], params: EvaluateParams) -> str:
    """The headline table of a report as Markdown (undefined values shown as n/a), linking the report."""
    lines = [f"Report: [{params.out}/report.html]({report_uri(params)}) (run `{params.run}`, store "
             f"`{params.store}`, split `{params.split}`)", "", "| metric | value |", "| --- | --- |"]
    for key in HEADLINE:
        value = metrics.get(key)
        lines.append(f"| {key} | {'n/a' if value is None or value != value else f'{value:.3f}'} |")
    return "\n".join(lines)


@task(name="publish-headline")
def publish_headline(metrics: dict[str, Any], params: EvaluateParams) -> None:
    create_markdown_artifact(key="evaluation-headline", markdown=headline_markdown(metrics, params),
                             description="Headline metrics and where the full report is")
    create_link_artifact(key="evaluation-report", link=report_uri(params), link_text=f"{params.out}/report.html",
                         description="The full report (one offline HTML file)")


@flow(name="evaluate-model", log_prints=True, validate_parameters=False)
def evaluate_model(store: str, run: str, out: str, split: Split = "test",
                   endpoint_url: str | None = None) -> dict[str, Any]:
    """Evaluate the run ``run`` on ``split`` of ``store``; the report goes to ``out``."""
    try:
        params = parse_parameters(EvaluateParams, store=store, run=run, out=out, split=split,
                                  endpoint_url=endpoint_url)
    except FlowParameterError as exc:
        return rejected(exc)
    metrics = write_report(params)
    publish_headline(metrics, params)
    print(f"report written to {report_uri(params)}")
    return metrics
