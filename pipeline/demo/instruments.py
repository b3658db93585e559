"""Instrument tables of the demo corpus: which classes exist, which programs play them, how.

Two vocabularies, one per on-disk layout:

* **AAM** (:data:`AAM_VOICES`): the 31 instrument names of the Artificial Audio Multitracks
  dataset, in the alphabetical order of the ``onsets.arff`` columns.  No General MIDI
  soundfont has an erhu or a fujara, so each name is mapped to the distinct GM program that
  sounds closest (table below); the label is always the AAM name.  A song has at most one
  stem per AAM instrument (AAM's annotations have one column per instrument).
* **Slakh** (:data:`SLAKH_VOICES`): the GM families that Slakh2100 writes to ``inst_class``
  in ``metadata.yaml`` (0-based program // 8, Slakh's spellings, "Drums" = 128).  Every one
  of the 8 programs of each of the 13 melodic families is playable (104 programs: Piano 0-7
  with harpsichord and clavinet, Guitar 24-31, Synth Pad 88-95, Ethnic 104-111...), each
  with its own register and the roles it can play, so a class is heard through many sounds.
  The effect families (Synth Effects 96-103, Percussive 112-118, Sound effects 119-127) are
  left out, as in the issue's class list.

Roles (:data:`ROLES`) are what a part does in an arrangement; they are decoupled from the
family: a cello, a tuba, a bassoon or a square lead may play the bass line, an organ or a
guitar may play the melody, a vibraphone may comp.  The first role of a voice is its
*primary* role, drawn more often for it (:func:`role_weight`, :func:`class_weight`).

AAM name -> GM program (0-based), pitch range and roles (b bass, m melody, c counter-line,
h chords, p pad, a arpeggio, r riff/ostinato, s stabs):

=====================  =======================================  ======  ========
AAM instrument         GM program                               range   roles
=====================  =======================================  ======  ========
AcousticGuitar         25 Acoustic Guitar (steel)               40-83   hamcr
AltoSax                65 Alto Sax                              49-80   mcr
Balalaika              105 Banjo (bright plucked tremolo)        52-84   ahmc
BrightPiano            1 Bright Acoustic Piano                  28-96   hmabcrs
Cello                  42 Cello                                 36-76   cbmp
Clarinet               71 Clarinet                              50-91   mcar
DoubleBassArco         43 Contrabass                            28-55   bc
DoubleBassPizz         32 Acoustic Bass                         28-55   br
Drums                  GM drum kits, channel 10                 -       drums
ElectricBass           33 Electric Bass (finger)                28-60   br
ElectricGuitarClean    27 Electric Guitar (clean)               40-86   harsmc
ElectricGuitarCrunch   29 Overdriven Guitar                     40-86   hrsmc
ElectricGuitarLead     30 Distortion Guitar                     52-88   mrc
ElectricPiano          4 Electric Piano 1                       33-93   hpabmcrs
Erhu                   110 Fiddle                               62-93   mc
Flugelhorn             60 French Horn (mellow conical brass)    52-77   mcp
Flute                  73 Flute                                 60-93   mcar
Fujara                 76 Blown Bottle (breathy overtone flute) 48-72   mcp
Jinghu                 111 Shanai (high, nasal)                 67-93   mc
MorinKhuur             44 Tremolo Strings (bowed, moving)       45-72   mcp
OrganBass              16 Drawbar Organ (bass register)         28-52   br
PanFlute               75 Pan Flute                             60-88   mcr
Piano                  0 Acoustic Grand Piano                   28-96   hmabcprs
Shakuhachi             77 Shakuhachi                            60-86   mc
Sitar                  104 Sitar                                52-84   mar
TenorSax               66 Tenor Sax                             44-75   mcr
Trombone               57 Trombone                              40-70   cbmrs
Trumpet                56 Trumpet                               55-82   mrcs
Ukulele                24 Acoustic Guitar (nylon)               60-81   harm
Viola                  41 Viola                                 48-81   cmp
Violin                 40 Violin                                55-93   mcpr
=====================  =======================================  ======  ========

Every AAM name has its own program, so two classes never share one sound.
"""

from __future__ import annotations

from dataclasses import dataclass

import pretty_midi

from pipeline.demo.choices import LAYOUTS

DRUM_PROGRAM = 128  # Slakh's program_num for drum stems; the MIDI plays on channel 10 (index 9)

ROLES = ("drums", "bass", "melody", "counter", "chords", "pad", "arpeggio", "riff", "stabs")
_ROLE_CODES = {
    "b": "bass", "m": "melody", "c": "counter", "h": "chords", "p": "pad", "a": "arpeggio",
    "r": "riff", "s": "stabs",
}  # fmt: skip
# GM2/GS drum kits (bank 128) that every soundfont found here has: Standard, Room, Power,
# Electronic, TR-808, Jazz, Brush.  A soundfont without one falls back to Standard.
DRUM_KITS = (0, 8, 16, 24, 25, 32, 40)


