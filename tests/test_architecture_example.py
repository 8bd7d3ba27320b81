"""The node and test shown in docs/architecture.md, kept here so the page cannot rot."""

import dataclasses
from pathlib import Path

import numpy as np

from facewire.bus.node import Input, Node, Output, Param
from facewire.messages.types import Blendshapes
from facewire.testing import run_node


class Exaggerate(Node):
    """Scales every curve: a stylised character talks bigger than the voice."""

    inputs = {"input": Input(Blendshapes)}
    outputs = {"output": Output(Blendshapes)}
    params = {"gain": Param(float, 1.5, "factor on every weight", min=0.0, max=4.0)}

    def on_input(self, msg: Blendshapes) -> None:
        weights = np.clip(msg.weights * self.p.gain, 0.0, 1.0).astype(np.float32)
        self.publish("output", dataclasses.replace(msg, weights=weights))


def test_exaggerate_scales_and_clips():
    frame = Blendshapes(weights=np.full(52, 0.4, np.float32))
    out = run_node(Exaggerate(params={"gain": 3.0}), {"input": [frame]})
    assert np.allclose(out["output"][0].weights, 1.0)


def test_the_page_shows_this_code():
    page = (Path(__file__).parents[1] / "docs" / "architecture.md").read_text()
    source = Path(__file__).read_text()
    start = source.index("class Exaggerate")
    node_code = source[start:source.index("\n\n\ndef test_exaggerate")]
    assert node_code in page
    test_code = source[source.index("def test_exaggerate"):source.index("\n\n\ndef test_the_page")]
    assert test_code in page
