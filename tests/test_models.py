"""Blendshape networks, frame-rate conversion and model cards (fast, no training)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facewire.models.blendshape_nets import ARCHS, build, stream_in_chunks
from facewire.models.card import CardError, read_card, validate_card
from facewire.models.framerate import (
    StreamingResampler,
    interpolation_delay,
    n_output_frames,
    resample,
)
from facewire.rig.arkit import ARKIT_52, ARKIT_INDEX, LOWER_FACE

SMALL = {"ff": {"window": 6, "hidden": 12, "mlp": 16},
         "s2s": {"hidden": 12, "mlp": 16},
         "cnn_gru": {"freq_channels": (4, 4), "time_channels": 8, "hidden": 12, "seal": True}}


def small(arch: str, **kw: object):
    torch.manual_seed(0)
    return build(arch, n_feats=20, outputs=LOWER_FACE, pad_value=-5.0, **SMALL[arch], **kw)


@pytest.mark.parametrize("arch", ARCHS)
def test_output_is_52_curves_with_the_subset_only(arch: str) -> None:
    net = small(arch).eval()
    with torch.no_grad():
        y = net(torch.randn(2, 23, 20))
    assert y.shape == (2, 23, 52)
    upper = [ARKIT_INDEX[n] for n in ARKIT_52 if n not in LOWER_FACE]
    assert torch.all(y[..., upper] == 0)
    assert float(y.min()) >= 0 and float(y.max()) <= 1  # clipped at inference


@pytest.mark.parametrize("arch", ["ff", "cnn_gru"])
def test_streaming_equals_whole_sequence_in_any_chunks(arch: str) -> None:
    net = small(arch).eval()
    x = torch.randn(1, 61, 20)
    with torch.no_grad():
        whole = net(x)
        for sizes in ([1] * 61, [7, 0, 13, 41], [61]):
            assert torch.allclose(stream_in_chunks(net, x, sizes), whole, atol=1e-5)


@pytest.mark.parametrize("arch", ["ff", "cnn_gru"])
def test_streaming_archs_use_no_future_audio(arch: str) -> None:
    net = small(arch).train()  # no clipping: any leak would show
    x = torch.randn(1, 40, 20)
    x2 = x.clone()
    x2[:, 25:] += 3.0
    with torch.no_grad():
        a, b = net(x), net(x2)
    assert torch.allclose(a[:, :25], b[:, :25])
    assert not torch.allclose(a[:, 25:], b[:, 25:])


def test_s2s_sees_the_whole_utterance_and_has_no_stream() -> None:
    net = small("s2s").train()
    x = torch.randn(1, 30, 20)
    x2 = x.clone()
    x2[:, 20:] += 3.0
    with torch.no_grad():
        assert not torch.allclose(net(x)[:, :5], net(x2)[:, :5])
    with pytest.raises(NotImplementedError, match="offline"):
        net.forward_stream(x)


def test_build_rejects_unknown_arch_and_names() -> None:
    with pytest.raises(ValueError, match="cnn_gru"):
        build("transformer", n_feats=10)
    with pytest.raises(ValueError, match="jawOpne"):
        build("ff", n_feats=10, outputs=("jawOpne",))


def test_rebuild_from_config_gives_same_network() -> None:
    net = small("cnn_gru", lookahead=3)
    net2 = build("cnn_gru", **net.config())
    net2.load_state_dict(net.state_dict())
    x = torch.randn(1, 9, 20)
    assert torch.equal(net.eval()(x), net2.eval()(x))


# --- frame rate ----------------------------------------------------------------------------


def test_resample_linear_at_frame_times() -> None:
    src = np.arange(10, dtype=np.float32)[:, None]  # value = source index
    out = resample(src, 100.0, 60.0, t0=0.01)
    # frame k at k/60 s -> source position k*5/3 - 1 (clamped at 0)
    expect = np.maximum(np.arange(len(out)) * 5 / 3 - 1, 0)
    assert np.allclose(out[:, 0], expect, atol=1e-6)
    assert len(out) == 7  # position 9 (k=6) is the last one 10 frames determine


@pytest.mark.parametrize("fps", [60.0, 30.0])
def test_streaming_resampler_equals_offline(fps: float) -> None:
    rng = np.random.default_rng(1)
    x = rng.random((203, 4)).astype(np.float32)
    rs = StreamingResampler(100.0, fps, 0.01)
    outs, t = [], 0
    while t < len(x):
        n = int(rng.integers(0, 9))
        outs.append(rs.push(x[t:t + n]))
        t += n
    assert np.array_equal(np.concatenate(outs), resample(x, 100.0, fps, 0.01))


def test_frame_counts_and_delay() -> None:
    assert n_output_frames(0, 100, 60, 0.01) == 0
    assert n_output_frames(101, 100, 60, 0.01) == 61  # 1 s of frames -> 0..60
    assert interpolation_delay(100, 60, 0.01) == pytest.approx(2 / 300, abs=1e-6)
    assert interpolation_delay(100, 50, 0.0) == pytest.approx(0.0)


# --- cards ---------------------------------------------------------------------------------


def test_card_errors_name_file_and_field(tmp_path) -> None:
    with pytest.raises(CardError, match="not found"):
        read_card(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CardError, match="bad.json: corrupt"):
        read_card(bad)
    with pytest.raises(CardError, match="lacks .*io"):
        validate_card({"format": "facewire-model-card", "version": 1, "architecture": "ff",
                       "streaming": True, "onnx": "x.onnx", "features": {}, "fps": 60,
                       "lookahead_frames": 0, "outputs": []}, "c.json")


def test_seal_makes_mouth_close_a_share_of_jaw_open() -> None:
    net = small("cnn_gru").eval()
    assert net.seal and net.config()["seal"]
    with torch.no_grad():
        y = net(torch.randn(1, 30, 20) * 4)
    close, jaw = y[0, :, ARKIT_INDEX["mouthClose"]], y[0, :, ARKIT_INDEX["jawOpen"]]
    assert torch.all(close <= jaw + 1e-7)
    assert not small("ff").seal  # off unless asked


def test_shipped_cards_rebuild_commands_parse() -> None:
    """Every ``facewire`` step of a shipped card's ``command.rebuild`` is accepted by today's
    command line, so a renamed or removed flag cannot leave a card that no longer rebuilds."""
    import json
    import shlex
    from pathlib import Path

    from facewire.cli import build_parser

    parser = build_parser()
    weights = Path(__file__).resolve().parent.parent / "facewire" / "models" / "weights"
    steps = [line for card in sorted(weights.glob("*.json"))
             for line in json.loads(card.read_text())["command"].get("rebuild", [])
             if line.startswith("facewire ")]
    assert len(steps) >= 10  # the two blendshape models' chains at least
    for line in steps:
        try:
            parser.parse_args(shlex.split(line)[1:])
        except SystemExit:
            pytest.fail(f"card rebuild step no longer parses: {line}")
