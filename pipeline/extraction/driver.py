"""The extraction driver: decide what to compute, run it on Dask, commit as results arrive.

Only this process (the lock holder) commits: workers write track versions and return their
records; the driver publishes them in the manifest every ``commit_every_s`` seconds, so a
kill -9 loses at most the uncommitted tail, which the next run recomputes.
"""

from __future__ import annotations

import itertools
import logging
import operator
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

from features.activity import ActivityConfig
from pipeline.extraction.extract import (
    DEFAULT_BLOCK_FRAMES, FeatureTarget, TrackResult, extract_batch, single_threaded_blas,
)
from pipeline.readers.files import SourceHashCache
from pipeline.track import InstrecError, Track, TrackProblem
from storage.layout import RUNS, publish_json
from storage.store import FeatureStore, open_store

log = logging.getLogger(__name__)


@dataclass
class ExtractionSummary:
    """What a run did: done / skipped unchanged / failed (with reasons) / pruned."""

    store: str
    run_id: str
    feature_sets: list[str]
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    snapshot_id: str = ""

    @property
    def realtime_factor(self) -> float:
        return self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else float("nan")

    def to_json(self) -> dict:
        return {
            "store": self.store, "run_id": self.run_id, "feature_sets": self.feature_sets,
            "done": len(self.done), "skipped_unchanged": len(self.skipped), "failed": self.failed,
            "warnings": self.warnings, "pruned": self.pruned, "audio_seconds": round(self.audio_seconds, 3),
            "wall_seconds": round(self.wall_seconds, 3), "realtime_factor": round(self.realtime_factor, 1),
            "snapshot_id": self.snapshot_id, "done_tracks": self.done,
        }

    def text(self) -> str:
        lines = [
            f"{self.store}: {len(self.done)} done, {len(self.skipped)} skipped unchanged, "
            f"{len(self.failed)} failed, {len(self.pruned)} pruned "
            f"({self.audio_seconds:.0f} s of audio in {self.wall_seconds:.1f} s)"
        ]
        lines += [f"  failed {f['track_id']}: {f['problem']}" for f in self.failed]
        lines += [f"  warning {w['track_id']}: {w['message']}" for w in self.warnings]
        return "\n".join(lines)


def _pending_keys(store: FeatureStore, track: Track, keys: Sequence[str]) -> list[str]:
    """Feature sets whose committed record (or stem group, in a store with stems) is missing or stale."""
    sets = store.manifest["feature_sets"]
    with_stems = store.settings["stems"]
    todo = []
    for key in keys:
        records = [sets[key]["tracks"].get(track.track_id)]
        if with_stems:
            records.append(sets[key].get("stems", {}).get(track.track_id))
        if any(r is None or r["content_hash"] != track.content_hash for r in records):
            todo.append(key)
    return todo


def _split_moves(store: FeatureStore, track: Track, keys: Sequence[str]) -> list[dict]:
    """Records re-committing ``track``'s unchanged versions in feature sets ``keys`` under its new split.

    A track's split can change without its sources changing: the split of a corpus of a few songs
    (:func:`pipeline.track.assign_splits`) moves songs when the corpus grows.  The versions stay,
    only the manifest records change (same path, so nothing is rewritten or deleted).
    """
    sets = store.manifest["feature_sets"]
    moves = []
    for key in keys:
        for level, kind in (("tracks", None), ("stems", "stems")):
            record = sets[key].get(level, {}).get(track.track_id)
            if record is not None and record.get("split") != track.split:
                moves.append({**record, "track_id": track.track_id, "feature_set": key, "split": track.split,
                              **({"kind": kind} if kind else {})})
    return moves


def label_settings(store_url: str, *, stems: bool | None = None, activity: ActivityConfig | None = None,
                   storage_options: dict | None = None) -> tuple[bool, ActivityConfig]:
    """The stems / activity settings an extraction into ``store_url`` uses.

    ``None`` means "what the store was built with" (defaults for a new store: no stems, labels
    from the notes).  Readers need this before the scan: with stems or stem-based labels they hash
    the stems' audio too.
    """
    if stems is not None and activity is not None:
        return stems, activity
    try:
        existing = open_store(store_url, mode="r", storage_options=storage_options).settings
    except (InstrecError, OSError):  # no store yet (or none can be opened: the writer says why)
        existing = {"stems": False, "activity": {"mode": "notes"}}
    return (existing["stems"] if stems is None else stems,
            ActivityConfig.from_json(existing["activity"]) if activity is None else activity)


