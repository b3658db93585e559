"""Today's store (Zarr v3 + manifest committed last) against icechunk, measured in one run (issue 14).

Both designs get the same synthetic tracks in the same Zarr layout: one group per track version
(``<key>/tracks/<slug>/<version>``) made by the store's own ``storage.writer.TrackVersion``, so
the arrays, chunks (features float16 (n_frames, 128) in (512, 128) chunks; labels and label_mask
(n_frames, 17) in 2048-frame chunks; clip arrays; time / class / mel coordinates) and codecs
(blosc-lz4 or zstd, then crc32c) are identical.  Today's design writes through its public API
(``open_store(mode="a")``, ``store.version_writer.write_track``, ``store.commit(records)``);
icechunk writes the same groups into a ``Repository`` on the local disk through a writable
session's ``store`` and keeps the track index (what ``manifest.json`` holds: split, n_frames,
clip labels...) as the feature-set group's attributes, since readers need it without listing.

Phases (each design, same process, alternated where repeated):

``write``      ``--tracks`` tracks of ``--seconds`` s written and committed every 2 s of results,
               as ``instrec extract`` commits (tracks/s, payload MB/s, bytes on disk); ``--rounds``
``forked``     the same tracks from ``--writers`` processes: today's picklable ``VersionWriter``
               returning records to the lock holder, icechunk's ``Session.fork()`` merged back
``commit``     ``--commit-tracks`` tracks written, then ONE commit adding all of them
``open``       a store of ``--open-tracks`` tracks of 8 frames (committed every 1,000): time from
               nothing to listing the tracks and reading one track's features; and a one-track
               commit into that store (what every 2-s commit of an extraction costs at that size)
``snapshot``   snapshot A, then B replacing a track: a reader opened on A before B and one opened
               by A's id read A's bytes (asserted equal), the latest reads B's; then expiry of A:
               a reader of A gets an error, never fill values (zeros)

Run (under ``nice``: the machine is shared; 7-10 minutes on 2 busy cores)::

    nice -n 19 env PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_icechunk.py --json bench-icechunk.json
    nice -n 19 env PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_icechunk.py --quick   # ~1 min smoke run
    ... --only today     # without icechunk (``pip install -e '.[bench]'`` installs it)

Prints one JSON document (machine, load average, every figure, and icechunk / today ratios).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

N_CLASSES = 17
COMMIT_EVERY_S = 2.0  # pipeline.extraction.driver's commit_every_s
OPEN_COMMIT_BATCH = 1000


# -- the synthetic tracks ------------------------------------------------------------------------
ICECHUNK_CHUNK_KEYS = {"name": "default", "separator": "/"}


def make_spec() -> Any:
    from features.logmel import LogMelConfig
    from storage.schema import FeatureSetSpec

    return FeatureSetSpec.from_config(LogMelConfig())


def frames_for(seconds: float) -> int:
    from features.logmel import LogMelConfig

    config = LogMelConfig()
    return config.grid.n_frames(int(seconds * config.sr))


def make_track(i: int, n_frames: int, *, variant: int = 0) -> dict:
    """Track ``i``'s arrays (deterministic): log-mel-like float frames, 0/1 labels, full mask."""
    rng = np.random.default_rng(1000 * variant + i % 8)  # 8 distinct tracks are enough; keeps it cheap
    labels = (rng.random((n_frames, N_CLASSES)) < 0.2).astype(np.uint8)
    return {"features": rng.uniform(-100, 20, size=(n_frames, 128)).astype(np.float32), "labels": labels,
            "label_mask": np.ones_like(labels, dtype=bool),
            "clip_labels": labels.max(axis=0, initial=0).astype(np.float32),
            "clip_mask": np.ones(N_CLASSES, dtype=bool)}


def payload_bytes(track: dict) -> int:
    """Bytes of a track as stored before compression (features in float16)."""
    return track["features"].size * 2 + sum(track[k].nbytes for k in ("labels", "label_mask", "clip_labels",
                                                                        "clip_mask"))


def track_meta(i: int, seconds: float, *, variant: int = 0) -> Any:
    from storage.schema import TrackMeta

    return TrackMeta(track_id=f"track {i:06d}", split="train", duration=seconds,
                     content_hash=f"{variant:08x}{i:056x}")


CLASSES = [f"class {i}" for i in range(N_CLASSES)]


