"""Rendering demo songs to audio with the FluidSynth command-line synthesizer.

FluidSynth runs with its reverb and chorus off and writes 32-bit float samples (no
dithering), so the same MIDI and soundfont give the same samples on every run.  Its player
starts at sample 0, so a note at ``t`` seconds in the MIDI file sounds at ``t`` seconds in
the audio (event times are rounded to FluidSynth's 64-sample blocks: under 3 ms at 22050 Hz).

All stems of a song come from one FluidSynth run over :func:`pipeline.demo.midi.render_midi`
(the parts one after the other), which spares loading the soundfont once per stem.  The
synthesizer is linear without reverb and chorus, so the mix is the sum of the stems.

Soundfonts are found by :func:`find_soundfonts`: the paths in ``INSTREC_SOUNDFONTS``
(colon-separated), then TimGM6mb.sf2 shipped inside pretty_midi, then the General MIDI
soundfonts that Linux distributions install (Debian's ``fluid-soundfont-gm``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile

from pipeline.demo.composer import Song
from pipeline.demo.midi import render_midi, slot_ticks
from pipeline.track import InstrecError

SOUNDFONT_ENV = "INSTREC_SOUNDFONTS"
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


class RenderError(InstrecError):
    """FluidSynth or a soundfont is missing, or a render failed."""


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
            raise RenderError(
                f"{path}: listed in ${SOUNDFONT_ENV} but not a file; fix or remove that entry"
            )
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


def render_stems(song: Song, soundfont: Path, *, sr: int) -> np.ndarray:
    """Render every part of a song separately.

    Parameters
    ----------
    song : Song
    soundfont : Path
        A ``.sf2`` file.
    sr : int
        Sample rate in Hz (8000 to 96000, FluidSynth's limits).

    Returns
    -------
    np.ndarray [shape=(n_parts, round(song.seconds * sr)), dtype=float32]
        Mono stems in the order of ``song.parts``, each faded out over the last 20 ms.

    Raises
    ------
    RenderError
        When FluidSynth fails or writes no audio.
    """
    if not 8000 <= sr <= 96000:
        raise ValueError(f"sr must be within 8000..96000 Hz for FluidSynth, got {sr}")
    binary = fluidsynth_binary()
    n_samples = int(round(song.seconds * sr))
    with tempfile.TemporaryDirectory(prefix="instrec-render-") as tmp:
        midi_path = Path(tmp) / "song.mid"
        wav_path = Path(tmp) / "song.wav"
        render_midi(song).save(midi_path)
        command = [
            binary, "-n", "-i", "-q", "-R", "0", "-C", "0", "-r", str(sr), "-g", str(_GAIN),
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
    slot_seconds = slot_ticks(song) * song.tempo / (1e6 * song.ticks_per_beat)
    stems = np.zeros((len(song.parts), n_samples), dtype=np.float32)
    for k in range(len(song.parts)):
        start = int(round(k * slot_seconds * sr))
        piece = mono[start : start + n_samples]
        stems[k, : len(piece)] = piece
    fade = min(n_samples, int(round(_FADE_SECONDS * sr)))
    if fade > 0:
        stems[:, n_samples - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return stems
