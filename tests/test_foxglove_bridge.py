"""The live Foxglove bridge, as a real node process, read by a real WebSocket client that
speaks Foxglove's protocol: advertise, subscribe, binary messageData frames; the 3D face
decoded with the protobuf schema the server advertises.

foxglove-sdk 0.30 names the protocol ``foxglove.sdk.v1`` and refuses a client that offers
only ``foxglove.websocket.v1`` (HTTP 400); the ops used here (serverInfo, advertise,
subscribe, binary messageData) are those of the v1 spec. The client offers both names and
takes what the server picks."""

from __future__ import annotations

import base64
import json
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bus_helpers import start_node
from conftest import SHARED, facewire_cmd, stop_process

pytest.importorskip("foxglove", reason="foxglove-sdk is an extra: pip install -e '.[foxglove]'")
pytest.importorskip("websockets", reason="the test's WebSocket client (dev extra)")
from websockets.sync.client import ClientConnection, connect  # noqa: E402

from facewire.bus.transport import Bus  # noqa: E402
from facewire.messages.types import Blendshapes, Text  # noqa: E402
from facewire.rig.arkit import ARKIT_52, ARKIT_INDEX  # noqa: E402

SUBPROTOCOLS = ["foxglove.sdk.v1", "foxglove.websocket.v1"]
RIG = SHARED / "assets/ict_facekit.npz"
MESSAGE_DATA = 0x01


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_client(port: int, timeout_s: float = 45.0) -> ClientConnection:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return connect(f"ws://127.0.0.1:{port}", subprotocols=SUBPROTOCOLS,
                           open_timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class Talker:
    """Publishes speech-like Blendshapes and a Text topic from a thread until stopped."""

    def __init__(self, registry: str) -> None:
        self.stop = threading.Event()
        self.registry = registry
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        bus = Bus("talker-test", registry=self.registry)
        shapes = bus.publisher("/blendshapes", Blendshapes)
        text = bus.publisher("/notes", Text)
        i = 0
        while not self.stop.is_set():
            w = np.zeros(52, np.float32)
            w[ARKIT_INDEX["jawOpen"]] = 0.4
            w[ARKIT_INDEX["mouthFunnel"]] = 0.25
            shapes.publish(Blendshapes(weights=w).with_header(media_time=i / 60))
            if i % 10 == 0:
                text.publish(Text(text=f"note {i}"))
            bus.spin_once(20)
            i += 1
        bus.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)


@pytest.fixture
def talker(registry: str) -> Iterator[Talker]:
    t = Talker(registry)
    yield t
    t.close()


