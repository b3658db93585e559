"""Audio headers and decoding: the one place instrec reads audio files.

Decode once per track, downmix to mono, resample once per target rate
(:func:`load_resampled` returns every rate a track's feature sets need from one decode).

Decoding is streamed: the file is read in blocks of :data:`BLOCK_FRAMES` frames, each block
is downmixed, checked for NaN/Inf and fed to one soxr stream per target rate, so memory
holds the mono output at each rate plus one block, never the file's native-rate
multichannel audio (a 2-hour 192 kHz 8-channel file costs what its 22.05 kHz mono does).
The streamed resampling gives the same samples as one-shot ``librosa.resample`` with
``res_type="soxr_hq"``.

The file type is found from the content, not the extension: a WAV file named ``.flac`` is
read as the WAV it is.  File names are passed to libsndfile as bytes, so names that are not
valid UTF-8 work too.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import soundfile as sf

from pipeline.track import DatasetError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
# Shorter audio cannot fill one analysis window of any feature set: a broken export.
MIN_DURATION_S = 0.01
# Frames decoded at once (6 s at 44.1 kHz; 8 MB for 8 channels): bounds decoding memory.
BLOCK_FRAMES = 1 << 18


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _os_name(path: Path) -> bytes:
    """The file name as the OS bytes (libsndfile cannot take non-UTF-8 names as str)."""
    return os.fsencode(path)


def id3_tag_only(path: Path) -> bool:
    """True when the file is an ID3v2 tag and nothing after it (an MP3 whose audio was lost)."""
    with open(path, "rb") as handle:
        header = handle.read(10)
    if len(header) < 10 or header[:3] != b"ID3" or any(byte & 0x80 for byte in header[6:10]):
        return False
    size = 10 + sum(byte << (7 * (3 - i)) for i, byte in enumerate(header[6:10]))  # syncsafe integer
    if header[5] & 0x10:
        size += 10  # footer
    return path.stat().st_size <= size


def libsndfile_reason(exc: Exception) -> str:
    """libsndfile's error without the parts that mislead: it says "File does not exist or is not a
    regular file (possibly a pipe?)" for a regular file it cannot decode, and repeats the name."""
    text = str(getattr(exc, "error_string", "") or exc)
    if "not a regular file" in text or "possibly a pipe" in text:
        return "no audio stream libsndfile can decode"
    return text.rstrip(".")


def audio_info(path: str | Path) -> AudioInfo:
    """Header of an audio file, without decoding it.

    Raises
    ------
    DatasetError
        Missing, empty, too short or undecodable file, or a broken or looping link; the
        message names the file and what to do.
    """
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise DatasetError(
            f"{path}: symbolic link is broken or loops (points to {os.readlink(path)!r}); fix or remove the link"
        )
    if not path.exists():
        raise DatasetError(f"{path}: audio file is missing; check the dataset root or re-download the track")
    if path.is_dir():
        raise DatasetError(f"{path}: is a directory, not an audio file; pass the audio files inside it")
    if not path.is_file():
        raise DatasetError(f"{path}: is not a regular file (a pipe or device?); save the audio to a file first")
    if path.stat().st_size == 0:
        raise DatasetError(f"{path}: audio file is empty (0 bytes); re-export or remove it")
    if id3_tag_only(path):
        raise DatasetError(f"{path}: holds only an ID3 tag and no audio frames; re-export or re-download the MP3")
    try:
        info = sf.info(_os_name(path))
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError variants
        raise DatasetError(
            f"{path}: cannot read the audio header ({libsndfile_reason(exc)}); is it really "
            f"{path.suffix.lstrip('.') or 'audio'}? Re-encode it as FLAC or WAV"
        ) from exc
    if info.frames <= 0 or info.samplerate <= 0:
        raise DatasetError(f"{path}: audio file has no samples (header only); re-export or remove it")
    if info.frames / info.samplerate < MIN_DURATION_S:
        raise DatasetError(
            f"{path}: audio lasts {info.frames / info.samplerate:.4f} s ({info.frames} samples), shorter than "
            f"{MIN_DURATION_S} s; it is too short to analyse, re-export or remove it"
        )
    return AudioInfo(path=path, sample_rate=int(info.samplerate), channels=int(info.channels), frames=int(info.frames))


