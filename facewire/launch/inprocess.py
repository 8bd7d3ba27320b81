"""A launch file's graph in one process, as fast as the CPU allows (``facewire animate``).

The offline paths run the same graph file the live launch runs (``pipeline.yaml``), so a
topic or a parameter is declared once: ``plan`` turns a loaded LaunchSpec into what each
node's constructor needs, and ``run_in_process`` builds the nodes on a LocalBus and drives
them with the in-process runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facewire.bus.node import Node
from facewire.launch.spec import LaunchSpec
from facewire.launch.where import LaunchError


@dataclass
class InProcessNode:
    """One node of an in-process graph: its class and constructor arguments."""

    cls: type[Node]
    name: str
    namespace: str = "/"
    params: dict[str, Any] | None = None
    remaps: dict[str, str] | None = None  # port -> absolute topic


def plan(spec: LaunchSpec, classes: dict[str, type[Node]] | None = None,
         params: dict[str, dict[str, Any]] | None = None) -> list[InProcessNode]:
    """The file's nodes in order; ``classes`` swaps a node type's class (a model loaded once
    per process), ``params`` lays values over a node's (by node name)."""
    from facewire.nodes import load_node_class

    classes, params = classes or {}, params or {}
    return [InProcessNode(classes.get(n.node) or load_node_class(n.node), n.name, n.namespace,
                          {**n.params, **params.get(n.name, {})}, {**n.inputs, **n.outputs})
            for n in spec.nodes]


def single_input(spec: LaunchSpec) -> str:
    """The one topic that feeds the graph (what a source node must publish on)."""
    topics = spec.open_inputs()
    if len(topics) != 1:
        raise LaunchError(None, f"{spec.file.name} must read exactly one topic that none of "
                                f"its nodes publishes, reads {topics}")
    return topics[0]


def run_in_process(source: InProcessNode, nodes: list[InProcessNode],
                   record: list[str]) -> list[tuple[str, object]]:
    """Build ``source`` and ``nodes`` on one LocalBus, drive the source to its end, and
    return every message published on ``record`` topics, in order.

    The only place the offline graph constructs nodes and runs them."""
    from facewire.bus.local import LocalBus
    from facewire.bus.runners import run_graph

    bus = LocalBus()
    out: list[tuple[str, object]] = []
    for topic in record:
        bus.subscribe(topic, callback=lambda m, t=topic: out.append((t, m)))
    built = [n.cls(name=n.name, namespace=n.namespace, params=n.params, remaps=n.remaps)
             for n in (source, *nodes)]
    run_graph(built[0], built[1:], bus)
    return out
