"""Generators of bad (and odd but valid) dataset inputs, and helpers to run the CLI on them.

Every generator writes into a folder it is given (under pytest's tmp_path) and returns the
path of the file it made; nothing here reads /work/shared or the network.  Audio is a
440 Hz tone written with soundfile; annotations are written as text in each dataset's
layout (AAM ARFF, Slakh metadata.yaml + MIDI, OpenMIC CSV).
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest
import soundfile as sf

SR = 22050  # the logmel feature set's rate: good songs need no resampling
HOP = 512  # logmel hop_length


def tone(seconds: float, *, sr: int = SR, channels: int = 1) -> np.ndarray:
    """A 440 Hz tone, ``[shape=(n,)]`` or ``[shape=(n, channels)]``, float32."""
    t = np.arange(int(round(seconds * sr))) / sr
    y = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    return np.repeat(y[:, None], channels, axis=1) if channels > 1 else y


def write_audio(path: Path | bytes, seconds: float = 1.0, *, sr: int = SR, channels: int = 1,
                subtype: str | None = None, format: str | None = None, data: np.ndarray | None = None) -> Path:
    """Write a tone (or ``data``) with soundfile; ``path`` may be bytes (non-UTF-8 names)."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    y = tone(seconds, sr=sr, channels=channels) if data is None else data
    sf.write(path, y, sr, subtype=subtype, format=format)
    return Path(os.fsdecode(path))


def expected_frames(n_samples: int, sr: int) -> int:
    """logmel frames of a file of ``n_samples`` at ``sr`` (resampled to 22.05 kHz, centred frames)."""
    n = n_samples if sr == SR else int(math.ceil(n_samples * SR / sr))
    return 1 + n // HOP


# --- bad audio -------------------------------------------------------------------------------

def truncated_flac(folder: Path, name: str = "truncated.flac") -> Path:
    """A 2 s FLAC cut in the middle of its frames."""
    full = write_audio(folder / "_full.flac.tmp", 2.0, format="FLAC")
    data = full.read_bytes()
    full.unlink()
    path = folder / name
    path.write_bytes(data[: len(data) // 2])
    return path


def zero_byte(folder: Path, name: str = "empty.wav") -> Path:
    path = folder / name
    path.write_bytes(b"")
    return path


def header_only_wav(folder: Path, name: str = "header_only.wav") -> Path:
    """A valid 44-byte WAV header with no sample frames."""
    return write_audio(folder / name, data=np.zeros(0, dtype=np.float32))


def garbage_wav(folder: Path, name: str = "garbage.wav") -> Path:
    """Random bytes named .wav."""
    path = folder / name
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path


def nonfinite_wav(folder: Path, name: str, value: float) -> Path:
    """A float WAV with one NaN or Inf sample."""
    y = tone(1.0)
    y[1000] = value
    return write_audio(folder / name, data=y, subtype="FLOAT")


def silent_wav(folder: Path, name: str = "silence.wav") -> Path:
    return write_audio(folder / name, data=np.zeros(SR, dtype=np.float32))


def one_ms(folder: Path, name: str = "one_ms.wav") -> Path:
    return write_audio(folder / name, 0.001)


def wav_named_flac(folder: Path, name: str = "really_wav.flac") -> Path:
    return write_audio(folder / name, 1.0, format="WAV", subtype="PCM_16")


def mp3_named_wav(folder: Path, name: str = "really_mp3.wav") -> Path:
    return write_audio(folder / name, 1.0, format="MP3")


def id3_only_mp3(folder: Path, name: str = "tag_only.mp3") -> Path:
    """An MP3 file holding an ID3v2.4 tag (a title frame) and no audio frame."""
    frame = b"TIT2" + (2).to_bytes(4, "big") + b"\x00\x00" + b"\x03x"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"ID3\x04\x00\x00" + len(frame).to_bytes(4, "big") + frame)  # size < 128: syncsafe as is
    return path


def symlink_loop(folder: Path, name: str = "loop.wav") -> Path:
    """A file link pointing at itself."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    os.symlink(name, path)
    return path


def directory_link_loop(folder: Path, name: str = "up") -> Path:
    """``folder/sub/up -> ..``: a directory link that loops back."""
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    path = folder / "sub" / name
    os.symlink("..", path)
    return path


def non_utf8_name(folder: Path) -> Path:
    """A good song whose file name holds the byte 0xff (not UTF-8)."""
    folder.mkdir(parents=True, exist_ok=True)
    return write_audio(os.fsencode(folder) + b"/caf\xe9 \xff.wav", 1.0)


def long_wav_in_chunks(path: Path, *, hours: float, sr: int = 8000, chunk_s: float = 600.0) -> Path:
    """A mono 16-bit WAV of ``hours`` (a quiet tone plus noise) written chunk by chunk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n_total = int(hours * 3600 * sr)
    n_chunk = int(chunk_s * sr)
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, subtype="PCM_16", format="WAV") as handle:
        for start in range(0, n_total, n_chunk):
            n = min(n_chunk, n_total - start)
            t = (start + np.arange(n)) / sr
            y = 0.2 * np.sin(2 * np.pi * 440.0 * t) + 0.01 * rng.standard_normal(n)
            handle.write(y.astype(np.float32))
    return path


