"""Recovery under SIGKILL: how long until a killed node's output flows again.

Runs a real graph under `facewire launch` (every node with ``respawn: true`` and the default
respawn delay), subscribes to every node's output topic from this process (and listens for
the Live Link bridge's UDP packets), then per node, ``--kills`` times: SIGKILL, and time
until the first message on its output that was published after the kill. Kills are spaced
by the launcher's STABLE_AFTER_S so every one meets the first back-off, as an isolated
crash would. Each kill is split into kill -> respawned (the launcher's "started" line) and
respawned -> first output (the node's own start-up: imports, model, registry, connections).

Then the registry: SIGKILL it (the launcher starts it again) and measure the largest gap
on the graph's last topic, the time until every node is listed again (re-registered), and
the time until a new subscriber receives the graph's output.

Goal: under 1 s for every node (median and max).

``--standby`` gives every node ``standby: true``: a started process waits to take over.

    python benchmarks/recovery.py [--kills 5] [--nodes audio,smoother] [--standby] [--quick]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from facewire.bus.client import ask_registry
from facewire.bus.transport import Bus
from facewire.launch.launcher import STABLE_AFTER_S, fresh_registry_address
from facewire.messages.base import Message

GOAL_S = 1.0

FULL = """
description: recovery benchmark graph (every node respawns)
nodes:
  - {{name: audio, node: audio, respawn: true,
     params: {{source: file, path: demo_clip.wav, loop: true, wait_subscribers: 1}}}}
  - {{name: features, node: features, respawn: true}}
  - {{name: blendshapes, node: blendshapes, respawn: true,
     params: {{model: facewire_cnn_gru_logmel_live}}, remap: {{blendshapes: blendshapes_raw}}}}
  - {{name: smoother, node: smoother, respawn: true, params: {{method: one_euro}},
     remap: {{input: blendshapes_raw, output: blendshapes}}}}
  - {{name: bridge, node: bridge_livelink, respawn: true,
     params: {{host: 127.0.0.1, port: {port}, subject: bench}}}}
"""
FULL_OUTPUTS = {"audio": "/audio", "features": "/features", "blendshapes": "/blendshapes_raw",
                "smoother": "/blendshapes", "bridge": "udp"}

QUICK = """
description: recovery smoke graph
nodes:
  - {{name: talker, node: talker, respawn: true, params: {{rate: 100}}, remap: {{output: chatter}}}}
  - {{name: relay, node: relay, respawn: true, remap: {{input: chatter, output: relayed}}}}
