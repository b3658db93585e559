"""Clip scores in the MIREX 2026 "Audio Instrument Recognition" form: one confidence per OpenMIC-2018 label.

The task asks each system for ``Prediction(X) = [s_1, ..., s_K]``: one confidence per label of the
OpenMIC-2018 vocabulary (:data:`OPENMIC_LABELS`, 20 labels, in ``class-map.json`` order) for
every audio excerpt.  instrec's models predict other vocabularies, so each OpenMIC label takes
the highest clip probability among the model's classes that map to it (:data:`MAPPINGS`);
a label no class maps to gets no score (``None`` in JSON, an empty cell in the CSV) and is
listed as ``unmapped``, never a made-up 0.

Each mapping entry is ``label: [(source class, kind), ...]`` where ``kind`` is ``exact`` (the
source class is that instrument) or ``family`` (the source class is a family that holds the
instrument among others, e.g. General MIDI's "Organ" family holds the accordions, programs
21-23; its score is an upper estimate for the label).  Mappings, in full:

General MIDI families (Slakh ``inst_class``, the shipped model):
    piano <- Piano; mallet_percussion <- Chromatic Percussion (celesta, glockenspiel, vibraphone,
    marimba, xylophone...); organ <- Organ; accordion <- Organ (family: programs 21, 23);
    guitar <- Guitar; bass <- Bass; violin, cello <- Strings (family: violin, viola, cello,
    contrabass...), Strings (continued) (family: string ensembles); voice <- Strings (continued)
    (family: choir aahs, voice oohs, synth voice); trumpet, trombone <- Brass (family);
    saxophone, clarinet <- Reed (family); flute <- Pipe (family: piccolo, flute, recorder, pan
    flute...); synthesizer <- Synth Lead, Synth Pad, Synth Effects; banjo <- Ethnic (family:
    sitar, banjo, shamisen, koto...); drums <- Drums; cymbals <- Drums (family: kits hold
    cymbals), Percussive (family: reverse cymbal...).  Unmapped: mandolin, ukulele (General MIDI
    has neither).
AAM instruments:
    piano <- Piano, BrightPiano, ElectricPiano; guitar <- AcousticGuitar, ElectricGuitarClean,
    ElectricGuitarCrunch, ElectricGuitarLead; bass <- ElectricBass, DoubleBassArco,
    DoubleBassPizz; violin <- Violin, Viola (family); cello <- Cello; clarinet <- Clarinet;
    saxophone <- AltoSax, TenorSax; trumpet <- Trumpet, Flugelhorn (family); trombone <-
    Trombone; flute <- Flute, PanFlute, Shakuhachi (family), Fujara (family); ukulele <- Ukulele;
    organ <- OrganBass (family); drums <- Drums; cymbals <- Drums (family).  Unmapped: accordion,
    banjo, mallet_percussion, mandolin, synthesizer, voice.  (Balalaika, Erhu, Jinghu,
    MorinKhuur and Sitar map to no OpenMIC label.)
OpenMIC-2018 itself: every label from itself.
Any other vocabulary: a label maps from a class of the same name (case-insensitive) only.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

OPENMIC_LABELS = (
    "accordion", "banjo", "bass", "cello", "clarinet", "cymbals", "drums", "flute", "guitar",
    "mallet_percussion", "mandolin", "organ", "piano", "saxophone", "synthesizer", "trombone",
    "trumpet", "ukulele", "violin", "voice",
)  # fmt: skip

LabelMap = dict[str, list[tuple[str, str]]]

GM_FAMILIES: LabelMap = {
    "accordion": [("Organ", "family")],
    "bass": [("Bass", "exact")],
    "banjo": [("Ethnic", "family")],
    "cello": [("Strings", "family"), ("Strings (continued)", "family")],
    "clarinet": [("Reed", "family")],
    "cymbals": [("Drums", "family"), ("Percussive", "family")],
    "drums": [("Drums", "exact")],
    "flute": [("Pipe", "family")],
    "guitar": [("Guitar", "exact")],
    "mallet_percussion": [("Chromatic Percussion", "exact")],
    "organ": [("Organ", "exact")],
    "piano": [("Piano", "exact")],
    "saxophone": [("Reed", "family")],
    "synthesizer": [("Synth Lead", "exact"), ("Synth Pad", "exact"), ("Synth Effects", "exact")],
    "trombone": [("Brass", "family")],
    "trumpet": [("Brass", "family")],
    "violin": [("Strings", "family"), ("Strings (continued)", "family")],
    "voice": [("Strings (continued)", "family")],
}
AAM_INSTRUMENTS: LabelMap = {
    "bass": [("ElectricBass", "exact"), ("DoubleBassArco", "exact"), ("DoubleBassPizz", "exact")],
    "cello": [("Cello", "exact")],
    "clarinet": [("Clarinet", "exact")],
    "cymbals": [("Drums", "family")],
    "drums": [("Drums", "exact")],
    "flute": [("Flute", "exact"), ("PanFlute", "exact"), ("Shakuhachi", "family"), ("Fujara", "family")],
    "guitar": [("AcousticGuitar", "exact"), ("ElectricGuitarClean", "exact"), ("ElectricGuitarCrunch", "exact"),
               ("ElectricGuitarLead", "exact")],
    "organ": [("OrganBass", "family")],
    "piano": [("Piano", "exact"), ("BrightPiano", "exact"), ("ElectricPiano", "exact")],
    "saxophone": [("AltoSax", "exact"), ("TenorSax", "exact")],
    "trombone": [("Trombone", "exact")],
    "trumpet": [("Trumpet", "exact"), ("Flugelhorn", "family")],
    "ukulele": [("Ukulele", "exact")],
    "violin": [("Violin", "exact"), ("Viola", "family")],
}
MAPPINGS: dict[str, LabelMap] = {
    "gm-families": GM_FAMILIES,
    "aam": AAM_INSTRUMENTS,
    "openmic": {label: [(label, "exact")] for label in OPENMIC_LABELS},
}


def mapping_for(classes: Sequence[str]) -> tuple[str, LabelMap]:
    """The mapping whose source classes a model's classes belong to (by name): ``(name, mapping)``."""
    names = set(classes)
    for name, mapping in MAPPINGS.items():
        sources = {source for entries in mapping.values() for source, _ in entries}
        if names & sources and not names - sources - _unmapped_sources(name):
            return name, mapping
    lower = {c.lower(): c for c in classes}
    return "by-name", {label: [(lower[label], "exact")] for label in OPENMIC_LABELS if label in lower}


