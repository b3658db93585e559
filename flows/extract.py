"""``extract-features``: build or update a dataset's feature store."""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from flows.params import ExtractParams


@task(name="extract-dataset", retries=2, retry_delay_seconds=10)
def extract_dataset_task(params: ExtractParams) -> dict[str, Any]:
    from features.registry import build_config
    from pipeline.extraction.driver import extract_dataset
    from pipeline.extraction.extract import FeatureTarget
    from pipeline.readers import read_dataset

    targets = [FeatureTarget.from_config(build_config(name)) for name in params.features]
    summary = extract_dataset(
        read_dataset(params.dataset, params.root, taxonomy=params.taxonomy), params.store,
        targets=targets, workers=params.workers, dask_address=params.dask_address, prune=params.prune,
        storage_options=params.storage_options(), progress=False,
    )
    return summary.to_json()


def summary_markdown(summary: dict[str, Any]) -> str:
    """What a run did, as Markdown: counts, then every failure with its file and reason."""
    lines = [
        f"Store `{summary['store']}`, feature sets {', '.join(f'`{k}`' for k in summary['feature_sets'])}",
        "",
        "| done | skipped unchanged | failed | pruned |",
        "| --- | --- | --- | --- |",
        f"| {summary['done']} | {summary['skipped_unchanged']} | {len(summary['failed'])} "
        f"| {len(summary['pruned'])} |",
    ]
    if summary["failed"]:
        lines += ["", "Failed tracks:", ""]
        lines += [f"- `{f['track_id']}`: {f['problem']}" for f in summary["failed"]]
    return "\n".join(lines)


@flow(name="extract-features", log_prints=True)
def extract_features(
    dataset: str,
    root: str,
    store: str,
    features: list[str] | None = None,
    workers: int = 2,
    dask_address: str | None = None,
    taxonomy: str | None = None,
    prune: bool = False,
    endpoint_url: str | None = None,
) -> dict[str, Any]:
    """Extract ``features`` of the dataset at ``root`` into ``store``; only new or changed songs
    are computed."""
    params = ExtractParams(dataset=dataset, root=root, store=store, features=features or ["logmel"],
                           workers=workers, dask_address=dask_address, taxonomy=taxonomy, prune=prune,
                           endpoint_url=endpoint_url)
    summary = extract_dataset_task(params)
    create_markdown_artifact(key="extraction-summary", markdown=summary_markdown(summary),
                             description="Tracks done, skipped and failed")
    print(f"{params.store}: {summary['done']} done, {summary['skipped_unchanged']} unchanged, "
          f"{len(summary['failed'])} failed")
    return summary
