"""A JSON-able summary of a store: tracks per split, feature sets, classes, label density."""

from __future__ import annotations

from collections import Counter

import numpy as np

from storage.store import FeatureStore


def store_info(store: FeatureStore, *, frame_density: bool = True) -> dict:
    """Summary of a store's committed state.

    Label density per class: ``clip`` is the fraction of tracks (with a known clip label)
    where the class is present; ``frame`` (first feature set, when ``frame_density``) is the
    fraction of known frames where the class is active.
    """
    classes = store.classes
    sets = {}
    all_tracks: dict[str, str] = {}
    for key in store.feature_sets():
        reader = store.feature_set(key)
        entries = reader.tracks()
        all_tracks.update({e.track_id: e.split for e in entries})
        sets[key] = {
            "name": reader.name, "config_hash": reader.config_hash, "params": reader.params,
            "frame_rate": reader.frame_rate, "frame_shape": list(reader.frame_shape), "tracks": len(entries),
            "frames": int(sum(e.n_frames for e in entries)),
            "frames_per_split": {
                split: int(sum(e.n_frames for e in entries if e.split == split))
                for split in sorted({e.split for e in entries})
            },
            "hours": round(sum(e.duration for e in entries) / 3600.0, 4),
        }
        if reader.has_stems:
            stems = reader.stems()
            groups = [reader.stem_group(track_id) for track_id in reader.stem_tracks()]
            sets[key]["stems"] = {
                "songs": len(groups), "stems": len(stems),
                "excluded": sum(len(g.get("excluded", [])) for g in groups),
                "per_class": dict(sorted(Counter(s.label for s in stems).items())),
                "per_split": dict(sorted(Counter(s.split for s in stems).items())),
            }
    density: dict[str, dict] = {name: {} for name in classes}
    if store.feature_sets():
        reader = store.feature_set(store.feature_sets()[0])
        clip_pos = np.zeros(len(classes))
        clip_known = np.zeros(len(classes))
        frame_pos = np.zeros(len(classes))
        frame_known = np.zeros(len(classes))
        for entry in reader.tracks():
            clip, mask = reader.read_clip(entry.track_id)
            clip_pos += clip * mask
            clip_known += mask
            if frame_density and entry.n_frames:
                labels, lmask = reader.read_labels(entry.track_id)
                frame_pos += (labels * lmask).sum(axis=0)
                frame_known += lmask.sum(axis=0)
        for i, name in enumerate(classes):
            density[name]["clip"] = round(float(clip_pos[i] / clip_known[i]), 4) if clip_known[i] else None
            if frame_density:
                density[name]["frame"] = round(float(frame_pos[i] / frame_known[i]), 4) if frame_known[i] else None
    return {
        "url": store.url, "dataset": store.dataset, "schema_version": store.manifest["schema_version"],
        "snapshot_id": store.snapshot_id, "tracks": len(all_tracks),
        "tracks_per_split": dict(sorted(Counter(all_tracks.values()).items())), "classes": classes,
        "settings": store.settings,
        "feature_sets": sets, "label_density": density,
    }
