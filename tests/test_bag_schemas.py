"""Bags describe themselves: every stored message validates against its channel's own JSON
schema with a stock validator (jsonschema), read with nothing but ``mcap`` and ``msgpack``,
and the schemas carry the curve names.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
from jsonschema import Draft202012Validator
from mcap.reader import make_reader

from facewire.bag.names import names_from_schema
from facewire.bag.reader import BagReader, repair
from facewire.bag.writer import BagWriter
from facewire.messages.base import Message, registry
from facewire.messages.json_form import element_names
from facewire.rig.arkit import ARKIT_52

DATA = Path(__file__).parent / "data"
OLD_BAG = DATA / "bag_before_self_describing.mcap"  # written by the writer before bags described themselves


def sample(cls: type[Message], size: int, seed: int) -> Message:
    """A message of any registered type, its free dimensions set to ``size``."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, spec in cls.ARRAYS.items():
        shape = tuple(d if isinstance(d, int) else size for d in spec.shape)
        values = rng.uniform(-1, 1, shape) * (100 if np.dtype(spec.dtype).kind == "i" else 1)
        arrays[name] = values.astype(spec.dtype)
    return cls(**arrays).with_header(seq=seed, stamp_ns=10**18 + seed, media_time=seed / 60,
                                     capture_ns=10**18)


def stock_read(path: Path) -> list[tuple[str, dict[str, Any], Any]]:
    """(topic, schema, message) with only the mcap and msgpack libraries."""
    out = []
    with open(path, "rb") as f:
        for schema, channel, message in make_reader(f).iter_messages():
            assert channel.message_encoding == "msgpack"
            assert schema.encoding == "jsonschema"
            out.append((channel.topic, json.loads(schema.data), msgpack.unpackb(message.data)))
    return out


_VALIDATORS: dict[str, Draft202012Validator] = {}


def invalid(schema: dict[str, Any], message: Any) -> list[str]:
    """The stock validator's complaints (the schema itself checked against the dialect)."""
    key = json.dumps(schema, sort_keys=True)
    if key not in _VALIDATORS:
        Draft202012Validator.check_schema(schema)
        _VALIDATORS[key] = Draft202012Validator(schema)
    return [e.message for e in _VALIDATORS[key].iter_errors(message)]


