"""Class vocabularies: which instrument names a dataset's labels may use.

AAM has one vocabulary (its 31 instruments), OpenMIC-2018 one (its 20 classes), and Slakh
three, all derived from the General MIDI program of each stem:

``inst_class`` (default)
    The 17 General MIDI families as Slakh names them in ``metadata.yaml``.  Slakh's table
    spells two different families almost alike: programs 96-103 are ``"Sound Effects"``
    and programs 119-127 ``"Sound effects"``.  They are told apart here by their General
    MIDI names, ``"Synth Effects"`` (96-103) and ``"Sound Effects"`` (119-127), so no two
    class names differ only in case.
``program``
    129 classes: the 128 General MIDI programs by name, plus ``"Drums"``.
``slakh34``
    The 34 instrument classes the Slakh renderer picked patches from
    (``komplete_strict.json``).  Programs outside them have no class in this vocabulary and
    their stems are left out of the labels.

The tables are package data (see ``README.md`` in this folder for their provenance).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Mapping

from pipeline.track import DatasetError

DRUM_PROGRAM = 128
"""Slakh's program number for drum stems (``is_drum: true``), 0-based."""

AAM_INSTRUMENTS = (
    "AcousticGuitar", "AltoSax", "Balalaika", "BrightPiano", "Cello", "Clarinet",
    "DoubleBassArco", "DoubleBassPizz", "Drums", "ElectricBass", "ElectricGuitarClean",
    "ElectricGuitarCrunch", "ElectricGuitarLead", "ElectricPiano", "Erhu", "Flugelhorn",
    "Flute", "Fujara", "Jinghu", "MorinKhuur", "OrganBass", "PanFlute", "Piano",
    "Shakuhachi", "Sitar", "TenorSax", "Trombone", "Trumpet", "Ukulele", "Viola", "Violin",
)  # fmt: skip
"""The 31 AAM instruments (30 + Drums), in the column order of ``<id>_onsets.arff``."""

OPENMIC_CLASSES = (
    "accordion", "banjo", "bass", "cello", "clarinet", "cymbals", "drums", "flute",
    "guitar", "mallet_percussion", "mandolin", "organ", "piano", "saxophone",
    "synthesizer", "trombone", "trumpet", "ukulele", "violin", "voice",
)  # fmt: skip
"""The 20 OpenMIC-2018 classes in ``class-map.json`` order."""

SLAKH_TAXONOMIES = ("inst_class", "program", "slakh34")

# Slakh's spelling -> the family name instrec uses (only the two effects families differ).
_FAMILY_RENAMES = {"Sound Effects": "Synth Effects", "Sound effects": "Sound Effects"}


@dataclass(frozen=True)
class Taxonomy:
    """A class vocabulary and, for MIDI-based datasets, the program -> class mapping.

    Attributes
    ----------
    name : str
        ``"aam"``, ``"openmic"``, ``"inst_class"``, ``"program"`` or ``"slakh34"``.
    classes : tuple[str, ...]
        The class names, in the order labels are stored.
    programs : Mapping[int, str]
        0-based General MIDI program (128 = drums) -> class name.  Programs that are
        missing have no class in this vocabulary.
    """

    name: str
    classes: tuple[str, ...]
    programs: Mapping[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"taxonomy {self.name!r} repeats a class name")
        unknown = set(self.programs.values()) - set(self.classes)
        if unknown:
            raise ValueError(f"taxonomy {self.name!r} maps programs to unknown classes {sorted(unknown)}")

    def class_of_program(self, program: int, *, is_drum: bool = False) -> str | None:
        """Class of a 0-based program (drum stems map through program 128), or None."""
        return self.programs.get(DRUM_PROGRAM if is_drum else int(program))


def _load_json(name: str) -> object:
    with resources.files(__package__).joinpath(name).open("r", encoding="utf-8") as handle:
        return json.load(handle)


def general_midi_table() -> dict[int, tuple[str, str]]:
    """0-based program (0..128) -> (family as instrec names it, program name)."""
    table = _load_json("general_midi_inst_0based.json")
    return {
        int(program): (_FAMILY_RENAMES.get(entry["class"], entry["class"]), entry["name"])
        for program, entry in table.items()
    }


def slakh34_programs() -> dict[str, list[int]]:
    """The 34 Slakh classes -> their 0-based programs (128 = drums), in table order.

    The table's program numbers are 1-based; the renderer used ``max(p - 1, 0)``.  Both
    "Acoustic Piano" (1-based 1) and "Electric Piano" (a stray 0) then claim program 0;
    the genuine 1-based entry wins, so program 0 (Acoustic Grand Piano) is "Acoustic Piano".
    """
    entries = _load_json("slakh34_classes.json")["classes"]
    owner: dict[int, tuple[bool, str]] = {}
    for entry in entries:
        for number in entry["program_numbers"]:
            program = max(int(number) - 1, 0)
            genuine = int(number) >= 1
            if program not in owner or (genuine and not owner[program][0]):
                owner[program] = (genuine, entry["name"])
    result: dict[str, list[int]] = {entry["name"]: [] for entry in entries}
    for program, (_, name) in sorted(owner.items()):
        result[name].append(program)
    return result


def slakh_taxonomy(name: str | None = None) -> Taxonomy:
    """One of the Slakh vocabularies (``None`` means ``inst_class``).

    Raises
    ------
    DatasetError
        ``name`` is not one of :data:`SLAKH_TAXONOMIES`.
    """
    name = name or "inst_class"
    gm = general_midi_table()
    if name == "inst_class":
        classes = tuple(dict.fromkeys(family for family, _ in (gm[p] for p in sorted(gm))))
        return Taxonomy(name, classes, {p: gm[p][0] for p in gm})
    if name == "program":
        classes = tuple(gm[p][1] for p in sorted(gm))
        return Taxonomy(name, classes, {p: gm[p][1] for p in gm})
    if name == "slakh34":
        table = slakh34_programs()
        programs = {p: cls for cls, numbers in table.items() for p in numbers}
        return Taxonomy(name, tuple(table), programs)
    raise DatasetError(
        f"unknown Slakh taxonomy {name!r}; choose one of {', '.join(SLAKH_TAXONOMIES)}"
    )


def fixed_taxonomy(dataset: str, name: str | None, classes: tuple[str, ...]) -> Taxonomy:
    """The single vocabulary of AAM or OpenMIC; ``name`` may be None or the dataset name."""
    if name not in (None, dataset):
        raise DatasetError(
            f"the {dataset} reader has one class vocabulary; leave out --taxonomy or pass {dataset!r} "
            f"(got {name!r})"
        )
    return Taxonomy(dataset, classes)
