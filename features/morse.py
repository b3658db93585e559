"""Analytic wavelets in the frequency domain: generalized Morse and complex Morlet.

A wavelet here is its frequency response as a function of ``u = f / f_c``, the frequency
relative to the centre (peak) frequency of the scale.  Both wavelets are analytic (zero at
negative frequencies) and L1 "bandpass" normalised: the response peaks at 2 for ``u = 1``, so a
cosine of amplitude ``A`` at a scale's centre frequency gives ``|W| = A``.

Generalized Morse wavelets (Olhede & Walden 2002; Lilly & Olhede 2009)::

    psi(w) = U(w) a w**beta exp(-w**gamma),   a = 2 (e gamma / beta) ** (beta / gamma)

peak at ``w_p = (beta / gamma) ** (1 / gamma)`` where ``psi(w_p) = 2``.  The defaults
(``gamma = 3``, ``beta = 20``, time-bandwidth ``P**2 = beta * gamma = 60``) are MATLAB's.

The complex Morlet is PyWavelets' ``cmorB-C``: ``psi(t) = (pi B)**-0.5 exp(-t**2 / B)
exp(2 pi i C t)``, whose Fourier transform is ``exp(-pi**2 B (xi - C)**2)``; we use it with the
same L1 normalisation (peak 2) and drop the negligible negative-frequency tail
(``exp(-pi**2 B C**2)``, 4e-7 for B = 1.5, C = 1).

References
----------
S. C. Olhede and A. T. Walden, "Generalized Morse wavelets", IEEE Trans. Signal Process. 2002.
J. M. Lilly and S. C. Olhede, "Higher-order properties of analytic wavelets", IEEE Trans. Signal
Process. 2009.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def morse_peak_frequency(*, beta: float, gamma: float) -> float:
    """Peak radian frequency of the unit-scale Morse wavelet, ``(beta / gamma) ** (1 / gamma)``."""
    return (beta / gamma) ** (1.0 / gamma)


def morse_amplitude(*, beta: float, gamma: float) -> float:
    """L1 bandpass normalisation ``a = 2 (e gamma / beta) ** (beta / gamma)`` (peak value 2)."""
    return 2.0 * (math.e * gamma / beta) ** (beta / gamma)


def morse_wavelet(omega: np.ndarray, *, beta: float = 20.0, gamma: float = 3.0) -> np.ndarray:
    """Frequency response of the unit-scale generalized Morse wavelet.

    Parameters
    ----------
    omega : np.ndarray
        Radian frequencies (any shape).
    beta, gamma : float
        Order and family parameters, ``beta > 0``, ``gamma > 0``.

    Returns
    -------
    psi : np.ndarray [shape=omega.shape, dtype=float64]
        ``a omega**beta exp(-omega**gamma)`` for ``omega > 0``, else 0.  Computed in the log
        domain so large ``beta`` does not overflow.
    """
    omega = np.asarray(omega, dtype=np.float64)
    out = np.zeros_like(omega)
    pos = omega > 0
    w = omega[pos]
    log_a = math.log(morse_amplitude(beta=beta, gamma=gamma))
    out[pos] = np.exp(log_a + beta * np.log(w) - w**gamma)
    return out


@dataclass(frozen=True)
class MorseWavelet:
    """Generalized Morse wavelet as a response of ``u = f / f_c`` (peak 2 at ``u = 1``)."""

    beta: float = 20.0
    gamma: float = 3.0

    def __post_init__(self) -> None:
        if not (self.beta > 0 and self.gamma > 0):
            raise ValueError(f"Morse wavelet needs beta > 0 and gamma > 0, got {self.beta}, {self.gamma}")

    @property
    def peak_frequency(self) -> float:
        """Peak radian frequency at unit scale."""
        return morse_peak_frequency(beta=self.beta, gamma=self.gamma)

    def response(self, u: np.ndarray) -> np.ndarray:
        """Response at relative frequencies ``u = f / f_c`` (float64, 0 for ``u <= 0``)."""
        return morse_wavelet(np.asarray(u) * self.peak_frequency, beta=self.beta, gamma=self.gamma)


@dataclass(frozen=True)
class ComplexMorlet:
    """PyWavelets' complex Morlet ``cmor{bandwidth}-{center}``, L1 normalised (peak 2)."""

    bandwidth: float = 1.5
    center: float = 1.0

    def __post_init__(self) -> None:
        if not (self.bandwidth > 0 and self.center > 0):
            raise ValueError(
                f"complex Morlet needs bandwidth > 0 and center > 0, got {self.bandwidth}, {self.center}"
            )

    @property
    def pywt_name(self) -> str:
        """The name PyWavelets knows this wavelet by, e.g. ``'cmor1.5-1.0'``."""
        return f"cmor{self.bandwidth}-{self.center}"

    def response(self, u: np.ndarray) -> np.ndarray:
        """Response at relative frequencies ``u = f / f_c`` (float64, 0 for ``u <= 0``)."""
        u = np.asarray(u, dtype=np.float64)
        xi = u * self.center  # cycles per unit time at the wavelet's own scale
        out = 2.0 * np.exp(-(math.pi**2) * self.bandwidth * (xi - self.center) ** 2)
        return np.where(u > 0, out, 0.0)