# --- AAM -------------------------------------------------------------------------------------

def arff_text(columns: Sequence[str], rows: Sequence[str], relation: str = "Onset events") -> str:
    """ARFF with a NUMERIC time column, STRING ``columns`` and literal data ``rows``."""
    head = [f"@RELATION '{relation}'", "", "@ATTRIBUTE 'Onset time in seconds' NUMERIC"]
    head += [f"@ATTRIBUTE '{c}' STRING" for c in columns]
    return "\n".join(head + ["", "@DATA", *rows, ""])


GOOD_ONSETS = arff_text(["Onset events of Piano", "Onset events of Drums"],
                        ["0.0,'[+60]','[+36]'", "0.25,'[60]','[]'", "0.5,'[]','[+38]'", "0.9,'[]','[]'"])


def segments_text(end: float) -> str:
    """A ``<id>_segments.arff`` with one section from 0 s and its ``'end'`` row at ``end``."""
    head = ["@RELATION 'Segment information'", "", "@ATTRIBUTE 'Start time in seconds' NUMERIC",
            "@ATTRIBUTE 'Mark' STRING", "@ATTRIBUTE 'Tempo' NUMERIC", "@ATTRIBUTE 'Key' STRING",
            "@ATTRIBUTE 'Instruments' STRING", "@ATTRIBUTE 'Generator' STRING", "", "@DATA"]
    return "\n".join(head + ["0.0,'A',120,'Cmaj','[Piano]','[ChordPadsRanged]'", f"{end},'end',0,'','[]','[]'", ""])


def aam_song(root: Path, track_id: str, *, onsets: str = GOOD_ONSETS, seconds: float = 1.0,
             segments: str | None = None, encoding: str = "utf-8") -> Path:
    """``<id>_mix.flac`` and ``<id>_onsets.arff`` (and ``<id>_segments.arff`` when given); returns the onsets path."""
    write_audio(root / f"{track_id}_mix.flac", seconds, format="FLAC")
    path = root / f"{track_id}_onsets.arff"
    path.write_text(onsets, encoding=encoding)
    if segments is not None:
        (root / f"{track_id}_segments.arff").write_text(segments, encoding=encoding)
    return path


# --- Slakh -----------------------------------------------------------------------------------