# -- the two designs -----------------------------------------------------------------------------
class Today:
    """instrec's store through its public writer API."""

    name = "today"

    def __init__(self, path: str) -> None:
        from storage.store import open_store

        self.path = path
        self.spec = make_spec()
        self.store = open_store(path, mode="a")
        self.store.initialize(dataset="bench", classes=CLASSES)
        self.store.add_feature_set(self.spec)
        self.store.commit()

    def writer(self) -> Any:
        return self.store.version_writer

    @staticmethod
    def write(writer: Any, spec: Any, i: int, seconds: float, track: dict, *, variant: int = 0) -> dict:
        return writer.write_track(spec, track_meta(i, seconds, variant=variant), classes=CLASSES, **track)

    def commit(self, records: list[dict]) -> str:
        return self.store.commit(records)

    def close(self) -> None:
        self.store.close()


class Icechunk:
    """The same groups in an icechunk repository; the track index in the feature-set group's attributes."""

    name = "icechunk"

    def __init__(self, path: str) -> None:
        import icechunk
        import zarr

        self.path = path
        self.spec = make_spec()
        self.repo = icechunk.Repository.create(icechunk.local_filesystem_storage(path))
        self.session = self.repo.writable_session("main")
        root = zarr.open_group(self.session.store, mode="a", zarr_format=3)
        root.attrs.update({"instrec_schema_version": 1, "dataset": "bench", "classes": CLASSES})
        group = zarr.open_group(self.session.store, path=self.spec.key, mode="a", zarr_format=3)
        group.attrs.update({**self.spec.to_json(), "tracks": {}})
        self.index: dict[str, dict] = {}
        self.session.commit("feature set")
        self.session = self.repo.writable_session("main")

    def writer(self) -> Any:
        return self.session.store

    @staticmethod
    def write(zstore: Any, spec: Any, i: int, seconds: float, track: dict, *, variant: int = 0) -> dict:
        import storage.writer
        from storage.layout import track_version_path

        meta = track_meta(i, seconds, variant=variant)
        # icechunk 1.1 accepts only "/"-separated chunk keys (c/0/0); today's writer uses c.0.0
        flat, storage.writer.CHUNK_KEY_ENCODING = storage.writer.CHUNK_KEY_ENCODING, ICECHUNK_CHUNK_KEYS
        try:
            version = storage.writer.TrackVersion.create(
                zstore, spec=spec, meta=meta, classes=CLASSES,
                path=track_version_path(spec.key, meta.track_id, meta.content_hash, "ic"),
                **{k: track[k] for k in ("labels", "label_mask", "clip_labels", "clip_mask")})
            version.write_features(0, track["features"])
        finally:
            storage.writer.CHUNK_KEY_ENCODING = flat
        return version.record()

    def commit(self, records: list[dict], *, index: bool = True) -> str:
        """Commit the session; with ``index`` (always, but to measure its cost) the feature-set group's
        track index is updated first."""
        import zarr

        session = self.session
        for record in records:
            self.index[record["track_id"]] = {k: v for k, v in record.items() if k not in ("track_id", "feature_set")}
        if index:
            group = zarr.open_group(session.store, path=self.spec.key, mode="a", zarr_format=3)
            group.attrs["tracks"] = self.index
        sid = session.commit(f"{len(records)} tracks")
        self.session = self.repo.writable_session("main")
        return sid

    def close(self) -> None:
        pass


DESIGNS = {"today": Today, "icechunk": Icechunk}


def disk_bytes(path: str) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def new_dir(root: str, name: str) -> str:
    path = os.path.join(root, name)
    shutil.rmtree(path, ignore_errors=True)
    return path


