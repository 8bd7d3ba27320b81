"""The Node base class: declared inputs, outputs and parameters; a clean run loop.

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
starts. ``every(period, fn)`` adds a timer (sources pace themselves with one). SIGINT and
SIGTERM stop the loop cleanly; a handler that raises is logged once and counted, and the
node keeps running.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, ClassVar

import yaml

from facewire.bus.addresses import hostname
from facewire.bus.transport import Bus, Publisher, Subscription
from facewire.messages.base import Message
from facewire.messages.codec import encode_bytes
from facewire.messages.types import NodeStatus

HEARTBEAT_S = 1.0


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
    """An input port: message type and delivery (``queue`` bounded, or ``latest``)."""

    type: type[Message]
    delivery: str = "queue"
    depth: int = 1000
    help: str = ""


@dataclass(frozen=True)
class Output:
    type: type[Message]
    help: str = ""


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


class Node:
    """Base class of every facewire node (see the module docstring)."""

    inputs: ClassVar[dict[str, Input]] = {}
    outputs: ClassVar[dict[str, Output]] = {}
    params: ClassVar[dict[str, Param]] = {}
    delay_s: ClassVar[float] = 0.0  # algorithmic delay this node adds (lookahead, smoothing)

    def __init__(
        self,
        name: str | None = None,
        namespace: str = "/",
        params: dict[str, Any] | None = None,
        remaps: dict[str, str] | None = None,
        registry: str | None = None,
        bus: Any = None,
    ) -> None:
        """``bus``: an in-process LocalBus for offline graphs (default: a ZeroMQ Bus)."""
        self.name = name or type(self).__name__.lower()
        self.log = logging.getLogger(self.name)
        self.p = SimpleNamespace(**validate_params(type(self), params or {}))
        remaps = remaps or {}
        validate_remaps(type(self), remaps)
        self.counters: Counter[str] = Counter()
        self._logged_errors: set[str] = set()
        self._timers: list[list[Any]] = []  # [next_due, period, fn]
        self._stopping = False
        self.bus = (Bus(self.name, registry=registry, namespace=namespace) if bus is None
                    else bus.scoped(namespace))
        self._pubs: dict[str, Publisher] = {
            port: self.bus.publisher(remaps.get(port, port), spec.type)
            for port, spec in self.outputs.items()
        }
        self._subs: dict[str, Subscription] = {}
        for port, spec in self.inputs.items():
            handler = getattr(self, f"on_{port}", None)
            if handler is None:
                raise TypeError(f"{type(self).__name__} declares input {port!r} but no on_{port}")
            self._subs[port] = self.bus.subscribe(
                remaps.get(port, port), spec.type, delivery=spec.delivery, depth=spec.depth,
                callback=self._guard(port, handler),
            )
        self.every(HEARTBEAT_S, self.heartbeat)

    # -- for subclasses ------------------------------------------------------------------
    def on_start(self) -> None:
        """Called once before the loop (open devices, load models)."""

    def on_stop(self) -> None:
        """Called once after the loop (flush, close)."""

    def end_of_stream(self) -> None:
        """Offline runs: the input has ended; publish what is held back (smoothing)."""

    def publish(self, port: str, msg: Message) -> None:
        self._pubs[port].publish(msg)
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
        if port in self._pubs:
            return self._pubs[port].topic
        return self._subs[port].topic

    # -- runtime -------------------------------------------------------------------------
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

    def status(self, state: str = "running") -> NodeStatus:
        counters = {**self.counters, **self.extra_counters()}
        for port, sub in self._subs.items():
            for cause, n in sub.drops.items():
                counters[f"drop.{port}.{cause}"] = n
            if getattr(sub, "resets", 0):
                counters[f"seq_reset.{port}"] = sub.resets
        for what, n in getattr(self.bus, "registry_drops", {}).items():
            counters[f"registry.bad_{what}"] = n
        if getattr(self.bus, "registrations", 0):
            counters["registry.registered_again"] = self.bus.registrations
        return NodeStatus(
            node=self.name, state=state, pid=os.getpid(), host=hostname(),
            inputs={p: s.topic for p, s in self._subs.items()},
            outputs={p: s.topic for p, s in self._pubs.items()},
            counters=counters, delay_s=float(self.delay_s),
        )

    def heartbeat(self, state: str = "running") -> None:
        self.bus.registry.send({"op": "status", "status": encode_bytes(self.status(state))})

    def spin_once(self, timeout_ms: int = 100) -> None:
        now = time.monotonic()
        if self._timers:
            due = min(t[0] for t in self._timers)
            timeout_ms = max(0, min(timeout_ms, int((due - now) * 1000)))
        self.bus.spin_once(timeout_ms)
        self.run_timers()

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

    def run(self) -> int:
        """Run until SIGINT/SIGTERM or stop(); returns the exit code."""
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, lambda *_: self.stop())
        try:
            try:
                self.on_start()
            except Exception as exc:  # a clear message, not a traceback, for setup errors
                self.log.error("%s cannot start: %s", self.name, exc)
                return 2
            self.heartbeat()
            while not self._stopping:
                self.spin_once()
            return 0
        finally:
            try:
                self.on_stop()
            finally:
                self.heartbeat("stopped")
                self.bus.close()
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
