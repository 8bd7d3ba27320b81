"""Graph files own the wiring: explicit ports, one live.yaml, include-insert, and the
offline path running pipeline.yaml itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from facewire import offline
from facewire.launch.inprocess import plan, single_input
from facewire.launch.model import LaunchError, bundled_files, load

CHAIN = """\
nodes:
  - name: talker
    node: talker
    outputs: {output: chatter}
  - name: relay
    node: relay
    inputs: {input: chatter}
    outputs: {output: relayed}
  - name: sink
    node: sink
    inputs: {input: relayed}
"""


def wiring(spec) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """Each node's name, inputs and outputs, in the file's order."""
    return [(n.name, n.inputs, n.outputs) for n in spec.nodes]


def assert_each_edit_fails(tmp_path: Path, top: str, cases: dict[str, tuple[str, str]]) -> None:
    """Each {old: (new, message)} edit of ``top`` fails to load with that message."""
    for old, (new, message) in cases.items():
        assert old in top
        with pytest.raises(LaunchError, match=message):
            load(write(tmp_path, "bad.yaml", top.replace(old, new)))


LIVE_CASES = [(s, e) for s in ("mic", "file") for e in ("unreal", "unity", "vmc")]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def loaded_bundled() -> list[tuple[str, object]]:
    out = [(name, load(name)) for name in bundled_files()]
    out += [(f"live {s} {e}", load("live", {"source": s, "engine": e})) for s, e in LIVE_CASES]
    return out


def test_every_bundled_file_wires_every_port() -> None:
    implicit = [f"{name}: {n.label}.{port}" for name, spec in loaded_bundled()
                for n in spec.nodes for port in n.implicit]
    assert implicit == [], "ports whose topic the file does not write: " + ", ".join(implicit)


def test_a_port_left_out_is_reported_as_implicit(tmp_path: Path) -> None:
    spec = load(write(tmp_path, "c.yaml", CHAIN.replace("    inputs: {input: relayed}\n", "")))
    assert [(n.name, n.implicit) for n in spec.nodes if n.implicit] == [("sink", ("input",))]
    assert spec.nodes[2].inputs == {"input": "/input"}  # the port name, as before


def test_unknown_port_names_file_line_and_the_known_ports(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", CHAIN.replace("inputs: {input: relayed}",
                                                    "inputs: {inptu: relayed}"))
    with pytest.raises(LaunchError, match=r"bad.yaml:11: nodes\[2\]\(sink\)\.inputs\.inptu: Sink "
                                          r"has no input port 'inptu' \(inputs: input; "
                                          r"outputs: none\)"):
        load(bad)
    bad = write(tmp_path, "bad2.yaml", CHAIN.replace("outputs: {output: chatter}",
                                                     "inputs: {output: chatter}"))
    with pytest.raises(LaunchError, match=r"bad2.yaml:4: .*Talker has no input port 'output' "
                                          r"\(inputs: none; outputs: output\)"):
        load(bad)
    bad = write(tmp_path, "bad3.yaml", CHAIN.replace("    inputs: {input: relayed}\n",
                                                     "    inputs: {input: relayed}\n"
                                                     "    remap: {input: other}\n"))
    with pytest.raises(LaunchError, match=r"bad3.yaml:12: .*port 'input' is wired twice"):
        load(bad)


def test_remap_still_works(tmp_path: Path) -> None:
    spec = load(write(tmp_path, "r.yaml", CHAIN.replace(
        "    inputs: {input: chatter}\n    outputs: {output: relayed}\n",
        "    remap: {input: chatter, output: relayed}\n")))
    relay = spec.nodes[1]
    assert (relay.inputs, relay.outputs, relay.implicit) == (
        {"input": "/chatter"}, {"output": "/relayed"}, ())


@pytest.mark.parametrize("source,engine", LIVE_CASES)
def test_live_yaml_picks_source_and_engine(source: str, engine: str) -> None:
    spec = load("live", {"source": source, "engine": engine, "port": "7000",
                         "vmc_port": "7001"})
    by = {n.name: n for n in spec.nodes}
    assert set(by) == {"audio", "features", "blendshapes", "smoother", f"bridge_{engine}"}
    assert by["audio"].params["source"] == source
    bridge = by[f"bridge_{engine}"]
    assert bridge.node == ("bridge_vmc" if engine == "vmc" else "bridge_livelink")
    assert bridge.params["port"] == (7001 if engine == "vmc" else 7000)
    assert bridge.inputs == {"blendshapes": "/blendshapes"}
    assert by["smoother"].outputs == {"output": "/blendshapes"}
    if source == "file":
        assert by["audio"].params["loop"] is True  # as the old live_*_file graphs


def test_live_yaml_rejects_an_unknown_engine() -> None:
    with pytest.raises(LaunchError, match=r"arg 'engine' must be one of \['unreal', 'unity', "
                                          r"'vmc'\], got 'unreel'"):
        load("live", {"engine": "unreel"})


def test_eq_substitution_nests(tmp_path: Path) -> None:
    spec = load(write(tmp_path, "e.yaml", """\
