"""Streaming DSP equals its offline form; filters do what they claim."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly, savgol_filter

from facewire.dsp.resample import StreamingResampler, resample
from facewire.dsp.smoothing import CurveSmoother, SmootherSpec
from facewire.dsp.vad import EnergyGate, RelaxGain
from facewire.models.logmel import LogMelConfig, StreamingLogMel, logmel


def _chunks(x: np.ndarray, rng: np.random.Generator, high: int = 700):
    i = 0
    while i < len(x):
        n = int(rng.integers(1, high))
        yield x[i:i + n]
        i += n


@pytest.mark.parametrize("lookahead", [0, 80, 160])
def test_streaming_logmel_equals_offline(lookahead: int) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(32000) / 16000
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (t > 0.5) + 0.01 * rng.standard_normal(t.size)
    cfg = LogMelConfig(lookahead=lookahead)
    offline = logmel(x, cfg)
    stream = StreamingLogMel(cfg)
    streamed = np.concatenate([stream.process(c) for c in _chunks(x, rng)] + [stream.flush()])
    assert offline.shape == (200, 80)
    assert np.abs(streamed[: len(offline)] - offline).max() < 1e-5


def test_logmel_is_causal_without_lookahead() -> None:
    """Changing the future must not change past frames."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(16000)
    y = x.copy()
    y[8000:] = 0
    a, b = logmel(x), logmel(y)
    assert np.array_equal(a[:50], b[:50])
    assert not np.array_equal(a[50:], b[50:])


@pytest.mark.parametrize("rates", [(44100, 16000), (48000, 16000), (8000, 16000), (22050, 16000)])
def test_resampler_matches_scipy_and_streams_exactly(rates: tuple[int, int]) -> None:
    a, b = rates
    rng = np.random.default_rng(2)
    x = rng.standard_normal(a)
    y = resample(x, a, b)
    g = np.gcd(a, b)
    ref = resample_poly(x, b // g, a // g)
    assert y.shape == ref.shape
    assert np.abs(y - ref)[300:-300].max() < 1e-9
    r = StreamingResampler(a, b)
    streamed = np.concatenate([r.process(c) for c in _chunks(x, rng, 900)] + [r.flush()])
    assert np.abs(streamed[: len(y), 0] - y).max() < 1e-12


def test_resampler_keeps_a_tone_in_place() -> None:
    """A 440 Hz tone at 44.1 kHz is still 440 Hz, in phase, after resampling to 16 kHz."""
    t_in = np.arange(44100) / 44100
    y = resample(np.sin(2 * np.pi * 440 * t_in), 44100, 16000)
    t_out = np.arange(len(y)) / 16000
    assert np.abs(y - np.sin(2 * np.pi * 440 * t_out))[500:-500].max() < 1e-3


def test_savgol_streaming_matches_scipy_and_keeps_times() -> None:
    rng = np.random.default_rng(3)
    x = rng.random((80, 4))
    sm = CurveSmoother(4, SmootherSpec("savgol", window=7, order=2))
    out = [f for i, row in enumerate(x) for f in sm.push(row, i / 60)] + sm.flush()
    y = np.array([f[0] for f in out])
    assert sm.delay_frames == 3
    assert np.allclose([f[1] for f in out], np.arange(80) / 60)
    ref = savgol_filter(x, 7, 2, axis=0)
    assert np.abs(y - ref)[3:-3].max() < 1e-12


def test_per_channel_filters_stay_aligned() -> None:
    x = np.zeros((30, 2))
    x[10:, :] = 1.0  # a step on both channels at frame 10
    sm = CurveSmoother(2, SmootherSpec("savgol", window=9, order=1),
                       {1: SmootherSpec("none")})
    out = [f for i, row in enumerate(x) for f in sm.push(row, float(i))] + sm.flush()
    times = [f[1] for f in out]
    y = np.array([f[0] for f in out])
    assert times == [float(i) for i in range(30)]
    assert y[9, 1] == 0 and y[10, 1] == 1  # unsmoothed channel steps at its own frame


def test_one_euro_reduces_jitter_at_rest_and_follows_moves() -> None:
    rng = np.random.default_rng(4)
    rest = 0.5 + 0.02 * rng.standard_normal(120)
    sm = CurveSmoother(1, SmootherSpec("one_euro", min_cutoff=1.0, beta=0.5))
    y = np.array([sm.push(np.array([v]), i / 60)[0][0][0] for i, v in enumerate(rest)])
    assert np.std(np.diff(y[20:])) < 0.3 * np.std(np.diff(rest[20:]))
    ramp = np.linspace(0, 1, 30)
    sm = CurveSmoother(1, SmootherSpec("one_euro", min_cutoff=1.0, beta=5.0))
    z = np.array([sm.push(np.array([v]), i / 60)[0][0][0] for i, v in enumerate(ramp)])
    assert abs(z[-1] - 1.0) < 0.2


def test_bad_smoother_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="odd"):
        SmootherSpec("savgol", window=4)
    with pytest.raises(ValueError, match="method"):
        SmootherSpec("median")


def test_energy_gate_ignores_steady_noise_and_opens_for_speech() -> None:
    rng = np.random.default_rng(5)
    sr = 16000
    noise = 0.01 * rng.standard_normal(3 * sr)
    t = np.arange(sr) / sr
    burst = 0.3 * np.sin(2 * np.pi * 200 * t) * (1 + np.sin(2 * np.pi * 4 * t))
    x = noise.copy()
    x[sr:2 * sr] += burst
    gate = EnergyGate()
    speech = gate.push(logmel(x))
    assert speech[:100].mean() < 0.05  # first second: noise only
    assert speech[110:190].mean() > 0.9
    assert speech[215:].mean() < 0.05  # silence again after the hangover


def test_relax_gain_reaches_neutral_within_100_ms() -> None:
    g = RelaxGain(fps=60)
    for _ in range(30):
        g.step(True)
    values = [g.step(False) for _ in range(6)]  # 100 ms at 60 fps
    assert values[-1] < 0.05
