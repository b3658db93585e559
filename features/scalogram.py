"""Continuous-wavelet scalograms pooled onto the log-mel frame grid, computed block by block.

The scalogram of frame ``i`` at scale ``s`` is ``20 log10(max(mean |W_s(t)|, amin) / ref)``,
the mean of the CWT magnitude over the ``hop_length`` samples centred on the frame centre
``i * hop_length`` (window ``[c - hop//2, c - hop//2 + hop)``), on the same centred grid as
log-mel so labels align.  ``W_s`` is the analytic CWT with an L1-normalised wavelet
(:mod:`features.morse`): a cosine of amplitude ``A`` at a scale's centre frequency reads
``20 log10(A)`` dB.

Algorithm (both methods share it).  The song is cut into blocks of ``block_length`` samples
that overlap by more than the widest wavelet's support, so each block's interior frames equal
those of a whole-song (linear, zero-extended) transform.  Per block: one real FFT; for each
scale, multiply the bins by the wavelet's response and inverse-FFT.

- ``method="plain"``: full-rate inverse FFTs of the whole block for every scale (the textbook
  FFT CWT).
- ``method="multirate"`` (default): the response of scale ``s`` is negligible (< 1e-7 of its
  peak) outside a band of bins ``[k0, k0 + M)``.  The inverse FFT of length ``M = N / D`` of
  just those bins gives ``W_s`` *exactly* at every ``D``-th sample, up to a unimodular
  phase factor that ``|W|`` ignores (the analytic signal is band-limited).  Pooling then
  averages ``hop / D`` samples instead of ``hop``; that is where the only approximation lies
  (``|W|`` is not band-limited, and a box window leaks), so ``D`` is the largest power of two
  dividing ``hop_length`` whose rate exceeds the band's width by ``GUARD_HOPS * sr / hop``.
  Measured against ``plain`` on noise, gated tones and a chirp: mean error 0.03 dB, 99th
  percentile 0.25 dB, max 0.7 dB, correlation 0.99999.  Scales sharing ``D`` go through one
  2-D inverse FFT, in chunks of ``SCALES_PER_TASK`` scales spread over a thread pool.

The top scales (above about 0.36 sr with the default Morse wavelet) are cut by the Nyquist
frequency, as in any discrete CWT asked for scales up to 0.45 sr; their wavelets ring with
faint, slowly decaying tails (about 40 dB down at the context's edge), so chunked and whole-song
results differ there by up to 0.05 dB instead of 0.002 dB.
"""

from __future__ import annotations

import math
import os
from contextlib import nullcontext
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import scipy.fft

from features.grid import FrameGrid
from features.morse import ComplexMorlet, MorseWavelet, band_support, log_frequencies, time_half_width

BAND_TOL = 1e-7  # response below this fraction of its peak is treated as zero
TIME_TAIL = 1e-5  # fraction of the wavelet's L1 mass allowed outside the context
GUARD_HOPS = 24  # multirate: decimated rate >= band width + GUARD_HOPS * sr / hop_length
DEFAULT_BLOCK_LENGTH = 1 << 16
SCALES_PER_TASK = 8  # scales per thread-pool task (balance and temporary memory)