@dataclass(frozen=True)
class Voice:
    """One playable instrument: its class label, GM program, register and roles.

    Attributes
    ----------
    label : str
        The class name written to the annotations.
    program : int
        0-based GM program, or :data:`DRUM_PROGRAM` for the drum kit.
    low, high : int
        MIDI pitch range the composer keeps this voice in.
    roles : tuple[str, ...]
        Parts of an arrangement this voice may play (see :data:`ROLES`); the first is its
        primary role.
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
        if unknown or not self.roles:
            raise ValueError(f"voice {self.label!r}: unknown or no roles {sorted(unknown)}")

    @property
    def is_drum(self) -> bool:
        return self.program == DRUM_PROGRAM


def _roles(codes: str) -> tuple[str, ...]:
    return tuple(_ROLE_CODES[code] for code in codes)


def role_weight(voice: Voice, role: str) -> float:
    """How often ``voice`` is drawn for ``role`` relative to other voices: 4 for its primary
    role, 1 for another role it can play, 0 otherwise."""
    if role not in voice.roles:
        return 0.0
    return 4.0 if voice.roles[0] == role else 1.0


def class_weight(voices: tuple[Voice, ...], label: str, role: str) -> float:
    """How often class ``label`` is drawn for ``role``: the mean :func:`role_weight` over all
    of its voices, so a family made for the role (Bass for bass lines, Synth Pad for pads) is
    drawn more often than a family with one program that can also play it."""
    own = [role_weight(v, role) for v in voices if v.label == label]
    return sum(own) / len(own) if own else 0.0


_DRUMS = Voice("Drums", DRUM_PROGRAM, 27, 87, ("drums",))

_AAM_TABLE = (
    ("AcousticGuitar", 25, 40, 83, "hamcr"),
    ("AltoSax", 65, 49, 80, "mcr"),
    ("Balalaika", 105, 52, 84, "ahmc"),
    ("BrightPiano", 1, 28, 96, "hmabcrs"),
    ("Cello", 42, 36, 76, "cbmp"),
    ("Clarinet", 71, 50, 91, "mcar"),
    ("DoubleBassArco", 43, 28, 55, "bc"),
    ("DoubleBassPizz", 32, 28, 55, "br"),
    None,  # Drums
    ("ElectricBass", 33, 28, 60, "br"),
    ("ElectricGuitarClean", 27, 40, 86, "harsmc"),
    ("ElectricGuitarCrunch", 29, 40, 86, "hrsmc"),
    ("ElectricGuitarLead", 30, 52, 88, "mrc"),
    ("ElectricPiano", 4, 33, 93, "hpabmcrs"),
    ("Erhu", 110, 62, 93, "mc"),
    ("Flugelhorn", 60, 52, 77, "mcp"),
    ("Flute", 73, 60, 93, "mcar"),
    ("Fujara", 76, 48, 72, "mcp"),
    ("Jinghu", 111, 67, 93, "mc"),
    ("MorinKhuur", 44, 45, 72, "mcp"),
    ("OrganBass", 16, 28, 52, "br"),
    ("PanFlute", 75, 60, 88, "mcr"),
    ("Piano", 0, 28, 96, "hmabcprs"),
    ("Shakuhachi", 77, 60, 86, "mc"),
    ("Sitar", 104, 52, 84, "mar"),
    ("TenorSax", 66, 44, 75, "mcr"),
    ("Trombone", 57, 40, 70, "cbmrs"),
    ("Trumpet", 56, 55, 82, "mrcs"),
    ("Ukulele", 24, 60, 81, "harm"),
    ("Viola", 41, 48, 81, "cmp"),
    ("Violin", 40, 55, 93, "mcpr"),
)

AAM_VOICES: tuple[Voice, ...] = tuple(
    _DRUMS if row is None else Voice(row[0], row[1], row[2], row[3], _roles(row[4])) for row in _AAM_TABLE
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


# (program, low, high, roles) for all 8 programs of the 13 melodic families.
_SLAKH_TABLE = (
    # Piano: grand, bright, electric grand, honky-tonk, EP 1, EP 2, harpsichord, clavinet
    (0, 28, 96, "hmabcprs"), (1, 28, 96, "hmabcrs"), (2, 28, 96, "hpmabcrs"), (3, 33, 93, "hmacrs"),
    (4, 33, 93, "hpabmcrs"), (5, 33, 93, "hpamcrs"), (6, 29, 89, "ahmcbr"), (7, 29, 89, "rshbm"),
    # Chromatic Percussion: celesta, glockenspiel, music box, vibraphone, marimba, xylophone,
    # tubular bells, dulcimer
    (8, 60, 103, "amcr"), (9, 72, 103, "mac"), (10, 60, 96, "amc"), (11, 53, 89, "hpamc"),
    (12, 45, 96, "ambcr"), (13, 65, 103, "mars"), (14, 60, 77, "csm"), (15, 48, 84, "ahmc"),
    # Organ: drawbar, percussive, rock, church, reed, accordion, harmonica, tango accordion
    (16, 36, 96, "hpbmrs"), (17, 36, 96, "hrsmc"), (18, 36, 96, "hpsbrm"), (19, 24, 96, "pbhmc"),
    (20, 36, 89, "phmc"), (21, 41, 89, "hmcpr"), (22, 60, 84, "mcr"), (23, 41, 89, "hmcr"),
    # Guitar: nylon, steel, jazz, clean, muted, overdriven, distortion, harmonics
    (24, 40, 83, "hamcbr"), (25, 40, 83, "hamcr"), (26, 40, 86, "hmcarsb"), (27, 40, 86, "harsmc"),
    (28, 40, 79, "rasb"), (29, 40, 88, "hrsmc"), (30, 40, 88, "rmhsc"), (31, 52, 88, "amc"),
    # Bass: acoustic, finger, pick, fretless, slap 1, slap 2, synth bass 1, synth bass 2
    (32, 28, 55, "br"), (33, 28, 60, "br"), (34, 28, 60, "br"), (35, 28, 60, "bmr"),
    (36, 28, 60, "br"), (37, 28, 60, "br"), (38, 28, 60, "bra"), (39, 28, 60, "bra"),
    # Strings: violin, viola, cello, contrabass, tremolo strings, pizzicato strings, harp, timpani
    (40, 55, 96, "mcpr"), (41, 48, 84, "cmp"), (42, 36, 76, "cbmp"), (43, 28, 55, "bc"),
    (44, 40, 84, "phc"), (45, 36, 84, "arbcs"), (46, 28, 96, "ahmc"), (47, 40, 55, "bs"),
    # Strings (continued): string ensembles 1-2, synth strings 1-2, choir aahs, voice oohs,
    # synth voice, orchestra hit
    (48, 36, 91, "phcm"), (49, 36, 91, "phcm"), (50, 36, 91, "phsc"), (51, 36, 91, "phc"),
    (52, 48, 79, "pmhc"), (53, 48, 79, "pmhc"), (54, 48, 84, "pmhc"), (55, 48, 84, "s"),
    # Brass: trumpet, trombone, tuba, muted trumpet, French horn, brass section, synth brass 1-2
    (56, 55, 84, "mrcs"), (57, 40, 72, "cbmrs"), (58, 28, 58, "bc"), (59, 55, 82, "mcr"),
    (60, 41, 77, "cmp"), (61, 40, 84, "shpmc"), (62, 36, 84, "shbmrc"), (63, 36, 84, "phsmc"),
    # Reed: soprano, alto, tenor, baritone sax, oboe, English horn, bassoon, clarinet
    (64, 56, 87, "mcr"), (65, 49, 80, "mcr"), (66, 44, 75, "mcr"), (67, 36, 69, "bmcr"),
    (68, 58, 91, "mc"), (69, 52, 81, "cm"), (70, 34, 72, "bcm"), (71, 50, 91, "mcar"),
    # Pipe: piccolo, flute, recorder, pan flute, blown bottle, shakuhachi, whistle, ocarina
    (72, 74, 103, "mc"), (73, 60, 96, "mcar"), (74, 60, 96, "mc"), (75, 60, 96, "mcr"),
    (76, 60, 84, "pmc"), (77, 55, 84, "mc"), (78, 72, 96, "mc"), (79, 60, 84, "mcr"),
    # Synth Lead: square, sawtooth, calliope, chiff, charang, voice, fifths, bass + lead
    (80, 36, 96, "mbcars"), (81, 36, 96, "mbcars"), (82, 48, 96, "amc"), (83, 48, 96, "marc"),
    (84, 40, 88, "rmhsc"), (85, 48, 84, "mpc"), (86, 36, 84, "rmsc"), (87, 28, 72, "bmr"),
    # Synth Pad: new age, warm, polysynth, choir, bowed, metallic, halo, sweep
    (88, 36, 88, "phac"), (89, 36, 88, "phc"), (90, 36, 88, "hpsac"), (91, 36, 88, "phc"),
    (92, 36, 88, "phc"), (93, 36, 88, "phc"), (94, 36, 88, "phc"), (95, 36, 88, "phc"),
    # Ethnic: sitar, banjo, shamisen, koto, kalimba, bagpipe, fiddle, shanai
    (104, 48, 84, "marc"), (105, 48, 84, "ahmc"), (106, 50, 84, "marc"), (107, 48, 91, "ahmc"),
    (108, 48, 84, "arm"), (109, 55, 77, "mpc"), (110, 55, 96, "mcr"), (111, 60, 88, "mc"),
)  # fmt: skip

SLAKH_VOICES: tuple[Voice, ...] = (_DRUMS,) + tuple(
    Voice(gm_class(program), program, low, high, _roles(codes)) for program, low, high, codes in _SLAKH_TABLE
)

SLAKH_CLASSES: tuple[str, ...] = tuple(dict.fromkeys(voice.label for voice in SLAKH_VOICES))



def voices_for(layout: str) -> tuple[Voice, ...]:
    """The instrument palette of a layout (``aam`` or ``slakh``)."""
    if layout == "aam":
        return AAM_VOICES
    if layout == "slakh":
        return SLAKH_VOICES
    raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
