"""Log-mel spectrograms on a fixed dB reference.

Two presets: the reference projects' librosa log-mel (22.05 kHz, n_fft 2048, hop 512,
128 mels, ``power_to_db`` with ``ref=1.0``) and the VGGish front end (16 kHz, 25 ms window,
10 ms hop, 64 HTK mels 125-7500 Hz, ``log(mel + 0.01)``).  Never normalised per song or per
chunk, so a chunked computation equals the whole-song one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import librosa
import numpy as np

from features.grid import FrameGrid


@dataclass(frozen=True)
class LogMelConfig:
    """Parameters of :func:`logmel`.

    ``scale='db'`` gives ``10 log10(max(S, amin) / ref)`` floored at ``floor_db`` (a fixed
    floor, not relative to the song's maximum); ``scale='log_offset'`` gives
    ``log(S + log_offset)`` as VGGish does.
    """

    name: str = "logmel"
    sr: int = 22050
    n_fft: int = 2048
    win_length: int | None = None
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None
    power: float = 2.0
    htk: bool = False
    norm: str | None = "slaney"
    window: str = "hann"
    scale: Literal["db", "log_offset"] = "db"
    ref: float = 1.0
    amin: float = 1e-10
    floor_db: float = -100.0
    log_offset: float = 0.01

    def __post_init__(self) -> None:
        if self.sr <= 0 or self.n_fft <= 0 or self.hop_length <= 0 or self.n_mels <= 0:
            raise ValueError(
                f"sr, n_fft, hop_length and n_mels must be positive: got sr={self.sr}, "
                f"n_fft={self.n_fft}, hop_length={self.hop_length}, n_mels={self.n_mels}"
            )
        if self.win_length is not None and not 0 < self.win_length <= self.n_fft:
            raise ValueError(f"win_length must be in (0, n_fft={self.n_fft}], got {self.win_length}")
        fmax = self.sr / 2 if self.fmax is None else self.fmax
        if not 0 <= self.fmin < fmax <= self.sr / 2:
            raise ValueError(
                f"need 0 <= fmin < fmax <= sr/2; got fmin={self.fmin}, fmax={self.fmax}, sr={self.sr}"
            )
        if self.scale not in ("db", "log_offset"):
            raise ValueError(f"scale must be 'db' or 'log_offset', got {self.scale!r}")
        if self.ref <= 0 or self.amin <= 0:
            raise ValueError("ref and amin must be positive")

    @classmethod
    def vggish(cls) -> "LogMelConfig":
        """VGGish-style log-mel on the store's centred grid: 16 kHz, 25 ms / 10 ms, 64 unnormalised
        HTK mels 125-7500 Hz, log(mel + 0.01).  (The VGGish network's own input framing is
        :mod:`features.vggish`.)"""
        return cls(
            name="logmel-vggish", sr=16000, n_fft=512, win_length=400, hop_length=160,
            n_mels=64, fmin=125.0, fmax=7500.0, power=1.0, htk=True, norm=None, scale="log_offset",
        )

    @property
    def grid(self) -> FrameGrid:
        return FrameGrid(sr=self.sr, hop_length=self.hop_length, centered=True)

    @property
    def context_samples(self) -> int:
        return self.n_fft // 2

    def frame_shape(self) -> tuple[int, ...]:
        return (self.n_mels,)

    def mel_basis(self) -> np.ndarray:
        """The mel filterbank, ``[shape=(n_mels, 1 + n_fft // 2)]``."""
        return librosa.filters.mel(
            sr=self.sr, n_fft=self.n_fft, n_mels=self.n_mels, fmin=self.fmin,
            fmax=self.fmax, htk=self.htk, norm=self.norm,
        ).astype(np.float32)

    def compute(self, y: np.ndarray) -> np.ndarray:
        return logmel(y, config=self)


def power_to_log(mel: np.ndarray, *, config: LogMelConfig) -> np.ndarray:
    """Apply the configuration's fixed-reference log scaling to a mel power spectrogram."""
    if config.scale == "log_offset":
        return np.log(mel + config.log_offset).astype(np.float32)
    db = 10.0 * np.log10(np.maximum(mel, config.amin) / config.ref)
    return np.maximum(db, config.floor_db).astype(np.float32)


def logmel(y: np.ndarray, *, config: LogMelConfig = LogMelConfig()) -> np.ndarray:
    """Log-mel spectrogram of mono audio.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Mono audio at ``config.sr``.
    config : LogMelConfig

    Returns
    -------
    S : np.ndarray [shape=(n_frames, n_mels), dtype=float32]
        ``n_frames == config.grid.n_frames(len(y))``.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n_samples,), got shape {y.shape}")
    stft = librosa.stft(
        y, n_fft=config.n_fft, hop_length=config.hop_length, win_length=config.win_length,
        window=config.window, center=True, pad_mode="constant",
    )
    spec = np.abs(stft) ** config.power
    mel = config.mel_basis() @ spec
    return power_to_log(mel, config=config).T.copy()