def _unmapped_sources(name: str) -> set[str]:
    """Source classes of a known vocabulary that no OpenMIC label takes."""
    return {"gm-families": {"Sound Effects"},
            "aam": {"Balalaika", "Erhu", "Jinghu", "MorinKhuur", "Sitar"}}.get(name, set())


def openmic_scores(classes: Sequence[str], clip_scores: np.ndarray) -> dict[str, Any]:
    """One confidence per OpenMIC-2018 label from a model's clip probabilities.

    Parameters
    ----------
    classes : sequence of str
        The model's classes.
    clip_scores : np.ndarray [shape=(len(classes),)]
        Clip probabilities.

    Returns
    -------
    dict
        ``scores`` (label -> float, or None for a label no class maps to, in
        :data:`OPENMIC_LABELS` order), ``unmapped`` (those labels), ``mapping`` (its name),
        ``sources`` (label -> the classes it was taken from, with their kind).
    """
    clip_scores = np.asarray(clip_scores, dtype=np.float64)
    if clip_scores.shape != (len(classes),):
        raise ValueError(f"{clip_scores.shape} clip scores for {len(classes)} classes; give one per class")
    name, mapping = mapping_for(classes)
    position = {c: i for i, c in enumerate(classes)}
    scores: dict[str, float | None] = {}
    sources: dict[str, list[dict[str, str]]] = {}
    for label in OPENMIC_LABELS:
        present = [(source, kind) for source, kind in mapping.get(label, []) if source in position]
        scores[label] = round(float(max(clip_scores[position[s]] for s, _ in present)), 4) if present else None
        sources[label] = [{"class": s, "kind": kind} for s, kind in present]
    return {"mapping": name, "scores": scores, "unmapped": [label for label, v in scores.items() if v is None],
            "sources": sources}


def write_mirex_csv(rows: Sequence[tuple[str, Mapping[str, float | None]]], path: str | Path) -> Path:
    """``file,<20 labels>`` with one row per excerpt; a label without a score is an empty cell."""
    path = Path(path)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", *OPENMIC_LABELS])
        for name, scores in rows:
            writer.writerow([name, *("" if scores.get(label) is None else f"{scores[label]:.4f}"
                                     for label in OPENMIC_LABELS)])
    return path