def _batches(items: Iterable[tuple[Track, list[FeatureTarget]]], *, batch_seconds: float) -> Iterator[list]:
    """Group tracks, in arrival order, into tasks of about ``batch_seconds`` of audio (a long song alone)."""
    current: list = []
    seconds = 0.0
    for item in items:
        current.append(item)
        seconds += max(item[0].duration, 1.0)
        if seconds >= batch_seconds:
            yield current
            current, seconds = [], 0.0
    if current:
        yield current


@dataclass(frozen=True)
class BatchContext:
    """What an external batch runner passes to :func:`pipeline.extraction.extract.extract_batch`.

    ``classes`` is read when a batch is submitted: the store learns its vocabulary from the
    first track of the scan.
    """

    store: FeatureStore
    block_frames: int
    stems: bool = False
    activity: ActivityConfig = field(default_factory=ActivityConfig)

    @property
    def writer(self) -> Any:
        return self.store.version_writer

    @property
    def classes(self) -> list[str]:
        return self.store.classes


# Runs batches of (track, feature sets) somewhere (a Prefect task runner, another executor) and
# yields each batch's results as it finishes; see ``flows/extract.py``.
BatchRunner = Callable[[Iterable[list], BatchContext], Iterable[list[TrackResult]]]


class _Cluster:
    """The Dask cluster of a run: an existing one (address) or a local one started on demand.

    The local cluster is by default one in-process worker with ``workers`` threads: decoding
    (libsndfile), resampling (soxr), FFTs, BLAS and compression all release the GIL, so
    threads run in parallel, and they start in well under a second where worker processes
    each spend one to three seconds starting and importing numpy, scipy, soundfile and zarr
    (a third of a 200-song run on 2 cores).  ``processes=True`` gives one process per worker
    (for feature code that holds the GIL).  :meth:`start_soon` starts it in a background
    thread, overlapping its start-up with the dataset scan.  Either kind listens on 127.0.0.1
    only (:func:`pipeline.extraction.local_cluster.start_local_cluster`).
    """

    def __init__(self, *, workers: int, address: str | None, processes: bool = False) -> None:
        self.workers, self.address, self.processes = workers, address, processes
        self._pool: ThreadPoolExecutor | None = None
        self._starting: Future | None = None
        self._cluster: Any = None
        self._client: Any = None

    def start_soon(self) -> None:
        if self._starting is None and self.address is None and self.workers > 0:
            self._pool = ThreadPoolExecutor(max_workers=1)
            self._starting = self._pool.submit(self._start_local)

    def _start_local(self) -> Any:
        from pipeline.extraction.local_cluster import start_local_cluster

        return start_local_cluster(workers=self.workers, processes=self.processes)

    def ready(self) -> bool:
        """True when :meth:`client` would not wait for a local cluster to start."""
        return self.address is not None or (self._starting is not None and self._starting.done())

    def client(self) -> Any:
        from dask.distributed import Client

        if self._client is None:
            if self.address:
                self._client = Client(self.address)
            else:
                self._cluster = self._starting.result() if self._starting else self._start_local()
                self._client = Client(self._cluster)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._starting is not None and self._cluster is None:
            try:
                self._cluster = self._starting.result()
            except Exception:  # it failed to start; the run already reported why, or never needed it
                self._cluster = None
        if self._cluster is not None:
            self._cluster.close()
        if self._pool is not None:
            self._pool.shutdown()


def _run_batches(items: Iterable[tuple[Track, list[FeatureTarget]]], *, store: FeatureStore, cluster: _Cluster,
                 block_frames: int, batch_seconds: float, stems: bool = False,
                 activity: ActivityConfig | None = None) -> Iterator[list[TrackResult]]:
    """Compute the pending tracks as the scan yields them; results come back as they finish.

    Tasks are submitted while the reader is still scanning (hashing) the dataset, so the scan
    overlaps the cluster's start-up and the first tracks' work.  A run with a single pending
    track runs it in this process (no cluster start-up for one song).
    """
    writer = store.version_writer
    items = iter(items)
    head = [item for _, item in zip(range(2), items)]
    if not head:
        return
    classes = store.classes  # the scan initialised the store at its first track
    options = {"writer": writer, "classes": classes, "block_frames": block_frames, "stems": stems,
               "activity": activity}
    if cluster.workers <= 0 or (cluster.address is None and len(head) == 1):
        for track, group in itertools.chain(head, items):  # one by one: each is committed as it finishes
            yield extract_batch([track], [group], **options)
        return
    from dask.distributed import as_completed

    cluster.start_soon()
    queued: list[list] = []
    finished = None
    for batch in _batches(itertools.chain(head, items), batch_seconds=batch_seconds):
        queued.append(batch)
        if finished is None and cluster.ready():  # never wait for start-up while there is scanning to do
            finished = as_completed(loop=cluster.client().loop)
        if finished is not None:
            _submit(cluster.client(), finished, queued, options)
            for future in finished.next_batch(block=False):
                yield future.result()
    if finished is None:
        finished = as_completed(loop=cluster.client().loop)
    _submit(cluster.client(), finished, queued, options)
    for future in finished:
        yield future.result()


