"""Per-stem sound design: a random effect chain (Spotify's pedalboard) and a resampling shift.

Each stem draws its own settings (:func:`draw_sound_design`, a JSON-ready dict recorded in
``render.json``) and is processed by :func:`apply_sound_design` before the song's linear
mix bus (:mod:`pipeline.demo.effects`).  The chain is a random subset, in this order, of:

* filters and EQ: high-pass, low-pass, a resonant ladder filter, low shelf, peak, high shelf;
* a compressor (no look-ahead);
* saturation: tanh distortion, hard clipping or a bit crusher;
* modulation: chorus, phaser;
* a small reverb (room size <= 0.45).

Every effect is causal and has no latency, so note onsets stay where the MIDI puts them
(the tests check this within one 512-sample frame).  The chain works on the stem scaled to
a 0.5 peak and its output is scaled back to the stem's RMS, so drive and thresholds mean
the same on every stem and levels stay the mix bus's business.

**Resampling shift** (``shift_semitones`` = k, drawn in [-3, 3] for 60 % of stems): the stem
is rendered with its MIDI transposed by -k semitones and its timing stretched by
r = 2 ** (k / 12) (:func:`pipeline.demo.render.stem_request`), then resampled by r
(:func:`restore_timing`, soxr), which restores the written pitch and timing without a phase
vocoder.  What moves by k semitones is everything the synthesizer fixes in absolute terms:
the soundfont's filter cutoffs, the key zone (and so the recorded sample) a note is played
from, and the time constants of envelopes and LFOs (scaled by 1/r).  A sample played inside
its own key zone is itself transposed by resampling, so its recorded spectrum comes back
unchanged: the shift changes timbre through zones, filters and envelopes, not through the
recording's own formants.  A drum stem is only stretched, so the kit is tuned by k.
"""

from __future__ import annotations

import math

import numpy as np

SHIFT_LIMIT = 3.0  # semitones
_REFERENCE_PEAK = 0.5


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return round(float(math.exp(rng.uniform(math.log(low), math.log(high)))), 1)


def _u(rng: np.random.Generator, low: float, high: float, digits: int = 3) -> float:
    return round(float(rng.uniform(low, high)), digits)


def draw_sound_design(rng: np.random.Generator, *, enabled: bool = True) -> dict:
    """One stem's settings.

    Returns
    -------
    dict
        ``{"enabled", "shift_semitones", "chain": [{"effect": name, <parameters>}...]}``;
        with ``enabled`` false the chain is empty and the shift 0.
    """
    if not enabled:
        return {"enabled": False, "shift_semitones": 0.0, "chain": []}
    shift = _u(rng, -SHIFT_LIMIT, SHIFT_LIMIT) if rng.random() < 0.6 else 0.0
    chain: list[dict] = []
    if rng.random() < 0.3:
        chain.append({"effect": "highpass", "cutoff_hz": _log_uniform(rng, 30, 500)})
    if rng.random() < 0.3:
        chain.append({"effect": "lowpass", "cutoff_hz": _log_uniform(rng, 1500, 10000)})
    if rng.random() < 0.12:
        chain.append({"effect": "ladder", "mode": str(rng.choice(("LPF12", "LPF24", "BPF12", "HPF12"))),
                      "cutoff_hz": _log_uniform(rng, 300, 6000), "resonance": _u(rng, 0.0, 0.7),
                      "drive": _u(rng, 1.0, 3.0)})  # fmt: skip
    if rng.random() < 0.4:
        chain.append(
            {"effect": "lowshelf", "cutoff_hz": _log_uniform(rng, 80, 400), "gain_db": _u(rng, -9, 9, 2)}
        )
    if rng.random() < 0.5:
        chain.append({"effect": "peak", "cutoff_hz": _log_uniform(rng, 200, 6000),
                      "gain_db": _u(rng, -10, 10, 2), "q": _u(rng, 0.5, 4.0)})  # fmt: skip
    if rng.random() < 0.4:
        chain.append(
            {"effect": "highshelf", "cutoff_hz": _log_uniform(rng, 2000, 9000), "gain_db": _u(rng, -9, 9, 2)}
        )
    if rng.random() < 0.35:
        chain.append({"effect": "compressor", "threshold_db": _u(rng, -30, -8, 2), "ratio": _u(rng, 2, 10, 2),
                      "attack_ms": _u(rng, 1, 30, 2), "release_ms": _u(rng, 40, 300, 1)})  # fmt: skip
    if rng.random() < 0.3:
        kind = str(rng.choice(("distortion", "clipping", "bitcrush"), p=(0.7, 0.15, 0.15)))
        if kind == "distortion":
            chain.append({"effect": "distortion", "drive_db": _u(rng, 3, 24, 2)})
        elif kind == "clipping":
            chain.append({"effect": "clipping", "threshold_db": _u(rng, -18, -4, 2)})
        else:
            chain.append({"effect": "bitcrush", "bit_depth": _u(rng, 6, 12, 2)})
    if rng.random() < 0.2:
        chain.append({"effect": "chorus", "rate_hz": _u(rng, 0.2, 3.0), "depth": _u(rng, 0.1, 0.6),
                      "centre_delay_ms": _u(rng, 3, 12, 2), "feedback": _u(rng, 0.0, 0.3),
                      "mix": _u(rng, 0.2, 0.6)})  # fmt: skip
    if rng.random() < 0.15:
        chain.append({"effect": "phaser", "rate_hz": _u(rng, 0.1, 2.0), "depth": _u(rng, 0.2, 0.8),
                      "centre_frequency_hz": _log_uniform(rng, 300, 3000), "feedback": _u(rng, 0.0, 0.5),
                      "mix": _u(rng, 0.2, 0.6)})  # fmt: skip
    if rng.random() < 0.3:
        wet = _u(rng, 0.05, 0.3)
        chain.append({"effect": "reverb", "room_size": _u(rng, 0.05, 0.45), "damping": _u(rng, 0.2, 0.8),
                      "wet_level": wet, "dry_level": round(1.0 - wet, 3)})  # fmt: skip
    return {"enabled": True, "shift_semitones": shift, "chain": chain}


