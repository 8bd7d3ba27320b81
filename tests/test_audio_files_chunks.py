"""facewire.audio without a node: a file handed out in blocks, blocks cut into chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from facewire.audio.chunks import Chunker
from facewire.audio.files import FileBlocks


def test_file_blocks_hand_out_what_is_due_and_say_when_the_file_ran_out(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    data = np.arange(1050, dtype=np.float32)[:, None] / 2048
    sf.write(path, data, 8000, subtype="FLOAT")
    f = FileBlocks(str(path), block_ms=25.0)  # 200 samples a block
    assert f.block == 200 and f.rate == 8000 and f.duration == 1050 / 8000
    assert [len(b) for b in f.take(450, whole=True)] == [200, 200]  # the third is not all due
    assert [len(b) for b in f.take(450, whole=False)] == [200]  # reaches past 450
    assert not f.at_end
    got = list(f.take(10_000, whole=True))
    assert [len(b) for b in got] == [200, 200, 50] and f.at_end  # the short last block, then the end
    assert np.array_equal(np.concatenate(got), data[600:])
    f.rewind()
    assert not f.at_end and np.array_equal(next(f.take(200, whole=True)), data[:200])


def test_a_block_the_caller_failed_on_comes_again(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, np.zeros((800, 1), np.float32), 8000)
    f = FileBlocks(str(path), block_ms=25.0)
    for _ in f.take(800, whole=True):
        break  # the caller stopped (raised) while handling the first block
    assert f.pos == 0


def test_chunker_places_chunks_from_its_anchor_or_the_completing_block() -> None:
    c = Chunker(16000, 160)
    rng = np.random.default_rng(0)
    chunks = c.push(rng.standard_normal((250, 2)).astype(np.float32), 16000, 777)
    assert [(len(s), start, ns) for s, start, ns in chunks] == [(160, 0, 777)]  # no anchor
    assert c.samples_in == 250
    c.anchor = (250, 10**9)  # the next block's first sample entered at 1 s
    chunks = c.push(rng.standard_normal(300).astype(np.float32), 16000, 5)
    assert [(start, ns) for _, start, ns in chunks] == [
        (160, 10**9 - 90 * 62_500), (320, 10**9 + 70 * 62_500)]


def test_chunker_finish_ends_at_the_sources_length_padded_or_short() -> None:
    for pad, sizes in ((True, [160, 160, 160]), (False, [160, 160, 150])):
        c = Chunker(16000, 160)
        x = np.ones(470 * 3, np.float32)  # 470 samples' worth at 48 kHz
        got = c.push(x, 48000, 0) + c.finish(48000, len(x), pad, 0)
        assert [len(s) for s, _, _ in got] == sizes
        assert [start for _, start, _ in got] == [0, 160, 320]
        if pad:
            assert np.all(got[-1][0][-10:] == 0)  # silence after the file's 470 samples
