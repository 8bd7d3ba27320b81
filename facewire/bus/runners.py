"""Runners: what attaches a Node to a transport and drives it.

A Node declares ports and handles messages; it opens no sockets. ``ProcessRunner`` runs one
node as a process of a live graph on the ZeroMQ bus (``facewire node run``, the launcher's
children, ``facewire bag record|play``): registry heartbeats with the node's status,
SIGINT/SIGTERM, the spin loop and the exit code. ``LocalRunner`` wires nodes in one process
through a LocalBus, where a publish runs the subscribers' handlers at once: offline graphs
(``facewire animate``) and tests (:mod:`facewire.testing`) run the live nodes this way.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import zmq

from facewire.bus.addresses import hostname
from facewire.bus.local import LocalBus, LocalSubscription
from facewire.bus.node import Input, Node, Output
from facewire.bus.transport import Bus, Publisher, Subscription
from facewire.messages.base import Message
from facewire.messages.codec import encode_bytes
from facewire.messages.types import NodeStatus

HEARTBEAT_S = 1.0


def _any_type(spec: Input) -> type[Message] | None:
    return None if spec.type is Message else spec.type


class ZmqLink:
    """A node's ports on the ZeroMQ bus."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def output(self, topic: str, spec: Output) -> Publisher:
        pub = self.bus.publisher(topic, spec.type)
        if spec.linger_s is not None:
            pub.sock.setsockopt(zmq.LINGER, int(spec.linger_s * 1000))
        if spec.block:  # block rather than drop when a subscriber's queue is full
            pub.sock.setsockopt(zmq.XPUB_NODROP, 1)
        return pub

    def input(self, topic: str, spec: Input, callback: Callable[[Message], Any],
              watched: bool) -> Subscription:
        return self.bus.subscribe(topic, _any_type(spec), delivery=spec.delivery,
                                  depth=spec.depth, callback=callback,
                                  sub_id=self.bus.watch_sub_id(topic) if watched else None)

    def process_events(self) -> None:
        self.bus.process_events()

    def watch_publishers(self, handler: Callable[[dict[str, Any]], Any]
                         ) -> list[dict[str, Any]]:
        return self.bus.watch_publishers(handler)


class ProcessRunner:
    """One node as a process of a live graph (see the module docstring)."""

    def __init__(self, node: Node, registry: str | None = None) -> None:
        """Joins the graph now: raises RegistryUnreachable when there is none."""
        self.node = node
        self.bus = Bus(node.name, registry=registry, namespace=node.namespace)
        try:
            node.attach(ZmqLink(self.bus))
        except BaseException:
            self.bus.close()
            raise
        self._beat = node.every(HEARTBEAT_S, self.heartbeat)

    def status(self, state: str = "running") -> NodeStatus:
        node = self.node
        counters = {**node.counters, **node.extra_counters()}
        for port, sub in node.subscriptions().items():
            for cause, n in sub.drops.items():
                counters[f"drop.{port}.{cause}"] = n
            if getattr(sub, "resets", 0):
                counters[f"seq_reset.{port}"] = sub.resets
        for what, n in self.bus.registry_drops.items():
            counters[f"registry.bad_{what}"] = n
        if self.bus.registrations:
            counters["registry.registered_again"] = self.bus.registrations
        inputs, outputs = node.port_topics()
        return NodeStatus(node=node.name, state=state, pid=os.getpid(), host=hostname(),
                          inputs=inputs, outputs=outputs, counters=counters,
                          delay_s=float(node.delay_s))

    def heartbeat(self, state: str = "running") -> None:
        self.bus.registry.send({"op": "status", "status": encode_bytes(self.status(state))})

    def spin_once(self, timeout_ms: int = 100) -> int:
        due = self.node.next_timer_due()
        if due is not None:
            timeout_ms = max(0, min(timeout_ms, int((due - time.monotonic()) * 1000)))
        delivered = self.bus.spin_once(timeout_ms)
        self.node.run_timers()
        return delivered

    def run(self) -> int:
        """Run until SIGINT/SIGTERM or the node's stop(); returns the exit code."""
        node = self.node
        main = threading.current_thread() is threading.main_thread()
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} if main \
            else {}
        for sig in previous:  # signals reach the main thread only; stop() the node instead
            signal.signal(sig, lambda *_: node.stop())
        try:
            try:
                node.on_start()
            except Exception as exc:  # a clear message, not a traceback, for setup errors
                node.log.error("%s cannot start: %s", node.name, exc)
                return 2
            self.heartbeat()
            while not node.stopping:
                self.spin_once()
            if node.drain_on_stop:
                while self.bus.spin_once(0):  # what already arrived is still handled
                    pass
            return 0
        finally:
            try:
                node.on_stop()
            finally:
                self.heartbeat("stopped")
                self.bus.close()
                node.cancel(self._beat)
                node.detach()
                for sig, handler in previous.items():
                    signal.signal(sig, handler)


