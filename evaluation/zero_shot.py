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

No training data is used: the baseline has never seen the evaluated dataset.  Decisions use
0.5 on the sigmoid outputs (no tuning, so it stays zero-shot); ranking scores (mAP, AUC) need
no threshold.  Scores come from a ``musicnn`` feature set stored with ``layer=taggram``
(``instrec extract --features musicnn --musicnn-layer taggram``), held onto the evaluated
feature set's frames by time (:func:`hold_onto_grid`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from features.musicnn_weights import MTT_LABELS

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
    index = np.clip(np.rint((times - src_first_centre) / src_hop_s).astype(np.int64), 0, len(values) - 1)
    return values[index]