def _submit(client: Any, finished: Any, queued: list[list], options: dict[str, Any]) -> None:
    """Submit the queued batches (emptying ``queued``) and track their futures in ``finished``;
    ``options`` are :func:`extract_batch`'s keyword arguments."""
    for batch in queued:
        finished.add(client.submit(extract_batch, [t for t, _ in batch], [g for _, g in batch], pure=False,
                                   **options))
    queued.clear()


def extract_dataset(
    tracks: Iterable[Track | TrackProblem],
    store_url: str,
    *,
    targets: Sequence[FeatureTarget],
    dataset: str | None = None,
    workers: int = 2,
    dask_address: str | None = None,
    prune: bool = False,
    storage_options: dict | None = None,
    progress: bool = True,
    commit_every_s: float = 2.0,
    max_batch_seconds: float = 120.0,
    block_frames: int = DEFAULT_BLOCK_FRAMES,
    hash_cache: SourceHashCache | None = None,
    local_processes: bool = False,
    runner: BatchRunner | None = None,
    stems: bool = False,
    activity: ActivityConfig | None = None,
) -> ExtractionSummary:
    """Extract a dataset's tracks into the store at ``store_url``, incrementally.

    Unchanged tracks (same content hash and feature key) are skipped, new ones appended,
    changed ones replaced; tracks no longer in ``tracks`` are removed only with ``prune``.

    Parameters
    ----------
    tracks : iterable of Track or TrackProblem
        A reader's output; problems are reported as failures.
    store_url : str
    targets : sequence of FeatureTarget
        The feature sets to build.
    dataset : str, optional
        Dataset name recorded in a new store (default: the first track's).
    workers : int
        Parallel workers of the local Dask cluster (threads of one in-process worker, or processes
        with ``local_processes``); 0 runs in this process without Dask.
    dask_address : str, optional
        Address of an existing cluster (``tcp://host:8786``), used instead of a local one.
    prune : bool
        Remove committed tracks that are not in ``tracks`` (from every feature set).
    local_processes : bool
        Run the local cluster's workers as separate processes instead of threads.
    runner : callable, optional
        Runs the batches instead of this module's Dask client (``flows/extract.py`` submits one
        Prefect task per batch to the flow's task runner); ``workers`` and ``dask_address`` are
        then the runner's business.  Committing stays here, in this process.
    max_batch_seconds : float
        Audio per Dask task (tracks are grouped in the order the reader yields them).
    hash_cache : SourceHashCache, optional
        The cache given to the reader as ``hash_cache``: filled here from the store's saved source
        hashes before the first track is read (readers hash lazily, as they yield), and saved back
        after the scan, so unchanged files are not read again by the next run.
    stems : bool
        Also store every song's stems (same feature sets and grid, with their own activity).
    activity : ActivityConfig, optional
        How frame labels are made (default: from the notes).  A store keeps the stems and
        activity settings it was created with (see :func:`label_settings`); the readers must
        have been given ``stems=True`` when either needs the stems' audio.

    Returns
    -------
    ExtractionSummary
    """
    started = time.perf_counter()
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    summary = ExtractionSummary(store=str(store_url), run_id=run_id, feature_sets=[t.spec.key for t in targets])
    with open_store(store_url, mode="a", storage_options=storage_options) as store:
        from tqdm import tqdm

        store.run_id = run_id  # recorded in the snapshots this run commits (`instrec store log`)

        cluster = _Cluster(workers=workers, address=dask_address, processes=local_processes)
        # every track of the dataset: computed, skipped unchanged or failed (readers know how many)
        bar = tqdm(desc="extract", unit="track", total=operator.length_hint(tracks) or None, disable=not progress)
        try:
            garbage = store.collect_garbage()
            if garbage:
                log.info("removed %d uncommitted track versions left by an interrupted run", len(garbage))
            if hash_cache is not None:
                hash_cache.load(store.source_hashes())
            seen: set[str] = set()
            activity = activity or ActivityConfig()
            settings = {"stems": bool(stems), "activity": activity.to_json()}
            pending = _plan(store, tracks, targets, dataset=dataset, summary=summary, seen=seen, settings=settings,
                            bar=bar)
            if hash_cache is not None:
                pending = _save_hashes_after(pending, store, hash_cache)
            with single_threaded_blas():  # for the whole run: the threads of a local cluster share it
                if runner is None:
                    results = _run_batches(pending, store=store, cluster=cluster, block_frames=block_frames,
                                           batch_seconds=max_batch_seconds, stems=bool(stems), activity=activity)
                else:
                    results = runner(_batches(pending, batch_seconds=max_batch_seconds),
                                     BatchContext(store=store, block_frames=block_frames, stems=bool(stems),
                                                  activity=activity))
                _execute(results, store=store, summary=summary, bar=bar, commit_every_s=commit_every_s)
            if prune and not seen:
                raise InstrecError(
                    f"{store_url}: --prune with a dataset that yielded no tracks would empty the store; "
                    "check the dataset root"
                )
        finally:
            bar.close()
            cluster.close()
        if prune:
            removals = [(key, tid) for key in store.feature_sets()
                        for tid in list(store.manifest["feature_sets"][key]["tracks"]) if tid not in seen]
            summary.pruned = sorted({tid for _, tid in removals})
            if removals:
                store.commit(remove=removals)
        summary.snapshot_id = store.snapshot_id
        summary.wall_seconds = time.perf_counter() - started
        publish_json(store.location, summary.to_json(), RUNS, f"{run_id}.json")
    return summary


