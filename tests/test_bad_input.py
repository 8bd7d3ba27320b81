"""Bad input sent to a RUNNING node's input by a raw ZeroMQ publisher that advertises
itself in the registry like a facewire Publisher. The node must keep running, count the
drop by cause (``drop.<port>.<cause>`` in ``node list``), log it once, and still take the
good messages that follow."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
import zmq
from bus_helpers import find_node, read_lines, start_node, wait_running, wait_until
from conftest import stop_process

from facewire.bus.addresses import new_ipc_endpoint
from facewire.bus.client import RegistryClient
from facewire.bus.transport import wire_prefix
from facewire.messages import Blendshapes, Landmarks, Text, encode_frames

HUNDRED_MB = 100 * 1024 * 1024


class RawPublisher:
    """An XPUB socket announced in the registry; sends whatever frames it is given."""

    def __init__(self, registry: str, topic: str, type_name: str) -> None:
        self.ctx = zmq.Context()
        self.topic = topic
        self.pub_id = uuid.uuid4().hex[:12].encode()
        self.sock = self.ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.endpoint = new_ipc_endpoint("raw")
        self.sock.bind(self.endpoint)
        self.client = RegistryClient(self.ctx, "rawpub", registry)
        self.client.request({"op": "advertise", "topic": topic, "type": type_name,
                             "endpoint": self.endpoint, "pub_id": self.pub_id.decode()})

    def wait_subscribed(self, timeout_s: float = 10.0) -> None:
        """Until the node's SUB socket has connected and subscribed to our topic."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.sock.poll(100) and self.sock.recv() == b"\x01" + wire_prefix(self.topic):
                return
        raise AssertionError("the node never subscribed to the raw publisher")

    def send(self, frames: list[Any]) -> None:
        """frames: [meta, *arrays] as encode_frames gives them; the wire puts the topic,
        a NUL and the publisher id in front of the meta frame."""
        head = wire_prefix(self.topic) + self.pub_id + (bytes(frames[0]) if frames else b"")
        self.sock.send_multipart([head, *frames[1:]])

    def close(self) -> None:
        self.client.close()
        self.sock.close()
        self.ctx.term()


def frames_of(msg: Any) -> list[bytes]:
    return [bytes(memoryview(f)) for f in encode_frames(msg)]


def with_meta(frames: list[bytes], **changes: Any) -> list[bytes]:
    meta = msgpack.unpackb(frames[0])
    meta.update(changes)
    return [msgpack.packb(meta), *frames[1:]]


def text(t: str = "x") -> list[bytes]:
    return frames_of(Text(text=t))


def landmarks(fill: float = 1.0) -> list[bytes]:
    return frames_of(Landmarks(displacements=np.full((68, 3), fill, np.float32)))


def nan_landmarks() -> list[bytes]:
    arr = np.zeros((68, 3), np.float32)
    arr[10, 2] = np.nan
    return frames_of(Landmarks(displacements=arr))


def oversize_text() -> list[bytes]:
    return [msgpack.packb({**msgpack.unpackb(text()[0]), "s": {"text": "x" * HUNDRED_MB}})]


@dataclass(frozen=True)
class Case:
    node: str  # node type, see facewire/nodes/testing.py
    type_name: str  # what the raw publisher advertises
    bad: Callable[[], list[Any]]  # [meta, *arrays], sent after the topic and publisher id
    cause: str


CASES = {
    "garbage_bytes": Case("sink", "Text", lambda: [b"\x00\xff\xfe not msgpack at all"],
                          "garbage"),
    "header_with_infinity": Case(
        "sink", "Text", lambda: with_meta(text(), h=[float("inf"), 0, 0.0, 0]), "garbage"),
    "truncated_no_meta": Case("sink", "Text", lambda: [], "truncated"),
    "truncated_missing_array": Case("array_sink", "Landmarks", lambda: landmarks()[:1],
                                    "truncated"),
    "unknown_type_name": Case("sink", "Text", lambda: with_meta(text(), t="NoSuchType"),
                              "unknown_type"),
    "registered_but_wrong_type": Case(
        "sink", "Text", lambda: frames_of(Blendshapes(weights=np.zeros(52, np.float32))),
        "type_mismatch"),
    "wrong_dtype": Case(
        "array_sink", "Landmarks",
        lambda: [with_meta(landmarks(), a=[["displacements", "float64", [68, 3]]])[0],
                 np.zeros((68, 3), np.float64).tobytes()], "dtype"),
    "wrong_shape": Case(
        "array_sink", "Landmarks",
        lambda: with_meta(landmarks(), a=[["displacements", "float32", [34, 6]]]), "shape"),
    "nan_in_finite_field": Case("array_sink", "Landmarks", nan_landmarks, "non_finite"),
    "payload_100mb": Case("sink", "Text", oversize_text, "oversize"),
}

TOPIC = "/victim_in"


@pytest.fixture
def victim(request: pytest.FixtureRequest, registry: str,
           tmp_path: Path) -> Iterator[tuple[Case, Any, Path, Path]]:
    case: Case = CASES[request.param]
    out, log = tmp_path / "received.jsonl", tmp_path / "node.log"
    proc = start_node(case.node, "--name", "victim", "--remap", f"input={TOPIC}",
                      "--param", f"path={out}", log=log)
    try:
        wait_running(registry, "victim", proc)
        raw = RawPublisher(registry, TOPIC, case.type_name)
        try:
            raw.wait_subscribed()
            yield case, (raw, proc), out, log
        finally:
            raw.close()
    finally:
        stop_process(proc)


@pytest.mark.parametrize("victim", sorted(CASES), indirect=True)
def test_bad_message_is_dropped_counted_logged_once(victim: tuple, registry: str) -> None:
    case, (raw, proc), out, log = victim
    good = text("good") if case.node == "sink" else landmarks(2.0)
    raw.send(good)  # the path works before the bad input ...
    raw.send(case.bad())
    raw.send(case.bad())
    raw.send(good)  # ... and after it
    wait_until(lambda: len(read_lines(out)) >= 2, 15, "the good messages after the bad ones")
    lines = read_lines(out)
    assert len(lines) == 2  # exactly the good ones
    if case.node == "sink":
        assert [r["text"] for r in lines] == ["good", "good"]
    else:
        assert [r["sum"] for r in lines] == [2.0 * 68 * 3] * 2

    key = f"drop.input.{case.cause}"
    node = wait_until(lambda: (lambda n: n if n and n["counters"].get(key, 0) >= 2 else None)(
        find_node(registry, "victim")), 10, f"counter {key}")
    assert node["counters"][key] == 2
    assert node["state"] == "running"
    assert proc.poll() is None, "the node died"
    drops = {k: v for k, v in node["counters"].items() if k.startswith("drop.")}
    assert drops == {key: 2}, drops

    logged = [line for line in log.read_text().splitlines() if "dropped a message" in line]
    assert len(logged) == 1, logged  # once per cause, further ones only counted
    assert "Traceback" not in log.read_text()
