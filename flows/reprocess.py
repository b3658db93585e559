"""``reprocess-new-songs``: pick up songs added to (or changed in) a dataset since the last run.

Deployed on a schedule (prefect.yaml): each run scans the dataset root, compares the songs'
content hashes with the store's committed tracks, extracts only what is new or changed
(through ``extract-features``, which is incremental), optionally predicts the current model
on those songs, and publishes an artifact listing what was added.  Each commit keeps the
snapshot it replaced (``storage/README.md``), so after a run that committed the flow expires the
snapshots replaced more than ``keep_history`` ago (default one day, as ``instrec store expire
--older-than 1d``): a store reprocessed every 10 minutes does not grow without end, and a reader
or training run that opened an older snapshot has that long to finish.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from flows.extract import extract_features
from flows.logs import library_logs
from flows.params import (
    Dataset, FeatureName, FlowParameterError, ReprocessParams, Workers, parse_parameters, rejected,
)


@task(name="feature-keys")
def feature_keys(names: list[str]) -> list[str]:
    """Store keys (``logmel-1a2b3c4d``) of today's configurations of the named feature sets
    (names or specs with parameters, :mod:`pipeline.feature_specs`)."""
    from pipeline.extraction.extract import FeatureTarget
    from pipeline.feature_specs import build_feature_config

    return [FeatureTarget.from_config(build_feature_config(name)).spec.key for name in names]


@task(name="scan-for-changes", retries=2, retry_delay_seconds=10)
def scan_for_changes(params: ReprocessParams, keys: list[str]) -> dict[str, Any]:
    """Track ids per category, and the audio of the new and changed songs."""
    from pipeline.extraction.changes import find_changes
    from pipeline.extraction.driver import label_settings
    from pipeline.readers import read_dataset

    # a store with stems (or stem-based labels) hashes the stems too: read the songs the same way
    stems, activity = label_settings(params.store, storage_options=params.storage_options())
    options = {"stems": True} if stems or activity.needs_stem_audio else {}
    changes = find_changes(read_dataset(params.dataset, params.root, taxonomy=params.taxonomy, **options),
                           params.store, keys, storage_options=params.storage_options())
    scan = changes.to_json()
    scan["audio"] = {t.track_id: str(t.audio) for t in changes.todo}
    return scan


@task(name="predict-new-songs")
def predict_new_songs(audio: dict[str, str], run: str, out: str) -> dict[str, dict[str, Any]]:
    """Track id -> ``{"json": path, "dominant": class}`` of each predicted song (``{"problem": ...}``
    for one that could not be read)."""
    import json

    from evaluation.predict import predict_files, track_names_from

    track_ids = list(audio)
    # outputs named after the track ids: every Slakh mix is mix.flac, a file name would collide
    result = predict_files([audio[tid] for tid in track_ids], [run], out, names=track_ids)
    track_of = dict(zip(track_names_from(track_ids), track_ids))
    predicted: dict[str, dict[str, Any]] = {}
    for path in result["written"]:
        record = json.loads(Path(path).read_text())
        runs = record.get("runs") or [{}]
        predicted[track_of[record["track"]]] = {"json": str(path), "dominant": runs[0].get("dominant")}
    for tid in audio:
        predicted.setdefault(tid, {"problem": next((p for p in result["problems"] if audio[tid] in p),
                                                   "prediction failed")})
    return predicted


@task(name="expire-old-snapshots")
def expire_old_snapshots(params: ReprocessParams) -> dict[str, Any] | None:
    """:func:`storage.history.expire_snapshots` with ``params.keep_history``; None (and a warning) when
    another writer holds the store: the next run expires them."""
    from storage.history import expire_snapshots
    from storage.locking import StoreLockedError

    try:
        report = expire_snapshots(params.store, older_than_s=params.keep_history_s(),
                                  storage_options=params.storage_options())
    except StoreLockedError as exc:
        get_run_logger().warning("%s; old snapshots are expired on the next run", exc)
        return None
    return {"expired": report.expired, "kept": len(report.kept), "deleted_versions": len(report.deleted_versions)}


def additions_markdown(scan: dict[str, Any], extraction: dict[str, Any] | None,
                       predicted: dict[str, dict[str, Any]] | None) -> str:
    """What a reprocessing run added, as Markdown: one row per new or changed song."""
    done = set(extraction["done_tracks"]) if extraction else set()
    failed = {f["track_id"]: f["problem"] for f in (extraction or {}).get("failed", [])}
    if not scan["store_exists"]:
        return f"No store yet: nothing was extracted ({len(scan['new'])} songs waiting); run extract-features first."
    lines = [f"{len(scan['new'])} new, {len(scan['changed'])} changed, {len(scan['unchanged'])} unchanged, "
             f"{len(scan['gone'])} gone from the dataset (kept in the store), {len(scan['problems'])} unreadable", ""]
    todo = [(tid, "new") for tid in scan["new"]] + [(tid, "changed") for tid in scan["changed"]]
    if todo:
        lines += ["| track | status | extracted | predicted dominant | predictions |",
                  "| --- | --- | --- | --- | --- |"]
        for tid, status in todo:
            extracted = "yes" if tid in done else f"failed: {failed.get(tid, 'not run')}"
            guess = (predicted or {}).get(tid, {})
            lines.append(f"| `{tid}` | {status} | {extracted} | {guess.get('dominant') or '-'} "
                         f"| {('`' + guess['json'] + '`') if 'json' in guess else guess.get('problem', '-')} |")
    if scan["gone"]:
        lines += ["", "Gone from the dataset: " + ", ".join(f"`{t}`" for t in scan["gone"])]
    if scan["problems"]:
        lines += ["", "Unreadable songs:", ""] + [f"- {p}" for p in scan["problems"]]
    return "\n".join(lines)


def missing_dataset_markdown(params: ReprocessParams) -> str:
    """The artifact of a run that found no dataset folder to scan."""
    return (f"No dataset at `{params.root}` yet: nothing scanned, nothing extracted. Create it (`make demo`, "
            "`instrec demo-corpus`, or copy a dataset there); the next scheduled run picks it up.")


@flow(name="reprocess-new-songs", log_prints=True, validate_parameters=False)
def reprocess_new_songs(
    dataset: Dataset,
    root: str,
    store: str,
    features: list[FeatureName] | None = None,
    workers: Workers = 2,
    dask_address: str | None = None,
    taxonomy: str | None = None,
    endpoint_url: str | None = None,
    run: str | None = None,
    predictions: str | None = None,
    keep_history: str | None = "1d",
) -> dict[str, Any]:
    """Extract the songs under ``root`` that are new or changed since ``store`` was last updated;
    with ``run``, predict that run's model on them into ``predictions`` (default ``<run>/predictions``);
    after a commit, expire the snapshots replaced more than ``keep_history`` ago (None: keep all).
    A ``root`` that does not exist yet ends the run Completed, with a warning."""
    try:
        params = parse_parameters(ReprocessParams, dataset=dataset, root=root, store=store,
                                  features=features or ["logmel"], workers=workers, dask_address=dask_address,
                                  taxonomy=taxonomy, endpoint_url=endpoint_url, run=run, predictions=predictions,
                                  keep_history=keep_history)
    except FlowParameterError as exc:
        return rejected(exc)
    logger = get_run_logger()
    if params.dataset_missing():
        logger.warning("%s: no dataset folder here yet, nothing to scan; create it (make demo, instrec demo-corpus) "
                       "and the next run adds its songs", params.root)
        create_markdown_artifact(key="reprocessed-songs", markdown=missing_dataset_markdown(params),
                                 description="Songs added to the store by this run")
        return {"scan": None, "added": [], "extraction": None, "predictions": None, "history": None,
                "dataset_missing": True}
    with library_logs():
        scan = scan_for_changes(params, feature_keys(params.features))
    extraction = predicted = history = None
    if not scan["store_exists"]:
        logger.warning("%s: no store yet; build it with the extract-features flow (or `instrec extract`), "
                       "then this flow adds the songs that come later", params.store)
    elif scan["audio"]:
        extraction = extract_features(dataset=params.dataset, root=params.root, store=params.store,
                                      features=params.features, workers=params.workers,
                                      dask_address=params.dask_address, taxonomy=params.taxonomy,
                                      endpoint_url=params.endpoint_url)
        if extraction["done_tracks"] and params.keep_history is not None:
            with library_logs():
                history = expire_old_snapshots(params)
        done = {tid: scan["audio"][tid] for tid in extraction["done_tracks"] if tid in scan["audio"]}
        out = params.predictions_dir()
        if params.run and out is None:
            logger.warning("%s: no run there yet; predictions skipped (train one, e.g. with the train-model "
                           "flow)", params.run)
        elif out and done:
            with library_logs():
                predicted = predict_new_songs(done, params.run, out)
    else:
        logger.info("%s: nothing new under %s", params.store, params.root)
    create_markdown_artifact(key="reprocessed-songs", markdown=additions_markdown(scan, extraction, predicted),
                             description="Songs added to the store by this run")
    added = sorted(set(extraction["done_tracks"]) & set(scan["audio"])) if extraction else []
    print(f"{params.store}: added or updated {len(added)} songs ({', '.join(added) or 'none'}), "
          f"{len(scan['unchanged'])} unchanged")
    return {"scan": {k: v for k, v in scan.items() if k != "audio"}, "added": added,
            "extraction": extraction, "predictions": predicted, "history": history, "dataset_missing": False}
