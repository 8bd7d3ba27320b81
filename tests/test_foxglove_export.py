"""`facewire bag export --json`: JSON-encoded MCAP with JSON schemas and named curves, read
back by the mcap library's own reader with a JSON decoder (what Foxglove needs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from jsonschema import Draft202012Validator
from mcap.decoder import DecoderFactory
from mcap.reader import make_reader

from facewire.bag.writer import BagWriter
from facewire.cli import main
from facewire.messages.types import EMOTIONS, AudioChunk, Blendshapes, Emotion, NodeStatus
from facewire.rig.arkit import ARKIT_52

OLD_BAG = Path(__file__).parent / "data/bag_before_self_describing.mcap"


class JsonDecoderFactory(DecoderFactory):
    """The mcap reader's extension point for a message encoding (json here)."""

    def decoder_for(self, message_encoding: str, schema: Any):
        if message_encoding == "json" and schema is not None and schema.encoding == "jsonschema":
            return lambda data: json.loads(data)
        return None


def read_json_mcap(path: Path) -> list[tuple[str, dict, dict, int]]:
    """(topic, schema, decoded message, log_time) through iter_decoded_messages."""
    with open(path, "rb") as f:
        reader = make_reader(f, decoder_factories=[JsonDecoderFactory()])
        return [(c.topic, json.loads(s.data), d, m.log_time)
                for s, c, m, d in reader.iter_decoded_messages()]


def test_export_is_json_mcap_with_named_curves(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    frames = rng.uniform(0, 1, (6, 52)).astype(np.float32)
    src = tmp_path / "take.mcap"
    with BagWriter(src) as w:
        for i, f in enumerate(frames):
            w.write("/blendshapes", Blendshapes(weights=f, subject="ada").with_header(
                seq=i, media_time=i / 60), log_time_ns=1000 + i)
        w.write("/audio", AudioChunk(samples=rng.normal(0, 0.1, (160, 1)).astype(np.float32)),
                log_time_ns=999)
        w.write("/emotion", Emotion(weights=np.eye(8, dtype=np.float32)[1], intensity=0.5),
                log_time_ns=2000)
        w.write("/status", NodeStatus(node="n", counters={"recv.x": 3}), log_time_ns=2001)
        w.write("/custom", Blendshapes(weights=np.full(3, 0.5, np.float32), name_set="my_rig"),
                log_time_ns=2002)
    out = tmp_path / "take.json.mcap"
    assert main(["bag", "export", str(src), "--json", "--out", str(out)]) == 0
    read = read_json_mcap(out)
    assert len(read) == 10
    for topic, schema, msg, _ in read:
        Draft202012Validator.check_schema(schema)
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(msg)]
        assert errors == [], topic
    shapes = [(m, t) for topic, _, m, t in read if topic == "/blendshapes"]
    assert [t for _, t in shapes] == [1000 + i for i in range(6)]
    for i, (msg, _) in enumerate(shapes):
        assert list(msg["weights"]) == list(ARKIT_52)
        assert msg["weights"]["jawOpen"] == float(frames[i][ARKIT_52.index("jawOpen")])
        assert msg["subject"] == "ada" and msg["header"]["seq"] == i
    by_topic = {topic: (s, m) for topic, s, m, _ in read}
    schema, audio = by_topic["/audio"]
    assert np.asarray(audio["samples"]).shape == (160, 1)
    assert by_topic["/emotion"][1]["weights"] == {e: float(e == "happy") for e in EMOTIONS}
    assert by_topic["/status"][1]["counters"] == {"recv.x": 3}
    assert by_topic["/custom"][1]["weights"] == {"0": 0.5, "1": 0.5, "2": 0.5}
    bs_schema = by_topic["/blendshapes"][0]
    assert list(bs_schema["properties"]["weights"]["properties"]) == list(ARKIT_52)


def test_a_bag_from_before_the_names_travelled_exports_named_curves(tmp_path: Path) -> None:
    out = tmp_path / "old.json.mcap"
    assert main(["bag", "export", str(OLD_BAG), "--json", "-o", str(out),
                 "--topics", "/blendshapes"]) == 0
    read = read_json_mcap(out)
    assert [topic for topic, *_ in read] == ["/blendshapes"] * 5
    assert read[-1][2]["weights"]["jawOpen"] == np.float32(0.5)


def test_export_mistakes_are_one_line(tmp_path: Path) -> None:
    for args in (["missing.mcap", "--json"],
                 [str(OLD_BAG), "--json", "-o", str(tmp_path / "x.mcap"), "--topics", "/none"]):
        proc = subprocess.run([sys.executable, "-m", "facewire", "bag", "export", *args],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.mcap").exists()
