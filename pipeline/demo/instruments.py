"""Instrument tables of the demo corpus: which classes exist and how each one sounds.

Two vocabularies, one per on-disk layout:

* **AAM** (:data:`AAM_INSTRUMENTS`): the 31 instrument names of the Artificial Audio
  Multitracks dataset, in the alphabetical order of the ``onsets.arff`` columns.  No General
  MIDI soundfont has an erhu or a fujara, so each name is mapped to the distinct GM program
  that sounds closest (table below); the label is always the AAM name.
* **Slakh** (:data:`SLAKH_CLASSES`): the GM families that Slakh2100 writes to ``inst_class``
  in ``metadata.yaml`` (0-based program // 8, with Slakh's own spellings, "Drums" = 128).

AAM name -> GM program (0-based) and pitch range used by the composer:

=====================  =======================================  ==========
AAM instrument         GM program                               range
=====================  =======================================  ==========
AcousticGuitar         25 Acoustic Guitar (steel)               40-76
AltoSax                65 Alto Sax                              49-80
Balalaika              105 Banjo (bright plucked tremolo)        52-84
BrightPiano            1 Bright Acoustic Piano                  36-84
Cello                  42 Cello                                 36-72
Clarinet               71 Clarinet                              50-84
DoubleBassArco         43 Contrabass                            28-52
DoubleBassPizz         32 Acoustic Bass                         28-52
Drums                  standard kit, channel 10                 -
ElectricBass           33 Electric Bass (finger)                28-55
ElectricGuitarClean    27 Electric Guitar (clean)               40-76
ElectricGuitarCrunch   29 Overdriven Guitar                     40-76
ElectricGuitarLead     30 Distortion Guitar                     52-86
ElectricPiano          4 Electric Piano 1                       40-84
Erhu                   110 Fiddle                               62-88
Flugelhorn             60 French Horn (mellow conical brass)    52-77
Flute                  73 Flute                                 60-93
Fujara                 76 Blown Bottle (breathy overtone flute) 48-72
Jinghu                 111 Shanai (high, nasal)                 67-93
MorinKhuur             44 Tremolo Strings (bowed, moving)       45-72
OrganBass              16 Drawbar Organ (bass register)         28-52
PanFlute               75 Pan Flute                             60-88
Piano                  0 Acoustic Grand Piano                   36-84
Shakuhachi             77 Shakuhachi                            60-86
Sitar                  104 Sitar                                52-84
TenorSax               66 Tenor Sax                             44-75
Trombone               57 Trombone                              40-70
Trumpet                56 Trumpet                               55-82
Ukulele                24 Acoustic Guitar (nylon)               60-81
Viola                  41 Viola                                 48-81
Violin                 40 Violin                                55-93
=====================  =======================================  ==========

Every AAM name has its own program, so two classes never share one sound.
"""

from __future__ import annotations

from dataclasses import dataclass

import pretty_midi

DRUM_PROGRAM = 128  # Slakh's program_num for drum stems; the MIDI plays on channel 10 (index 9)

ROLES = ("drums", "bass", "chords", "melody", "arpeggio", "counter")


@dataclass(frozen=True)
class Voice:
    """One playable instrument: its class label, GM program and register.

    Attributes
    ----------
    label : str
        The class name written to the annotations.
    program : int
        0-based GM program, or :data:`DRUM_PROGRAM` for the drum kit.
    low, high : int
        MIDI pitch range the composer keeps this voice in.
    roles : tuple[str, ...]
        Parts of an arrangement this voice may play (see :data:`ROLES`).
    """

    label: str
    program: int
    low: int
    high: int
    roles: tuple[str, ...]

    def __post_init__(self) -> None:
        if not 0 <= self.program <= DRUM_PROGRAM:
            raise ValueError(f"voice {self.label!r}: program {self.program} not in 0..128")
        if self.program != DRUM_PROGRAM and not 0 <= self.low < self.high <= 127:
            raise ValueError(f"voice {self.label!r}: bad pitch range {self.low}..{self.high}")
        unknown = set(self.roles) - set(ROLES)
        if unknown:
            raise ValueError(f"voice {self.label!r}: unknown roles {sorted(unknown)}")

    @property
    def is_drum(self) -> bool:
        return self.program == DRUM_PROGRAM


