"""Audio headers and decoding: the one place instrec reads audio files.

Decode once per track, downmix to mono, resample once per target rate
(:func:`load_resampled` returns every rate a track's feature sets need from one decode).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import soundfile as sf

from pipeline.track import DatasetError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def audio_info(path: str | Path) -> AudioInfo:
    """Header of an audio file, without decoding it.

    Raises
    ------
    DatasetError
        Missing, empty or undecodable file; the message names the file and what to do.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: audio file is missing; check the dataset root or re-download the track")
    if path.stat().st_size == 0:
        raise DatasetError(f"{path}: audio file is empty (0 bytes); re-export or remove it")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError variants
        raise DatasetError(
            f"{path}: cannot read the audio header ({exc}); is it really "
            f"{path.suffix.lstrip('.') or 'audio'}? Re-encode it as FLAC or WAV"
        ) from exc
    if info.frames <= 0 or info.samplerate <= 0:
        raise DatasetError(f"{path}: audio file has no samples; re-export or remove it")
    return AudioInfo(path=path, sample_rate=int(info.samplerate), channels=int(info.channels), frames=int(info.frames))


def load_mono(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a whole file to mono float32 at its native rate.

    Non-finite samples (NaN/Inf) are an error: they would poison every feature.
    """
    path = Path(path)
    audio_info(path)
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise DatasetError(f"{path}: audio cannot be decoded ({exc}); the file may be truncated, re-encode it") from exc
    if data.shape[0] == 0:
        raise DatasetError(f"{path}: decoded audio has no samples; re-export or remove it")
    y = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(y).all():
        raise DatasetError(f"{path}: audio contains NaN or Inf samples; re-export it from the source")
    return np.ascontiguousarray(y, dtype=np.float32), int(sr)


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling (soxr high quality), float32 out."""
    if orig_sr == target_sr:
        return y
    import librosa

    return librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq").astype(np.float32)


def load_resampled(path: str | Path, rates: Iterable[int]) -> dict[int, np.ndarray]:
    """Decode once and return mono audio at each requested rate."""
    y, sr = load_mono(path)
    return {rate: resample(y, sr, rate) for rate in sorted(set(rates))}
