"""The offline graph's fast paths give what the plain code they replaced gave.

Each test keeps the straightforward version (a per-frame loop, csv.writer, a message built
through __init__) as the reference and compares the fast one with it on inputs that reach
its corners: silence, chunk boundaries, -0.0, NaN, overridden channels.
"""

from __future__ import annotations

import csv
import dataclasses
import io

import numpy as np
import pytest

from facewire.bridges.livelink_csv import HEADER, write_livelink_csv
from facewire.dsp.smoothing import CurveSmoother, SmootherSpec
from facewire.messages.base import Header
from facewire.messages.types import Blendshapes
from facewire.models.logmel import LogMelConfig, StreamingLogMel, logmel, mel_filterbank
from facewire.models.speaker_norm import SpeakerNormaliser, SpeakerNormConfig


def reference_speaker_norm(norm: SpeakerNormaliser, frames: np.ndarray) -> np.ndarray:
    """The per-frame loop SpeakerNormaliser.__call__ used to be."""
    x = np.asarray(frames, np.float64)
    out = np.empty_like(x)
    cfg = norm.cfg
    for t, frame in enumerate(x):
        energy = float(frame.mean())
        norm.loudest = max(norm.loudest, energy)
        if energy > cfg.floor and energy > norm.loudest - norm._gate:
            norm.count += 1
            rate = max(1.0 / (cfg.n0 + norm.count), 1.0 / cfg.horizon)
            norm.mean += rate * (frame - norm.mean)
        out[t] = frame - norm.mean + norm.prior
    return out.astype(np.float32)


def test_speaker_norm_equals_the_per_frame_loop_across_chunks() -> None:
    rng = np.random.default_rng(0)
    cfg = SpeakerNormConfig(prior=tuple(np.linspace(-8.0, -10.0, 80)), floor=-12.0,
                            horizon=50.0)
    speech = rng.normal(-7.0, 2.0, (300, 80))
    quiet = np.full((60, 80), -13.8)  # under the floor: the mean must hold still
    soft = rng.normal(-11.5, 0.3, (40, 80))  # above the floor, under the gate
    x = np.concatenate([quiet, speech[:150], soft, quiet, speech[150:]])
    fast, slow = SpeakerNormaliser(cfg), SpeakerNormaliser(cfg)
    bounds = (0, 1, 1, 61, 200, 201, 330, 460, len(x))
    for a, b in zip(bounds[:-1], bounds[1:]):
        np.testing.assert_array_equal(fast(x[a:b]), reference_speaker_norm(slow, x[a:b]))
    assert fast.count == slow.count > 0 and fast.loudest == slow.loudest
    np.testing.assert_array_equal(fast.mean, slow.mean)


def reference_logmel_stream(cfg: LogMelConfig, chunks: list[np.ndarray]) -> np.ndarray:
    """StreamingLogMel.process as it was: fancy-indexed frames, a fresh filterbank."""
    window = np.hanning(cfg.n_fft + 1)[:-1]
    bank = mel_filterbank(cfg)
    buf = np.zeros(cfg.n_fft - cfg.hop - cfg.lookahead)
    out = []
    for chunk in chunks:
        buf = np.concatenate([buf, np.asarray(chunk, np.float64)])
        n = 0 if buf.size < cfg.n_fft else 1 + (buf.size - cfg.n_fft) // cfg.hop
        if n:
            idx = np.arange(cfg.n_fft)[None, :] + cfg.hop * np.arange(n)[:, None]
            power = np.abs(np.fft.rfft(buf[idx] * window, axis=1)) ** 2
            out.append(np.log(np.maximum(power @ bank.T, cfg.floor)).astype(np.float32))
            buf = buf[n * cfg.hop:]
    return np.concatenate(out)


