"""Demo rendering: batched FluidSynth runs, the resampling shift, sound design, mix bus."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from pipeline.demo.composer import Note, Part, Song
from pipeline.demo.corpus import compose_corpus
from pipeline.demo.effects import apply_effects, biquad, draw_effects
from pipeline.demo.instruments import AAM_VOICES
from pipeline.demo.render import (
    StemRequest,
    batch_layout,
    block_grid,
    find_soundfonts,
    render_batch,
    render_stems,
    stem_request,
    usable_shift,
)
from pipeline.demo.sound_design import apply_sound_design, build_board, draw_sound_design, restore_timing

needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None,
    reason="the `fluidsynth` program is not installed (Debian: apt-get install fluidsynth)",
)
SR = 22050
FRAME = 512


def _voice(label):
    return next(v for v in AAM_VOICES if v.label == label)


def _onset_near(audio: np.ndarray, t0: float, *, hop: int = 64, reach: float = 0.15) -> int:
    """The sample within ``reach`` s of ``t0`` s where the log energy (64-sample RMS) rises most."""
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    energy = np.log(np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)) + 1e-7)
    rise = np.diff(energy, prepend=energy[0])
    lo, hi = max(0, int((t0 - reach) * SR / hop)), int((t0 + reach) * SR / hop)
    return int(lo + np.argmax(rise[lo:hi])) * hop


def _f0(audio: np.ndarray, sr: int) -> float:
    """Frequency of the strongest spectral peak (Hann window, parabolic interpolation)."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio)), n=8 * len(audio)))
    k = int(np.argmax(spectrum[1:])) + 1
    a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / (8 * len(audio))


# ---------------------------------------------------------------- batching


