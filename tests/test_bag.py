"""Bags with real processes: record a live graph, replay it, survive a SIGKILLed recorder.

A source process publishes Blendshapes and Text whose content is a pure function of the
message index, so every test can check what it got against what was sent, exactly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import facewire_cmd, stop_process

from facewire.bag.reader import BagError, BagReader, read_bag
from facewire.bag.writer import BagWriter
from facewire.bus.transport import Bus
from facewire.messages import Blendshapes, Message, Text

SOURCE = r"""
import sys, time
import numpy as np
from facewire.bus.transport import Bus
from facewire.messages import Blendshapes, Text

count, rate, wait_subs = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
bus = Bus("bag_source")
face = bus.publisher("/face", Blendshapes)
chat = bus.publisher("/chatter", Text)
deadline = time.monotonic() + 10
while face.subscriber_count + chat.subscriber_count < wait_subs and time.monotonic() < deadline:
    bus.process_events()
    time.sleep(0.01)
rng = np.random.default_rng(7)
t0 = time.monotonic()
for i in range(count):
    weights = rng.random(52, dtype=np.float32)
    media_time = 0.5 + i / 60 + 0.001 * (i % 3)
    face.publish(Blendshapes(weights=weights, subject="s1").with_header(
        media_time=media_time, capture_ns=1000 + i))
    chat.publish(Text(text=f"line {i}").with_header(media_time=media_time, capture_ns=1000 + i))
    time.sleep(max(0.0, t0 + (i + 1) / rate - time.monotonic()))
time.sleep(0.3)
bus.close()
"""


def expected(count: int) -> dict[str, list[Message]]:
    """What SOURCE sends, message for message (headers without seq/stamp)."""
    rng = np.random.default_rng(7)
    face, chat = [], []
    for i in range(count):
        weights = rng.random(52, dtype=np.float32)
        media_time = 0.5 + i / 60 + 0.001 * (i % 3)
        face.append(Blendshapes(weights=weights, subject="s1").with_header(
            media_time=media_time, capture_ns=1000 + i))
        chat.append(Text(text=f"line {i}").with_header(media_time=media_time,
                                                       capture_ns=1000 + i))
    return {"/face": face, "/chatter": chat}


def same(a: Message, b: Message) -> bool:
    """Equal content, media_time and capture_ns (seq and stamp_ns are the publisher's)."""
    if type(a) is not type(b) or (a.header.media_time, a.header.capture_ns) != (
            b.header.media_time, b.header.capture_ns):
        return False
    for name in a.SCALARS:
        if getattr(a, name) != getattr(b, name):
            return False
    return all(np.array_equal(getattr(a, n), getattr(b, n)) for n in a.ARRAYS)


def source(count: int, rate: float, wait_subs: int = 0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SOURCE, str(count), str(rate),
                             str(wait_subs)], stderr=subprocess.PIPE, text=True)