def _downmix(data: np.ndarray) -> np.ndarray:
    """Mean of the channels of a ``(frames, channels)`` block as a contiguous float32 vector.

    Channels are added column by column: ``data.mean(axis=1)`` is a strided reduction about
    ten times slower on interleaved audio.
    """
    if data.shape[1] == 1:
        return np.ascontiguousarray(data[:, 0])
    mono = data[:, 0].copy()
    for channel in range(1, data.shape[1]):
        mono += data[:, channel]
    mono *= np.float32(1.0 / data.shape[1])
    return mono


def _mono_blocks(path: Path) -> Iterator[np.ndarray]:
    """The file's audio as mono float32 blocks at its native rate, checked for NaN/Inf."""
    try:
        with sf.SoundFile(_os_name(path)) as handle:
            while True:
                data = handle.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                if data.shape[0] == 0:
                    return
                block = _downmix(data)
                if not np.isfinite(block).all():
                    raise DatasetError(f"{path}: audio contains NaN or Inf samples; re-export it from the source")
                yield block
    except (DatasetError, MemoryError):
        raise
    except Exception as exc:
        raise DatasetError(f"{path}: audio cannot be decoded ({exc}); the file may be truncated, re-encode it") from exc


class _Output:
    """Mono output at one rate, filled block by block into a buffer sized from the header."""

    def __init__(self, orig_sr: int, target_sr: int, expected_frames: int) -> None:
        self.ratio = float(target_sr) / orig_sr
        self.buffer = np.zeros(int(math.ceil(expected_frames * self.ratio)) + 1, dtype=np.float32)
        self.filled = 0
        self.stream = None
        if target_sr != orig_sr:
            import soxr

            self.stream = soxr.ResampleStream(orig_sr, target_sr, 1, dtype="float32", quality="HQ")

    def push(self, block: np.ndarray, *, last: bool = False) -> None:
        out = block if self.stream is None else self.stream.resample_chunk(block, last=last)
        end = self.filled + len(out)
        if end > len(self.buffer):  # the header under-stated the length
            self.buffer = np.concatenate([self.buffer, np.zeros(end - len(self.buffer) + len(out), np.float32)])
        self.buffer[self.filled:end] = out
        self.filled = end

    def finish(self, n_input: int) -> np.ndarray:
        if self.stream is not None:
            self.push(np.zeros(0, dtype=np.float32), last=True)
        # librosa.resample's length: ceil(n * ratio), zero-padded at the end if short.
        n = n_input if self.stream is None else int(math.ceil(n_input * self.ratio))
        if n > len(self.buffer):
            self.buffer = np.concatenate([self.buffer, np.zeros(n - len(self.buffer), np.float32)])
        self.buffer[self.filled:n] = 0.0
        return self.buffer[:n]


def load_resampled(path: str | Path, rates: Iterable[int]) -> dict[int, np.ndarray]:
    """Decode once (streamed) and return mono float32 audio at each requested rate.

    Parameters
    ----------
    path : str or Path
    rates : iterable of int
        Target sample rates in Hz.

    Returns
    -------
    dict
        rate -> ``np.ndarray [shape=(ceil(n_samples * rate / sr),), dtype=float32]``.

    Raises
    ------
    DatasetError
        Missing, empty, truncated or undecodable file, or NaN/Inf samples.
    """
    path = Path(path)
    info = audio_info(path)
    outputs = {rate: _Output(info.sample_rate, rate, info.frames) for rate in sorted(set(rates))}
    n_input = 0
    for block in _mono_blocks(path):
        n_input += len(block)
        for output in outputs.values():
            output.push(block)
    if n_input == 0:
        raise DatasetError(f"{path}: decoded audio has no samples; re-export or remove it")
    return {rate: output.finish(n_input) for rate, output in outputs.items()}


def load_mono(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a whole file (streamed) to mono float32 at its native rate.

    Non-finite samples (NaN/Inf) are an error: they would poison every feature.

    Returns
    -------
    y : np.ndarray [shape=(n_samples,), dtype=float32]
    sr : int
    """
    sr = audio_info(path).sample_rate
    return load_resampled(path, [sr])[sr], sr


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling (soxr high quality), float32 out."""
    if orig_sr == target_sr:
        return y
    import librosa

    return librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq").astype(np.float32, copy=False)
