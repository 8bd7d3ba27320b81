"""The launcher: runs a validated launch as supervised processes.

Each node is its own ``python -m facewire node run ...`` process (a crash stays in its
process), with FACEWIRE_BUS pointing at the registry. Output lines are prefixed with the
node's name by one reader thread per pipe; the main thread alone spawns, watches and
respawns, so signal handling stays simple. Children live in their own process group (a
Ctrl-C in the terminal reaches only the launcher, which then stops them in order) and on
Linux get SIGTERM if the launcher itself dies, so a ``kill -9`` of the launcher leaves no
orphans.

Stop order: SIGTERM to every node, wait up to a grace period, SIGKILL what is left, then
the registry last so nodes can say goodbye to it. A registry that dies is started again;
the nodes register again by themselves.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import IO, Any

from facewire.bus.addresses import REGISTRY_ENV, runtime_dir
from facewire.bus.client import ask_registry
from facewire.launch.model import NodeSpec, graph_delay

GRACE_S = 5.0  # SIGTERM -> SIGKILL
MAX_RESPAWN_DELAY_S = 30.0
STABLE_AFTER_S = 10.0  # a node up this long gets its back-off reset
POLL_S = 0.05
READY_TIMEOUT_S = 15.0  # consumers get this long to subscribe before sources start
DELAY_REPORT_S = 20.0  # give up waiting for every node's delay_s after this long
SPARE_AFTER_S = 1.0  # a standby node's next spare starts this long after it took over
REGISTRY_STABLE_S = 2.0  # a registry up this long died of something else than its start
REGISTRY_QUICK_DEATHS = 3  # quick deaths in a row before the launch gives up
CANNOT_START = 2  # the exit code of a node whose set-up failed (Node.run, `node run`)
COLORS = (36, 32, 33, 35, 34, 91, 92, 93, 94, 95, 96)


def registry_answers(address: str, timeout_s: float = 1.0) -> bool:
    """Whether a facewire registry replies at ``address``."""
    return ask_registry(address, {"op": "ping"}, timeout_s) is not None


def fresh_registry_address() -> str:
    return f"ipc://{runtime_dir()}/launch-{uuid.uuid4().hex[:10]}.sock"


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that asks Linux to SIGTERM the child when the launcher dies."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return preexec


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class _Proc:
    """One supervised process and its respawn state."""

    label: str
    command: list[str]
    spec: NodeSpec | None  # None: the registry
    popen: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    next_delay: float = 0.0
    respawn_at: float | None = None
    ended: int | None = None  # final exit code once it will not come back
    restarts: int = 0
    readers: list[threading.Thread] = field(default_factory=list)
    last_line: str = ""  # the reason, when it dies at start-up
    spare: subprocess.Popen[bytes] | None = None  # standby: started, waiting on stdin
    spare_due: float | None = None  # when to start the next spare
    color: int = 0


class Launcher:
    """Start, supervise and stop the processes of one launch."""

    def __init__(
        self,
        nodes: list[NodeSpec],
        registry: str,
        start_registry: bool,
        out: IO[str] | None = None,
        grace_s: float = GRACE_S,
        color: bool | None = None,
    ) -> None:
        self.nodes = nodes
        self.registry = registry
        self.start_registry = start_registry
        self.out = out or sys.stdout
        self.grace_s = grace_s
        self.color = self.out.isatty() if color is None else color
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._signals = 0
        self._failed = False
        self._bad_entries = 0  # malformed entries in the registry's node list, counted
        self._delay_due: float | None = None  # when to ask the running nodes for delay_s
        self._delay_deadline = 0.0
        self._width = max([len(n.label) for n in nodes] + [len("registry"), len("launch")])
        self._preexec = _die_with_parent()
        env = dict(os.environ)
        env[REGISTRY_ENV] = registry
        env["PYTHONUNBUFFERED"] = "1"
        self.env = env
        self.procs: list[_Proc] = [
            _Proc(n.label, n.command(), n, next_delay=n.respawn_delay) for n in nodes
        ]
        self.registry_proc: _Proc | None = None
        if start_registry:
            self.registry_proc = _Proc(
                "registry", [sys.executable, "-m", "facewire", "bus", "--address", registry],
                None)

    # -- output -----------------------------------------------------------------------
    def say(self, text: str) -> None:
        """A line from the launcher itself."""
        self._emit("launch", text, 0)

    def _emit(self, label: str, line: str, color_index: int) -> None:
        tag = f"[{label}]".ljust(self._width + 2)
        if self.color:
            tag = f"\033[{COLORS[color_index % len(COLORS)]}m{tag}\033[0m"
        with self._lock:
            try:
                self.out.write(f"{tag} {line}\n")
                self.out.flush()
            except (ValueError, OSError):
                pass  # our own stdout went away; keep supervising

    def _read(self, proc: _Proc, stream: IO[bytes], color_index: int) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            if line.strip():
                proc.last_line = line.strip()
            self._emit(proc.label, line, color_index)
        stream.close()

    # -- processes --------------------------------------------------------------------
    def _popen(self, proc: _Proc, command: list[str], stdin: int) -> subprocess.Popen[bytes]:
        popen = subprocess.Popen(
            command, env=self.env, stdin=stdin, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, process_group=0, preexec_fn=self._preexec,
        )
        assert popen.stdout is not None
        reader = threading.Thread(target=self._read, args=(proc, popen.stdout, proc.color),
                                  name=f"log-{proc.label}", daemon=True)
        reader.start()
        proc.readers.append(reader)
        return popen

    def _spawn(self, proc: _Proc, color_index: int) -> None:
        proc.color = color_index
        popen = self._take_spare(proc)
        how = " from standby" if popen is not None else ""
        if popen is None:
            popen = self._popen(proc, proc.command, subprocess.DEVNULL)
        proc.popen, proc.started, proc.respawn_at = popen, time.monotonic(), None
        if proc.spec is not None and proc.spec.standby:
            proc.spare_due = proc.started + SPARE_AFTER_S  # not while this one starts
        again = f" (restart {proc.restarts})" if proc.restarts else ""
        self.say(f"started {proc.label} (pid {popen.pid}){again}{how}")

    def _take_spare(self, proc: _Proc) -> subprocess.Popen[bytes] | None:
        """The waiting standby process, told to join the graph; None if there is none."""
        spare, proc.spare = proc.spare, None
        if spare is None or spare.poll() is not None or spare.stdin is None:
            return None
        try:
            spare.stdin.write(b"go\n")
            spare.stdin.close()
        except OSError:
            return None
        return spare

    def _start_spare(self, proc: _Proc) -> None:
        """A standby node: imports done, waiting on stdin to take over."""
        proc.spare_due = None
        proc.spare = self._popen(proc, [*proc.command, "--standby"], subprocess.PIPE)

    def _stop_spares(self) -> None:
        """EOF ends a waiting spare; SIGKILL what does not end at once."""
        spares = [p.spare for p in self.procs if p.spare is not None]
        for spare in spares:
            try:
                if spare.stdin is not None:
                    spare.stdin.close()
            except OSError:
                pass
        deadline = time.monotonic() + 2.0
        for spare in spares:
            try:
                spare.wait(max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                spare.kill()
                spare.wait()
        for proc in self.procs:
            proc.spare = None

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._signals += 1
        self._stop.set()

    def run(self) -> int:
        """Run until every node ends, a required node dies, or SIGINT/SIGTERM; exit code."""
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, self._on_signal)
        try:
            if not self._start():
                self._failed = True
            else:
                self._supervise()
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self._failed:
            return 1
        if self._signals:
            return 0
        codes = [p.ended for p in self.procs]
        return 0 if all(c == 0 for c in codes) else 1

    def _start(self) -> bool:
        if self.registry_proc is not None:
            self._spawn(self.registry_proc, 0)
            deadline = time.monotonic() + 15.0
            while not registry_answers(self.registry, 0.2):
                assert self.registry_proc.popen is not None
                code = self.registry_proc.popen.poll()
                if code is not None:
                    self.say(f"the registry could not start ({describe_exit(code)})")
                    return False
                if time.monotonic() > deadline or self._stop.is_set():
                    self.say(f"the registry at {self.registry} did not answer")
                    return False
            self.say(f"registry at {self.registry} (for hand-started tools: "
                     f"export {REGISTRY_ENV}={self.registry})")
        else:
            self.say(f"using the registry at {self.registry}")
        # Consumers first: a source starts only once every node fed by another node of the
        # graph has subscribed, so nothing a source sends is lost to a subscriber still
        # starting up. A node whose inputs no node here publishes (an audio node with an
        # optional input port, say) counts as a source.
        published = {t for p in self.procs if p.spec for t in p.spec.outputs.values()}

        def consumer(proc: _Proc) -> bool:
            return bool(proc.spec and set(proc.spec.inputs.values()) & published)

        order = sorted(enumerate(self.procs, start=1), key=lambda ip: not consumer(ip[1]))
        waiting = [p for p in self.procs if consumer(p)]
        for i, proc in order:
            if self._stop.is_set():
                return True
            if waiting and not consumer(proc):
                self._wait_ready(waiting)
                waiting = []
            self._spawn(proc, i)
        return True

    def _wait_ready(self, procs: list[_Proc], timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until each process reports itself running to the registry (bounded)."""
        deadline = time.monotonic() + timeout_s
        pending = {p.popen.pid: p.label for p in procs if p.popen is not None}
        while pending and not self._stop.is_set():
            for pid, status in self._statuses().items():
                if pid in pending and status.state == "running":
                    pending.pop(pid)
            pending = {pid: label for pid, label in pending.items()
                       if not any(p.popen is not None and p.popen.pid == pid
                                  and p.popen.poll() is not None for p in procs)}
            if not pending:
                return
            if time.monotonic() > deadline:
                self.say(f"not ready after {timeout_s:.0f} s: {', '.join(pending.values())}; "
                         "starting the sources anyway")
                return
            time.sleep(0.05)

    def _statuses(self) -> dict[int, Any]:
        """The latest NodeStatus of each process the registry knows, by pid."""
        from facewire.bus.validate import node_entries

        reply = ask_registry(self.registry, {"op": "list"}, 0.5)
        if reply is None:
            return {}
        nodes, bad = node_entries(reply)
        if bad and not self._bad_entries:
            self.say(f"ignored {bad} malformed registry entr{'y' if bad == 1 else 'ies'}")
        self._bad_entries += bad
        return {n["pid"]: n["status"] for n in nodes if n["status"] is not None}

    def _report_delay(self, now: float) -> None:
        """Once every node runs, print the graph's delay from the delay_s they report.

        Nodes work out their delay from parameters and models (a smoother's window, a
        model's lookahead), so the running nodes, not the classes, know the true figure.
        """
        statuses = self._statuses()
        specs, missing = [], []
        for proc in self.procs:
            assert proc.spec is not None
            status = statuses.get(proc.popen.pid) if proc.popen is not None else None
            if status is not None and status.state == "running":
                specs.append(replace(proc.spec, delay_s=float(status.delay_s)))
            else:
                specs.append(proc.spec)
                missing.append(proc.label)
        if missing and now < self._delay_deadline:
            self._delay_due = now + 0.5
            return
        self._delay_due = None
        total, path = graph_delay(specs)
        per_node = ", ".join(f"{n.label} {n.delay_s * 1000:.1f}" for n in specs if n.delay_s)
        note = f"; not reporting: {', '.join(missing)}" if missing else ""
        self.say(f"graph delay {total * 1000:.1f} ms along {' -> '.join(path)}"
                 + (f" (ms per node: {per_node})" if per_node else "") + note)

    def _supervise(self) -> None:
        if self.procs:
            self._delay_due = time.monotonic() + 0.5
            self._delay_deadline = time.monotonic() + DELAY_REPORT_S
        while not self._stop.wait(POLL_S):
            now = time.monotonic()
            if self._delay_due is not None and now >= self._delay_due:
                self._report_delay(now)
            reg = self.registry_proc
            if reg is not None and reg.popen is not None and reg.popen.poll() is not None:
                if not self._respawn_registry(reg, now):
                    self._failed = True
                    return
            for i, proc in enumerate(self.procs, start=1):
                if proc.ended is not None:
                    continue
                if proc.spare is not None and proc.spare.poll() is not None:
                    self.say(f"the standby process of {proc.label} died "
                             f"({describe_exit(proc.spare.returncode)})")
                    proc.spare, proc.spare_due = None, now + STABLE_AFTER_S
                if proc.spare_due is not None and now >= proc.spare_due:
                    self._start_spare(proc)
                if proc.respawn_at is not None:
                    if now >= proc.respawn_at:
                        proc.restarts += 1
                        self._spawn(proc, i)
                    continue
                assert proc.popen is not None and proc.spec is not None
                code = proc.popen.poll()
                if code is None:
                    continue
                if not self._handle_exit(proc, code, now):
                    self._failed = True
                    return
            if self.procs and all(p.ended is not None for p in self.procs):
                self.say("every node has ended")
                return

    def _respawn_registry(self, reg: _Proc, now: float) -> bool:
        """Start the registry again at once; the nodes notice and register again (their
        data connections never went through it). False when it keeps dying at start."""
        assert reg.popen is not None
        how = describe_exit(reg.popen.returncode)
        if now - reg.started < REGISTRY_STABLE_S:
            reg.next_delay += 1
        else:
            reg.next_delay = 0
        if reg.next_delay > REGISTRY_QUICK_DEATHS:
            self.say(f"the registry died ({how}) {REGISTRY_QUICK_DEATHS + 1} times in a row "
                     "right after starting; stopping everything")
            return False
        self.say(f"the registry died ({how}); starting it again")
        reg.restarts += 1
        self._spawn(reg, 0)
        return True

    def _handle_exit(self, proc: _Proc, code: int, now: float) -> bool:
        """Report a node that ended; schedule its respawn. False: stop the launch."""
        assert proc.spec is not None
        spec = proc.spec
        uptime = now - proc.started
        how = describe_exit(code)
        if spec.required:
            self.say(f"required node {proc.label} died ({how}) after {uptime:.1f} s; "
                     "stopping everything")
            proc.ended = code
            return False
        if not spec.respawn and code == CANNOT_START:
            # a node refusing its configuration (a missing file or model): the graph
            # cannot work without it, so say why and stop instead of idling
            for reader in proc.readers:
                reader.join(timeout=1.0)  # its last words, which name the problem
            reason = f": {proc.last_line}" if proc.last_line else ""
            self.say(f"node {proc.label} could not start ({how}){reason}; stopping everything")
            proc.ended = code
            return False
        if not spec.respawn:
            level = "ended" if code == 0 else "died"
            self.say(f"node {proc.label} {level} ({how}) after {uptime:.1f} s")
            proc.ended = code
            return True
        if uptime >= STABLE_AFTER_S:
            proc.next_delay = spec.respawn_delay
        delay = proc.next_delay
        proc.next_delay = min(max(delay * 2, 0.1), MAX_RESPAWN_DELAY_S)
        proc.respawn_at = now + delay
        self.say(f"node {proc.label} died ({how}) after {uptime:.1f} s; "
                 f"respawning in {delay:.1f} s")
        return True

    def _shutdown(self) -> None:
        self._stop_spares()
        running = [p for p in self.procs if p.popen is not None and p.popen.poll() is None]
        if running:
            self.say(f"stopping {len(running)} node(s)")
        self._terminate(running)
        for proc in self.procs:
            if proc.popen is not None and proc.ended is None and proc.respawn_at is None:
                proc.ended = proc.popen.returncode
        if self.registry_proc is not None and self.registry_proc.popen is not None:
            self._terminate([self.registry_proc])
        for proc in [*self.procs, *([self.registry_proc] if self.registry_proc else [])]:
            for reader in proc.readers:
                reader.join(timeout=1.0)
        self.say("stopped")

    def _terminate(self, procs: list[_Proc]) -> None:
        for proc in procs:
            assert proc.popen is not None
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for proc in procs:
            assert proc.popen is not None
            try:
                # a second Ctrl-C means: do not wait
                while proc.popen.poll() is None:
                    if self._signals > 1 or time.monotonic() > deadline:
                        raise subprocess.TimeoutExpired(proc.command, self.grace_s)
                    time.sleep(0.02)
            except subprocess.TimeoutExpired:
                self.say(f"{proc.label} did not stop within {self.grace_s:.0f} s; SIGKILL")
                proc.popen.kill()
                proc.popen.wait()
