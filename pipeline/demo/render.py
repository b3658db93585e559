"""Rendering demo stems to audio with the FluidSynth command-line synthesizer, in batches.

FluidSynth runs with its reverb and chorus off and writes 32-bit float samples (no
dithering), so the same MIDI and soundfont give the same samples on every run.  Loading a
soundfont costs time (MuseScore_General_Lite.sf3 decodes Vorbis samples for ~1.5 s), so
:func:`render_batch` renders many stems in ONE run: each stem gets a slot of the MIDI file,
one after the other, and is cut back out of the audio.  A stem rendered inside a batch is
bit-identical to the same stem rendered alone, because

* every slot starts on a sample that is a multiple of FluidSynth's 64-sample block and a
  whole millisecond (the MIDI file has 1 tick = 1 ms), so its events fall on the same
  block offsets wherever the slot is;
* the stem's channel is silenced ("all sound off") at the end of its slot, and the voice
  pool is then *primed*: a chord of 512 notes on four spare channels occupies all 256
  voices for a few blocks and is silenced.  FluidSynth ramps a reused voice's mixing
  amplitude over its first block from the value its previous note left behind (its
  issue 768), so without the primer a stem's first blocks depend on what the batch
  played before; with it every voice starts each slot from the primer's state, in the
  alone render too (the first slot is primed as well).

FluidSynth loads a preset's samples when a channel first selects it
(``synth.dynamic-sample-loading``), which spares decoding all of an sf3 file and gives the
same samples.  The synthesizer is linear without reverb and chorus, so a mix is the sum of
its stems.  Soundfonts are found by :func:`find_soundfonts`: the paths in ``INSTREC_SOUNDFONTS``
(colon-separated), then TimGM6mb.sf2 shipped inside pretty_midi, then the General MIDI
soundfonts that Linux distributions install (Debian's ``fluid-soundfont-gm`` and
``musescore-general-soundfont-small``).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import soundfile

from core.errors import RenderError  # re-exported: defined in core.errors
from pipeline.demo.choices import SOUNDFONT_ENV
from pipeline.demo.song import Part, Song

# Where distributions put a General MIDI soundfont (Debian/Ubuntu, Fedora, Arch).
SYSTEM_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    # Debian's musescore-general-soundfont-small: a third, differently sampled GM set
    "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3",
)
_GAIN = 0.5
_FADE_SECONDS = 0.02


def fluidsynth_binary() -> str:
    """Path of the ``fluidsynth`` program.

    Raises
    ------
    RenderError
        When it is not on ``PATH``, naming the package to install.
    """
    path = shutil.which("fluidsynth")
    if path is None:
        raise RenderError(
            "the `fluidsynth` program was not found on PATH; the demo corpus needs it to render "
            "audio. Install it (Debian/Ubuntu: `sudo apt-get install fluidsynth`; macOS: "
            "`brew install fluid-synth`) or run `make setup`"
        )
    return path


def _pretty_midi_soundfont() -> Path | None:
    try:
        import pretty_midi
    except ImportError:  # pragma: no cover - pretty_midi is a dependency
        return None
    path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    return path if path.is_file() else None


def find_soundfonts(*, environ: dict[str, str] | None = None) -> list[Path]:
    """Every General MIDI soundfont available, without duplicates, in a fixed order.

    Parameters
    ----------
    environ : dict, optional
        Environment to read ``INSTREC_SOUNDFONTS`` from (default: ``os.environ``).

    Returns
    -------
    list[Path]
        ``INSTREC_SOUNDFONTS`` entries first, then TimGM6mb (pretty_midi), then system ones.

    Raises
    ------
    RenderError
        When an ``INSTREC_SOUNDFONTS`` entry is not a file, or no soundfont is found at all.
    """
    environ = os.environ if environ is None else environ
    found: list[Path] = []
    for entry in filter(None, environ.get(SOUNDFONT_ENV, "").split(os.pathsep)):
        path = Path(entry).expanduser()
        if not path.is_file():
            raise RenderError(f"{path}: listed in ${SOUNDFONT_ENV} but not a file; fix or remove that entry")
        found.append(path)
    bundled = _pretty_midi_soundfont()
    if bundled is not None:
        found.append(bundled)
    found += [Path(p) for p in SYSTEM_SOUNDFONTS if Path(p).is_file()]
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise RenderError(
            "no General MIDI soundfont found: install one (Debian/Ubuntu: `sudo apt-get install "
            f"fluid-soundfont-gm`), reinstall pretty_midi (it ships TimGM6mb.sf2), or set ${SOUNDFONT_ENV} "
            "to a colon-separated list of .sf2 files"
        )
    return unique


def check_soundfont(path: str | Path) -> Path:
    """A soundfont path that exists and looks like a SoundFont 2 file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise RenderError(f"{path}: soundfont not found; pass an existing .sf2 file to --soundfont")
    with open(path, "rb") as handle:
        head = handle.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise RenderError(f"{path}: not a SoundFont 2 file (no RIFF/sfbk header); pass a .sf2 file")
    return path.resolve()