def write_midi(path: Path, notes: Sequence[tuple[int, float, float]], program: int = 0) -> Path:
    """A one-instrument MIDI file with (pitch, start, end) notes (none: an empty track)."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI()
    instrument = pretty_midi.Instrument(program=program)
    instrument.notes = [pretty_midi.Note(velocity=90, pitch=p, start=s, end=e) for p, s, e in notes]
    midi.instruments.append(instrument)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.write(str(path))
    return path


def write_midi_tempo_in_note_track(path: Path) -> Path:
    """A type-1 MIDI file at 480 ticks per beat: track 0 sets 120 BPM; the note track itself slows to
    60 BPM at tick 960 (1.0 s) and holds notes at ticks 0-480 and 1440-1920, which sound at 0-0.5 s and
    2.0-3.0 s (read from track 0 alone, the second would be at 1.5-2.0 s)."""
    import mido

    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000, time=0)]))
    events = [(0, mido.Message("program_change", program=0)), (0, mido.Message("note_on", note=60, velocity=90)),
              (480, mido.Message("note_off", note=60)), (960, mido.MetaMessage("set_tempo", tempo=1_000_000)),
              (1440, mido.Message("note_on", note=62, velocity=90)), (1920, mido.Message("note_off", note=62))]
    track, previous = mido.MidiTrack(), 0
    for tick, message in events:
        track.append(message.copy(time=tick - previous))
        previous = tick
    midi.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.save(str(path))
    return path


def slakh_track(root: Path, track_id: str, *, split: str = "train", metadata: str | None = None,
                notes: Sequence[tuple[int, float, float]] = ((60, 0.1, 0.6),), midi_bytes: bytes | None = None,
                seconds: float = 1.0) -> Path:
    """``<split>/<id>/{metadata.yaml, mix.flac, stems/S00.flac, MIDI/S00.mid}``; returns the folder."""
    folder = root / split / track_id
    write_audio(folder / "mix.flac", seconds, format="FLAC")
    write_audio(folder / "stems" / "S00.flac", seconds, format="FLAC")
    if midi_bytes is None:
        write_midi(folder / "MIDI" / "S00.mid", notes)
    else:
        (folder / "MIDI").mkdir(parents=True, exist_ok=True)
        (folder / "MIDI" / "S00.mid").write_bytes(midi_bytes)
    if metadata is None:
        metadata = ("audio_dir: stems\nmidi_dir: MIDI\nstems:\n  S00:\n    inst_class: Piano\n"
                    "    is_drum: false\n    program_num: 0\n")
    (folder / "metadata.yaml").write_text(metadata, encoding="utf-8")
    return folder


# --- OpenMIC ---------------------------------------------------------------------------------

def openmic_root(root: Path, labelled: dict[str, bool]) -> Path:
    """Labels CSV for each key (piano 1.0); audio/<key[:3]>/<key>.wav only where ``labelled[key]``."""
    rows = ["sample_key,instrument,relevance,num_responses"]
    for key, with_audio in labelled.items():
        rows.append(f"{key},piano,1.0,3")
        if with_audio:
            write_audio(root / "audio" / key[:3] / f"{key}.wav", 1.0)
    root.mkdir(parents=True, exist_ok=True)
    (root / "openmic-2018-aggregated-labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


# --- running the real entry points -----------------------------------------------------------

def run_cli(argv: Sequence[str]) -> tuple[int, str, str]:
    """``instrec.cli.main(argv)`` with stdout/stderr captured as a strict UTF-8 terminal would."""
    from instrec.cli import main

    out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_bytes, encoding="utf-8", write_through=True)
    err = io.TextIOWrapper(err_bytes, encoding="utf-8", errors="backslashreplace", write_through=True)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out_bytes.getvalue().decode("utf-8"), err_bytes.getvalue().decode("utf-8")


def extract_json(root: Path, dataset: str, store: Path, *extra: str) -> tuple[int, dict]:
    """``instrec extract ROOT --dataset D --store S --workers 0 --json``: exit code and summary."""
    rc, out, err = run_cli(["extract", str(root), "--dataset", dataset, "--store", str(store),
                            "--workers", "0", "--no-progress", "--json", *extra])
    assert out.strip(), f"extract printed nothing; stderr: {err}"
    return rc, json.loads(out)


def verify(store: Path) -> tuple[int, str]:
    """``instrec store verify --deep STORE``: exit code and report."""
    rc, out, _ = run_cli(["store", "verify", "--deep", str(store)])
    return rc, out


def failure_for(summary: dict, name: str) -> dict:
    """The failed record whose path or problem names ``name``."""
    found = [f for f in summary["failed"] if name in f["path"] or name in f["problem"]]
    assert len(found) == 1, f"expected one failure naming {name!r}, got {found} in {summary['failed']}"
    return found[0]


# --- sockets ---------------------------------------------------------------------------------

def listening_sockets(pid: int | None = None) -> set[tuple[str, int]]:
    """(ip, port) of every LISTEN socket of process ``pid`` (default: this one) and its children."""
    import psutil

    top = psutil.Process(pid)
    found = set()
    for proc in (top, *top.children(recursive=True)):
        try:
            found |= {(c.laddr.ip, c.laddr.port) for c in proc.net_connections(kind="inet")
                      if c.status == psutil.CONN_LISTEN}
        except psutil.Error:  # a child that exited meanwhile
            continue
    return found


def off_loopback(addresses: set[tuple[str, int]]) -> list[tuple[str, int]]:
    """The addresses not bound to a loopback interface (0.0.0.0, ::, a network address)."""
    return sorted(a for a in addresses if not ipaddress.ip_address(a[0]).is_loopback)


@pytest.fixture
def cli():
    """The :func:`run_cli` helper."""
    return run_cli