@pytest.mark.parametrize("cfg", [LogMelConfig(), LogMelConfig(lookahead=160, n_mels=40)])
def test_streaming_logmel_equals_the_plain_framing(cfg: LogMelConfig) -> None:
    signal = (0.1 * np.random.default_rng(1).standard_normal(40000)).astype(np.float32)
    bounds = (0, 100, 16000, 16001, 32000, 40000)
    chunks = [signal[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    stream = StreamingLogMel(cfg)
    fast = np.concatenate([stream.process(c) for c in chunks])
    # a BLAS may sum in another order for a contiguous matrix: equal to float32 rounding
    np.testing.assert_allclose(fast, reference_logmel_stream(cfg, chunks), rtol=0, atol=1e-5)
    np.testing.assert_allclose(logmel(signal, cfg)[: len(fast)], fast, rtol=0, atol=1e-5)
    assert not stream.bank_t.flags.writeable  # shared between streams: nobody may edit it


def test_one_group_smoother_equals_the_split_channel_path() -> None:
    rng = np.random.default_rng(2)
    frames = rng.uniform(-0.1, 1.1, (40, 6))
    for spec in (SmootherSpec("savgol", window=7, order=2), SmootherSpec("one_euro"),
                 SmootherSpec("none")):
        # channel 2 gets a spec that filters the same (it differs in a field this method
        # does not read) but makes a second group: the split-and-join path
        unused = {"window": 9} if spec.method == "one_euro" else {"d_cutoff": 2.0}
        split = CurveSmoother(6, spec, {2: dataclasses.replace(spec, **unused)})
        whole = CurveSmoother(6, spec)
        assert len(split.groups) == 2 and len(whole.groups) == 1
        a = [out for i, f in enumerate(frames) for out in whole.push(f, i / 60)] + whole.flush()
        b = [out for i, f in enumerate(frames) for out in split.push(f, i / 60)] + split.flush()
        assert [t for _, t in a] == [t for _, t in b] and len(a) == len(frames)
        # a matrix product over 1 or 5 columns may round differently in the last bit
        np.testing.assert_allclose(np.stack([v for v, _ in a]), np.stack([v for v, _ in b]),
                                   rtol=0, atol=1e-12)
    values = np.linspace(0.0, 1.0, 6)  # float64 in: the smoother must not keep the caller's
    out = CurveSmoother(6, SmootherSpec("none")).push(values, 0.0)[0][0]
    values[:] = 5.0
    assert out.max() <= 1.0


def reference_csv(weights: np.ndarray, times: np.ndarray, rotations: np.ndarray) -> str:
    """write_livelink_csv's rows as csv.writer wrote them (order and clamping as the writer's)."""
    from facewire.bridges.livelink_csv import CSV_COLUMNS, ROTATION_NAMES, format_timecode
    from facewire.rig.arkit import ARKIT_INDEX, camel_case

    shapes = np.clip(np.nan_to_num(weights, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    rots = np.clip(np.nan_to_num(rotations / 180.0, nan=0.0), -1.0, 1.0)
    table = np.concatenate([shapes, rots], axis=1)
    table = table[:, [ARKIT_INDEX[camel_case(c)] if c not in ROTATION_NAMES
                      else 52 + ROTATION_NAMES.index(c) for c in CSV_COLUMNS]]
    f = io.StringIO()
    out = csv.writer(f, lineterminator="\n")
    out.writerow(HEADER)
    for t, row in zip(times.tolist(), table.tolist()):
        out.writerow([format_timecode(t), str(len(CSV_COLUMNS)),
                      *("0" if v == 0 else f"{v:.8g}" for v in row)])
    return f.getvalue()


def test_csv_rows_equal_what_csv_writer_wrote(tmp_path) -> None:
    rng = np.random.default_rng(3)
    w = rng.uniform(-0.2, 1.2, (90, 52))
    w[w < 0.15] = 0.0
    w[3, 4], w[5, 6], w[7, 8], w[9, 10] = -0.0, np.nan, np.inf, 1e-9
    w[20:30] = 0.0  # a silent stretch
    r = rng.uniform(-200.0, 200.0, (90, 9))
    r[0] = -0.0
    times = np.arange(90) / 30 + 3599.99
    f = io.StringIO()
    write_livelink_csv(f, w, times=times, rotations=r)
    assert f.getvalue() == reference_csv(w, times, r)
    assert ",-0," not in f.getvalue() and ",-0\n" not in f.getvalue()
    path = tmp_path / "take.csv"
    write_livelink_csv(path, w, fps=30)
    assert path.read_bytes().decode() == reference_csv(w, np.arange(90) / 30, np.zeros((90, 9)))


def test_message_copies_equal_messages_built_through_init() -> None:
    w = np.arange(52, dtype=np.float32)
    proto = Blendshapes(weights=np.zeros(52, np.float32), fps=30.0, subject="ada")
    copy = proto.with_fields(weights=w, header=Header(0, 0, 1.5, 7))
    built = Blendshapes(weights=w, fps=30.0, subject="ada", header=Header(0, 0, 1.5, 7))
    assert copy.__dict__.keys() == built.__dict__.keys()
    assert all(copy.__dict__[k] is built.__dict__[k] or copy.__dict__[k] == built.__dict__[k]
               for k in built.__dict__)
    assert copy.weights is w and copy.fps == 30.0 and copy.header == Header(0, 0, 1.5, 7)
    assert proto.header == Header() and not proto.weights.any()  # the prototype is untouched
    stamped = copy.stamped(4, 99)
    assert stamped.header == copy.with_header(seq=4, stamp_ns=99).header == Header(4, 99, 1.5, 7)
    assert copy.header == Header(0, 0, 1.5, 7) and stamped.subject == "ada"
    with pytest.raises(TypeError, match="no field 'weight'"):
        proto.with_fields(weight=w)
    with pytest.raises(TypeError, match="no field 'sequence'"):
        proto.with_header(sequence=1)
