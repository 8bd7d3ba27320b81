"""What a loaded launch file is: its args, and every node resolved to topics and params."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facewire.bus.addresses import resolve_topic
from facewire.launch.where import Where


class _Missing:
    def __repr__(self) -> str:
        return "<required>"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class LaunchArg:
    name: str
    default: Any
    description: str
    choices: tuple[Any, ...] | None
    where: Where

    @property
    def required(self) -> bool:
        return self.default is MISSING


@dataclass
class NodeSpec:
    """One node process, fully resolved: what ``facewire node run`` will be given."""

    name: str
    node: str
    namespace: str
    params: dict[str, Any]
    remap: dict[str, str]  # port -> topic as written (relative to the namespace)
    respawn: bool
    respawn_delay: float
    required: bool
    host: str | None
    delay_s: float
    inputs: dict[str, str]  # port -> absolute topic
    outputs: dict[str, str]
    where: Where
    standby: bool = False  # keep a started, idle process ready to take over at once
    implicit: tuple[str, ...] = ()  # ports the file left unwired (topic = port name)

    @property
    def full_name(self) -> str:
        """``/ns/name``: unique within a launch."""
        return resolve_topic(self.name, self.namespace)

    @property
    def label(self) -> str:
        """The name the process registers and logs under (``ns/name``, or ``name``)."""
        return self.full_name.lstrip("/")

    def command(self, python: str = sys.executable) -> list[str]:
        cmd = [python, "-m", "facewire", "node", "run", self.node, "--name", self.label,
               "--ns", self.namespace, "--params-json", json.dumps(self.params)]
        for port, topic in self.remap.items():
            cmd += ["--remap", f"{port}={topic}"]
        return cmd


@dataclass
class LaunchSpec:
    """A whole launch, includes expanded."""

    file: Path
    args: dict[str, LaunchArg]  # the top file's declared args
    values: dict[str, Any]  # their values for this launch
    nodes: list[NodeSpec] = field(default_factory=list)
    description: str = ""

    @property
    def hosts(self) -> list[str]:
        return sorted({n.host for n in self.nodes if n.host})

    def nodes_for(self, host: str | None) -> list[NodeSpec]:
        """Nodes one launcher starts: ``host=None`` is the primary (nodes without host)."""
        return [n for n in self.nodes if n.host == host]

    def open_inputs(self) -> list[str]:
        """Topics the graph reads that none of its nodes publishes: what feeds it."""
        written = {t for n in self.nodes for t in n.outputs.values()}
        return _unique(t for n in self.nodes for t in n.inputs.values() if t not in written)

    def open_outputs(self) -> list[str]:
        """Topics the graph publishes that none of its nodes reads: what it produces."""
        read = {t for n in self.nodes for t in n.inputs.values()}
        return _unique(t for n in self.nodes for t in n.outputs.values() if t not in read)


def _unique(topics: Any) -> list[str]:
    return list(dict.fromkeys(topics))