def read_until(ws: ClientConnection, done, timeout_s: float = 45.0) -> None:
    """Feed every frame to ``done(frame)`` until it returns True."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out reading from the Foxglove server")
        try:
            frame = ws.recv(timeout=left)
        except TimeoutError:
            continue
        if done(frame):
            return


def channels_and_data(ws: ClientConnection, want: set[str]) -> dict[str, tuple[dict, bytes]]:
    """Advertised channels by topic; subscribes to ``want`` and returns one payload each.

    A subscription sent the instant a channel is advertised can reach the server before it
    lists the channel for this client ("unknown channel" status, seen on a loaded machine);
    the client then subscribes again, as a viewer's panel would.
    """
    channels: dict[str, dict[str, Any]] = {}
    payloads: dict[str, tuple[dict, bytes]] = {}
    sub_topics: dict[int, str] = {}
    texts: list[str] = []

    def subscribe(topics: list[str]) -> None:
        fresh = []
        for topic in topics:
            sub_id = len(sub_topics) + 1
            sub_topics[sub_id] = topic
            fresh.append({"id": sub_id, "channelId": channels[topic]["id"]})
        if fresh:
            ws.send(json.dumps({"op": "subscribe", "subscriptions": fresh}))

    def on_frame(frame: str | bytes) -> bool:
        if isinstance(frame, str):
            msg = json.loads(frame)
            texts.append(frame[:200])
            if msg["op"] == "advertise":
                for ch in msg["channels"]:
                    channels[ch["topic"]] = ch
                subscribe([ch["topic"] for ch in msg["channels"] if ch["topic"] in want])
            elif msg["op"] == "status" and "unknown channel" in msg.get("message", "").lower():
                subscribe([t for t in want if t in channels and t not in payloads])
            return False
        assert frame[0] == MESSAGE_DATA
        sub_id, _log_time = struct.unpack_from("<IQ", frame, 1)
        topic = sub_topics[sub_id]
        payloads.setdefault(topic, (channels[topic], bytes(frame[13:])))
        return set(payloads) >= want

    try:
        read_until(ws, on_frame)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; got data on {sorted(payloads)}, text frames:\n"
                             + "\n".join(texts[-10:])) from None
    return payloads


def test_live_topics_plot_by_name_and_the_face_is_a_scene(registry: str, talker: Talker,
                                                         tmp_path: Path) -> None:
    port = free_port()
    with_rig = RIG.exists()
    rig_arg = str(RIG) if with_rig else "none"
    node = start_node("foxglove", "--param", f"port={port}", "--param", f"rig={rig_arg}",
                      "--param", "mesh_hz=10", log=tmp_path / "node.log")
    try:
        with open_client(port) as ws:
            assert ws.subprotocol in SUBPROTOCOLS
            info = json.loads(ws.recv(timeout=10))
            assert info["op"] == "serverInfo"
            want = {"/blendshapes", "/notes"} | ({"/face/mesh"} if with_rig else set())
            got = channels_and_data(ws, want)
    finally:
        stop_process(node)
    channel, payload = got["/blendshapes"]
    assert channel["encoding"] == "json" and channel["schemaEncoding"] == "jsonschema"
    schema = json.loads(channel["schema"])
    assert list(schema["properties"]["weights"]["properties"]) == list(ARKIT_52)
    frame = json.loads(payload)
    assert list(frame["weights"]) == list(ARKIT_52)
    assert frame["weights"]["jawOpen"] == pytest.approx(0.4)
    assert frame["weights"]["mouthFunnel"] == pytest.approx(0.25)
    assert json.loads(got["/notes"][1])["text"].startswith("note ")
    if not with_rig:
        pytest.skip(f"curves checked; the 3D face needs {RIG} (set FACEWIRE_DATA)")
    check_face_scene(*got["/face/mesh"])


def check_face_scene(channel: dict[str, Any], payload: bytes) -> None:
    """Decode the SceneUpdate with the advertised descriptor set; it is the posed head."""
    pytest.importorskip("google.protobuf", reason="protobuf decodes the scene")
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    from facewire.bridges.foxglove import FaceMesh
    from facewire.rig.rig import Rig

    assert channel["encoding"] == "protobuf" and channel["schemaName"] == "foxglove.SceneUpdate"
    files = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(channel["schema"]))
    pool = descriptor_pool.DescriptorPool()
    for f in files.file:
        pool.Add(f)
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("foxglove.SceneUpdate"))
    update = cls.FromString(payload)
    (entity,) = update.entities
    (tris,) = entity.triangles
    face = FaceMesh(Rig.load(RIG))
    assert len(tris.points) == face.n_vertices > 1000
    assert len(tris.indices) == 3 * face.n_triangles
    pts = np.array([[p.x, p.y, p.z] for p in tris.points])
    size = pts.max(axis=0) - pts.min(axis=0)
    assert 0.05 < size.max() < 0.5, f"a head in metres, got extent {size}"
    posed = face.vertices(np.eye(52, dtype=np.float32)[ARKIT_INDEX["jawOpen"]] * 0.4
                          + np.eye(52, dtype=np.float32)[ARKIT_INDEX["mouthFunnel"]] * 0.25)
    neutral = face.vertices(np.zeros(52, np.float32))
    # the scene is either the rest face (sent before speech) or the speaking one
    err = min(np.abs(pts - posed).max(), np.abs(pts - neutral).max())
    assert err < 1e-5


def test_a_missing_rig_is_one_line_and_the_node_exits(registry: str, tmp_path: Path) -> None:
    proc = subprocess.run(facewire_cmd("node", "run", "foxglove", "--param",
                                       f"port={free_port()}", "--param",
                                       f"rig={tmp_path / 'nope.npz'}"),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if "nope.npz" in ln]
    assert "rig=none" in line
