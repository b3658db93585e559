"""A zero-shot baseline: musicnn's MagnaTagATune tag probabilities read as instrument scores.

musicnn's MTT model (``features.musicnn``) was trained on real music to predict 50 tags, 13 of
which name instruments or voices.  :data:`MTT_TAGS` maps instrec's class names (AAM,
OpenMIC-2018, Slakh ``inst_class`` and ``slakh34``) to those tags; a class's score is the
highest probability among its tags.  A class with no tag (saxophones, brass, bass, organ,
clarinet... MTT has none) has no score and is left out of the baseline, which says so.
The mapping follows what the class sounds like in instrec's data: the demo corpus renders
AAM's ``Ukulele`` with a nylon guitar and ``Erhu`` with GM's Fiddle, hence ``guitar`` and
``violin``; ``Viola`` and bowed double bass have no tag of their own and take the nearest
(``violin``/``strings``, ``cello``/``strings``).

The scores never saw the evaluated dataset.  Ranking scores (mAP, AUC) need no threshold; for
decisions, MTT's tag probabilities in mixtures are small (0.1-0.4 where the instrument plays),
so 0.5 would predict almost nothing: like the model, the baseline gets one threshold tuned
for micro F1 on the validation split the run's thresholds were tuned on (that store must hold a
taggram too), else on the evaluated store's validation split when it is not the one reported,
else 0.5.  Evaluation writes nothing to the run.  Scores come from a ``musicnn`` feature set stored with ``layer=taggram``
(``instrec extract --features musicnn --musicnn-layer taggram``), held onto the evaluated
feature set's frames by time (:func:`hold_onto_grid`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from features.musicnn_weights import MTT_LABELS

if TYPE_CHECKING:
    from storage.store import FeatureSetReader

_VOICE = ("vocal", "vocals", "voice", "singing", "choir", "choral")

# class name -> MTT tags; names not listed have no tag (see the module docstring)
MTT_TAGS: dict[str, tuple[str, ...]] = {
    # AAM
    "AcousticGuitar": ("guitar",), "ElectricGuitarClean": ("guitar",), "ElectricGuitarCrunch": ("guitar",),
    "ElectricGuitarLead": ("guitar",), "Ukulele": ("guitar",),
    "Piano": ("piano", "harpsichord"),  # also Slakh inst_class's family (piano, harpsichord, clavinet)
    "BrightPiano": ("piano",), "ElectricPiano": ("piano",),
    "Violin": ("violin",), "Erhu": ("violin",), "Viola": ("violin", "strings"), "Cello": ("cello",),
    "DoubleBassArco": ("cello", "strings"), "MorinKhuur": ("strings",),
    "Flute": ("flute",), "PanFlute": ("flute",), "Shakuhachi": ("flute",), "Fujara": ("flute",),
    "Sitar": ("sitar",), "Drums": ("drums",),
    # OpenMIC-2018
    "cello": ("cello",), "drums": ("drums",), "flute": ("flute",), "guitar": ("guitar",), "piano": ("piano",),
    "synthesizer": ("synth",), "ukulele": ("guitar",), "violin": ("violin",), "voice": _VOICE,
    # Slakh inst_class (GM families)
    "Guitar": ("guitar",), "Strings": ("strings", "violin", "cello", "harp"), "Strings (continued)": ("strings", "choir"),
    "Pipe": ("flute",), "Synth Lead": ("synth",), "Synth Pad": ("synth",), "Ethnic": ("sitar",),
    # Slakh slakh34
    "Acoustic Piano": ("piano",), "Electric Piano": ("piano",), "Acoustic Guitar": ("guitar",),
    "Clean Electric Guitar": ("guitar",), "Distorted Electric Guitar": ("guitar",),
    "Contrabass": ("cello", "strings"), "String Ensemble": ("strings",), "Orchestral Harp": ("harp",),
    "Synth Strings": ("strings", "synth"), "Choir and Voice": _VOICE,
}


def mtt_tags_for(name: str) -> tuple[str, ...]:
    """The MTT tags of class ``name`` (empty: the class has none)."""
    return MTT_TAGS.get(name, ())


def zero_shot_scores(taggram: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Class scores from MTT tag probabilities.

    Parameters
    ----------
    taggram : np.ndarray [shape=(n_frames, 50)]
        Sigmoid outputs of an MTT model, in :data:`features.musicnn_weights.MTT_LABELS` order.
    classes : sequence of str

    Returns
    -------
    scores : np.ndarray [shape=(n_frames, len(classes)), dtype=float64]
        The highest probability among each class's tags; NaN for a class without tags.
    """
    taggram = np.asarray(taggram, dtype=np.float64)
    if taggram.ndim != 2 or taggram.shape[1] != len(MTT_LABELS):
        raise ValueError(f"expected an MTT taggram of shape (n_frames, {len(MTT_LABELS)}), got {taggram.shape}; "
                         "was the musicnn feature set extracted with --musicnn-layer taggram of an MTT model?")
    column = {tag: i for i, tag in enumerate(MTT_LABELS)}
    out = np.full((taggram.shape[0], len(classes)), np.nan)
    for c, name in enumerate(classes):
        tags = mtt_tags_for(name)
        if tags:
            out[:, c] = taggram[:, [column[t] for t in tags]].max(axis=1)
    return out


