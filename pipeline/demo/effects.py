"""Random mixing effects for demo songs: stem gains, equalisation, reverb.

Every effect is linear and applied to each stem with the same mix-bus settings, so the mix
stays the sum of the stems.  Settings are drawn once per song (:func:`draw_effects`) as a
JSON-ready dict, recorded next to the song, and applied by :func:`apply_effects`.

* gain: one level per stem, uniform in [-6, +3] dB.
* EQ: a low shelf, a peaking filter and a high shelf (RBJ "Audio EQ Cookbook" biquads),
  each +/-6 dB, run with ``scipy.signal.sosfilt``.
* reverb: convolution with a synthetic impulse response, white noise under an exponential
  decay reaching -60 dB at ``rt60`` seconds, mixed in at ``wet``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

_PEAK = 10 ** (-1.0 / 20)  # normalise the mix to -1 dBFS


def draw_effects(rng: np.random.Generator, *, n_stems: int, enabled: bool = True) -> dict:
    """Draw one song's mixing settings.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_stems : int
        Number of stems (one gain each).
    enabled : bool
        When false, every stem keeps 0 dB and there is no EQ and no reverb.

    Returns
    -------
    dict
        ``{"enabled", "stem_gain_db": [...], "eq": [{"kind", "freq", "gain_db", "q"}...],
        "reverb": {"rt60", "wet", "seed"} or None}``.
    """
    if not enabled:
        return {"enabled": False, "stem_gain_db": [0.0] * n_stems, "eq": [], "reverb": None}
    gains = [round(float(g), 2) for g in rng.uniform(-6.0, 3.0, size=n_stems)]
    eq = [
        {"kind": "lowshelf", "freq": round(float(rng.uniform(80, 300)), 1),
         "gain_db": round(float(rng.uniform(-6, 6)), 2), "q": 0.707},
        {"kind": "peaking", "freq": round(float(np.exp(rng.uniform(np.log(400), np.log(4000)))), 1),
         "gain_db": round(float(rng.uniform(-6, 6)), 2), "q": round(float(rng.uniform(0.5, 2.0)), 3)},
        {"kind": "highshelf", "freq": round(float(rng.uniform(3000, 8000)), 1),
         "gain_db": round(float(rng.uniform(-6, 6)), 2), "q": 0.707},
    ]  # fmt: skip
    reverb = None
    if rng.random() < 0.7:
        reverb = {
            "rt60": round(float(rng.uniform(0.3, 1.8)), 3),
            "wet": round(float(rng.uniform(0.08, 0.35)), 3),
            "seed": int(rng.integers(0, 2**31 - 1)),
        }
    return {"enabled": True, "stem_gain_db": gains, "eq": eq, "reverb": reverb}


def biquad(kind: str, *, freq: float, gain_db: float, q: float, sr: int) -> np.ndarray:
    """One RBJ-cookbook biquad as second-order sections.

    Returns
    -------
    np.ndarray [shape=(1, 6)]
        ``[b0, b1, b2, 1, a1, a2]`` normalised by ``a0``.
    """
    freq = min(freq, 0.45 * sr)
    big_a = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * freq / sr
    cos_w0, alpha = math.cos(w0), math.sin(w0) / (2 * q)
    if kind == "peaking":
        b = [1 + alpha * big_a, -2 * cos_w0, 1 - alpha * big_a]
        a = [1 + alpha / big_a, -2 * cos_w0, 1 - alpha / big_a]
    elif kind in ("lowshelf", "highshelf"):
        sign = 1 if kind == "lowshelf" else -1
        root = 2 * math.sqrt(big_a) * alpha
        b = [
            big_a * ((big_a + 1) - sign * (big_a - 1) * cos_w0 + root),
            sign * 2 * big_a * ((big_a - 1) - sign * (big_a + 1) * cos_w0),
            big_a * ((big_a + 1) - sign * (big_a - 1) * cos_w0 - root),
        ]
        a = [
            (big_a + 1) + sign * (big_a - 1) * cos_w0 + root,
            -sign * 2 * ((big_a - 1) + sign * (big_a + 1) * cos_w0),
            (big_a + 1) + sign * (big_a - 1) * cos_w0 - root,
        ]
    else:
        raise ValueError(f"unknown filter kind {kind!r}; expected peaking, lowshelf or highshelf")
    return np.array([[*(np.array(b) / a[0]), 1.0, a[1] / a[0], a[2] / a[0]]])


def impulse_response(*, rt60: float, sr: int, seed: int) -> np.ndarray:
    """Exponentially decaying white noise, unit energy.

    Returns
    -------
    np.ndarray [shape=(round(rt60 * sr),), dtype=float64]
    """
    n = max(1, int(round(rt60 * sr)))
    noise = np.random.default_rng(seed).standard_normal(n)
    decay = np.exp(-6.907755 * np.arange(n) / n)  # ln(1000): -60 dB at rt60
    ir = noise * decay
    return ir / np.sqrt(np.sum(ir**2))


def apply_effects(stems: np.ndarray, settings: dict, *, sr: int) -> np.ndarray:
    """Apply gains, EQ and reverb, then scale so the mix peaks at -1 dBFS.

    Parameters
    ----------
    stems : np.ndarray [shape=(n_stems, n_samples)]
    settings : dict
        From :func:`draw_effects`.
    sr : int

    Returns
    -------
    np.ndarray [shape=(n_stems, n_samples), dtype=float32]
        Processed stems; their sum (the mix) and each stem stay within [-1, 1].
    """
    out = stems.astype(np.float64) * (10 ** (np.asarray(settings["stem_gain_db"]) / 20))[:, None]
    if settings["eq"]:
        sos = np.concatenate(
            [biquad(f["kind"], freq=f["freq"], gain_db=f["gain_db"], q=f["q"], sr=sr) for f in settings["eq"]]
        )
        out = signal.sosfilt(sos, out, axis=-1)
    reverb = settings["reverb"]
    if reverb:
        ir = impulse_response(rt60=reverb["rt60"], sr=sr, seed=reverb["seed"])
        wet = signal.fftconvolve(out, ir[None, :], axes=-1)[:, : out.shape[1]]
        out = (1 - reverb["wet"]) * out + reverb["wet"] * wet
    peak = max(float(np.abs(out.sum(axis=0)).max(initial=0.0)), float(np.abs(out).max(initial=0.0)))
    if peak > 0:
        out *= _PEAK / peak
    return out.astype(np.float32)
