"""facewire.testing: nodes tested by port, in-process, with the live nodes' own code."""

from __future__ import annotations

import numpy as np
import pytest

from facewire.bus.node import Input, Node, NotAttached, Output
from facewire.messages.types import Blendshapes, Text
from facewire.nodes.smoother import Smoother
from facewire.nodes.testing import Relay, Talker
from facewire.testing import local_graph, run_graph, run_node


def test_smoother_holds_back_nothing_at_the_end() -> None:
    frames = [Blendshapes(weights=np.full(52, k / 30, np.float32)).with_header(media_time=k / 60)
              for k in range(30)]
    out = run_node(Smoother(params={"method": "savgol", "window": 7}), {"input": frames})
    assert [m.header.media_time for m in out["output"]] == [k / 60 for k in range(30)]


def test_run_node_returns_outputs_by_port_in_order() -> None:
    out = run_node(Relay(params={"prefix": "> "}), {"input": [Text(text="a"), Text(text="b")]})
    assert [m.text for m in out["output"]] == ["> a", "> b"]
    assert [m.header.seq for m in out["output"]] == [0, 1]  # stamped as a transport does


def test_run_node_names_an_unknown_port() -> None:
    with pytest.raises(KeyError, match="no input port 'inptu'"):
        run_node(Relay(), {"inptu": [Text(text="a")]})


def test_drive_runs_a_source_until_it_stops_or_times_out() -> None:
    class Counted(Talker):
        def tick(self) -> None:
            super().tick()
            if self.n == self.p.count:
                self.stop()

    out = run_node(Counted(params={"rate": 1000.0, "count": 5}), drive=True)
    assert [m.text for m in out["output"]] == [f"hello {i}" for i in range(5)]
    with pytest.raises(TimeoutError, match="did not stop"):
        run_node(Talker(params={"rate": 1000.0}), drive=True, timeout_s=0.05)


def test_run_graph_wires_nodes_by_topic_under_their_namespace() -> None:
    first = Relay(name="first", namespace="/a", params={"prefix": "1"},
                  remaps={"input": "/in", "output": "mid"})
    second = Relay(name="second", namespace="/a", params={"prefix": "2"},
                   remaps={"input": "mid", "output": "/out"})
    assert first.topic("output") == "/a/mid" == second.topic("input")  # before attaching
    out = run_graph([first, second], {"/in": [Text(text="x")]})
    assert [m.text for m in out["/out"]] == ["21x"]
    assert [m.text for m in out["/a/mid"]] == ["1x"]


def test_publishing_before_attaching_is_a_clear_error() -> None:
    with pytest.raises(NotAttached, match="not attached to a transport"):
        Relay(name="r").on_input(Text(text="x"))


class Follower(Node):
    """Adds an input port for every topic it is told of while running."""

    inputs = {"control": Input(Text)}
    outputs = {"seen": Output(Text)}

    def on_control(self, msg: Text) -> None:
        self.add_input(msg.text, Input(Text), msg.text, self.on_any)

    def on_any(self, msg: Text) -> None:
        self.publish("seen", msg)


def test_ports_added_while_running_are_subscribed() -> None:
    node = Follower()
    run = local_graph(node)
    seen = run.record(node.topic("seen"))
    run.feed("/late", [Text(text="lost: nobody listens yet")])
    run.feed("/control", [Text(text="/late")])
    run.feed("/late", [Text(text="kept")])
    assert [m.text for m in seen] == ["kept"]
    assert node.port_topics()[0] == {"control": "/control", "/late": "/late"}
    with pytest.raises(ValueError, match="already has a port"):
        node.add_input("/late", Input(Text), "/late", node.on_any)