_DRUMS = Voice("Drums", DRUM_PROGRAM, 35, 81, ("drums",))

AAM_VOICES: tuple[Voice, ...] = (
    Voice("AcousticGuitar", 25, 40, 76, ("chords", "arpeggio")),
    Voice("AltoSax", 65, 49, 80, ("melody", "counter")),
    Voice("Balalaika", 105, 52, 84, ("arpeggio", "melody")),
    Voice("BrightPiano", 1, 36, 84, ("chords", "arpeggio")),
    Voice("Cello", 42, 36, 72, ("counter", "melody")),
    Voice("Clarinet", 71, 50, 84, ("melody", "counter")),
    Voice("DoubleBassArco", 43, 28, 52, ("bass",)),
    Voice("DoubleBassPizz", 32, 28, 52, ("bass",)),
    _DRUMS,
    Voice("ElectricBass", 33, 28, 55, ("bass",)),
    Voice("ElectricGuitarClean", 27, 40, 76, ("chords", "arpeggio")),
    Voice("ElectricGuitarCrunch", 29, 40, 76, ("chords",)),
    Voice("ElectricGuitarLead", 30, 52, 86, ("melody",)),
    Voice("ElectricPiano", 4, 40, 84, ("chords", "arpeggio")),
    Voice("Erhu", 110, 62, 88, ("melody",)),
    Voice("Flugelhorn", 60, 52, 77, ("melody", "counter")),
    Voice("Flute", 73, 60, 93, ("melody", "counter")),
    Voice("Fujara", 76, 48, 72, ("melody",)),
    Voice("Jinghu", 111, 67, 93, ("melody",)),
    Voice("MorinKhuur", 44, 45, 72, ("melody", "counter")),
    Voice("OrganBass", 16, 28, 52, ("bass",)),
    Voice("PanFlute", 75, 60, 88, ("melody",)),
    Voice("Piano", 0, 36, 84, ("chords", "arpeggio")),
    Voice("Shakuhachi", 77, 60, 86, ("melody",)),
    Voice("Sitar", 104, 52, 84, ("melody", "arpeggio")),
    Voice("TenorSax", 66, 44, 75, ("melody", "counter")),
    Voice("Trombone", 57, 40, 70, ("counter", "melody")),
    Voice("Trumpet", 56, 55, 82, ("melody",)),
    Voice("Ukulele", 24, 60, 81, ("chords", "arpeggio")),
    Voice("Viola", 41, 48, 81, ("counter", "melody")),
    Voice("Violin", 40, 55, 93, ("melody", "counter")),
)

AAM_INSTRUMENTS: tuple[str, ...] = tuple(voice.label for voice in AAM_VOICES)

# Slakh's inst_class per block of 8 programs (0-based), spelled as in metadata.yaml.
_GM_FAMILIES = (
    "Piano", "Chromatic Percussion", "Organ", "Guitar", "Bass", "Strings",
    "Strings (continued)", "Brass", "Reed", "Pipe", "Synth Lead", "Synth Pad",
    "Sound Effects", "Ethnic",
)  # fmt: skip
# Where Slakh's program names differ from pretty_midi's spelling.
_SLAKH_NAME_FIXES = {
    31: "Guitar harmonics",
    54: "Synth Voice",
    76: "Blown Bottle",
    83: "Lead 4 (chiff)",
    109: "Bag pipe",
}


