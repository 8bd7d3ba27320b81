"""``facewire preview``: playable MP4s of the right length with audio, side by side from a bag,
clear errors for inputs that do not fit, and lips that visibly close on p/b/m."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from facewire.cli import main
from facewire.messages.base import Header
from facewire.messages.types import AudioChunk, Blendshapes, MeshDeform
from facewire.rig.arkit import ARKIT_INDEX
from facewire.rig.rig import Rig
from tests.test_rig import write_npz_rig

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                                reason="needs Debian's ffmpeg (apt-get install ffmpeg)")

FPS = 30.0
RATE = 16000


def probe(path: Path) -> dict:
    from facewire.preview.video import probe as ffprobe

    info = ffprobe(path)
    streams = {s["codec_type"]: s for s in info["streams"]}
    return {"duration": float(info["format"]["duration"]), **streams}


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def assert_playable(path: Path, seconds: float, width: int, height: int, audio: bool) -> None:
    info = probe(path)
    v = info["video"]
    assert v["codec_name"] == "h264" and v["pix_fmt"] == "yuv420p"
    assert (v["width"], v["height"]) == (width, height)
    assert int(v["nb_read_frames"]) == round(seconds * FPS)
    assert abs(float(v["duration"]) - seconds) <= 1 / FPS
    assert abs(info["duration"] - seconds) <= 1 / FPS
    assert ("audio" in info) == audio
    if audio:
        assert info["audio"]["codec_name"] == "aac"
        assert abs(float(info["audio"]["duration"]) - seconds) <= 1 / FPS


@pytest.fixture
def tiny_rig(tmp_path) -> Path:
    path = tmp_path / "tiny.npz"
    write_npz_rig(path)
    return path


def test_weights_npz_with_wav_makes_a_playable_mp4(tmp_path, tiny_rig, capsys):
    import soundfile as sf

    n = 60  # 1 s at 60 fps
    w = np.zeros((n, 52), np.float32)
    w[:, ARKIT_INDEX["jawOpen"]] = np.linspace(0, 1, n)
    np.savez(tmp_path / "take.npz", weights=w, times=np.arange(n) / 60.0, fps=60.0)
    sf.write(tmp_path / "take.wav", tone(1.0), RATE)
    out = tmp_path / "take.mp4"
    assert main(["preview", "--weights", str(tmp_path / "take.npz"), "--audio",
                 str(tmp_path / "take.wav"), "--rig", str(tiny_rig), "--size", "96",
                 "--fps", "30", "--out", str(out)]) == 0
    assert "30 frames (1.00 s at 30 fps" in capsys.readouterr().out
    assert_playable(out, 1.0, 96, 96, audio=True)


def write_bag(path: Path, rig: Rig, seconds: float, deform_vertices: int | None = None) -> None:
    from facewire.bag.writer import BagWriter

    n = int(seconds * 60)
    v = deform_vertices or rig.n_vertices
    with BagWriter(path) as bag:
        audio = tone(seconds)
        for k in range(0, len(audio), 1600):
            bag.write("/audio", AudioChunk(samples=audio[k:k + 1600, None],
                                           header=Header(media_time=k / RATE)))
        for i in range(n):
            w = np.zeros(52, np.float32)
            w[ARKIT_INDEX["jawOpen"]] = i / n
            h = Header(seq=i, media_time=i / 60)
            bag.write("/blendshapes", Blendshapes(weights=w, header=h))
            d = np.zeros((v, 3), np.float32)
            d[:, 2] = 0.1 * i / n
            bag.write("/mesh_deform", MeshDeform(displacements=d, rig=rig.name, header=h))


def test_side_by_side_from_a_bag_with_its_audio(tmp_path, tiny_rig):
    rig = Rig.load(tiny_rig)
    write_bag(tmp_path / "take.mcap", rig, 1.0)
    out = tmp_path / "sbs.mp4"
    assert main(["preview", "--bag", str(tmp_path / "take.mcap"), "--side-by-side",
                 "--rig", str(tiny_rig), "--size", "96x64", "--out", str(out)]) == 0
    assert_playable(out, 1.0, 192, 64, audio=True)


def test_inputs_that_do_not_fit_are_clear_errors(tmp_path, tiny_rig, capsys):
    rig = Rig.load(tiny_rig)
    write_bag(tmp_path / "wrong.mcap", rig, 0.2, deform_vertices=5023)
    args = ["--rig", str(tiny_rig), "--size", "32", "--out", str(tmp_path / "x.mp4")]
    assert main(["preview", "--bag", str(tmp_path / "wrong.mcap"), "--side-by-side",
                 *args]) == 2
    assert "MeshDeform has 5023 vertices, rig tiny has 70" in capsys.readouterr().err
    w = np.zeros((3, 52), np.float32)
    np.savez(tmp_path / "w.npz", weights=w)
    assert main(["preview", "--weights", str(tmp_path / "w.npz"), "--side-by-side", *args]) == 2
    assert "--side-by-side needs a Blendshapes track and a MeshDeform track" in \
        capsys.readouterr().err
    np.savez(tmp_path / "odd.npz", curves=w)
    assert main(["preview", "--weights", str(tmp_path / "odd.npz"), *args]) == 2
    assert "needs a 'weights' [T, 52] or 'displacements'" in capsys.readouterr().err
    assert main(["preview", "--weights", str(tmp_path / "w.npz"), "--rig", str(tiny_rig),
                 "--size", "33"]) == 2
    assert "even numbers" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()


def test_a_displaced_vertex_shows_where_it_is_drawn(tiny_rig):
    """The rasteriser draws the grid where the camera puts it, and moving a vertex changes
    exactly the pixels around it."""
    from facewire.preview.render import FaceRenderer, View

    rig = Rig.load(tiny_rig)
    r = FaceRenderer(rig, 64, 64, View(yaw=0, pitch=0, margin=0.1))
    base = r.render(rig.neutral)
    bg = r._background[0, 0] * 255
    assert np.abs(base[32, 32] - bg).max() > 30  # the grid covers the middle
    assert np.abs(base[1, 1] - bg).max() < 3  # and not the margin
    moved = rig.neutral.copy()
    moved[34, 2] += 3.0  # push one inner vertex towards the camera: its fan is shaded anew
    diff = np.abs(r.render(moved).astype(int) - base).max(axis=2) > 8
    ys, xs = np.nonzero(diff)
    x, y = r.project(rig.neutral)[34, :2]
    assert len(ys) and abs(xs.mean() - x) < 4 and abs(ys.mean() - y) < 4


def test_lips_close_on_p_b_m_and_open_on_vowels(shared_dir):
    """Render the teacher's curves for a p-a-m-a phrase and measure the dark mouth gap in a
    front crop of the mouth: none on /p/ and /m/, plenty on /aa/."""
    from facewire.phones.teacher import phones_to_curves
    from facewire.preview.render import FaceRenderer, View
    from facewire.preview.tracks import WEIGHTS, Track

    rig = Rig.load(shared_dir / "assets" / "ict_facekit.npz")
    phones = [("SIL", 0, 0.2), ("P", 0.2, 0.3), ("AA", 0.3, 0.5), ("M", 0.5, 0.6),
              ("AA", 0.6, 0.8), ("SIL", 0.8, 1.0)]
    w = phones_to_curves(phones, n_frames=66)
    track = Track("teacher", WEIGHTS, np.arange(len(w)) / 60.0, w)
    r = FaceRenderer(rig, 96, 96, View(yaw=0, pitch=0, focus="mouth"))

    lips = r.project(rig.neutral)[np.searchsorted(r.vertex_index, rig.landmarks68[48:68])]
    (x0, y0), (x1, y1) = lips[:, :2].min(axis=0).astype(int), lips[:, :2].max(axis=0).astype(int)

    def gap(t: float) -> int:
        """Dark (shadowed mouth inside) pixels between the neutral lips' corners and edges."""
        img = r.render(track.vertices(rig, t)).astype(np.float32) / 255
        return int((img[y0:y1 + 1, x0:x1 + 1].mean(axis=2) < 0.2).sum())

    closed = [gap(t) for t in (0.25, 0.55)]
    opened = [gap(t) for t in (0.40, 0.70)]
    assert max(closed) <= 10, closed  # the rest pose, lips barely parted, has ~20
    assert min(opened) > 100, opened