Wavelet = MorseWavelet | ComplexMorlet


def band_support(wavelet: Wavelet, *, tol: float = 1e-7) -> tuple[float, float]:
    """Relative band ``(u_lo, u_hi)`` outside which the response is below ``2 * tol``.

    Found on a fine grid of ``u`` (step 1e-4), widened by one step each side.
    """
    u = np.arange(1, 200_001) * 1e-4  # (0, 20]
    above = np.flatnonzero(wavelet.response(u) > 2.0 * tol)
    if above.size == 0:
        raise ValueError(f"{wavelet} has no response above {tol}")
    return max(u[above[0]] - 1e-4, 0.0), u[above[-1]] + 1e-4


def time_half_width(wavelet: Wavelet, *, tail: float = 1e-5) -> float:
    """Half-width of the wavelet in periods of its centre frequency.

    The smallest ``h`` with ``sum(|psi(t)|, |t| > h) <= tail * sum(|psi(t)|)``, found on a
    time grid of 1/64 period spanning 256 periods.
    """
    n, span = 1 << 14, 256.0  # time samples, periods
    du = 1.0 / span
    u = np.arange(n // 2) * du  # relative frequencies up to n / (2 span) = 32
    psi = np.fft.ifft(wavelet.response(u), n=n)
    mag = np.abs(np.fft.fftshift(psi))
    t = (np.arange(n) - n // 2) * (span / n)
    order = np.argsort(np.abs(t))
    outside = mag.sum() - np.cumsum(mag[order])
    k = int(np.argmax(outside <= tail * mag.sum()))
    return float(np.abs(t[order[k]]))


def log_frequencies(
    *, fmin: float, fmax: float, n_scales: int | None = None, voices_per_octave: int | None = None
) -> np.ndarray:
    """Log-spaced centre frequencies in ascending order.

    Give exactly one of ``n_scales`` (``geomspace(fmin, fmax, n_scales)``) or
    ``voices_per_octave`` (``fmin * 2 ** (k / voices)`` up to ``fmax``).

    Returns
    -------
    freqs : np.ndarray [shape=(n_scales,), dtype=float64]
    """
    if not 0 < fmin < fmax:
        raise ValueError(f"need 0 < fmin < fmax, got fmin={fmin}, fmax={fmax}")
    if (n_scales is None) == (voices_per_octave is None):
        raise ValueError("give exactly one of n_scales and voices_per_octave")
    if n_scales is not None:
        if n_scales < 1:
            raise ValueError(f"n_scales must be >= 1, got {n_scales}")
        return np.geomspace(fmin, fmax, n_scales) if n_scales > 1 else np.array([fmin])
    if voices_per_octave < 1:
        raise ValueError(f"voices_per_octave must be >= 1, got {voices_per_octave}")
    n = int(math.floor(voices_per_octave * math.log2(fmax / fmin) + 1e-9)) + 1
    return fmin * 2.0 ** (np.arange(n) / voices_per_octave)