"""
QUICK_OUTPUTS = {"relay": "/relayed", "talker": "/chatter"}


class Graph:
    """A `facewire launch` process; its output lines with arrival times."""

    def __init__(self, text: str, registry: str) -> None:
        self.file = Path(os.environ.get("TMPDIR", "/tmp")) / f"recovery-{os.getpid()}.yaml"
        self.file.write_text(text)
        env = {**os.environ, "FACEWIRE_BUS": registry}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "facewire", "launch", str(self.file)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: list[tuple[float, str]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def pid(self, name: str) -> int | None:
        pids = [int(m.group(1)) for _, line in self.lines
                if (m := re.search(rf"started {name} \(pid (\d+)\)", line))]
        return pids[-1] if pids else None

    def started_after(self, name: str, t: float) -> float | None:
        for when, line in self.lines:
            if when >= t and re.search(rf"started {name} \(pid \d+\)", line):
                return when
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.file.unlink(missing_ok=True)


class Watcher:
    """Subscribes to every output topic (and a UDP port); arrival and stamp per message."""

    def __init__(self, registry: str, outputs: dict[str, str]) -> None:
        self.bus = Bus("recovery-bench", registry=registry)
        self.arrivals: dict[str, list[tuple[float, int]]] = {t: [] for t in outputs.values()}
        for topic in outputs.values():
            if topic != "udp":
                self.bus.subscribe(topic, None, delivery="queue", depth=100_000,
                                   callback=self._on(topic))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.setblocking(False)
        self.port = self.udp.getsockname()[1]

    def _on(self, topic: str):  # noqa: ANN202
        def record(msg: Message) -> None:
            self.arrivals[topic].append((time.monotonic(), msg.header.stamp_ns))
        return record

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.bus.spin_once(5)
            while True:
                try:
                    self.udp.recv(65536)
                except BlockingIOError:
                    break
                if "udp" in self.arrivals:
                    self.arrivals["udp"].append((time.monotonic(), time.time_ns()))

    def first_after(self, topic: str, t_mono: float, stamp_ns: int, timeout_s: float
                    ) -> float | None:
        """Seconds from t_mono to the first message published after stamp_ns."""
        end = time.monotonic() + timeout_s
        while True:
            for arrival, stamp in self.arrivals[topic]:
                if arrival >= t_mono and stamp > stamp_ns:
                    return arrival - t_mono
            if time.monotonic() > end:
                return None
            self.spin(0.01)

    def close(self) -> None:
        self.bus.close()
        self.udp.close()


def kill_once(graph: Graph, watcher: Watcher, name: str, topic: str) -> tuple[float, float]:
    """SIGKILL ``name``; (kill -> respawned, kill -> first output), seconds."""
    pid = graph.pid(name)
    assert pid is not None, f"no pid for {name}"
    watcher.spin(0.05)
    t_kill, stamp = time.monotonic(), time.time_ns()
    os.kill(pid, signal.SIGKILL)
    flowing = watcher.first_after(topic, t_kill, stamp, 30.0)
    if flowing is None:
        raise SystemExit(f"{name}: no output within 30 s of the kill")
    started = graph.started_after(name, t_kill)
    return (started - t_kill if started else float("nan")), flowing


def registry_restart(graph: Graph, watcher: Watcher, registry: str, names: list[str],
                     topic: str) -> dict[str, float]:
    pid = graph.pid("registry")
    assert pid is not None
    watcher.spin(0.5)
    t_kill = time.monotonic()
    before = len(watcher.arrivals[topic])
    os.kill(pid, signal.SIGKILL)
    listed = None
    while time.monotonic() - t_kill < 30:
        watcher.spin(0.02)
        reply = ask_registry(registry, {"op": "list"}, 0.2) or {}
        present = {n.get("node") for n in reply.get("nodes", []) if isinstance(n, dict)}
        if set(names) <= present:
            listed = time.monotonic() - t_kill
            break
    t_new = time.monotonic()
    fresh = Bus("recovery-newcomer", registry=registry)
    try:
        sub = fresh.subscribe(topic, None)
        got = sub.recv(timeout_s=30)
        newcomer = time.monotonic() - t_kill if got is not None else float("nan")
    finally:
        fresh.close()
    watcher.spin(0.2)
    times = [t for t, _ in watcher.arrivals[topic][before - 1:]]
    gaps = [b - a for a, b in zip(times, times[1:])]
    return {"largest gap on the data path": max(gaps) if gaps else float("nan"),
            "every node listed again": listed if listed is not None else float("nan"),
            "new subscriber receives": newcomer, "(new subscriber's own start)": t_new - t_kill}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5, help="kills per node (at least 5)")
    parser.add_argument("--nodes", default="", help="comma-separated subset of the nodes")
    parser.add_argument("--space", type=float, default=STABLE_AFTER_S + 0.5,
                        help="seconds between kills (the launcher resets its back-off "
                             f"after {STABLE_AFTER_S:.0f} s up)")
    parser.add_argument("--standby", action="store_true",
                        help="every node with `standby: true` (a waiting process takes over)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: a two-node chain, one kill, one registry restart")
    args = parser.parse_args()
    registry = fresh_registry_address()
    outputs = QUICK_OUTPUTS if args.quick else FULL_OUTPUTS
    kills = 1 if args.quick else args.kills
    space = 0.5 if args.quick else args.space
    names = [n for n in (args.nodes.split(",") if args.nodes else outputs) if n]
    names = ["relay"] if args.quick and not args.nodes else names
    watcher = graph = None
    try:
        watcher_ready = threading.Event()
        graph_text = QUICK.format() if args.quick else None
        # the watcher needs the registry, which the launcher starts: launch, then watch
        if graph_text is None:
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            probe.close()
            graph_text = FULL.format(port=port)
        if args.standby:
            graph_text = graph_text.replace("respawn: true", "respawn: true, standby: true")
        graph = Graph(graph_text, registry)
        deadline = time.monotonic() + 60
        while ask_registry(registry, {"op": "ping"}, 0.2) is None:
            if time.monotonic() > deadline or graph.proc.poll() is not None:
                print("\n".join(line for _, line in graph.lines))
                raise SystemExit("the graph did not start")
        watcher = Watcher(registry, outputs)
        if not args.quick:  # the bridge sends to the port chosen above: re-bind it there
            watcher.udp.close()
            watcher.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            watcher.udp.bind(("127.0.0.1", port))
            watcher.udp.setblocking(False)
        watcher_ready.set()
        last = outputs[names[-1]] if args.quick else "/blendshapes"
        if watcher.first_after(last, time.monotonic(), 0, 60.0) is None:
            print("\n".join(line for _, line in graph.lines))
            raise SystemExit("the graph never produced output")
        watcher.spin(2.0 if not args.quick else 0.3)
        print(f"recovery after SIGKILL, {kills} kill(s) per node, {space:.1f} s apart, "
              f"{'standby processes' if args.standby else 'plain respawn'}; "
              f"goal < {GOAL_S:.1f} s")
        print(f"{'node':12s} {'median s':>9s} {'max s':>7s}   {'kill->respawned':>15s} "
              f"{'respawned->output':>17s}  goal")
        worst = 0.0
        for name in names:
            totals, spawns = [], []
            for _ in range(kills):
                spawn, total = kill_once(graph, watcher, name, outputs[name])
                totals.append(total)
                spawns.append(spawn)
                watcher.spin(space)
            worst = max(worst, max(totals))
            med_spawn = statistics.median(spawns)
            print(f"{name:12s} {statistics.median(totals):9.3f} {max(totals):7.3f}   "
                  f"{med_spawn:15.3f} {statistics.median(totals) - med_spawn:17.3f}  "
                  f"{'met' if max(totals) < GOAL_S else 'MISSED'}")
        graph_nodes = list(outputs)
        result = registry_restart(graph, watcher, registry, graph_nodes, last)
        print("registry SIGKILL (the launcher starts it again):")
        for what, seconds in result.items():
            print(f"  {what:32s} {seconds:7.3f} s")
        print(f"worst node recovery {worst:.3f} s: goal {'met' if worst < GOAL_S else 'MISSED'}")
        return 0
    finally:
        if watcher is not None:
            watcher.close()
        if graph is not None:
            graph.stop()


if __name__ == "__main__":
    sys.exit(main())