@pytest.fixture(scope="module")
def every_type_bag(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bags") / "all_types.mcap"
    with BagWriter(path) as w:
        for i, (name, cls) in enumerate(sorted(registry().items())):
            for j, size in enumerate((1, 7)):
                w.write(f"/{name.lower()}", sample(cls, size, 10 * i + j))
    return path


def test_every_message_of_every_type_validates_against_its_channel_schema(every_type_bag):
    read = stock_read(every_type_bag)
    assert {topic for topic, _, _ in read} == {f"/{n.lower()}" for n in registry()}
    for topic, schema, message in read:
        assert invalid(schema, message) == [], topic


def test_the_offline_graphs_bag_validates(tmp_path: Path) -> None:
    """What `facewire animate` writes: the real audio -> ... -> smoother graph's messages."""
    from facewire.animate_outputs import write_outputs
    from facewire.offline import animate_file

    take = animate_file(Path(__file__).parents[1] / "facewire/data/demo_clip.wav")
    written = write_outputs(take, tmp_path / "take", plot=False)
    bag = next(p for p in written if p.suffix == ".mcap")
    read = stock_read(bag)
    assert len(read) > 100 and {t for t, _, _ in read} >= {"/audio", "/blendshapes"}
    bad = [(t, errors) for t, s, m in read if (errors := invalid(s, m))]
    assert bad == []


@pytest.mark.parametrize("break_it", [
    lambda m: m.update(t="Other"),
    lambda m: m.update(v=99),
    lambda m: m.update(extra=1),
    lambda m: m["h"].pop(),
    lambda m: m["h"].__setitem__(2, "soon"),
    lambda m: m["s"].pop("fps"),
    lambda m: m["s"].__setitem__("subject", 3),
    lambda m: m["a"][0].__setitem__(1, "float64"),
    lambda m: m["a"][0].__setitem__(0, "curves"),
    lambda m: m["a"][0][2].append(1),
    lambda m: m["a"].append(["more", "float32", [1], b"\0\0\0\0"]),
], ids=["type", "version", "extra-key", "short-header", "header-type", "missing-scalar",
        "scalar-type", "dtype", "array-name", "array-rank", "extra-array"])
def test_the_schema_rejects_what_the_codec_rejects(every_type_bag, break_it) -> None:
    """The schemas are exact, not permissive: each broken message fails validation."""
    schema, message = next((s, m) for t, s, m in stock_read(every_type_bag)
                           if t == "/blendshapes")
    assert invalid(schema, message) == []
    broken = copy.deepcopy(message)
    break_it(broken)
    assert invalid(schema, broken)


def test_fixed_dimensions_are_checked(every_type_bag) -> None:
    schema, message = next((s, m) for t, s, m in stock_read(every_type_bag) if t == "/landmarks")
    message["a"][0][2] = [67, 3]
    assert invalid(schema, message)


def test_the_bag_names_the_curves(every_type_bag) -> None:
    schemas = {t: s for t, s, _ in stock_read(every_type_bag)}
    assert schemas["/blendshapes"]["facewire_names"]["weights"]["arkit52"] == list(ARKIT_52)
    assert schemas["/emotion"]["facewire_names"]["weights"][:2] == ["neutral", "happy"]
    reader = BagReader(every_type_bag)
    rec = next(reader.records(["/blendshapes"]))
    names = names_from_schema(reader.schema_data["/blendshapes"], rec.type)
    assert element_names(names, "weights", {"name_set": "arkit52"}) == list(ARKIT_52)
    assert element_names(names, "weights", {"name_set": "my_rig"}) is None


def test_bags_written_before_the_change_still_read_and_get_names() -> None:
    """The old schema described another shape: its own messages failed it (the bug)."""
    old = stock_read(OLD_BAG)
    assert len(old) == 10
    assert all(invalid(s, m) for _, s, m in old)
    msgs = BagReader(OLD_BAG).read_all()
    assert [m.topic for m in msgs].count("/blendshapes") == 5
    assert msgs[-1].msg.weights[ARKIT_52.index("jawOpen")] == pytest.approx(0.5)
    reader = BagReader(OLD_BAG)
    list(reader.records())
    assert b"facewire_names" not in reader.schema_data["/blendshapes"]
    names = names_from_schema(reader.schema_data["/blendshapes"], "Blendshapes")
    assert element_names(names, "weights", {"name_set": "arkit52"}) == list(ARKIT_52)


def test_repair_gives_an_old_bag_the_new_schemas(tmp_path: Path) -> None:
    out = tmp_path / "new.mcap"
    repair(OLD_BAG, out)
    read = stock_read(out)
    assert len(read) == 10 and all(invalid(s, m) == [] for _, s, m in read)


def test_the_docs_decode_a_frame_with_mcap_and_msgpack_only(tmp_path: Path) -> None:
    """docs/bags.md's snippet, run as written, with facewire and numpy made unimportable."""
    from facewire.messages.types import Blendshapes

    doc = (Path(__file__).parents[1] / "docs/bags.md").read_text()
    snippet = doc.split("```python\n", 1)[1].split("```", 1)[0]
    weights = np.zeros(52, np.float32)
    weights[ARKIT_52.index("jawOpen")] = 0.625
    bag = tmp_path / "take.mcap"
    with BagWriter(bag) as w:
        w.write("/blendshapes", Blendshapes(weights=weights).with_header(media_time=1.5))
    script = tmp_path / "decode.py"
    script.write_text("import sys\nsys.modules['facewire'] = sys.modules['numpy'] = None\n"
                      + snippet)
    proc = subprocess.run([sys.executable, "-I", str(script), str(bag)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "/blendshapes t=1.500 s  jawOpen=0.625"


BUNDLED_GRAPHS = [
    ("chain", {"Text"}),
    ("live_emotion", {"AudioChunk", "Features", "Blendshapes", "Emotion"}),
    ("live_mesh_unity_file", {"AudioChunk", "Features", "Landmarks", "MeshDeform"}),
]


@pytest.mark.slow
@pytest.mark.parametrize("graph,types", BUNDLED_GRAPHS, ids=[g for g, _ in BUNDLED_GRAPHS])
def test_every_message_a_bundled_graph_records_validates(registry: str, tmp_path: Path,
                                                         graph: str, types: set[str]) -> None:
    """`facewire bag record --all` on a running bundled graph; the stock validator on it all."""
    import signal

    import soundfile as sf
    from bus_helpers import find_node, wait_until
    from conftest import SHARED, facewire_cmd, stop_process

    if graph == "live_mesh_unity_file" and not (SHARED / "assets/ict_facekit.npz").exists():
        pytest.skip("the dense graph needs the ICT rig (set FACEWIRE_DATA)")
    clip = tmp_path / "clip.wav"
    data, rate = sf.read(Path(__file__).parents[1] / "facewire/data/demo_clip.wav")
    sf.write(clip, data[: int(2.0 * rate)], rate)
    bag = tmp_path / "graph.mcap"
    log = open(tmp_path / "log.txt", "w")  # noqa: SIM115 (closed below)
    recorder = subprocess.Popen(facewire_cmd("bag", "record", "--all", "-o", str(bag),
                                             "--registry", registry), stdout=log, stderr=log)
    args = [] if graph == "chain" else ["--arg", f"path={clip}"]
    launch = None
    try:
        wait_until(lambda: find_node(registry, "bag_record"), 30, "the recorder")
        launch = subprocess.Popen(facewire_cmd("launch", graph, "--registry", registry, *args),
                                  stdout=log, stderr=log)

        def recorded() -> bool:
            if graph == "live_emotion":  # its Emotion is a control message, sent by a user
                subprocess.run(facewire_cmd("emotion", "set", "surprised", "0.8", "--registry",
                                            registry), capture_output=True, timeout=30)
            if not bag.exists() or bag.stat().st_size < 1024:
                return False
            seen = {t.type for t in BagReader(bag).info().topics.values()}
            return seen >= types

        wait_until(recorded, 120, f"{graph} to publish {types}")
        time.sleep(1.0)
    finally:
        for proc in (launch, recorder):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    stop_process(proc)
        log.close()
    read = stock_read(bag)
    assert {s["title"] for _, s, _ in read} >= types
    bad = [(t, errors) for t, s, m in read if (errors := invalid(s, m))]
    assert bad == [], bad[:3]


def test_msg_show_json_prints_the_schema_a_bag_stores(every_type_bag, capsys) -> None:
    from facewire.cli import main

    stored = {t: s for t, s, _ in stock_read(every_type_bag)}
    assert main(["msg", "show", "Blendshapes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == stored["/blendshapes"]
