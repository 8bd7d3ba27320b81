"""The Node base class: declared inputs, outputs and parameters, and nothing else.

A node reads like a ROS 2 node or a pipecat processor::

    class Relay(Node):
        \"\"\"Copies its input to its output.\"\"\"

        inputs = {"input": Input(Text)}
        outputs = {"output": Output(Text)}
        params = {"prefix": Param(str, "", "text put in front")}

        def on_input(self, msg: Text) -> None:
            self.publish("output", Text(text=self.p.prefix + msg.text, header=msg.header))

An input ``x`` is handled by ``on_x``; its topic is the port name unless remapped, and
relative names live under the node's namespace. Parameters are validated before anything
starts. ``every(period, fn)`` adds a timer (sources pace themselves with one); a handler
that raises is logged once and counted, and the node keeps running.

A node owns no sockets: a runner (:mod:`facewire.bus.runners`) attaches it to a transport,
the ZeroMQ bus for a process of a live graph or an in-process bus for offline graphs and
tests (:mod:`facewire.testing`). Ports may also be added on the instance, before or after
attaching (``add_input``/``add_output``), for topics known only at run time (the bag
recorder, the Foxglove bridge).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, ClassVar, Protocol

import yaml

from facewire.bus.addresses import resolve_topic
from facewire.messages.base import Message


class ParamError(ValueError):
    """A parameter value that does not fit its declaration."""


@dataclass(frozen=True)
class Param:
    """A typed node parameter with a default and optional bounds or choices."""

    type: type
    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None

    def coerce(self, name: str, value: Any) -> Any:
        """Validate (and convert from a command-line string) or raise ParamError."""
        if isinstance(value, str) and self.type is not str:
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError:
                pass
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.type is tuple and isinstance(value, list):
            value = tuple(value)
        if not isinstance(value, self.type) or (self.type is int and isinstance(value, bool)):
            raise ParamError(
                f"parameter {name!r} must be {self.type.__name__}, got {value!r} "
                f"({type(value).__name__})"
            )
        if self.choices is not None and value not in self.choices:
            raise ParamError(f"parameter {name!r} must be one of {self.choices}, got {value!r}")
        if self.min is not None and value < self.min:
            raise ParamError(f"parameter {name!r} must be >= {self.min}, got {value!r}")
        if self.max is not None and value > self.max:
            raise ParamError(f"parameter {name!r} must be <= {self.max}, got {value!r}")
        return value


@dataclass(frozen=True)
class Input:
    """An input port: message type (``Message``: any) and delivery (``queue`` bounded, or
    ``latest``)."""

    type: type[Message]
    delivery: str = "queue"
    depth: int = 1000
    help: str = ""


@dataclass(frozen=True)
class Output:
    """An output port. ``block``: wait for a slow subscriber instead of dropping (a bag
    played as fast as possible); ``linger_s``: how long unsent messages may still go out
    after the node stops (None: the transport's default)."""

    type: type[Message]
    help: str = ""
    block: bool = False
    linger_s: float | None = None


class Link(Protocol):
    """What a runner gives an attached node: its ports on one transport."""

    def output(self, topic: str, spec: Output) -> Any: ...
    def input(self, topic: str, spec: Input, callback: Callable[[Message], Any],
              watched: bool) -> Any: ...
    def process_events(self) -> None: ...
    def watch_publishers(self, handler: Callable[[dict[str, Any]], Any]
                         ) -> list[dict[str, Any]]: ...


def validate_params(cls: type[Node], given: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in, every value checked; unknown names are an error."""
    unknown = sorted(set(given) - set(cls.params))
    if unknown:
        known = ", ".join(sorted(cls.params)) or "none"
        raise ParamError(f"{cls.__name__} has no parameter {unknown[0]!r} (known: {known})")
    return {
        name: spec.coerce(name, given[name]) if name in given else spec.default
        for name, spec in cls.params.items()
    }


def validate_remaps(cls: type[Node], remaps: dict[str, str]) -> None:
    ports = set(cls.inputs) | set(cls.outputs)
    for port in remaps:
        if port not in ports:
            raise ParamError(
                f"{cls.__name__} has no port {port!r} to remap (ports: {', '.join(sorted(ports))})"
            )


class NotAttached(RuntimeError):
    """A node used its transport before a runner attached it to one."""


class Node:
    """Base class of every facewire node (see the module docstring)."""

    inputs: ClassVar[dict[str, Input]] = {}
    outputs: ClassVar[dict[str, Output]] = {}
    params: ClassVar[dict[str, Param]] = {}
    delay_s: ClassVar[float] = 0.0  # algorithmic delay this node adds (lookahead, smoothing)
    drain_on_stop: ClassVar[bool] = False  # deliver what has arrived before on_stop (recorder)

    def __init__(
        self,
        name: str | None = None,
        namespace: str = "/",
        params: dict[str, Any] | None = None,
        remaps: dict[str, str] | None = None,
    ) -> None:
        self.name = name or type(self).__name__.lower()
        self.namespace = namespace
        self.log = logging.getLogger(self.name)
        self.p = SimpleNamespace(**validate_params(type(self), params or {}))
        remaps = remaps or {}
        validate_remaps(type(self), remaps)
        self.counters: Counter[str] = Counter()
        self._logged_errors: set[str] = set()
        self._timers: list[list[Any]] = []  # [next_due, period, fn]
        self._stopping = False
        self.input_ports: dict[str, Input] = {}
        self.output_ports: dict[str, Output] = {}
        self._topics: dict[str, str] = {}  # port -> resolved topic
        self._handlers: dict[str, tuple[Callable[..., Any], bool]] = {}  # guarded, watched
        self._link: Link | None = None
        self._pubs: dict[str, Any] = {}  # the link's publishers and subscriptions, by port
        self._subs: dict[str, Any] = {}
        for port, spec in self.outputs.items():
            self.add_output(port, spec, remaps.get(port, port))
        for port, spec in self.inputs.items():
            handler = getattr(self, f"on_{port}", None)
            if handler is None:
                raise TypeError(f"{type(self).__name__} declares input {port!r} but no on_{port}")
            self.add_input(port, spec, remaps.get(port, port), handler)

    # -- for subclasses ------------------------------------------------------------------
    def on_start(self) -> None:
        """Called once before the loop (open devices, load models)."""

    def on_stop(self) -> None:
        """Called once after the loop (flush, close)."""

    def end_of_stream(self) -> None:
        """Offline runs: the input has ended; publish what is held back (smoothing)."""

    def publish(self, port: str, msg: Message) -> None:
        pub = self._pubs.get(port)
        if pub is None:
            self._need_link()
            raise KeyError(f"{self.name} has no output port {port!r} "
                           f"(ports: {', '.join(sorted(self.output_ports)) or 'none'})")
        pub.publish(msg)
        self.counters[f"sent.{port}"] += 1

    def every(self, period_s: float, fn: Callable[[], Any]) -> list[Any]:
        """Call fn every period_s (0: every loop turn); returns a handle for cancel()."""
        timer = [time.monotonic() + period_s, period_s, self._guard("timer", fn)]
        self._timers.append(timer)
        return timer

    def cancel(self, timer: list[Any]) -> None:
        self._timers = [t for t in self._timers if t is not timer]

    def stop(self) -> None:
        self._stopping = True

    def topic(self, port: str) -> str:
        return self._topics[port]

    def add_output(self, port: str, spec: Output, topic: str | None = None) -> str:
        """A port of this instance (topics known at run time); returns its topic."""
        self._new_port(port, topic)
        self.output_ports[port] = spec
        if self._link is not None:
            self._pubs[port] = self._link.output(self._topics[port], spec)
        return self._topics[port]

    def add_input(self, port: str, spec: Input, topic: str | None = None,
                  handler: Callable[[Message], Any] | None = None, watched: bool = False
                  ) -> str:
        """An input port of this instance, handled by ``handler`` (default ``on_<port>``);
        ``watched``: a topic found through ``watch_publishers``, whose new publishers wait
        for this subscription. Returns its topic."""
        handler = handler or getattr(self, f"on_{port}", None)
        if handler is None:
            raise TypeError(f"{type(self).__name__}: input {port!r} has no handler")
        self._new_port(port, topic)
        self.input_ports[port] = spec
        self._handlers[port] = (self._guard(port, handler), watched)
        if self._link is not None:
            self._open_input(port)
        return self._topics[port]

    def _new_port(self, port: str, topic: str | None) -> None:
        if port in self._topics:
            raise ValueError(f"{self.name} already has a port {port!r}")
        self._topics[port] = resolve_topic(topic or port, self.namespace)

    def subscriber_count(self, port: str) -> int:
        """Subscribers connected to an output now (a source may wait for its graph)."""
        self._need_link().process_events()
        return self._pubs[port].subscriber_count

    def watch_publishers(self, handler: Callable[[dict[str, Any]], Any]
                         ) -> list[dict[str, Any]]:
        """Call ``handler`` for each publisher that appears on any topic; returns those
        known now (entries with ``topic`` and ``type``)."""
        return self._need_link().watch_publishers(handler)

    def follow_topics(self, topics: Sequence[str], follow: Callable[[str], Any]) -> None:
        """``follow(topic)`` for each named topic (relative names under the namespace), or,
        when none is named, for every topic published now or later (recorders, viewers)."""
        if topics:
            for topic in topics:
                follow(resolve_topic(str(topic), self.namespace))
            return
        for pub in self.watch_publishers(lambda pub: follow(pub["topic"])):
            follow(pub["topic"])

    # -- for runners ---------------------------------------------------------------------
    def attach(self, link: Link) -> None:
        """Open every port on a runner's transport; ports added later open at once."""
        if self._link is not None:
            raise RuntimeError(f"{self.name} is already attached to a transport")
        self._link = link
        for port, spec in self.output_ports.items():
            self._pubs[port] = link.output(self._topics[port], spec)
        for port in self.input_ports:
            self._open_input(port)

    def detach(self) -> None:
        self._link = None
        self._pubs.clear()
        self._subs.clear()

    @property
    def attached(self) -> bool:
        return self._link is not None

    def port_topics(self) -> tuple[dict[str, str], dict[str, str]]:
        """(inputs, outputs) as port -> topic, for a status report."""
        return ({p: self._topics[p] for p in self.input_ports},
                {p: self._topics[p] for p in self.output_ports})

    def subscriptions(self) -> dict[str, Any]:
        """The attached inputs' subscriptions by port (their ``drops`` go into a status)."""
        return dict(self._subs)

    def _open_input(self, port: str) -> None:
        assert self._link is not None
        handler, watched = self._handlers[port]
        self._subs[port] = self._link.input(self._topics[port], self.input_ports[port],
                                            handler, watched)

    def _need_link(self) -> Link:
        if self._link is None:
            raise NotAttached(
                f"{self.name} is not attached to a transport: run it with a runner "
                "(facewire.bus.runners, or facewire.testing.run_node in a test)")
        return self._link

    def _guard(self, where: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Count calls and busy time; a raising handler is logged once and counted."""
        recv_key, busy_key = f"recv.{where}", f"busy_us.{where}"

        def call(*args: Any) -> Any:
            t0 = time.perf_counter_ns()
            try:
                if where != "timer":
                    self.counters[recv_key] += 1
                return fn(*args)
            except Exception as exc:
                cause = f"{where}:{type(exc).__name__}"
                self.counters["handler_errors"] += 1
                if cause not in self._logged_errors:
                    self._logged_errors.add(cause)
                    self.log.exception("error in %s (dropped; further ones only counted): %s",
                                       where, exc)
                return None
            finally:
                self.counters[busy_key] += (time.perf_counter_ns() - t0) // 1000

        return call

    def extra_counters(self) -> dict[str, int]:
        """Counts kept elsewhere (a sender, a device) to report in the heartbeat; read
        once a heartbeat instead of being copied on every message."""
        return {}

    def next_timer_due(self) -> float | None:
        """Monotonic time of the next timer, None without timers (a runner's poll wait)."""
        return min((t[0] for t in self._timers), default=None)

    def run_timers(self) -> None:
        """Run due timers once (offline graphs drive sources with this)."""
        now = time.monotonic()
        for timer in list(self._timers):
            if now >= timer[0]:
                due, period = timer[0] + timer[1], timer[1]
                timer[0] = due if due > now - period else now + period  # no catch-up burst
                timer[2]()

    @property
    def stopping(self) -> bool:
        return self._stopping