def _plan(store: FeatureStore, tracks: Iterable[Track | TrackProblem], targets: Sequence[FeatureTarget], *,
          dataset: str | None, summary: ExtractionSummary, seen: set[str],
          settings: dict | None = None, bar: Any = None) -> Iterator[tuple[Track, list]]:
    """Yield the (track, feature sets) that need computing, as the reader yields tracks.

    Unchanged tracks go to ``summary.skipped``, reader problems to ``summary.failed``; every
    track id read is added to ``seen``.  The store is initialised at the first track.  ``bar``
    (a tqdm bar) counts the tracks that are not computed.
    """
    keys = [t.spec.key for t in targets]
    initialized = False
    for item in tracks:
        if isinstance(item, TrackProblem):  # "problem" names the file, as every other failure does
            summary.failed.append({"track_id": item.track_id, "path": str(item.path), "problem": str(item)})
            if bar is not None:
                bar.update(1)
            continue
        if item.track_id in seen:
            summary.failed.append({"track_id": item.track_id, "path": str(item.audio),
                                   "problem": f"{item.audio}: duplicate track id {item.track_id!r}; skipped"})
            if bar is not None:
                bar.update(1)
            continue
        seen.add(item.track_id)
        if not initialized:
            store.initialize(dataset=dataset or item.dataset, classes=list(item.classes), settings=settings)
            for target in targets:
                store.add_feature_set(target.spec)
            initialized = True
        todo = set(_pending_keys(store, item, keys))
        moves = _split_moves(store, item, [key for key in keys if key not in todo])
        if moves:
            store.commit(moves)
            log.info("%s: split is now %s (unchanged data kept)", item.track_id, item.split)
        if todo:
            yield item, [t for t in targets if t.spec.key in todo]
        else:
            summary.skipped.append(item.track_id)
            if bar is not None:
                bar.update(1)


def _save_hashes_after(items: Iterator, store: FeatureStore, hash_cache: SourceHashCache) -> Iterator:
    """Pass ``items`` through; once the scan is over, save the source hashes it used (if they changed)."""
    yield from items
    if hash_cache.to_json() != hash_cache.known:
        store.save_source_hashes(hash_cache.to_json())


def _execute(batch_results: Iterable[list[TrackResult]], *, store: FeatureStore, summary: ExtractionSummary,
             bar: Any, commit_every_s: float) -> None:
    """Collect finished batches, committing their tracks every ``commit_every_s`` seconds and at the end
    (``bar``: the run's tqdm bar)."""
    staged: list[dict] = []
    last_commit = time.monotonic()
    try:
        for results in batch_results:
            for result in results:
                summary.audio_seconds += result.audio_seconds
                summary.warnings += [{"track_id": result.track_id, "message": w} for w in result.warnings]
                if result.ok:
                    staged += result.records.values()
                    summary.done.append(result.track_id)
                else:
                    summary.failed.append({"track_id": result.track_id, "path": result.path,
                                           "problem": result.error})
            bar.update(len(results))
            if staged and time.monotonic() - last_commit >= commit_every_s:
                store.commit(staged)
                staged, last_commit = [], time.monotonic()
    finally:
        if staged:  # also on KeyboardInterrupt: what finished is kept
            store.commit(staged)
