"""Generalized Morse and complex Morlet wavelets: properties with known answers."""

import math

import numpy as np
import pytest
import pywt

from features.morse import (
    ComplexMorlet,
    MorseWavelet,
    band_support,
    log_frequencies,
    morse_amplitude,
    morse_peak_frequency,
    morse_wavelet,
    time_half_width,
)


@pytest.mark.parametrize(("beta", "gamma"), [(20.0, 3.0), (5.0, 2.0), (40.0, 4.0)])
def test_morse_peak_frequency_and_peak_value(beta, gamma):
    omega = np.linspace(1e-3, 5.0, 500_001)
    psi = morse_wavelet(omega, beta=beta, gamma=gamma)
    expected = (beta / gamma) ** (1.0 / gamma)
    assert morse_peak_frequency(beta=beta, gamma=gamma) == pytest.approx(expected)
    assert omega[np.argmax(psi)] == pytest.approx(expected, abs=2e-5)
    # L1 "bandpass" normalisation: the peak value is exactly 2
    assert morse_wavelet(np.array([expected]), beta=beta, gamma=gamma)[0] == pytest.approx(2.0, rel=1e-12)
    assert psi.max() == pytest.approx(2.0, rel=1e-9)


def test_morse_defaults_match_matlab_time_bandwidth():
    # P^2 = beta * gamma = 60 with gamma = 3 -> beta = 20; peak frequency (20/3)^(1/3) = 1.8821
    assert morse_peak_frequency(beta=20, gamma=3) == pytest.approx(1.882072, abs=1e-6)
    assert morse_amplitude(beta=20, gamma=3) == pytest.approx(2 * (math.e * 3 / 20) ** (20 / 3))


def test_morse_is_admissible_and_analytic():
    omega = np.array([-3.0, -1.0, -1e-9, 0.0])
    assert np.all(morse_wavelet(omega) == 0.0)
    assert morse_wavelet(np.array([1e-6]))[0] < 1e-100  # vanishes like omega**20 at 0


def test_relative_response_peaks_at_one():
    u = np.linspace(0.01, 3, 299_001)
    for wavelet in (MorseWavelet(), ComplexMorlet()):
        response = wavelet.response(u)
        assert u[np.argmax(response)] == pytest.approx(1.0, abs=1e-4)
        assert response.max() == pytest.approx(2.0, rel=1e-8)
        assert np.all(wavelet.response(np.array([-1.0, 0.0])) == 0)


def test_complex_morlet_matches_pywavelets_definition():
    # FFT of PyWavelets' own cmor1.5-1.0 samples vs our closed form (both scaled to peak 2)
    wavelet = ComplexMorlet(bandwidth=1.5, center=1.0)
    psi, t = pywt.ContinuousWavelet(wavelet.pywt_name).wavefun(level=14)
    dt = t[1] - t[0]
    spectrum = np.abs(np.fft.fft(psi))
    xi = np.fft.fftfreq(len(psi), d=dt)  # cycles per unit time
    keep = (xi > 0.2) & (xi < 1.8)
    ours = wavelet.response(xi[keep] / wavelet.center)
    theirs = 2.0 * spectrum[keep] / spectrum.max()
    np.testing.assert_allclose(ours, theirs, atol=2e-3)


def test_band_support_contains_all_but_tolerance():
    wavelet = MorseWavelet()
    lo, hi = band_support(wavelet, tol=1e-7)
    assert 0.2 < lo < 1 < hi < 2
    u = np.linspace(0.001, 10, 100_000)
    outside = (u < lo) | (u > hi)
    assert wavelet.response(u[outside]).max() <= 2e-7


def test_time_half_width_bounds_the_tail():
    wavelet = MorseWavelet()
    half = time_half_width(wavelet, tail=1e-5)
    # independent check on a different grid: time-domain wavelet from a direct sum
    du = 1 / 128
    u = np.arange(1, 128 * 8) * du
    t = np.linspace(-40, 40, 8001)
    psi = np.abs(np.exp(2j * np.pi * np.outer(t, u)) @ wavelet.response(u))
    assert psi[np.abs(t) > half].sum() <= 2e-5 * psi.sum()
    assert psi[np.abs(t) > 0.5 * half].sum() > 1e-5 * psi.sum()  # not wildly overestimated


def test_log_frequencies():
    freqs = log_frequencies(fmin=32.0, fmax=9922.5, n_scales=128)
    assert freqs[0] == pytest.approx(32.0) and freqs[-1] == pytest.approx(9922.5)
    np.testing.assert_allclose(np.diff(np.log(freqs)), np.log(9922.5 / 32) / 127)
    voices = log_frequencies(fmin=100.0, fmax=800.0, voices_per_octave=12)
    assert len(voices) == 37 and voices[-1] == pytest.approx(800.0)
    with pytest.raises(ValueError, match="exactly one"):
        log_frequencies(fmin=1.0, fmax=2.0, n_scales=4, voices_per_octave=4)
    with pytest.raises(ValueError, match="fmin < fmax"):
        log_frequencies(fmin=200.0, fmax=100.0, n_scales=4)