@dataclass(frozen=True)
class ScalogramConfig:
    """Parameters of :func:`scalogram`.

    Parameters
    ----------
    sr, hop_length : int
        Rate and hop of the centred frame grid (the log-mel grid by default).
    fmin, fmax : float
        Centre frequencies of the lowest and highest scales in Hz; ``fmax=None`` means
        ``0.45 * sr``.
    n_scales, voices_per_octave : int or None
        Exactly one is set: ``n_scales`` log-spaced scales, or ``voices_per_octave``.
    wavelet : {"morse", "cmor"}
        Generalized Morse (``beta``, ``gamma``) or PyWavelets' complex Morlet
        (``cmor_bandwidth``, ``cmor_center``).
    ref, amin : float
        Fixed dB reference and floor: ``20 log10(max(mag, amin) / ref)``.
    """

    name: str = "scalogram"
    sr: int = 22050
    hop_length: int = 512
    fmin: float = 32.0
    fmax: float | None = None
    n_scales: int | None = 128
    voices_per_octave: int | None = None
    wavelet: Literal["morse", "cmor"] = "morse"
    beta: float = 20.0
    gamma: float = 3.0
    cmor_bandwidth: float = 1.5
    cmor_center: float = 1.0
    ref: float = 1.0
    amin: float = 1e-5

    def __post_init__(self) -> None:
        if self.sr <= 0 or self.hop_length <= 0:
            raise ValueError(f"sr and hop_length must be positive, got {self.sr}, {self.hop_length}")
        if self.wavelet not in ("morse", "cmor"):
            raise ValueError(f"wavelet must be 'morse' or 'cmor', got {self.wavelet!r}")
        fmax = self.resolved_fmax
        if not 0 < self.fmin < fmax < self.sr / 2:
            raise ValueError(
                f"need 0 < fmin < fmax < sr/2; got fmin={self.fmin}, fmax={self.fmax}, sr={self.sr}"
            )
        self.frequencies()  # validates n_scales / voices_per_octave
        self.wavelet_object()  # validates the wavelet's parameters
        if self.ref <= 0 or self.amin <= 0:
            raise ValueError("ref and amin must be positive")

    @property
    def resolved_fmax(self) -> float:
        return 0.45 * self.sr if self.fmax is None else float(self.fmax)

    def frequencies(self) -> np.ndarray:
        """Centre frequencies of the scales in Hz, ascending, ``[shape=(n_scales,)]``."""
        return log_frequencies(
            fmin=self.fmin, fmax=self.resolved_fmax, n_scales=self.n_scales,
            voices_per_octave=self.voices_per_octave,
        )

    def bin_frequencies(self) -> np.ndarray:
        """Centre frequency of each scale in Hz (:meth:`frequencies`), the feature columns' coordinate."""
        return self.frequencies()

    def wavelet_object(self) -> MorseWavelet | ComplexMorlet:
        if self.wavelet == "morse":
            return MorseWavelet(beta=self.beta, gamma=self.gamma)
        return ComplexMorlet(bandwidth=self.cmor_bandwidth, center=self.cmor_center)

    @property
    def grid(self) -> FrameGrid:
        return FrameGrid(sr=self.sr, hop_length=self.hop_length, centered=True)

    @property
    def context_samples(self) -> int:
        """Support of the widest (lowest) wavelet on each side, plus half a pooling window."""
        half = time_half_width(self.wavelet_object(), tail=TIME_TAIL) * self.sr / self.fmin
        return int(math.ceil(half)) + self.hop_length // 2

    def frame_shape(self) -> tuple[int, ...]:
        return (len(self.frequencies()),)

    def compute(self, y: np.ndarray) -> np.ndarray:
        """:func:`scalogram` in the calling thread: an extraction runs one track per worker
        thread, so a thread pool per call (``workers=-1``) would only oversubscribe the cores."""
        return scalogram(y, config=self, workers=1)


@dataclass(frozen=True, eq=False)
class ScaleGroup:
    """Scales computed at one decimation: bins ``k0[j] .. k0[j] + n_bins`` times ``filters[j]``."""

    decimation: int
    scale_index: np.ndarray  # (n_g,) int, columns of the output
    k0: np.ndarray  # (n_g,) int, first bin
    filters: np.ndarray  # (n_g, n_bins) float32, response / block_length
    ifft_length: int  # M = block_length / decimation


@dataclass(frozen=True, eq=False)
class CWTPlan:
    """Block layout and filter bank of a chunked CWT (see the module docstring).

    Block ``b`` covers samples ``[b * F * hop - pad, b * F * hop - pad + block_length)`` and
    yields frames ``[b * F, (b + 1) * F)`` where ``F = frames_per_block``.
    """

    block_length: int
    hop_length: int
    pad: int
    frames_per_block: int
    n_scales: int
    groups: tuple[ScaleGroup, ...]


def _decimation(width: int, *, block_length: int, hop_length: int, guard_hops: int) -> int:
    """Largest power of two D dividing hop and N with N/D >= width + guard_hops * N / hop."""
    need = width + guard_hops * block_length / hop_length
    d = 1
    while (
        hop_length % (2 * d) == 0
        and block_length % (2 * d) == 0
        and block_length // (2 * d) >= need
    ):
        d *= 2
    return d