def hold_onto_grid(values: np.ndarray, *, src_hop_s: float, src_first_centre: float, n_frames: int,
                   hop_s: float, first_centre: float) -> np.ndarray:
    """Frames of one grid held onto another: each target frame takes the source frame nearest in time.

    Parameters
    ----------
    values : np.ndarray [shape=(n_src, ...)]
        At least one frame.
    src_hop_s, src_first_centre : float
        Source grid (seconds).
    n_frames, hop_s, first_centre : int, float, float
        Target grid.

    Returns
    -------
    np.ndarray [shape=(n_frames, ...)]
    """
    if len(values) == 0:
        raise ValueError("no source frames to hold")
    times = first_centre + np.arange(n_frames) * hop_s
    index = np.floor((times - src_first_centre) / src_hop_s + 0.5).astype(np.int64)  # ties go to the later frame
    index = np.clip(index, 0, len(values) - 1)
    return values[index]


ZERO_SHOT = ("zero-shot baseline: musicnn's MagnaTagATune tag probabilities (trained on real music, never on "
             "this dataset) as class scores, each class the highest of its tags, active above one threshold "
             "tuned for micro F1 on validation; only the classes with an MTT tag are scored")


def find_taggram_set(store: Any) -> Any | None:
    """The store's MTT musicnn ``taggram`` feature set (musicnn's own 2.99 s tiling preferred), or None."""
    found = []
    for key in store.feature_sets():
        reader = store.feature_set(key)
        params = dict(getattr(reader, "params", {}))
        if (getattr(reader, "name", None) == "musicnn" and params.get("layer") == "taggram"
                and str(params.get("model", "")).startswith("MTT")):
            found.append((params.get("hop_frames") != 187, key, reader))
    return min(found, key=lambda item: item[:2])[2] if found else None


def mapped_classes(classes: Sequence[str]) -> list[int]:
    """Columns of the classes that have MTT tags."""
    return [c for c, name in enumerate(classes) if mtt_tags_for(name)]


def track_zero_shot(taggrams: FeatureSetReader, track_id: str, classes: Sequence[str], *, n_frames: int, hop_s: float,
                    first_centre: float) -> np.ndarray | None:
    """Zero-shot scores ``[shape=(n_frames, len(classes))]`` of one track on a grid, or None without a taggram."""
    if track_id not in {t.track_id for t in taggrams.tracks()}:
        return None
    held = hold_onto_grid(taggrams.read_features(track_id), src_hop_s=taggrams.hop_s,
                          src_first_centre=taggrams.first_centre, n_frames=n_frames, hop_s=hop_s,
                          first_centre=first_centre)
    return zero_shot_scores(held, classes)


def tune_zero_shot_threshold(taggrams: FeatureSetReader, reader: FeatureSetReader, classes: Sequence[str], *, split: str = "validation"
                             ) -> float | None:
    """One threshold maximising the zero-shot micro F1 on ``split`` of ``reader`` (None: nothing to tune on).

    ``classes`` are matched to the reader's label columns by name; classes it lacks are left out.
    """
    from evaluation.thresholds import tune_micro_threshold

    position = {name: i for i, name in enumerate(reader.classes)}
    names = [name for name in classes if mtt_tags_for(name) and name in position]
    columns = [position[name] for name in names]
    truth, known, scores = [], [], []
    for entry in reader.tracks(split) if names else []:
        labels, mask = reader.read_labels(entry.track_id)
        z = track_zero_shot(taggrams, entry.track_id, names, n_frames=len(labels), hop_s=reader.hop_s,
                            first_centre=reader.first_centre)
        if z is not None:
            truth.append(np.asarray(labels)[:, columns]), known.append(np.asarray(mask)[:, columns]), scores.append(z)
    if not truth:
        return None
    tuned = tune_micro_threshold(np.concatenate(truth), np.concatenate(scores), mask=np.concatenate(known))
    return float(tuned["threshold"]) if tuned["tuned"] else None