# -- phases --------------------------------------------------------------------------------------
def phase_write(design: type, root: str, n_tracks: int, seconds: float) -> dict:
    """``n_tracks`` tracks written by one writer and committed every 2 s of results."""
    n_frames = frames_for(seconds)
    tracks = [make_track(i, n_frames) for i in range(8)]
    store = design(new_dir(root, f"write-{design.name}"))
    writer, staged, commits = store.writer(), [], 0
    start = last = time.perf_counter()
    cpu = time.process_time()
    for i in range(n_tracks):
        staged.append(design.write(writer, store.spec, i, seconds, tracks[i % 8]))
        if time.perf_counter() - last >= COMMIT_EVERY_S:
            store.commit(staged)
            writer, staged, commits, last = store.writer(), [], commits + 1, time.perf_counter()
    store.commit(staged)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    store.close()
    mb = n_tracks * payload_bytes(tracks[0]) / 1e6
    return {"tracks": n_tracks, "seconds": round(elapsed, 3), "cpu_s": round(cpu, 3), "commits": commits + 1,
            "tracks_per_s": round(n_tracks / elapsed, 2), "payload_mb_per_s": round(mb / elapsed, 2),
            "disk_mb": round(disk_bytes(store.path) / 1e6, 2)}


def _worker_warmup(name: str) -> int:
    make_spec()
    if name == "icechunk":
        import icechunk  # noqa: F401
    import storage.store  # noqa: F401
    return os.getpid()


def _worker_write(name: str, writer: Any, part: list[int], seconds: float) -> tuple[Any, list[dict]]:
    spec, n_frames = make_spec(), frames_for(seconds)
    tracks = {i % 8: make_track(i, n_frames) for i in part[:8]}
    records = [DESIGNS[name].write(writer.store if name == "icechunk" else writer, spec, i, seconds, tracks[i % 8])
               for i in part]
    return writer, records


def phase_forked(design: type, root: str, n_tracks: int, seconds: float, writers: int) -> dict:
    """The same tracks from ``writers`` processes (spawned and warmed up before the clock starts),
    committed once by the parent: records for today's design, merged forks for icechunk."""
    store = design(new_dir(root, f"forked-{design.name}"))
    parts = [list(range(w, n_tracks, writers)) for w in range(writers)]
    context = multiprocessing.get_context("spawn")  # icechunk's runtime threads do not survive fork()
    with concurrent.futures.ProcessPoolExecutor(writers, mp_context=context) as pool:
        list(pool.map(_worker_warmup, [design.name] * writers))
        start = time.perf_counter()
        if design is Icechunk:
            forks = [store.session.fork() for _ in parts]
            done = list(pool.map(_worker_write, [design.name] * writers, forks, parts, [seconds] * writers))
            written = time.perf_counter()
            store.session.merge(*(fork for fork, _ in done))
            store.commit([r for _, records in done for r in records])
        else:
            done = list(pool.map(_worker_write, [design.name] * writers, [store.writer()] * writers, parts,
                                 [seconds] * writers))
            written = time.perf_counter()
            store.commit([r for _, records in done for r in records])
        elapsed = time.perf_counter() - start
    store.close()
    return {"tracks": n_tracks, "writers": writers, "seconds": round(elapsed, 3),
            "merge_and_commit_s": round(elapsed - (written - start), 3),
            "tracks_per_s": round(n_tracks / elapsed, 2)}


def phase_commit(design: type, root: str, n_tracks: int, seconds: float) -> dict:
    """``n_tracks`` tracks written, then one commit adding all of them."""
    n_frames = frames_for(seconds)
    tracks = [make_track(i, n_frames) for i in range(8)]
    store = design(new_dir(root, f"commit-{design.name}"))
    writer = store.writer()
    start = time.perf_counter()
    records = [design.write(writer, store.spec, i, seconds, tracks[i % 8]) for i in range(n_tracks)]
    written = time.perf_counter()
    store.commit(records)
    done = time.perf_counter()
    store.close()
    return {"tracks": n_tracks, "write_s": round(written - start, 3), "commit_s": round(done - written, 3),
            "total_s": round(done - start, 3)}


def open_today(path: str) -> tuple[int, np.ndarray]:
    from storage.store import open_store

    logmel = open_store(path).feature_set("logmel")
    entries = logmel.tracks()
    return len(entries), logmel.read_features(entries[0].track_id)


