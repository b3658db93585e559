"""Import OpenMIC-2018's released VGGish embeddings as a feature set of their own.

OpenMIC ships, per clip, ``vggish/<key[:3]>/<key>.json``: embeddings made with the official
VGGish weights, PCA-whitened and 8-bit quantised.  :func:`import_clip` (the unit of work)
turns one clip into the store's arrays: the dequantised embeddings on the 0.96 s VGGish grid,
frame labels unknown everywhere (OpenMIC labels are clip-level), and the clip labels and mask
of the dataset.  :func:`import_openmic_vggish` (the driver) runs it over the dataset
incrementally: a clip is rewritten only when its content hash (its audio and labels, as the
reader hashes them, plus the JSON file's sha256) changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from features.openmic_vggish import OpenMICVGGishConfig, check_openmic_times, openmic_vggish_features
from pipeline.extraction.extract import track_label_arrays
from pipeline.readers import openmic_vggish_path, read_dataset
from pipeline.readers.files import check_inside_root
from pipeline.track import DatasetError, InstrecError, Track, TrackProblem
from storage.schema import FeatureSetSpec, TrackMeta

if TYPE_CHECKING:
    from storage.store import FeatureStore

FRAME_COUNT_SLACK = 1  # examples the file may differ from the audio's grid before a warning


@dataclass
class ImportedClip:
    """One clip's arrays for the store (see :meth:`storage.store.FeatureStore.write_track`)."""

    meta: TrackMeta
    features: np.ndarray  # (n_examples, 128) float32
    labels: np.ndarray  # (n_examples, C) uint8, all 0
    label_mask: np.ndarray  # (n_examples, C) bool, all False
    clip_labels: np.ndarray  # (C,) float32
    clip_mask: np.ndarray  # (C,) bool
    warnings: list[str] = field(default_factory=list)


def openmic_feature_spec(config: OpenMICVGGishConfig = OpenMICVGGishConfig()) -> FeatureSetSpec:
    """The store spec of the imported embeddings (float32: the dequantised codes exactly)."""
    return FeatureSetSpec.from_config(config, dtype="float32")


def clip_content_hash(track: Track, vggish_bytes: bytes) -> str:
    """The track's own content hash combined with the sha256 of its VGGish JSON."""
    digest = hashlib.sha256()
    digest.update(track.content_hash.encode())
    digest.update(b"\0")
    digest.update(hashlib.sha256(vggish_bytes).hexdigest().encode())
    return digest.hexdigest()


def import_clip(track: Track, vggish_bytes: bytes, *, classes: Sequence[str], name: str,
                config: OpenMICVGGishConfig = OpenMICVGGishConfig()) -> ImportedClip:
    """The store arrays of one OpenMIC clip from its VGGish JSON.

    Parameters
    ----------
    track : pipeline.track.Track
        The clip as :func:`pipeline.readers.read_dataset` gives it (clip labels and mask).
    vggish_bytes : bytes
        The content of ``vggish/<key[:3]>/<key>.json``.
    classes : sequence of str
        The store's vocabulary.
    name : str
        The JSON file's path, for messages.

    Raises
    ------
    DatasetError
        Malformed JSON, codes out of range, or examples not on the 0.96 s grid.
    """
    features, times = openmic_vggish_features(vggish_bytes, name=name)
    check_openmic_times(times, name=name)
    n_frames = len(features)
    warnings = []
    expected = config.grid.n_frames(int(round(track.duration * config.sr)))
    if abs(expected - n_frames) > FRAME_COUNT_SLACK:
        warnings.append(f"{name}: {n_frames} examples but the {track.duration:.2f} s audio gives {expected} on "
                        "the 0.96 s grid; the features may belong to another clip")
    labels, mask, clip, clip_mask = track_label_arrays(track, classes, config.grid, n_frames)
    meta = dataclasses.replace(
        TrackMeta.from_track(track, warnings=warnings), content_hash=clip_content_hash(track, vggish_bytes)
    )
    return ImportedClip(meta=meta, features=features, labels=labels, label_mask=mask, clip_labels=clip,
                        clip_mask=clip_mask, warnings=warnings)


@dataclass
class ImportSummary:
    """What an import did: imported / skipped unchanged / failed (with reasons) / pruned."""

    store: str
    run_id: str
    feature_set: str
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    snapshot_id: str = ""

    def to_json(self) -> dict:
        return {
            "store": self.store, "run_id": self.run_id, "feature_sets": [self.feature_set],
            "done": len(self.done), "skipped_unchanged": len(self.skipped), "failed": self.failed,
            "warnings": self.warnings, "pruned": self.pruned, "wall_seconds": round(self.wall_seconds, 3),
            "snapshot_id": self.snapshot_id, "done_tracks": self.done,
        }

    def text(self) -> str:
        lines = [f"{self.store} ({self.feature_set}): {len(self.done)} imported, {len(self.skipped)} skipped "
                 f"unchanged, {len(self.failed)} failed, {len(self.pruned)} pruned ({self.wall_seconds:.1f} s)"]
        lines += [f"  failed {f['track_id']}: {f['problem']}" for f in self.failed]
        lines += [f"  warning {w['track_id']}: {w['message']}" for w in self.warnings]
        return "\n".join(lines)