@lru_cache(maxsize=8)
def plan_cwt(
    config: ScalogramConfig,
    *,
    block_length: int = DEFAULT_BLOCK_LENGTH,
    method: Literal["multirate", "plain"] = "multirate",
    guard_hops: int = GUARD_HOPS,
) -> CWTPlan:
    """Lay out blocks and build the filter bank for ``config``.

    ``block_length`` is raised to the next power of two leaving at least as many output
    samples as overlap when the context needs it.  Built once per arguments and kept (about
    37 ms for the default configuration, against ~270 ms of transform per minute of audio;
    an extraction calls :func:`scalogram` once per block of every track): the plan's arrays are
    read-only.
    """
    if method not in ("multirate", "plain"):
        raise ValueError(f"method must be 'multirate' or 'plain', got {method!r}")
    hop, ctx = config.hop_length, config.context_samples
    k = -(-(ctx - hop // 2) // hop)  # whole hops of context before the first window
    pad = hop // 2 + k * hop
    n = block_length
    while n < 2 * (2 * pad + hop):
        n *= 2
    frames = (n - pad + hop // 2 - ctx) // hop
    freqs = config.frequencies()
    wavelet = config.wavelet_object()
    u_lo, u_hi = band_support(wavelet, tol=BAND_TOL)
    half = n // 2 + 1
    by_d: dict[int, list[tuple[int, int, int]]] = {}
    for s, f in enumerate(freqs):
        lo = max(int(math.floor(u_lo * f * n / config.sr)), 0)
        hi = min(int(math.ceil(u_hi * f * n / config.sr)) + 1, half)
        d = 1 if method == "plain" else _decimation(
            hi - lo, block_length=n, hop_length=hop, guard_hops=guard_hops
        )
        by_d.setdefault(d, []).append((s, lo, hi))
    groups = []
    for d in sorted(by_d):
        m = n // d
        n_bins = min(m, half)
        rows = by_d[d]
        k0 = np.array([min(lo, half - n_bins) for _, lo, _ in rows], dtype=np.int64)
        index = np.array([s for s, _, _ in rows], dtype=np.int64)
        bins = k0[:, None] + np.arange(n_bins)[None, :]
        u = bins * (config.sr / n) / freqs[index][:, None]
        filters = (wavelet.response(u) / n).astype(np.float32)
        for array in (index, k0, filters):
            array.flags.writeable = False
        groups.append(ScaleGroup(d, index, k0, filters, m))
    return CWTPlan(n, hop, pad, frames, len(freqs), tuple(groups))


def _block(y: np.ndarray, start: int, length: int) -> np.ndarray:
    """``y[start:start + length]`` with zeros outside the signal."""
    out = np.zeros(length, dtype=np.float32)
    a, b = max(start, 0), min(start + length, len(y))
    if b > a:
        out[a - start : b - start] = y[a:b]
    return out


def _pool_rows(spectrum: np.ndarray, group: ScaleGroup, rows: slice, plan: CWTPlan, out: np.ndarray) -> None:
    """Pooled magnitude of ``group``'s scales ``rows`` into ``out`` (one task, one thread)."""
    n_bins = group.filters.shape[1]
    windows = np.lib.stride_tricks.sliding_window_view(spectrum, n_bins)
    z = windows[group.k0[rows]]  # fancy indexing copies: (n_rows, n_bins) complex64
    z *= group.filters[rows]
    w = scipy.fft.ifft(z, n=group.ifft_length, axis=-1, norm="forward", workers=1, overwrite_x=True)
    hop, frames = plan.hop_length, plan.frames_per_block
    step = hop // group.decimation
    s0 = (plan.pad - hop // 2) // group.decimation
    mag = np.abs(w[:, s0 : s0 + frames * step])
    out[:, group.scale_index[rows]] = mag.reshape(-1, frames, step).mean(axis=-1).T


def pooled_magnitude_block(
    block: np.ndarray, plan: CWTPlan, *, executor: Executor | None = None
) -> np.ndarray:
    """Pooled CWT magnitude of one block's interior frames.

    Parameters
    ----------
    block : np.ndarray [shape=(block_length,), dtype=float32]
    plan : CWTPlan
    executor : concurrent.futures.Executor, optional
        Thread pool running the scale chunks in parallel (numpy and pocketfft release the GIL).

    Returns
    -------
    mag : np.ndarray [shape=(frames_per_block, n_scales), dtype=float32]
        Mean of ``|W|`` over each frame's pooling window.
    """
    spectrum = scipy.fft.rfft(block).astype(np.complex64, copy=False)
    out = np.empty((plan.frames_per_block, plan.n_scales), dtype=np.float32)
    tasks = [
        (group, slice(start, start + SCALES_PER_TASK))
        for group in plan.groups
        for start in range(0, len(group.scale_index), SCALES_PER_TASK)
    ]
    if executor is None:
        for group, rows in tasks:
            _pool_rows(spectrum, group, rows, plan, out)
    else:
        futures = [executor.submit(_pool_rows, spectrum, g, rows, plan, out) for g, rows in tasks]
        for future in futures:
            future.result()
    return out


def to_db(mag: np.ndarray, *, config: ScalogramConfig) -> np.ndarray:
    """``20 log10(max(mag, amin) / ref)`` as float32 (fixed reference and floor)."""
    return (20.0 * np.log10(np.maximum(mag, config.amin) / config.ref)).astype(np.float32)


def scalogram(
    y: np.ndarray,
    *,
    config: ScalogramConfig = ScalogramConfig(),
    method: Literal["multirate", "plain"] = "multirate",
    block_length: int = DEFAULT_BLOCK_LENGTH,
    workers: int = -1,
) -> np.ndarray:
    """Log-magnitude CWT scalogram on the centred frame grid, computed block by block.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Mono audio at ``config.sr``.
    config : ScalogramConfig
    method : {"multirate", "plain"}
        Fast decimated inverse FFTs, or full-rate ones (the reference).
    block_length : int
        Samples per block (memory is about ``block_length * 40`` bytes per scale group).
    workers : int
        Threads working on the scales of a block (-1: all cores, 1: no thread pool).

    Returns
    -------
    S : np.ndarray [shape=(n_frames, n_scales), dtype=float32]
        dB; ``n_frames == config.grid.n_frames(len(y))``; column 0 is the lowest frequency.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n_samples,), got shape {y.shape}")
    plan = plan_cwt(config, block_length=block_length, method=method)
    n_frames = config.grid.n_frames(len(y))
    out = np.empty((n_frames, plan.n_scales), dtype=np.float32)
    step = plan.frames_per_block
    n_threads = (os.cpu_count() or 1) if workers == -1 else workers
    with ThreadPoolExecutor(n_threads) if n_threads > 1 else nullcontext() as executor:
        for first in range(0, n_frames, step):
            block = _block(y, first * plan.hop_length - plan.pad, plan.block_length)
            mag = pooled_magnitude_block(block, plan, executor=executor)
            last = min(first + step, n_frames)
            out[first:last] = mag[: last - first]
    return to_db(out, config=config)


def _area_resize(x: np.ndarray, n_out: int, axis: int) -> np.ndarray:
    """Resize one axis by averaging over equal fractional spans (piecewise constant input)."""
    x = np.moveaxis(x, axis, 0).astype(np.float64)
    n_in = x.shape[0]
    cum = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)])
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo = np.floor(edges).astype(int)
    frac = edges - lo
    upper = np.minimum(lo + 1, n_in)
    c = cum[lo] + (cum[upper] - cum[lo]) * frac.reshape((-1,) + (1,) * (x.ndim - 1))
    out = np.diff(c, axis=0) / np.diff(edges).reshape((-1,) + (1,) * (x.ndim - 1))
    return np.moveaxis(out, 0, axis)


def scalogram_image(S: np.ndarray, *, shape: tuple[int, int] = (128, 128)) -> np.ndarray:
    """A fixed-size image of a clip's scalogram (e.g. 128 x 128 as in OpenMIC experiments).

    Parameters
    ----------
    S : np.ndarray [shape=(n_frames, n_scales)]
    shape : (n_time, n_scales) of the image

    Returns
    -------
    image : np.ndarray [shape=shape, dtype=float32]
        Area-averaged over time and scale (exact averages of fractional spans), so a constant
        input stays constant and downsampling does not alias.
    """
    S = np.asarray(S)
    if S.ndim != 2 or S.shape[0] == 0 or S.shape[1] == 0:
        raise ValueError(f"expected a non-empty (n_frames, n_scales) scalogram, got shape {S.shape}")
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be two positive sizes, got {shape}")
    out = _area_resize(_area_resize(S, shape[0], 0), shape[1], 1)
    return out.astype(np.float32)