args: {mode: a, word: ""}
nodes:
  - {name: t_$(arg mode), node: talker, if: $(eq $(arg mode) a), params: {text: "x$(arg word)y"}}
  - {name: u, node: talker, unless: $(eq $(arg mode) a)}
  - {name: v, node: talker, if: $(eq $(arg word)x x), params: {text: "$(5 literal"}}
"""))
    assert [n.name for n in spec.nodes] == ["t_a", "v"]
    assert spec.nodes[0].params["text"] == "xy" and spec.nodes[1].params["text"] == "$(5 literal"
    assert [n.name for n in load(tmp_path / "e.yaml", {"mode": "b"}).nodes] == ["u", "v"]
    bad = write(tmp_path, "bad.yaml", "nodes:\n  - {name: t, node: talker, if: $(eq a)}\n")
    with pytest.raises(LaunchError, match=r"bad.yaml:2: .*use \$\(eq A B\)"):
        load(bad)


def test_live_emotion_inserts_the_emotion_node_on_the_pipeline() -> None:
    spec = load("live_emotion")
    assert wiring(spec) == [  # the graph live_emotion.yaml used to spell out node by node
        ("audio", {"input": "/input"}, {"audio": "/audio"}),
        ("features", {"audio": "/audio"}, {"features": "/features"}),
        ("blendshapes", {"features": "/features"}, {"blendshapes": "/blendshapes_raw"}),
        ("emotion", {"input": "/blendshapes_raw", "emotion": "/emotion"},
         {"output": "/blendshapes_emotion", "deform": "/deform"}),
        ("smoother", {"input": "/blendshapes_emotion"}, {"output": "/blendshapes"}),
    ]
    assert "input=/blendshapes_emotion" in spec.nodes[4].command()
    assert {n.name: n.params["model"] for n in spec.nodes if "model" in n.params} == {
        "blendshapes": "facewire_cnn_gru_logmel_live", "emotion": ""}


def test_insert_under_a_namespace_and_its_errors(tmp_path: Path) -> None:
    write(tmp_path, "chain.yaml", CHAIN)
    top = """\
include:
  - file: chain.yaml
    namespace: alice
    insert:
      - between: [relay, sink]
        name: extra
        node: relay
        params: {prefix: "+"}
        inputs: {input: relayed}
        outputs: {output: relayed_twice}
nodes:
  - {name: monitor, node: sink, inputs: {input: /alice/relayed}}