def test_batch_slots_sit_on_the_block_grid():
    assert block_grid(22050) == 28224 and block_grid(44100) == 28224 and block_grid(16000) == 64
    requests = [StemRequest(((60, 90, 0, 100),), 0, False, length) for length in (1000, 3333, 500)]
    for sr in (22050, 44100, 16000):
        starts, end = batch_layout(requests, sr=sr)
        for start in starts:
            assert start * sr % 1000 == 0 and (start * sr // 1000) % 64 == 0
        assert all(b >= a + r.length_ms for a, b, r in zip(starts, starts[1:], requests))
        assert end > starts[-1] + requests[-1].length_ms
    with pytest.raises(ValueError, match="bad note"):
        StemRequest(((60, 90, 0, 2000),), 0, False, 1000)


@needs_fluidsynth
def test_a_stem_rendered_in_a_batch_equals_the_stem_rendered_alone():
    songs = compose_corpus(layout="slakh", songs=3, seconds=3, seed=21)
    requests = []
    for song in songs:
        for k, part in enumerate(song.parts):
            shift = usable_shift(part, float(np.random.default_rng(k).uniform(-3, 3)))
            requests.append(stem_request(song, part, semitones=shift, kit=(0, 25, 40)[k % 3]))
    assert any(r.is_drum for r in requests) and len(requests) >= 6
    picks = sorted({next(k for k, r in enumerate(requests) if r.is_drum), len(requests) - 1})
    for soundfont in find_soundfonts():
        batch = render_batch(requests, soundfont, sr=SR)
        assert [len(b) for b in batch] == [-(-r.length_ms * SR // 1000) for r in requests]
        for k in picks:
            alone = render_batch([requests[k]], soundfont, sr=SR)[0]
            assert np.abs(alone).max() > 1e-3, (soundfont.name, k)
            np.testing.assert_allclose(
                batch[k], alone, rtol=0, atol=1e-6, err_msg=f"{soundfont.name} stem {k}"
            )


@needs_fluidsynth
def test_rendered_notes_start_at_their_midi_times():
    """No leading offset: onsets found in the audio match the MIDI note times."""
    song = Song(
        120, 500000, 480, 0, "maj", 2.0,
        (Part("chords", _voice("Piano"), (Note(60, 100, 0, 240), Note(67, 100, 960, 1200))),
         Part("drums", _voice("Drums"), (Note(38, 100, 480, 540),))),
        (),
    )  # fmt: skip
    for soundfont in find_soundfonts():
        stems = render_stems(song, soundfont, sr=SR)
        assert stems.shape == (2, 2 * SR)
        assert _onset_near(stems[0], 0.0) <= 0.02 * SR, soundfont.name
        assert abs(_onset_near(stems[0], 1.0) - 1.0 * SR) <= 0.02 * SR, soundfont.name
        assert abs(_onset_near(stems[1], 0.5) - 0.5 * SR) <= 0.02 * SR, soundfont.name
        hop = 64
        energy = np.sqrt(np.mean(stems[:, : stems.shape[1] // hop * hop].reshape(2, -1, hop) ** 2, axis=-1))
        assert energy[1, : int(0.45 * SR / hop)].max() < 1e-3 * energy[1].max()  # silent before the hit


@needs_fluidsynth
@pytest.mark.parametrize("shift", [-3.0, -1.4, 2.5])
def test_resampling_shift_keeps_pitch_and_timing(shift):
    notes = (Note(57, 100, 0, 600), Note(64, 100, 960, 1560), Note(69, 100, 1920, 2520))
    song = Song(120, 500000, 480, 0, "maj", 3.5, (Part("melody", _voice("Flute"), notes),), ())
    soundfont = find_soundfonts()[0]
    n = int(song.seconds * SR)
    plain = render_batch([stem_request(song, song.parts[0])], soundfont, sr=SR)[0][:n]
    shifted = restore_timing(
        render_batch([stem_request(song, song.parts[0], semitones=shift)], soundfont, sr=SR)[0],
        semitones=shift,
        sr=SR,
        n_samples=n,
    )
    assert shifted.shape == (n,)
    for note in notes:
        t = song.seconds_at(note.start)
        assert abs(_onset_near(shifted, t) - _onset_near(plain, t)) <= FRAME
        assert abs(_onset_near(shifted, t) - t * SR) <= 0.03 * SR  # the written pitch comes back
        t0 = int(song.seconds_at(note.start) * SR) + 2000
        want = 440.0 * 2 ** ((note.pitch - 69) / 12)
        for audio in (plain, shifted):
            got = _f0(audio[t0 : t0 + 4096], SR)
            assert abs(12 * np.log2(got / want)) < 0.25 or abs(12 * np.log2(got / want) - 12) < 0.25
    assert usable_shift(Part("melody", _voice("Flute"), (Note(2, 90, 0, 10),)), 3.0) == 0.0
    with pytest.raises(ValueError, match="out of 0..127"):
        stem_request(song, Part("melody", _voice("Flute"), (Note(2, 90, 0, 10),)), semitones=3.0)


# ---------------------------------------------------------------- sound design


def test_sound_design_draws_are_seeded_recorded_and_switchable():
    designs = [draw_sound_design(np.random.default_rng([0, i, 3, 0])) for i in range(200)]
    assert designs[5] == draw_sound_design(np.random.default_rng([0, 5, 3, 0]))
    assert all(json.loads(json.dumps(d)) == d for d in designs)
    effects = {e["effect"] for d in designs for e in d["chain"]}
    assert effects == {"highpass", "lowpass", "ladder", "lowshelf", "peak", "highshelf", "compressor",
                       "distortion", "clipping", "bitcrush", "chorus", "phaser", "reverb"}  # fmt: skip
    shifts = [d["shift_semitones"] for d in designs]
    assert 0.4 < np.mean(np.array(shifts) != 0) < 0.8 and max(np.abs(shifts)) <= 3.0
    assert draw_sound_design(np.random.default_rng(0), enabled=False) == {
        "enabled": False, "shift_semitones": 0.0, "chain": []}  # fmt: skip
    with pytest.raises(ValueError, match="unknown effects"):
        build_board([{"effect": "flanger"}])


def _every_effect() -> list[dict]:
    """A chain with every effect once, at strong settings."""
    chains = [draw_sound_design(np.random.default_rng([1, i, 3, 0]))["chain"] for i in range(300)]
    by_name: dict[str, dict] = {}
    for chain in chains:
        for effect in chain:
            by_name.setdefault(effect["effect"], effect)
    order = ["highpass", "lowpass", "ladder", "lowshelf", "peak", "highshelf", "compressor", "distortion",
             "chorus", "phaser", "reverb"]  # fmt: skip
    return [by_name[name] for name in order]


def test_sound_design_keeps_onsets_and_level():
    rng = np.random.default_rng(3)
    times = [0.25, 0.8, 1.3, 1.9, 2.6]
    audio = np.zeros(3 * SR, dtype=np.float32)
    for t in times:  # decaying tone bursts
        start = int(t * SR)
        n = int(0.3 * SR)
        burst = np.sin(2 * np.pi * 330 * np.arange(n) / SR) * np.exp(-np.arange(n) / (0.08 * SR))
        audio[start : start + n] += 0.3 * burst.astype(np.float32) + 0.01 * rng.standard_normal(n).astype(
            np.float32
        )
    design = {"enabled": True, "shift_semitones": 0.0, "chain": _every_effect()}
    out = apply_sound_design(audio, design, sr=SR)
    assert out.shape == audio.shape and out.dtype == np.float32
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(audio**2)), rel=1e-3)
    for t in times:
        assert abs(_onset_near(out, t) - t * SR) <= FRAME, t
        assert abs(_onset_near(audio, t) - t * SR) <= 64, t
    assert not np.allclose(out, audio, atol=1e-3)  # the chain did change the sound
    np.testing.assert_array_equal(apply_sound_design(audio, design, sr=SR), out)  # and is deterministic


# ---------------------------------------------------------------- mix bus


def test_effects_are_linear_seeded_and_peak_normalised():
    rng = np.random.default_rng(0)
    stems = rng.standard_normal((3, 4000)).astype(np.float32) * 0.1
    settings = draw_effects(np.random.default_rng(1), n_stems=3)
    assert settings == draw_effects(np.random.default_rng(1), n_stems=3)
    assert json.loads(json.dumps(settings)) == settings
    settings["reverb"] = {"rt60": 0.2, "wet": 0.3, "seed": 5}
    out = apply_effects(stems, settings, sr=SR)
    assert out.shape == stems.shape and out.dtype == np.float32
    assert np.abs(out.sum(axis=0)).max() == pytest.approx(10 ** (-1 / 20), rel=1e-5)
    alone = apply_effects(stems[:1], {**settings, "stem_gain_db": settings["stem_gain_db"][:1]}, sr=SR)
    scale = out[0].std() / alone[0].std()  # same chain, only the normalisation differs
    np.testing.assert_allclose(out[0], alone[0] * scale, atol=1e-5)
    off = apply_effects(stems, draw_effects(rng, n_stems=3, enabled=False), sr=SR)
    np.testing.assert_allclose(off / off[0].std(), stems / stems[0].std(), rtol=1e-4, atol=1e-4)


def test_biquads_have_the_requested_gain():
    from scipy import signal

    cases = (("peaking", 1000.0, 1000.0), ("lowshelf", 200.0, 20.0), ("highshelf", 4000.0, 10000.0))
    for kind, freq, probe in cases:
        sos = biquad(kind, freq=freq, gain_db=6.0, q=0.707, sr=SR)
        _, response = signal.sosfreqz(sos, worN=[probe], fs=SR)
        assert 20 * np.log10(abs(response[0])) == pytest.approx(6.0, abs=0.3), kind
    with pytest.raises(ValueError, match="unknown filter kind"):
        biquad("notch", freq=1000.0, gain_db=0.0, q=1.0, sr=SR)
