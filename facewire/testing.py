"""Test nodes in-process, by port: feed messages in, get what each output published.

In the spirit of pipecat's ``run_test``::

    out = run_node(Smoother(params={"method": "ema"}), {"input": frames})
    assert len(out["output"]) == len(frames)

The node runs exactly as in a live graph (the same handlers, counters and error guard),
attached to an in-process bus by :class:`facewire.bus.runners.LocalRunner`: on_start, the
inputs in order, a source's timers until it stops (``drive``), end_of_stream, on_stop.
``run_graph`` does the same for several nodes wired by topic. ``local_graph`` gives the
started runner to tests that look between steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from facewire.bus.node import Node
from facewire.bus.runners import LocalRunner
from facewire.messages.base import Message

Feed = Mapping[str, Sequence[Message]] | Iterable[tuple[str, Message]]


def _pairs(inputs: Feed | None) -> list[tuple[str, Message]]:
    """{port: [msgs]} fed port after port, or [(port, msg), ...] fed interleaved."""
    if inputs is None:
        return []
    if isinstance(inputs, Mapping):
        return [(key, msg) for key, msgs in inputs.items() for msg in msgs]
    return list(inputs)


def local_graph(*nodes: Node, start: bool = True) -> LocalRunner:
    """The nodes attached to one in-process bus (on_start called unless start=False)."""
    runner = LocalRunner(nodes)
    if start:
        runner.start()
    return runner


def run_node(node: Node, inputs: Feed | None = None, *, drive: bool = False,
             timeout_s: float = 60.0) -> dict[str, list[Message]]:
    """Run one node through its life; returns the messages of each output port.

    ``inputs``: messages by input port, or (port, message) pairs. ``drive``: run the node's
    timers until it stops itself (a source that reads a file), at most ``timeout_s``.
    """
    pairs = _pairs(inputs)
    unknown = sorted({port for port, _ in pairs} - set(node.input_ports))
    if unknown:
        raise KeyError(f"{node.name} has no input port {unknown[0]!r} "
                       f"(inputs: {', '.join(sorted(node.input_ports)) or 'none'})")
    runner = LocalRunner([node])
    out = {port: runner.record(node.topic(port)) for port in node.output_ports}
    runner.start()
    for port, msg in pairs:
        runner.feed(node.topic(port), [msg])
    if drive:
        runner.drive(node, timeout_s)
    runner.end_of_stream()
    runner.stop()
    return out


def run_graph(nodes: Sequence[Node], inputs: Feed | None = None, *, source: Node | None = None,
              timeout_s: float = 60.0) -> dict[str, list[Message]]:
    """Run nodes wired by topic; returns the messages on every topic a node publishes.

    ``inputs``: messages by topic (relative names are taken from the root namespace).
    ``source``: a node among ``nodes`` whose timers are driven until it stops; it starts
    after the others, so nothing it sends at once is lost.
    """
    from facewire.bus.addresses import resolve_topic

    runner = LocalRunner(nodes)
    topics = sorted({node.topic(port) for node in nodes for port in node.output_ports})
    out = {topic: runner.record(topic) for topic in topics}
    others = [node for node in nodes if node is not source]
    runner.start(others)
    if source is not None:
        runner.start([source])
    for topic, msg in _pairs(inputs):
        runner.feed(resolve_topic(topic, "/"), [msg])
    if source is not None:
        runner.drive(source, timeout_s)
    runner.end_of_stream(others)
    runner.stop()
    return out