def fw(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(facewire_cmd(*args), capture_output=True, text=True, timeout=timeout)


def wait_until(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def subscribed(bus: Bus, topic: str, node: str) -> bool:
    return node in bus.topics().get(topic, {}).get("subscribers", [])


def count_in(path: Path) -> int:
    """Messages readable from a bag that may still be being written."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    try:
        return sum(1 for _ in BagReader(path).records())
    except BagError:
        return 0


@pytest.fixture
def bus(registry: str) -> Iterator[Bus]:
    b = Bus("test_sink")
    yield b
    b.close()


def collect(bus: Bus, topics: list[str], until: Callable[[list], bool],
            timeout_s: float = 15.0) -> list[tuple[str, Message, float]]:
    """Receive (topic, message, arrival time) on the subscriptions until the condition."""
    got: list[tuple[str, Message, float]] = []
    for sub in bus.subscriptions:
        sub.callback = (lambda t: lambda m: got.append((t, m, time.monotonic())))(sub.topic)
    deadline = time.monotonic() + timeout_s
    while not until(got) and time.monotonic() < deadline:
        bus.spin_once(20)
    return got


def test_record_live_graph_and_replay_identically(bus: Bus, tmp_path: Path) -> None:
    path = tmp_path / "live.mcap"
    n = 60
    rec = subprocess.Popen(facewire_cmd("bag", "record", "-o", str(path), "/face", "/chatter"),
                           stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: subscribed(bus, "/face", "bag_record")
                   and subscribed(bus, "/chatter", "bag_record"), 10, "the recorder")
        src = source(n, 100.0)
        assert src.wait(30) == 0, src.stderr.read() if src.stderr else ""
        wait_until(lambda: count_in(path) >= 2 * n, 10, "all messages in the bag")
        rec.send_signal(signal.SIGINT)
        assert rec.wait(10) == 0
    finally:
        stop_process(rec)

    info = BagReader(path).info()
    assert info.complete and info.messages == 2 * n
    assert {t: i.count for t, i in info.topics.items()} == {"/face": n, "/chatter": n}
    assert info.compression == {"zstd"}
    recorded = read_bag(path)
    want = expected(n)
    for topic in want:
        got = [m.msg for m in recorded if m.topic == topic]
        assert len(got) == n and all(same(a, b) for a, b in zip(got, want[topic], strict=True))
        assert [m.header.seq for m in got] == list(range(n))  # recorded as published

    bus.subscribe("/face", Blendshapes)
    bus.subscribe("/chatter", Text)
    player = subprocess.Popen(facewire_cmd("bag", "play", str(path), "--fast",
                                           "--wait-subscribers", "2"),
                              stderr=subprocess.PIPE, text=True)
    try:
        got = collect(bus, ["/face", "/chatter"], lambda g: len(g) >= 2 * n)
        assert player.wait(15) == 0
    finally:
        stop_process(player)
    assert len(got) == 2 * n
    for topic in want:
        replayed = [m for t, m, _ in got if t == topic]
        bagged = [m.msg for m in recorded if m.topic == topic]
        assert all(same(a, b) for a, b in zip(replayed, bagged, strict=True))
        assert [m.header.seq for m in replayed] == list(range(n))


def test_sigkilled_recorder_leaves_a_recoverable_bag(registry: str, tmp_path: Path) -> None:
    path = tmp_path / "killed.mcap"
    rec = subprocess.Popen(facewire_cmd("bag", "record", "--all", "-o", str(path),
                                        "--flush-interval", "0.2"),
                           stderr=subprocess.PIPE, text=True)
    src = source(600, 200.0, wait_subs=2)
    try:
        seen = 0

        def enough() -> bool:
            nonlocal seen
            seen = count_in(path)
            return seen >= 300

        wait_until(enough, 20, "300 messages flushed to the bag")
        rec.send_signal(signal.SIGKILL)
        rec.wait(5)
    finally:
        stop_process(rec)
        stop_process(src)

    res = fw("bag", "info", str(path))
    assert res.returncode == 0, res.stderr
    assert "TRUNCATED" in res.stdout and "Traceback" not in res.stderr
    info = json.loads(fw("bag", "info", "--json", str(path)).stdout)
    assert info["truncated"] and info["messages"] >= seen and info["chunks"] >= 2

    recorded = read_bag(path)
    assert len(recorded) >= seen
    want = expected(600)
    for topic in want:
        got = [m.msg for m in recorded if m.topic == topic]
        first = got[0].header.capture_ns - 1000
        assert first == 0  # the source waited for the recorder
        assert all(same(a, b) for a, b in zip(got, want[topic][first:]))
        assert [m.header.seq for m in got] == list(range(len(got)))

    fixed = tmp_path / "fixed.mcap"
    res = fw("bag", "repair", str(path), str(fixed))
    assert res.returncode == 0, res.stderr
    fixed_info = BagReader(fixed).info()
    assert fixed_info.complete and fixed_info.messages == len(recorded)


BURST = r"""
from facewire.bus.transport import Bus
from facewire.messages import Text
bus = Bus("burst")
pub = bus.publisher("/burst", Text)
for i in range(30):  # at once, without waiting for anybody
    pub.publish(Text(text=f"burst {i}"))
bus.close()
"""


def test_record_all_keeps_the_first_messages_of_later_topics(bus: Bus, tmp_path: Path) -> None:
    """A publisher that appears after `record --all` started and bursts at once, without
    waiting for anybody, still has its first message recorded: the registry makes new
    publishers wait for the watching recorder's subscription."""
    path = tmp_path / "all.mcap"
    rec = subprocess.Popen(facewire_cmd("bag", "record", "--all", "-o", str(path)),
                           stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: any(x["node"] == "bag_record" for x in
                               bus.registry.request({"op": "list"})["nodes"]), 10, "the recorder")
        burst = subprocess.run([sys.executable, "-c", BURST], capture_output=True, text=True,
                               timeout=30)
        assert burst.returncode == 0, burst.stderr
        wait_until(lambda: count_in(path) >= 30, 10, "all messages in the bag")
        rec.send_signal(signal.SIGINT)
        assert rec.wait(10) == 0
    finally:
        stop_process(rec)
    got = [m.msg.text for m in read_bag(path) if m.topic == "/burst"]
    assert got == [f"burst {i}" for i in range(30)]


def synthetic_bag(path: Path, topics: dict[str, int], span_s: float) -> None:
    """Text messages on each topic, evenly spread over span_s of log time."""
    t0 = 1_700_000_000 * 10**9
    with BagWriter(path) as w:
        for topic, n in topics.items():
            for i in range(n):
                msg = Text(text=f"{topic} {i}").with_header(media_time=i * 0.1, capture_ns=i)
                w.write(topic, msg, t0 + int(i * span_s / (n - 1) * 1e9))


@pytest.mark.parametrize("rate,low,high", [(2.0, 0.8, 1.4), (0.5, 3.5, 5.0)])
def test_rate_is_honoured(bus: Bus, tmp_path: Path, rate: float, low: float,
                          high: float) -> None:
    path = tmp_path / "timed.mcap"
    synthetic_bag(path, {"/tick": 41}, span_s=2.0)
    bus.subscribe("/tick", Text)
    player = subprocess.Popen(facewire_cmd("bag", "play", str(path), "--rate", str(rate),
                                           "--wait-subscribers", "1"))
    try:
        got = collect(bus, ["/tick"], lambda g: len(g) >= 41, timeout_s=20)
        assert player.wait(10) == 0
    finally:
        stop_process(player)
    assert len(got) == 41
    span = got[-1][2] - got[0][2]
    assert low < span < high, f"2 s of bag at --rate {rate} took {span:.2f} s"


def test_start_offset_and_topic_selection(bus: Bus, tmp_path: Path) -> None:
    path = tmp_path / "two.mcap"
    synthetic_bag(path, {"/a": 21, "/b": 21}, span_s=2.0)  # one message each 0.1 s
    bus.subscribe("/a", Text)
    bus.subscribe("/b", Text)
    player = subprocess.Popen(facewire_cmd("bag", "play", str(path), "--fast", "--start",
                                           "0.95", "--topics", "/a", "--wait-subscribers", "1"))
    try:
        got = collect(bus, ["/a", "/b"], lambda g: len(g) >= 11)
        assert player.wait(10) == 0
        got += collect(bus, ["/a", "/b"], lambda g: False, timeout_s=0.3)  # nothing more
    finally:
        stop_process(player)
    assert [m.text for _, m, _ in got] == [f"/a {i}" for i in range(10, 21)]
    assert [m.header.media_time for _, m, _ in got] == [i * 0.1 for i in range(10, 21)]

    res = fw("bag", "play", str(path), "--topics", "/nope")
    assert res.returncode == 2 and "no topic '/nope'" in res.stderr


def test_loop_plays_again(bus: Bus, tmp_path: Path) -> None:
    path = tmp_path / "loop.mcap"
    synthetic_bag(path, {"/l": 5}, span_s=0.2)
    bus.subscribe("/l", Text)
    player = subprocess.Popen(facewire_cmd("bag", "play", str(path), "--loop", "--rate", "4",
                                           "--wait-subscribers", "1"))
    try:
        got = collect(bus, ["/l"], lambda g: len(g) >= 12)
        player.send_signal(signal.SIGINT)
        assert player.wait(5) == 0
    finally:
        stop_process(player)
    assert [m.text for _, m, _ in got[:12]] == [f"/l {i % 5}" for i in range(12)]


def test_bag_is_self_describing_and_lz4_works(tmp_path: Path) -> None:
    from mcap.reader import make_reader

    path = tmp_path / "lz4.mcap"
    synthetic_bag(path, {"/x": 3}, span_s=1.0)
    with BagWriter(path, compression="lz4") as w:
        w.write("/x", Blendshapes(weights=np.ones(52, np.float32)), 5)
    with open(path, "rb") as f:
        summary = make_reader(f).get_summary()
    assert summary is not None
    (schema,) = summary.schemas.values()
    (channel,) = summary.channels.values()
    assert schema.encoding == "jsonschema" and json.loads(schema.data)["title"] == "Blendshapes"
    assert channel.message_encoding == "msgpack" and channel.topic == "/x"
    assert BagReader(path).info().compression == {"lz4"}
    (msg,) = read_bag(path)
    assert np.array_equal(msg.msg.weights, np.ones(52, np.float32))


def test_bad_files_give_clear_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mcap"
    garbage.write_bytes(os.urandom(4096))
    empty = tmp_path / "empty.mcap"
    empty.write_bytes(b"")
    for path, words in [(garbage, "not an MCAP file"), (empty, "empty file"),
                        (tmp_path / "missing.mcap", "no such file")]:
        for cmd in (["info"], ["play", "--fast"]):
            res = fw("bag", *cmd, str(path))
            assert res.returncode == 2, (cmd, res.stderr)
            assert words in res.stderr and "Traceback" not in res.stderr

    good = tmp_path / "good.mcap"
    synthetic_bag(good, {"/t": 200}, span_s=1.0)
    data = good.read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(data[: len(data) // 3])  # inside the one chunk: nothing recoverable
    res = fw("bag", "info", str(cut))
    assert res.returncode == 0 and "TRUNCATED" in res.stdout and "Traceback" not in res.stderr
    assert BagReader(cut).info().messages == 0

    corrupt = bytearray(data)
    corrupt[200] ^= 0xFF  # a flipped byte inside the compressed chunk
    bad = tmp_path / "corrupt.mcap"
    bad.write_bytes(bytes(corrupt))
    reader = BagReader(bad)
    assert list(reader.records()) == [] and "unreadable data" in reader.problem


def test_writer_refuses_unknown_compression(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="compression"):
        BagWriter(tmp_path / "x.mcap", compression="gzip")


def test_recorder_is_an_ordinary_node_in_process(tmp_path: Path) -> None:
    """The recorder runs in-process like any node: a named topic, and with no topics every
    topic a publisher appears on (the relay's output, the fed input), each a new port."""
    from facewire.bag.recorder import Recorder
    from facewire.nodes.testing import Relay
    from facewire.testing import run_graph

    named, every = tmp_path / "named.mcap", tmp_path / "all.mcap"
    relay = Relay(params={"prefix": "r:"}, remaps={"input": "/in", "output": "/out"})
    run_graph([relay, Recorder(name="a", params={"path": str(named), "topics": ("in",)}),
               Recorder(name="b", params={"path": str(every)})],
              {"/in": [Text(text=f"{i}") for i in range(3)]})
    assert [(m.topic, m.msg.text) for m in read_bag(named)] == [("/in", f"{i}") for i in range(3)]
    assert sorted((m.topic, m.msg.text) for m in read_bag(every)) == [
        *[("/in", f"{i}") for i in range(3)], *[("/out", f"r:{i}") for i in range(3)]]


def test_node_list_shows_recorder_and_player_with_counters(bus: Bus, registry: str,
                                                           tmp_path: Path) -> None:
    from live_helpers import node_counters

    path, out = tmp_path / "loop.mcap", tmp_path / "out.mcap"
    synthetic_bag(path, {"/l": 5}, span_s=0.2)
    rec = subprocess.Popen(facewire_cmd("bag", "record", "/l", "-o", str(out)))
    player = subprocess.Popen(facewire_cmd("bag", "play", str(path), "--loop",
                                           "--wait-subscribers", "1"))
    try:
        wait_until(lambda: node_counters(registry, "bag_record", 0.2).get("written", 0) > 0,
                   20, "the recorder's counters")
        wait_until(lambda: node_counters(registry, "bag_play", 0.2).get("played", 0) > 0,
                   20, "the player's counters")
        listed = fw("node", "list")
        assert listed.returncode == 0 and "bag_record" in listed.stdout
        assert "bag_play" in listed.stdout
    finally:
        for proc in (player, rec):
            proc.send_signal(signal.SIGINT)
        assert player.wait(10) == 0 and rec.wait(10) == 0
    assert count_in(out) > 0