def import_openmic_vggish(
    root: str | Path,
    store_url: str,
    *,
    storage_options: dict | None = None,
    prune: bool = False,
    commit_every_s: float = 2.0,
    **reader_options: Any,
) -> ImportSummary:
    """Import every labelled OpenMIC clip's VGGish embeddings into the store at ``store_url``.

    Parameters
    ----------
    root : str or Path
        The unpacked ``openmic-2018`` folder (labels, partitions, audio, ``vggish/``).
    store_url : str
        Store path or fsspec URL (created when new; it must hold OpenMIC's vocabulary).
    storage_options : dict, optional
        fsspec options of the store.
    prune : bool
        Remove committed clips the dataset no longer lists.
    **reader_options
        Passed to the OpenMIC reader (``validation_fraction``, ``split_ratios``).

    Returns
    -------
    ImportSummary
    """
    from storage.layout import RUNS, publish_json
    from storage.store import open_store

    started = time.perf_counter()
    config = OpenMICVGGishConfig()
    spec = openmic_feature_spec(config)
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    summary = ImportSummary(store=str(store_url), run_id=run_id, feature_set=spec.key)
    tracks = read_dataset("openmic", root, **reader_options)
    seen: set[str] = set()
    with open_store(store_url, mode="a", storage_options=storage_options) as store:
        store.run_id = run_id  # recorded in the snapshots this run commits (`instrec store log`)
        store.collect_garbage()
        initialized, last_commit = False, time.monotonic()
        for item in tracks:
            if isinstance(item, TrackProblem):
                summary.failed.append({"track_id": item.track_id, "path": str(item.path), "problem": str(item)})
                continue
            seen.add(item.track_id)
            if not initialized:
                store.initialize(dataset=item.dataset, classes=list(item.classes))
                store.add_feature_set(spec)
                initialized = True
            _import_one(store, item, root=Path(root), spec=spec, config=config, summary=summary)
            if time.monotonic() - last_commit >= commit_every_s:
                store.commit()
                last_commit = time.monotonic()
        store.commit()
        if prune:
            if not seen:
                raise InstrecError(f"{root}: --prune with a dataset that yielded no clips would empty the store")
            committed = store.manifest["feature_sets"].get(spec.key, {}).get("tracks", {})
            summary.pruned = sorted(tid for tid in committed if tid not in seen)
            if summary.pruned:
                store.commit(remove=[(spec.key, tid) for tid in summary.pruned])
        summary.snapshot_id = store.snapshot_id
        summary.wall_seconds = time.perf_counter() - started
        publish_json(store.location, summary.to_json(), RUNS, f"{run_id}.json")
    return summary


def _import_one(store: FeatureStore, track: Track, *, root: Path, spec: FeatureSetSpec, config: OpenMICVGGishConfig,
                summary: ImportSummary) -> None:
    """Import one clip unless unchanged; a bad clip is recorded in ``summary``, never raised."""
    path = openmic_vggish_path(root, track.track_id)
    try:
        check_inside_root(path, root)
        data = path.read_bytes()
    except DatasetError as exc:
        summary.failed.append({"track_id": track.track_id, "path": str(path), "problem": str(exc)})
        return
    except OSError as exc:
        summary.failed.append({"track_id": track.track_id, "path": str(path),
                               "problem": f"{path}: cannot read the VGGish features ({exc.strerror}); "
                                          "download the OpenMIC release's vggish/ folder"})
        return
    record = store.manifest["feature_sets"][spec.key]["tracks"].get(track.track_id)
    if record is not None and record["content_hash"] == clip_content_hash(track, data):
        summary.skipped.append(track.track_id)
        return
    try:
        clip = import_clip(track, data, classes=store.classes, name=str(path), config=config)
        store.write_track(spec.key, meta=clip.meta, features=clip.features, labels=clip.labels,
                          label_mask=clip.label_mask, clip_labels=clip.clip_labels, clip_mask=clip.clip_mask)
    except DatasetError as exc:
        summary.failed.append({"track_id": track.track_id, "path": str(path), "problem": str(exc)})
        return
    summary.done.append(track.track_id)
    summary.warnings += [{"track_id": track.track_id, "message": w} for w in clip.warnings]