def run_process(node: Node, registry: str | None = None) -> int:
    """Join the graph at ``registry`` and run ``node`` until it stops; the exit code."""
    return ProcessRunner(node, registry).run()


class LocalLink:
    """A node's ports on an in-process LocalBus."""

    def __init__(self, bus: LocalBus) -> None:
        self.bus = bus

    def output(self, topic: str, spec: Output) -> Any:
        return self.bus.publisher(topic, spec.type)

    def input(self, topic: str, spec: Input, callback: Callable[[Message], Any],
              watched: bool) -> LocalSubscription:
        return self.bus.subscribe(topic, _any_type(spec), callback=callback)

    def process_events(self) -> None:
        pass

    def watch_publishers(self, handler: Callable[[dict[str, Any]], Any]
                         ) -> list[dict[str, Any]]:
        return self.bus.watch_publishers(handler)


class LocalRunner:
    """Nodes wired in one process through a LocalBus, stepped by the caller.

    ``start`` calls on_start, ``feed`` publishes on a topic as an upstream node would (the
    handlers run before it returns), ``drive`` runs a source's timers until it stops,
    ``end_of_stream`` and ``stop`` finish. ``record`` keeps what a topic carries.
    """

    def __init__(self, nodes: Iterable[Node] = (), bus: LocalBus | None = None) -> None:
        self.bus = bus or LocalBus()
        self.nodes: list[Node] = []
        self._feeds: dict[str, Any] = {}
        for node in nodes:
            self.add(node)

    def add(self, node: Node) -> Node:
        node.attach(LocalLink(self.bus))
        self.nodes.append(node)
        return node

    def record(self, topic: str) -> list[Message]:
        """Every message published on ``topic`` from now on, in order (a live list)."""
        return self.bus.subscribe(topic).received

    def feed(self, topic: str, msgs: Iterable[Message]) -> None:
        """Publish on ``topic`` (stamped with seq and wall clock, as a transport does)."""
        for msg in msgs:
            if topic not in self._feeds:
                self._feeds[topic] = self.bus.publisher(topic, type(msg))
            self._feeds[topic].publish(msg)

    def start(self, nodes: Iterable[Node] | None = None) -> None:
        for node in self.nodes if nodes is None else nodes:
            node.on_start()

    def drive(self, node: Node, timeout_s: float | None = None) -> None:
        """Run ``node``'s timers as fast as they come due until it stops itself."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not node.stopping:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{node.name} did not stop within {timeout_s:g} s "
                                   "(a source that ends calls stop())")
            node.run_timers()

    def end_of_stream(self, nodes: Iterable[Node] | None = None) -> None:
        for node in self.nodes if nodes is None else nodes:
            node.end_of_stream()

    def stop(self, nodes: Iterable[Node] | None = None) -> None:
        for node in self.nodes if nodes is None else nodes:
            node.on_stop()


def run_graph(source: Node, nodes: list[Node], bus: LocalBus | None = None) -> LocalRunner:
    """Start downstream nodes first, drive the source to its end, then flush in order."""
    runner = LocalRunner([*nodes, source], bus)
    runner.start(nodes)
    runner.start([source])
    runner.drive(source)
    runner.end_of_stream(nodes)
    runner.stop([source, *nodes])
    return runner