def gm_class(program: int) -> str:
    """Slakh's ``inst_class`` of a 0-based GM program (128 = ``Drums``).

    Programs 112-118 are ``Percussive`` and 119-127 ``Sound effects`` (lower-case e), as in
    Slakh's table.
    """
    if not 0 <= program <= DRUM_PROGRAM:
        raise ValueError(f"GM program must be in 0..128, got {program}")
    if program == DRUM_PROGRAM:
        return "Drums"
    if program >= 119:
        return "Sound effects"
    if program >= 112:
        return "Percussive"
    return _GM_FAMILIES[program // 8]


def gm_program_name(program: int) -> str:
    """Slakh's ``midi_program_name`` of a 0-based GM program (128 = ``Drums``)."""
    if program == DRUM_PROGRAM:
        return "Drums"
    return _SLAKH_NAME_FIXES.get(program) or pretty_midi.program_to_instrument_name(program)


def _slakh_voice(program: int, low: int, high: int, roles: tuple[str, ...]) -> Voice:
    return Voice(gm_class(program), program, low, high, roles)


SLAKH_VOICES: tuple[Voice, ...] = (
    _DRUMS,
    # Bass
    *(_slakh_voice(p, 28, 52, ("bass",)) for p in (32, 33, 34, 35, 36, 38)),
    # Piano
    *(_slakh_voice(p, 36, 84, ("chords", "arpeggio")) for p in (0, 1, 2, 4, 5)),
    _slakh_voice(6, 48, 84, ("arpeggio", "chords")),
    # Chromatic Percussion
    *(_slakh_voice(p, 60, 96, ("arpeggio", "melody")) for p in (8, 9, 10, 13)),
    *(_slakh_voice(p, 48, 84, ("arpeggio", "melody", "chords")) for p in (11, 12)),
    # Organ
    *(_slakh_voice(p, 40, 76, ("chords",)) for p in (16, 17, 18, 19)),
    _slakh_voice(21, 53, 81, ("melody", "chords")),
    _slakh_voice(22, 60, 84, ("melody",)),
    # Guitar
    *(_slakh_voice(p, 40, 76, ("chords", "arpeggio")) for p in (24, 25, 26, 27)),
    _slakh_voice(29, 40, 76, ("chords",)),
    _slakh_voice(30, 52, 86, ("melody", "chords")),
    # Strings (solo)
    _slakh_voice(40, 55, 93, ("melody", "counter")),
    _slakh_voice(41, 48, 81, ("counter", "melody")),
    _slakh_voice(42, 36, 72, ("counter",)),
    _slakh_voice(45, 48, 79, ("arpeggio",)),
    _slakh_voice(46, 48, 88, ("arpeggio",)),
    # Strings (continued): ensembles and choir
    *(_slakh_voice(p, 48, 79, ("chords", "counter")) for p in (48, 49, 50, 52)),
    # Brass
    _slakh_voice(56, 55, 82, ("melody",)),
    _slakh_voice(57, 40, 70, ("counter", "melody")),
    _slakh_voice(60, 45, 77, ("counter", "melody")),
    *(_slakh_voice(p, 48, 76, ("chords",)) for p in (61, 62)),
    # Reed
    *(_slakh_voice(p, 49, 80, ("melody", "counter")) for p in (64, 65, 66)),
    _slakh_voice(68, 58, 88, ("melody",)),
    _slakh_voice(71, 50, 84, ("melody", "counter")),
    # Pipe
    *(_slakh_voice(p, 60, 93, ("melody",)) for p in (72, 73, 75)),
    _slakh_voice(79, 60, 84, ("melody",)),
    # Synth Lead
    *(_slakh_voice(p, 55, 86, ("melody", "arpeggio")) for p in (80, 81, 84)),
    # Synth Pad
    *(_slakh_voice(p, 45, 76, ("chords",)) for p in (88, 89, 90, 91, 94, 95)),
    # Ethnic
    _slakh_voice(104, 52, 84, ("melody", "arpeggio")),
    _slakh_voice(105, 55, 84, ("arpeggio",)),
    _slakh_voice(107, 55, 84, ("arpeggio", "melody")),
    _slakh_voice(110, 60, 88, ("melody",)),
)

SLAKH_CLASSES: tuple[str, ...] = tuple(dict.fromkeys(voice.label for voice in SLAKH_VOICES))

LAYOUTS = ("aam", "slakh")


def voices_for(layout: str) -> tuple[Voice, ...]:
    """The instrument palette of a layout (``aam`` or ``slakh``)."""
    if layout == "aam":
        return AAM_VOICES
    if layout == "slakh":
        return SLAKH_VOICES
    raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