def open_icechunk(path: str, *, listing: bool = False) -> tuple[int, np.ndarray]:
    """From nothing to the track list and one track's features; the list from the feature-set group's
    index, or with ``listing`` from the hierarchy (no index: one group per track under ``tracks/``)."""
    import icechunk
    import zarr

    store = icechunk.Repository.open(icechunk.local_filesystem_storage(path)).readonly_session("main").store
    key = make_spec().key
    if listing:
        async def names(prefix: str) -> list[str]:
            return sorted([name async for name in store.list_dir(prefix)])

        from zarr.core.sync import sync

        slugs = [s for s in sync(names(f"{key}/tracks/")) if s != "zarr.json"]
        version = [v for v in sync(names(f"{key}/tracks/{slugs[0]}/")) if v != "zarr.json"][0]
        path_0, count = f"{key}/tracks/{slugs[0]}/{version}", len(slugs)
    else:
        index = zarr.open_group(store, path=key, mode="r", zarr_format=3).attrs["tracks"]
        first = sorted(index)[0]
        path_0, count = index[first]["path"], len(index)
    features = zarr.open_array(store, path=f"{path_0}/features", mode="r", zarr_format=3)
    return count, np.asarray(features[:], dtype=np.float32)


def clone_versions(zstore: Any, source: str, targets: list[str]) -> None:
    """Copy every document and chunk of the version group ``source`` to each path of ``targets``
    (the same bytes: a store of many tracks in seconds instead of minutes; only the group attributes
    still name ``source``'s track, which no measurement reads)."""
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    async def copy() -> None:
        import asyncio

        parent = source.rsplit("/", 1)[0]
        keys = [f"../{key}" for key in ("zarr.json",)] + [key[len(source) + 1:] async for key in
                                                           zstore.list_prefix(source + "/")]
        prototype = default_buffer_prototype()
        values = dict(zip(keys, await asyncio.gather(
            *(zstore.get(f"{parent}/zarr.json" if key.startswith("../") else f"{source}/{key}", prototype)
              for key in keys))))
        documents = [key for key in keys if key.endswith("zarr.json")]  # icechunk wants the nodes before chunks
        for names in (documents, [key for key in keys if key not in documents]):
            for start in range(0, len(targets), 200):
                await asyncio.gather(*(
                    zstore.set(f"{target.rsplit('/', 1)[0]}/zarr.json" if key.startswith("../") else f"{target}/{key}",
                               values[key])
                    for target in targets[start:start + 200] for key in names))

    sync(copy())


def phase_open(design: type, root: str, n_tracks: int, repeats: int = 3) -> dict:
    """A store of ``n_tracks`` 8-frame tracks (one written through the design's writer, the others
    cloned from it, committed 1,000 at a time): open time (median of ``repeats`` fresh opens), a
    one-track commit into it, and its size on disk."""
    from storage.layout import track_version_path

    track = make_track(0, 8)
    store = design(new_dir(root, f"open-{design.name}"))
    start = time.perf_counter()
    first = design.write(store.writer(), store.spec, 0, 8 / 43.07, track)
    staged = [first]
    for begin in range(1, n_tracks, OPEN_COMMIT_BATCH):
        ids = range(begin, min(begin + OPEN_COMMIT_BATCH, n_tracks))
        metas = [track_meta(i, 8 / 43.07) for i in ids]
        paths = [track_version_path(store.spec.key, m.track_id, m.content_hash, "ic") for m in metas]
        clone_versions(store.writer() if design is Icechunk else store.store.version_writer.zarr_store(),
                       first["path"], paths)
        staged += [{**first, "track_id": m.track_id, "content_hash": m.content_hash, "path": p}
                   for m, p in zip(metas, paths)]
        store.commit(staged)
        staged = []
    if staged:
        store.commit(staged)
    build = time.perf_counter() - start
    one, one_cpu = [], []
    for j in range(3):
        record = design.write(store.writer(), store.spec, j, 8 / 43.07, track, variant=1)
        t0, c0 = time.perf_counter(), time.process_time()
        store.commit([record])
        one.append(time.perf_counter() - t0)
        one_cpu.append(time.process_time() - c0)
    bare = []
    for j in range(3 if design is Icechunk else 0):  # the same without rewriting the index (a version group only)
        record = design.write(store.writer(), store.spec, j, 8 / 43.07, track, variant=2)
        t0 = time.perf_counter()
        store.commit([record], index=False)
        bare.append(time.perf_counter() - t0)
    store.close()
    variants = {"": open_today} if design is Today else {"": open_icechunk,
                                                          "_listing": lambda p: open_icechunk(p, listing=True)}
    result = {"tracks": n_tracks, "build_s": round(build, 2), "disk_mb": round(disk_bytes(store.path) / 1e6, 2),
              "one_track_commit_s": round(statistics.median(one), 4),
              "one_track_commit_cpu_s": round(statistics.median(one_cpu), 4)}
    if bare:
        result["one_track_commit_s_without_index"] = round(statistics.median(bare), 4)
    for suffix, opener in variants.items():
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            count, features = opener(store.path)
            times.append(time.perf_counter() - t0)
        assert count == n_tracks, (design.name, suffix, count)
        assert np.array_equal(features, track["features"].astype(np.float16).astype(np.float32)), design.name
        result[f"open_s{suffix}"] = round(statistics.median(times), 4)
        result[f"open_first_s{suffix}"] = round(times[0], 4)
    return result