"""
    spec = load(write(tmp_path, "top.yaml", top))
    assert [n.label for n in spec.nodes] == ["monitor", "alice/talker", "alice/relay",
                                             "alice/extra", "alice/sink"]
    by = {n.label: n for n in spec.nodes}
    assert by["alice/extra"].inputs == {"input": "/alice/relayed"}
    assert by["alice/sink"].inputs == {"input": "/alice/relayed_twice"}
    assert by["monitor"].inputs == {"input": "/alice/relayed"}  # outside the include: kept
    cases = {
        "between: [relay, sink]": ("between: [talker, sink]",
                                   r"bad.yaml:5: include\[0\]\.insert\[0\]\(extra\)\.between: "
                                   r"talker and sink must share one topic"),
        "[relay, sink]": ("[relay, sinc]", r"no node 'sinc' in the included graph "
                                           r"\(nodes: talker, relay, sink\)"),
        "input: relayed}": ("input: chatter}", r"extra must read /alice/relayed"),
        "- between": ("- betwen", r"insert\[0\]\(extra\)\.betwen: unknown key"),
    }
    assert_each_edit_fails(tmp_path, top, cases)


def test_offline_plan_is_the_pipeline_file() -> None:
    graph = load("pipeline", {"model": "m.onnx", "smoothing": "savgol"})
    nodes = plan(graph, params={"smoother": {"window": 7}})
    assert [(n.name, n.cls.__name__) for n in nodes] == [
        ("features", "FeaturesNode"), ("blendshapes", "BlendshapesNode"),
        ("smoother", "Smoother")]
    assert nodes[1].remaps == {"features": "/features", "blendshapes": "/blendshapes_raw"}
    assert nodes[1].params["model"] == "m.onnx"
    assert nodes[2].params["method"] == "savgol" and nodes[2].params["window"] == 7
    assert single_input(graph) == "/audio" and graph.open_outputs() == ["/blendshapes"]


def test_animate_runs_whatever_pipeline_file_it_is_given(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Renamed topics in the graph file reach the take: offline declares no topic itself."""
    text = (Path(offline.__file__).parent / "launch/files/pipeline.yaml").read_text()
    renamed = text.replace("inputs: {audio: audio}", "inputs: {audio: speech}").replace(
        "outputs: {output: blendshapes}", "outputs: {output: face}")
    assert renamed.count("speech") == 1 and renamed.count("{output: face}") == 1
    monkeypatch.setattr(offline, "GRAPH_FILE", str(write(tmp_path, "pipeline.yaml", renamed)))
    offline.offline_graph.cache_clear()
    try:
        take = offline.animate_file(Path(offline.__file__).parent / "data/demo_clip.wav")
    finally:
        offline.offline_graph.cache_clear()
    assert {t for t, _ in take.messages} == {"/speech", "/face"}
    assert len(take.weights) > 100


def test_phone_pipeline_appends_phone_fusion_after_the_pipeline(tmp_path: Path) -> None:
    spec = load("phone_pipeline")
    assert wiring(spec) == [  # the graph phone_pipeline.yaml used to spell out node by node
        ("audio", {"input": "/tts_audio"}, {"audio": "/audio"}),
        ("features", {"audio": "/audio"}, {"features": "/features"}),
        ("blendshapes", {"features": "/features"}, {"blendshapes": "/blendshapes_raw"}),
        ("smoother", {"input": "/blendshapes_raw"}, {"output": "/blendshapes_voice"}),
        ("phone_fusion", {"phones": "/phones", "voice": "/blendshapes_voice"},
         {"blendshapes": "/blendshapes"}),
    ]
    assert spec.nodes[3].params["method"] == "one_euro"
    assert "output=/blendshapes_voice" in spec.nodes[3].command()
    write(tmp_path, "chain.yaml", CHAIN)
    top = """\
include:
  - file: chain.yaml
    insert:
      - after: relay
        name: extra
        node: relay
        inputs: {input: plain}
        outputs: {output: relayed}
"""
    by = {n.name: n for n in load(write(tmp_path, "top.yaml", top)).nodes}
    assert by["relay"].outputs == {"output": "/plain"}
    assert by["sink"].inputs == {"input": "/relayed"}  # now fed by the appended node
    cases = {
        "after: relay": ("after: rely", r"no node 'rely' in the included graph"),
        "output: relayed}": ("output: other}", r"extra must publish one topic of relay"),
        "input: plain}": ("input: relayed}", r"extra needs one Text input on a new topic"),
    }
    assert_each_edit_fails(tmp_path, top, cases)