_GAIN = 0.5
_POLYPHONY = 256
_MELODIC_CHANNEL = 0
_DRUM_CHANNEL = 9
_PRIMER_CHANNELS = (10, 11, 12, 13)  # 4 x 128 notes: more than enough to occupy every voice
_PRIMER_MS = 30
_SETTLE_MS = 20
_BEND_CENTRE = 8192
_FADE_SECONDS = 0.02


@dataclass(frozen=True)
class StemRequest:
    """One stem to synthesise, in render time (milliseconds from the start of its slot).

    Attributes
    ----------
    notes : tuple of (key, velocity, on_ms, off_ms)
    program : int
        0-based GM program; for a drum stem, the drum kit (bank 128 preset).
    is_drum : bool
        Played on MIDI channel 10.
    length_ms : int
        Length of the stem; every sound is cut ("all sound off") there.
    bend : int
        Pitch-wheel value held for the whole stem (8192 = none; +-2 semitones full scale).
    """

    notes: tuple[tuple[int, int, int, int], ...]
    program: int
    is_drum: bool
    length_ms: int
    bend: int = _BEND_CENTRE

    def __post_init__(self) -> None:
        if self.length_ms <= 0:
            raise ValueError(f"length_ms must be positive, got {self.length_ms}")
        if not 0 <= self.program <= 127 or not 0 <= self.bend <= 16383:
            raise ValueError(f"program {self.program} / bend {self.bend} out of MIDI range")
        for key, vel, on, off in self.notes:
            if not (0 <= key <= 127 and 1 <= vel <= 127 and 0 <= on < off <= self.length_ms):
                raise ValueError(f"bad note {(key, vel, on, off)} for a {self.length_ms} ms stem")


def block_grid(sr: int) -> int:
    """Samples between possible slot starts: a multiple of 64 that is a whole millisecond.

    1.28 s (28224 samples) at 22050 Hz, 0.64 s at 44100 Hz, 4 ms at 16000 Hz.
    """
    unit = sr // math.gcd(1000, sr)  # samples in the shortest whole-millisecond span
    return unit * 64 // math.gcd(unit, 64)


def batch_layout(requests: list[StemRequest], *, sr: int) -> tuple[list[int], int]:
    """Start of each stem's slot and the end of the batch, in ms (all on the block grid)."""
    grid_ms = block_grid(sr) * 1000 // sr

    def up(ms: int) -> int:
        return -(-ms // grid_ms) * grid_ms

    starts, t = [], up(_PRIMER_MS + _SETTLE_MS)
    for request in requests:
        starts.append(t)
        t = up(t + request.length_ms + 2 * _SETTLE_MS + _PRIMER_MS)
    return starts, t


def _primer(at_ms: int) -> list[tuple[int, int, mido.Message]]:
    events = []
    for channel in _PRIMER_CHANNELS:
        events.append((at_ms, 0, mido.Message("program_change", channel=channel, program=0)))
        events += [
            (at_ms, 3, mido.Message("note_on", channel=channel, note=k, velocity=100)) for k in range(128)
        ]
        events.append(
            (at_ms + _PRIMER_MS, 4, mido.Message("control_change", channel=channel, control=120, value=0))
        )
    return events


def batch_midi(requests: list[StemRequest], *, sr: int) -> tuple[mido.MidiFile, list[int]]:
    """The MIDI file of a batch (1 tick = 1 ms) and the start of each slot in ms."""
    starts, end = batch_layout(requests, sr=sr)
    events: list[tuple[int, int, mido.Message]] = _primer(0)
    for start, request in zip(starts, requests):
        channel = _DRUM_CHANNEL if request.is_drum else _MELODIC_CHANNEL
        events.append((start, 0, mido.Message("program_change", channel=channel, program=request.program)))
        events.append(
            (start, 0, mido.Message("pitchwheel", channel=channel, pitch=request.bend - _BEND_CENTRE))
        )
        for key, vel, on, off in request.notes:
            events.append((start + on, 2, mido.Message("note_on", channel=channel, note=key, velocity=vel)))
            events.append((start + off, 1, mido.Message("note_off", channel=channel, note=key, velocity=64)))
        cut = start + request.length_ms
        events.append((cut, 4, mido.Message("control_change", channel=channel, control=120, value=0)))
        events += _primer(cut + _SETTLE_MS)
    midi = mido.MidiFile(type=0, ticks_per_beat=500)  # 500 ticks a beat at 500000 us a beat
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    now = 0
    for tick, _order, message in sorted(events, key=lambda e: (e[0], e[1], getattr(e[2], "note", -1))):
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("marker", text="end", time=end - now))
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi.tracks.append(track)
    return midi, starts


