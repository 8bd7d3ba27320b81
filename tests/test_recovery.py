"""Recovery. A registry restarted under running nodes gets every
registration back (hello, advertise, subscribe); the launcher restarts a registry that dies;
SIGKILLed nodes flow again to a real downstream subscriber. How fast is measured by
benchmarks/recovery.py, not asserted here. Also: the numpy filter designs that keep
scipy.signal out of node start-up equal scipy's."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from bus_helpers import start_node, wait_running, wait_until
from conftest import facewire_cmd, stop_process, wait_for_registry
from scipy.signal import firwin, savgol_coeffs
from test_launch import CHAIN, Launch, alive, lines_of, wait_lines, write

from facewire.bus import Bus
from facewire.bus.client import ask_registry
from facewire.bus.validate import node_entries
from facewire.dsp.resample import kaiser_lowpass
from facewire.dsp.smoothing import savgol_weights
from facewire.messages import Text


@pytest.mark.parametrize("window,order", [(3, 0), (5, 2), (7, 3), (9, 2), (11, 4), (6, 2)])
def test_savgol_weights_equal_scipy(window: int, order: int) -> None:
    np.testing.assert_allclose(savgol_weights(window, order),
                               savgol_coeffs(window, order, use="dot"), atol=1e-12)


@pytest.mark.parametrize("numtaps,cutoff", [(21, 0.5), (61, 1 / 3), (321, 1 / 16),
                                            (1601, 1 / 160)])
def test_kaiser_lowpass_equals_scipy_firwin(numtaps: int, cutoff: float) -> None:
    np.testing.assert_allclose(kaiser_lowpass(numtaps, cutoff, 5.0),
                               firwin(numtaps, cutoff, window=("kaiser", 5.0)), atol=1e-12)


def test_node_start_imports_no_scipy_signal() -> None:
    code = ("import sys, facewire.nodes.audio, facewire.nodes.smoother, facewire.nodes.features;"
            "print('scipy.signal' in sys.modules)")
    out = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "False"


def listed(address: str) -> dict[str, dict]:
    """The registry's nodes by name, asked in-process (a `node list` process costs 1 s)."""
    nodes, _ = node_entries(ask_registry(address, {"op": "list"}, 0.5))
    return {n["node"]: n for n in nodes}


def start_registry(address: str) -> subprocess.Popen:
    proc = subprocess.Popen(facewire_cmd("bus", "--address", address),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_registry(address)
    return proc


def test_nodes_register_again_with_a_restarted_registry(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"ipc://{tmp_path}/bus-{uuid.uuid4().hex[:6]}.sock"
    monkeypatch.setenv("FACEWIRE_BUS", address)
    registry = start_registry(address)
    out = tmp_path / "sink.jsonl"
    talker = start_node("talker", "--name", "src", "--remap", "output=/chat",
                        "--param", "rate=50")
    sink = start_node("sink", "--name", "dst", "--remap", "input=/chat",
                      "--param", f"path={out}")
    try:
        wait_running(address, "src", talker)
        wait_until(lambda: len(lines_of(out)) > 5, 15, "messages before the restart")
        registry.send_signal(signal.SIGKILL)
        registry.wait()
        before = len(lines_of(out))
        time.sleep(1.0)
        assert len(lines_of(out)) > before + 20  # the data path never needs the registry
        registry = start_registry(address)
        # every registration comes back: node list, topics, and a NEW subscriber gets data
        wait_until(lambda: {"src", "dst"} <= set(listed(address)), 10,
                   "both nodes listed again")
        bus = Bus("newcomer")
        try:
            wait_until(lambda: "/chat" in bus.topics(), 10, "/chat advertised again")
            topics = bus.topics()["/chat"]
            assert topics["publishers"] == ["src"] and "dst" in topics["subscribers"]
            sub = bus.subscribe("/chat", Text)
            assert sub.recv(timeout_s=10) is not None
        finally:
            bus.close()
        def counted() -> dict | None:  # the heartbeat after the registration says so
            status = listed(address)["src"]["status"]
            return status.counters if status and "registry.registered_again" in \
                status.counters else None

        assert wait_until(counted, 5, "registered_again counted")[
            "registry.registered_again"] == 1
        assert talker.poll() is None and sink.poll() is None
    finally:
        stop_process(talker)
        stop_process(sink)
        stop_process(registry)


def test_launcher_restarts_its_registry_and_respawns_after_it(tmp_path: Path) -> None:
    out = tmp_path / "sink.jsonl"
    run = Launch(str(write(tmp_path, "chain.yaml", CHAIN)), "--arg", f"path={out}")
    try:
        wait_lines(out, 3)
        old_registry = run.pids()["registry"]
        os.kill(old_registry, signal.SIGKILL)
        run.wait_for(r"the registry died \(killed by SIGKILL\); starting it again")
        new_registry = int(run.wait_for(r"started registry \(pid (\d+)\) \(restart 1\)")
                           .group(1))
        assert alive(new_registry)
        registry = run.wait_for(r"registry at (\S+) \(for hand-started").group(1)
        wait_until(lambda: {"talker", "relay", "sink"} <= set(listed(registry)), 10,
                   "every node registered again")
        # a node respawned after the restart finds its peers through the new registry
        old_relay = run.pids()["relay"]
        os.kill(old_relay, signal.SIGKILL)
        run.wait_for(r"started relay \(pid (\d+)\) \(restart 1\)")
        before = len(lines_of(out))
        got = wait_lines(out, before + 5)
        assert got[-1]["text"].startswith("r: hello ")
        assert run.interrupt() == 0, run.text
    finally:
        run.kill()


def test_a_standby_process_takes_over_a_killed_node(tmp_path: Path) -> None:
    out = tmp_path / "sink.jsonl"
    chain = CHAIN.replace("    respawn: true\n", "    respawn: true\n    standby: true\n")
    run = Launch(str(write(tmp_path, "chain.yaml", chain)), "--arg", f"path={out}")
    try:
        wait_lines(out, 3)
        spare = int(wait_until(lambda: subprocess.run(  # it starts a second after the node
            ["pgrep", "-f", "-n", "--", "relay.*--standby"], capture_output=True,
            text=True).stdout, 10, "the standby process"))
        old = run.pids()["relay"]
        os.kill(old, signal.SIGKILL)
        m = run.wait_for(r"started relay \(pid (\d+)\) \(restart 1\) from standby")
        assert int(m.group(1)) == spare  # the waiting process took over
        before = len(lines_of(out))
        assert wait_lines(out, before + 5)[-1]["text"].startswith("r: hello ")
        time.sleep(1.2)  # its own spare is started in turn (and must not outlive the launch)
        assert run.interrupt() == 0, run.text
    finally:
        run.kill()
    spares = subprocess.run(["pgrep", "-f", "--", f"{tmp_path}.*--standby|relay.*--standby"],
                            capture_output=True, text=True).stdout.split()
    assert not any(alive(int(p)) for p in spares if int(p) != os.getpid()), spares


def test_standby_needs_respawn(tmp_path: Path) -> None:
    from facewire.launch.model import LaunchError, load

    file = write(tmp_path, "bad.yaml", "nodes:\n  - {name: t, node: talker, standby: true}\n")
    with pytest.raises(LaunchError, match="standby: true needs respawn: true"):
        load(str(file))