def build_board(chain: list[dict]):
    """The ``pedalboard.Pedalboard`` of a drawn chain."""
    import pedalboard

    makers = {
        "highpass": lambda e: pedalboard.HighpassFilter(cutoff_frequency_hz=e["cutoff_hz"]),
        "lowpass": lambda e: pedalboard.LowpassFilter(cutoff_frequency_hz=e["cutoff_hz"]),
        "ladder": lambda e: pedalboard.LadderFilter(
            mode=getattr(pedalboard.LadderFilter.Mode, e["mode"]), cutoff_hz=e["cutoff_hz"],
            resonance=e["resonance"], drive=e["drive"]),
        "lowshelf": lambda e: pedalboard.LowShelfFilter(cutoff_frequency_hz=e["cutoff_hz"], gain_db=e["gain_db"]),
        "peak": lambda e: pedalboard.PeakFilter(cutoff_frequency_hz=e["cutoff_hz"], gain_db=e["gain_db"], q=e["q"]),
        "highshelf": lambda e: pedalboard.HighShelfFilter(cutoff_frequency_hz=e["cutoff_hz"], gain_db=e["gain_db"]),
        "compressor": lambda e: pedalboard.Compressor(
            threshold_db=e["threshold_db"], ratio=e["ratio"], attack_ms=e["attack_ms"], release_ms=e["release_ms"]),
        "distortion": lambda e: pedalboard.Distortion(drive_db=e["drive_db"]),
        "clipping": lambda e: pedalboard.Clipping(threshold_db=e["threshold_db"]),
        "bitcrush": lambda e: pedalboard.Bitcrush(bit_depth=e["bit_depth"]),
        "chorus": lambda e: pedalboard.Chorus(
            rate_hz=e["rate_hz"], depth=e["depth"], centre_delay_ms=e["centre_delay_ms"],
            feedback=e["feedback"], mix=e["mix"]),
        "phaser": lambda e: pedalboard.Phaser(
            rate_hz=e["rate_hz"], depth=e["depth"], centre_frequency_hz=e["centre_frequency_hz"],
            feedback=e["feedback"], mix=e["mix"]),
        "reverb": lambda e: pedalboard.Reverb(
            room_size=e["room_size"], damping=e["damping"], wet_level=e["wet_level"], dry_level=e["dry_level"]),
    }  # fmt: skip
    unknown = [e["effect"] for e in chain if e["effect"] not in makers]
    if unknown:
        raise ValueError(f"unknown effects {unknown}; expected some of {sorted(makers)}")
    return pedalboard.Pedalboard([makers[e["effect"]](e) for e in chain])


def restore_timing(audio: np.ndarray, *, semitones: float, sr: int, n_samples: int) -> np.ndarray:
    """Undo the render stretch: resample by ``r = 2 ** (semitones / 12)`` (soxr, HQ).

    Parameters
    ----------
    audio : np.ndarray [shape=(n,)]
        A stem rendered with its timing stretched by ``r``.
    n_samples : int
        Length of the result (cut or zero-padded).

    Returns
    -------
    np.ndarray [shape=(n_samples,), dtype=float32]
    """
    if semitones:
        import soxr

        ratio = 2.0 ** (semitones / 12)
        audio = soxr.resample(audio.astype(np.float32), sr * ratio, sr, quality="HQ")
    out = np.zeros(n_samples, dtype=np.float32)
    out[: min(n_samples, len(audio))] = audio[:n_samples]
    return out


def apply_sound_design(audio: np.ndarray, design: dict, *, sr: int) -> np.ndarray:
    """Run a stem through its drawn chain, keeping its RMS.

    Parameters
    ----------
    audio : np.ndarray [shape=(n_samples,)]
    design : dict
        From :func:`draw_sound_design`.
    sr : int

    Returns
    -------
    np.ndarray [shape=(n_samples,), dtype=float32]
    """
    audio = np.asarray(audio, dtype=np.float32)
    peak = float(np.abs(audio).max(initial=0.0))
    if not design["chain"] or peak == 0.0:
        return audio.copy()
    scaled = audio * (_REFERENCE_PEAK / peak)
    processed = (
        build_board(design["chain"])(scaled, sr, reset=True).astype(np.float32).reshape(-1)[: len(audio)]
    )
    rms_in = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    rms_out = float(np.sqrt(np.mean(np.square(processed, dtype=np.float64))))
    return processed * np.float32(rms_in / rms_out) if rms_out > 0 else processed