def render_batch(requests: list[StemRequest], soundfont: Path, *, sr: int) -> list[np.ndarray]:
    """Render stems with one FluidSynth run (module docstring: batched == alone).

    Parameters
    ----------
    requests : list[StemRequest]
    soundfont : Path
        A ``.sf2`` or ``.sf3`` file.
    sr : int
        Sample rate in Hz (8000 to 96000, FluidSynth's limits).

    Returns
    -------
    list of np.ndarray [shape=(ceil(length_ms * sr / 1000),), dtype=float32]
        Mono audio of each stem, in the order of ``requests``.

    Raises
    ------
    RenderError
        When FluidSynth fails or writes no audio.
    """
    if not 8000 <= sr <= 96000:
        raise ValueError(f"sr must be within 8000..96000 Hz for FluidSynth, got {sr}")
    if not requests:
        return []
    binary = fluidsynth_binary()
    midi, starts = batch_midi(requests, sr=sr)
    with tempfile.TemporaryDirectory(prefix="instrec-render-") as tmp:
        midi_path = Path(tmp) / "batch.mid"
        wav_path = Path(tmp) / "batch.wav"
        midi.save(midi_path)
        command = [
            binary, "-n", "-i", "-q", "-R", "0", "-C", "0", "-r", str(sr), "-g", str(_GAIN),
            "-o", f"synth.polyphony={_POLYPHONY}", "-o", "synth.dynamic-sample-loading=1",
            "-O", "float", "-T", "wav", "-F", str(wav_path), str(soundfont), str(midi_path),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not wav_path.is_file():
            raise RenderError(
                f"{soundfont}: FluidSynth failed to render (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-300:]}"
            )
        audio, file_sr = soundfile.read(wav_path, dtype="float32", always_2d=True)
    if file_sr != sr:
        raise RenderError(f"{soundfont}: FluidSynth wrote {file_sr} Hz audio, expected {sr} Hz")
    mono = audio.mean(axis=1)
    out = []
    for start, request in zip(starts, requests):
        first = start * sr // 1000
        n = -(-request.length_ms * sr // 1000)
        stem = np.zeros(n, dtype=np.float32)
        piece = mono[first : first + n]
        stem[: len(piece)] = piece
        out.append(stem)
    return out


def usable_shift(part: Part, semitones: float) -> float:
    """``semitones``, or 0 when transposing the part's notes down by it would leave 0..127."""
    keys = [n.pitch for n in part.notes]
    whole = int(round(semitones))
    if part.voice.is_drum or not keys or (0 <= min(keys) - whole and max(keys) - whole <= 127):
        return float(semitones)
    return 0.0


def stem_request(song: Song, part: Part, *, semitones: float = 0.0, kit: int = 0) -> StemRequest:
    """The render request of one part, its timing stretched by ``r = 2 ** (semitones / 12)``.

    A pitched part is transposed down by ``semitones`` (whole semitones in the notes, the
    rest with the pitch wheel), so :func:`pipeline.demo.sound_design.restore_timing` (a
    resampling by ``r``) brings pitch and timing back.  A drum part keeps its keys (they
    name the drums) and is only stretched: resampling then tunes the kit up by
    ``semitones``.  Pass a shift checked by :func:`usable_shift`.
    """
    if usable_shift(part, semitones) != semitones:
        raise ValueError(f"a {semitones} semitone shift takes the {part.label} notes out of 0..127")
    stretch = 2.0 ** (semitones / 12)
    whole, bend = 0, _BEND_CENTRE
    if not part.voice.is_drum:
        whole = int(round(semitones))
        bend = int(np.clip(_BEND_CENTRE + round(-(semitones - whole) / 2 * 8192), 0, 16383))
    length_ms = int(round(song.seconds * stretch * 1000))
    notes = []
    for note in part.notes:
        on = int(round(song.seconds_at(note.start) * stretch * 1000))
        off = min(length_ms, max(on + 1, int(round(song.seconds_at(note.end) * stretch * 1000))))
        notes.append((note.pitch - whole, note.velocity, on, off))
    program = kit if part.voice.is_drum else part.voice.program
    return StemRequest(tuple(notes), program, part.voice.is_drum, length_ms, bend)


def fade_out(stems: np.ndarray, *, sr: int) -> np.ndarray:
    """Stems faded to silence over their last 20 ms (in place; returned for chaining)."""
    n_samples = stems.shape[-1]
    fade = min(n_samples, int(round(_FADE_SECONDS * sr)))
    if fade > 0:
        stems[..., n_samples - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return stems


def render_stems(song: Song, soundfont: Path, *, sr: int) -> np.ndarray:
    """Render every part of a song with one soundfont, no sound design (one FluidSynth run).

    Returns
    -------
    np.ndarray [shape=(n_parts, round(song.seconds * sr)), dtype=float32]
        Mono stems in the order of ``song.parts``, each faded out over the last 20 ms.
    """
    n_samples = int(round(song.seconds * sr))
    audio = render_batch([stem_request(song, part) for part in song.parts], soundfont, sr=sr)
    stems = np.zeros((len(song.parts), n_samples), dtype=np.float32)
    for k, stem in enumerate(audio):
        stems[k, : min(n_samples, len(stem))] = stem[:n_samples]
    return fade_out(stems, sr=sr)