def phase_snapshot(design: type, root: str, seconds: float = 20.0) -> dict:
    """Snapshot A holds track 0; B replaces it. Readers of A read A's bytes; after A expires, they fail."""
    n_frames = frames_for(seconds)
    old, new = make_track(0, n_frames), make_track(0, n_frames, variant=1)
    expect_old = old["features"].astype(np.float16).astype(np.float32)
    expect_new = new["features"].astype(np.float16).astype(np.float32)
    path = new_dir(root, f"snapshot-{design.name}")
    store = design(path)
    snap_a = store.commit([design.write(store.writer(), store.spec, 0, seconds, old)])
    early = _reader(design, path, snap_a)  # opened on A before B is committed
    if design is Icechunk:  # icechunk's way: overwrite the arrays in place; A keeps the old chunks
        import zarr

        version = store.index["track 000000"]["path"]
        zarr.open_array(store.session.store, path=f"{version}/features", mode="r+")[:] = new["features"].astype(
            np.float16)
        snap_b = store.commit([])
    else:
        snap_b = store.commit([design.write(store.writer(), store.spec, 0, seconds, new, variant=1)])
    store.close()
    checks = {
        "reader_opened_before_b_reads_a": bool(np.array_equal(early(), expect_old)),
        "reader_pinned_to_a_reads_a": bool(np.array_equal(_reader(design, path, snap_a)(), expect_old)),
        "latest_reads_b": bool(np.array_equal(_reader(design, path, None)(), expect_new)),
    }
    t0 = time.perf_counter()
    _expire(design, path)
    expire_s = time.perf_counter() - t0
    checks["expired_a_read_by_early_reader"] = _outcome(early, expect_old)
    checks["expired_a_opened_by_id"] = _outcome(lambda: _reader(design, path, snap_a)(), expect_old)
    checks["latest_after_expiry_reads_b"] = bool(np.array_equal(_reader(design, path, None)(), expect_new))
    checks["snapshot_ids"] = [snap_a, snap_b]
    checks["expire_s"] = round(expire_s, 3)
    checks["ok"] = (all(checks[k] is True for k in ("reader_opened_before_b_reads_a", "reader_pinned_to_a_reads_a",
                                                     "latest_reads_b", "latest_after_expiry_reads_b"))
                    and not checks["expired_a_read_by_early_reader"].startswith("fill values")
                    and not checks["expired_a_opened_by_id"].startswith("fill values"))
    return checks


def _reader(design: type, path: str, snapshot: str | None) -> Any:
    """A function reading track 0's features from snapshot ``snapshot`` (latest when None), opened now."""
    if design is Today:
        from storage.store import open_store

        logmel = open_store(path, snapshot=snapshot).feature_set("logmel")
        return lambda: logmel.read_features("track 000000")
    import icechunk
    import zarr

    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(path))
    session = repo.readonly_session(snapshot_id=snapshot) if snapshot else repo.readonly_session("main")
    key = make_spec().key
    version = zarr.open_group(session.store, path=key, mode="r", zarr_format=3).attrs["tracks"]["track 000000"]["path"]
    array = zarr.open_array(session.store, path=f"{version}/features", mode="r", zarr_format=3)
    return lambda: np.asarray(array[:], dtype=np.float32)


def _expire(design: type, path: str) -> None:
    """Expire every snapshot but the latest and delete what only they used."""
    if design is Today:
        from storage.history import expire_snapshots

        expire_snapshots(path, older_than_s=0)
        return
    import icechunk

    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(path))
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)
    repo.expire_snapshots(now)
    repo.garbage_collect(now)


