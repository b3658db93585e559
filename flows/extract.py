"""``extract-features``: build or update a dataset's feature store.

The flow plans with the library (which tracks are new or changed), runs one Prefect task per
batch of tracks on a :class:`prefect_dask.DaskTaskRunner` (a local cluster, or an existing
``dask.distributed`` cluster given by address), and commits finished tracks from the flow's
own process: workers only write uncommitted track versions, so a retried or killed task never
leaves a half-written track visible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Iterator

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.futures import as_completed

from flows.logs import library_logs
from flows.params import (
    Activity, Dataset, ExtractParams, FeatureName, FlowParameterError, Workers, parse_parameters, rejected,
)

if TYPE_CHECKING:
    from features.activity import ActivityConfig
    from pipeline.extraction.driver import BatchContext
    from storage.writer import VersionWriter


@task(name="extract-batch", retries=2, retry_delay_seconds=5)
def extract_batch_task(batch: list, writer: VersionWriter, classes: list[str], block_frames: int,
                       stems: bool = False, activity: ActivityConfig | None = None) -> list:
    """Compute and write (uncommitted) the tracks of one batch; a bad song is a failed result,
    not an exception, so retries only cover transient errors such as I/O to the store."""
    from pipeline.extraction.extract import extract_batch

    return extract_batch([track for track, _ in batch], [targets for _, targets in batch],
                         writer=writer, classes=classes, block_frames=block_frames, stems=stems, activity=activity)


def run_batches_as_tasks(batches: Iterable[list], context: BatchContext) -> Iterator[list]:
    """A :data:`pipeline.extraction.driver.BatchRunner`: one task per batch, results as they finish."""
    futures = [extract_batch_task.submit(batch, context.writer, context.classes, context.block_frames,
                                         context.stems, context.activity)
               for batch in batches]
    for future in as_completed(futures):
        yield future.result()


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


@flow(name="extract-features-on-dask")
def extract_on_task_runner(params: ExtractParams) -> dict[str, Any]:
    """The extraction itself; runs on the task runner :func:`extract_features` gives it."""
    from features.activity import ActivityConfig
    from pipeline.extraction.driver import extract_dataset, label_settings
    from pipeline.readers import read_dataset
    from pipeline.readers.files import SourceHashCache
    from pipeline.vggish_options import build_feature_configs
    from pipeline.extraction.extract import FeatureTarget

    targets = [FeatureTarget.from_config(config) for config in build_feature_configs(params.features)]
    stems, activity = label_settings(
        params.store, stems=params.stems, activity=None if params.activity is None else ActivityConfig(params.activity),
        storage_options=params.storage_options())
    cache = SourceHashCache()  # unchanged source files are not read again
    reader_options = {"stems": True} if stems or activity.needs_stem_audio else {}
    summary = extract_dataset(
        read_dataset(params.dataset, params.root, taxonomy=params.taxonomy, hash_cache=cache, **reader_options),
        params.store, targets=targets, prune=params.prune, storage_options=params.storage_options(),
        progress=False, hash_cache=cache, runner=run_batches_as_tasks, stems=stems, activity=activity,
    )
    return summary.to_json()


def task_runner_for(params: ExtractParams) -> Any:
    """An existing Dask cluster by address, else a local one with ``workers`` threads that
    listens on 127.0.0.1 only (:func:`pipeline.extraction.local_cluster.start_local_cluster`)."""
    from prefect_dask import DaskTaskRunner

    from pipeline.extraction.local_cluster import start_local_cluster

    if params.dask_address:
        return DaskTaskRunner(address=params.dask_address)
    return DaskTaskRunner(cluster_class=start_local_cluster, cluster_kwargs={"workers": params.workers})


@flow(name="extract-features", log_prints=True, validate_parameters=False)
def extract_features(
    dataset: Dataset,
    root: str,
    store: str,
    features: list[FeatureName] | None = None,
    workers: Workers = 2,
    dask_address: str | None = None,
    taxonomy: str | None = None,
    prune: bool = False,
    endpoint_url: str | None = None,
    stems: bool | None = None,
    activity: Activity | None = None,
) -> dict[str, Any]:
    """Extract ``features`` of the dataset at ``root`` into ``store``; only new or changed songs
    are computed.  ``stems`` / ``activity``: see ``instrec extract --stems / --activity``."""
    try:
        params = parse_parameters(ExtractParams, dataset=dataset, root=root, store=store,
                                  features=features or ["logmel"], workers=workers, dask_address=dask_address,
                                  taxonomy=taxonomy, prune=prune, endpoint_url=endpoint_url, stems=stems,
                                  activity=activity)
    except FlowParameterError as exc:
        return rejected(exc)
    with library_logs():
        summary = extract_on_task_runner.with_options(task_runner=task_runner_for(params))(params)
    create_markdown_artifact(key="extraction-summary", markdown=summary_markdown(summary),
                             description="Tracks done, skipped and failed")
    print(f"{params.store}: {summary['done']} done, {summary['skipped_unchanged']} unchanged, "
          f"{len(summary['failed'])} failed")
    return summary