def zero_shot_metrics(
    taggrams: Any,
    results: Sequence[Any],
    classes: Sequence[str],
    thresholds: np.ndarray,
    *,
    threshold: float,
    hop_s: float,
    first_centre: float,
    segment_s: float = 1.0,
) -> dict[str, Any]:
    """Scores of the zero-shot baseline on the evaluated tracks, over the classes with MTT tags.

    Parameters
    ----------
    taggrams : FeatureSetReader
        An MTT musicnn ``taggram`` feature set (:func:`find_taggram_set`) of the same store.
    results : sequence of evaluation.evaluate.TrackPrediction
        The evaluated tracks (truth, mask and the model's scores).
    classes : sequence of str
        Their classes, in column order.
    thresholds : np.ndarray [shape=(n_classes,)]
        The model's per-class thresholds, for the model's own scores on the same classes.
    threshold : float
        The zero-shot decision threshold (:func:`tune_zero_shot_threshold`).
    hop_s, first_centre, segment_s : float
        The evaluated feature set's grid and the segment length.

    Returns
    -------
    dict
        Flat ``zero_shot.frame.*`` and ``zero_shot.segment.*`` scores and ``zero_shot_info``
        (classes scored and not, tags, the taggram set, the threshold, and the model's frame
        scores on the same classes for comparison); ``{}`` when no class has a tag.
    """
    from evaluation.frame import frame_metrics, ranking_metrics
    from evaluation.segment import segment_activity, segment_metrics

    mapped = mapped_classes(classes)
    names = [classes[c] for c in mapped]
    truth, known, scores, model, missing = [], [], [], [], []
    for r in results:
        z = track_zero_shot(taggrams, r.track_id, names, n_frames=len(r.labels), hop_s=hop_s,
                            first_centre=first_centre) if mapped else None
        if z is None:
            missing.append(r.track_id)
            continue
        truth.append(r.labels[:, mapped]), known.append(r.mask[:, mapped]), scores.append(z)
        model.append(r.scores[:, mapped])
    if not truth:
        return {}
    y_true, y_mask, y_score = np.concatenate(truth), np.concatenate(known), np.concatenate(scores)
    out: dict[str, Any] = {f"zero_shot.frame.{k}": v for k, v in frame_metrics(
        y_true, (y_score >= threshold).astype(np.uint8), mask=y_mask).items()}
    out.update({f"zero_shot.frame.{k}": v for k, v in ranking_metrics(y_true, y_score, mask=y_mask).items()
                if not isinstance(v, np.ndarray)})
    seg = [segment_activity(t, hop_s=hop_s, first_centre=first_centre, segment_s=segment_s, mask=m)
           for t, m in zip(truth, known)]
    seg_pred = [segment_activity((s >= threshold).astype(np.uint8), hop_s=hop_s, first_centre=first_centre,
                                 segment_s=segment_s)[0] for s in scores]
    out.update({f"zero_shot.segment.{k}": v for k, v in segment_metrics(
        np.concatenate([a for a, _ in seg]), np.concatenate(seg_pred), mask=np.concatenate([k for _, k in seg])).items()})
    y_model = np.concatenate(model)
    own = frame_metrics(y_true, (y_model >= np.asarray(thresholds)[mapped]).astype(np.uint8), mask=y_mask)
    own_rank = ranking_metrics(y_true, y_model, mask=y_mask)
    out["zero_shot_info"] = {
        "description": ZERO_SHOT, "taggram_feature_set": taggrams.key, "threshold": threshold, "classes": names,
        "unscored_classes": [c for c in classes if c not in names], "tags": {c: list(mtt_tags_for(c)) for c in names},
        "tracks_without_taggram": missing,
        "model_on_these_classes": {"frame.f1_micro": own["f1_micro"], "frame.f1_macro": own["f1_macro"],
                                   "frame.map_macro": own_rank["map_macro"]},
    }
    return out