def _outcome(read: Any, old: np.ndarray) -> str:
    """What reading an expired snapshot gives: an error (good), its old bytes (kept), or fill values (bad)."""
    try:
        values = read()
    except Exception as exc:  # noqa: BLE001 - recording which error each design raises
        return f"error: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:160]}"
    if np.array_equal(values, old):
        return "old bytes still readable"
    return "fill values (zeros)" if not values.any() else "other values"


# -- the run -------------------------------------------------------------------------------------
def machine() -> dict:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {}
    for module in ("zarr", "numcodecs", "icechunk"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = None
    return {"host": platform.node(), "cpu": model or platform.processor(), "cores": os.cpu_count(),
            "python": platform.python_version(), "nice": os.nice(0), **versions}


def ratios(results: dict) -> dict:
    """icechunk / today for every figure of both designs (> 1: icechunk larger)."""
    out = {}
    for phase, by_design in results.items():
        if phase == "write_rounds" or not (isinstance(by_design, dict) and "today" in by_design and "icechunk" in by_design):
            continue
        today, ice = by_design["today"], by_design["icechunk"]
        for key, value in today.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value and key in ice:
                if isinstance(ice[key], (int, float)) and key not in ("tracks", "writers"):
                    out[f"{phase}.{key}"] = round(ice[key] / value, 3)
    return out


def run(args: argparse.Namespace) -> dict:
    designs = [DESIGNS[name] for name in args.only]
    report: dict[str, Any] = {"machine": machine(), "loadavg_start": [round(x, 2) for x in os.getloadavg()],
                              "settings": {k: v for k, v in vars(args).items() if k != "json"}}
    results: dict[str, Any] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-icechunk-", dir=args.tmp, ignore_cleanup_errors=True) as root:
        for r in range(args.rounds):  # alternated: today first in odd rounds, icechunk first in even ones
            for design in designs if r % 2 == 0 else designs[::-1]:
                results.setdefault("write_rounds", {}).setdefault(design.name, []).append(
                    phase_write(design, root, args.tracks, args.seconds))
        results["write"] = {name: max(rounds, key=lambda d: d["tracks_per_s"])
                            for name, rounds in results["write_rounds"].items()}
        if args.writers > 1:
            results["forked"] = {d.name: phase_forked(d, root, args.tracks, args.seconds, args.writers) for d in designs}
        results["commit"] = {d.name: phase_commit(d, root, args.commit_tracks, args.seconds) for d in designs}
        results["open"] = {d.name: phase_open(d, root, args.open_tracks) for d in designs}
        results["snapshot"] = {d.name: phase_snapshot(d, root) for d in designs}
    report["results"] = results
    report["ratios_icechunk_over_today"] = ratios(results)
    report["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["wall_s"] = round(time.perf_counter() - started, 1)
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=200, help="tracks of the write and forked phases")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each track (60 s = 2,584 frames)")
    parser.add_argument("--rounds", type=int, default=2, help="write-phase rounds, designs alternated")
    parser.add_argument("--writers", type=int, default=2, help="processes of the forked phase (1: skip it)")
    parser.add_argument("--commit-tracks", type=int, default=1000, help="tracks added by the one commit")
    parser.add_argument("--open-tracks", type=int, default=10000, help="tracks of the store that is opened")
    parser.add_argument("--quick", action="store_true", help="smoke run: 40 / 200 / 1,000 tracks, one round")
    parser.add_argument("--only", nargs="+", choices=sorted(DESIGNS), default=["today", "icechunk"])
    parser.add_argument("--tmp", default=None, help="where the stores are built (default: the system's temp dir)")
    parser.add_argument("--json", default=None, help="also write the report to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.tracks, args.rounds, args.commit_tracks, args.open_tracks = 40, 1, 200, 1000
    if min(args.tracks, args.commit_tracks, args.open_tracks, args.rounds, args.writers) < 1:
        parser.error("--tracks, --commit-tracks, --open-tracks, --rounds and --writers must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # icechunk warns at every open that a local repository is not safe for concurrent commits (one
    # writer commits here, as in instrec); the README says so
    os.environ.setdefault("ICECHUNK_LOG", "error")
    if "icechunk" in args.only:
        try:
            import icechunk  # noqa: F401
        except ImportError:
            print("bench_icechunk: icechunk is not installed (pip install -e '.[bench]'), or pass --only today",
                  file=sys.stderr)
            return 2
    report = run(args)
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
