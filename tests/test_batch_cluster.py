"""``facewire batch`` as whole processes: a real two-node Ray cluster, and Ctrl-C (slow).

Two ``ray start`` processes (a head and a second node, one CPU each, 127.0.0.1 only, no
dashboard, a small object store, their own temp folder and ports). ``ray stop`` would stop
every Ray process on the machine, other users' too, so teardown stops only the processes
started from this test's temp folder, and their children (the workers).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import REPO, facewire_cmd

pytest.importorskip("ray", reason="ray is not installed (pip install 'facewire[batch]')")
psutil = pytest.importorskip("psutil", reason="psutil (a ray dependency) is missing")

RAY = str(Path(sys.executable).parent / "ray")


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def node_ports(worker_base: int) -> list[str]:
    p = free_ports(6)
    return ["--node-manager-port", str(p[0]), "--object-manager-port", str(p[1]),
            "--dashboard-agent-listen-port", str(p[2]), "--dashboard-agent-grpc-port", str(p[3]),
            "--runtime-env-agent-port", str(p[4]), "--metrics-export-port", str(p[5]),
            "--min-worker-port", str(worker_base), "--max-worker-port", str(worker_base + 40)]


def stop_processes_under(temp: str) -> None:
    """Terminate the Ray processes whose command line names ``temp``, with their children."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if proc.pid != os.getpid() and any(temp in part for part in proc.info["cmdline"] or []):
                found += [proc, *proc.children(recursive=True)]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    for proc in found:
        try:
            proc.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(found, timeout=10)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[dict[str, str]]:
    """The environment a driver needs to join: the address and the cluster's own token
    (Ray 2.5x turns token authentication on for new clusters)."""
    temp = tempfile.mkdtemp(prefix="fwray2-")
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    env.pop("RAY_ADDRESS", None)
    gcs_port, client_port = free_ports(2)
    base = random.randrange(20000, 60000, 100)
    # Ray replaces 127.0.0.1 by the machine's address (resolve_ip_for_localhost) and its
    # GCS listens on every interface: the token keeps others out
    common = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--temp-dir", temp,
              "--object-store-memory", str(80 * 1024 * 1024), "--disable-usage-stats"]
    address = f"127.0.0.1:{gcs_port}"
    try:
        for extra in (["--head", "--port", str(gcs_port), "--include-dashboard=false",
                       "--ray-client-server-port", str(client_port), *node_ports(base)],
                      ["--address", address, *node_ports(base + 50)]):
            done = subprocess.run([RAY, "start", *extra, *common], env=env, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
        yield {**env, "RAY_ADDRESS": address}
    finally:
        stop_processes_under(temp)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_lines_run_on_both_nodes(two_nodes: dict[str, str], tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(12):
        t = np.arange(int((0.5 + 0.1 * i) * 16000)) / 16000
        audio = 0.3 * np.sign(np.sin(2 * np.pi * 120 * t)) * (t > 0.1) * np.clip(
            np.sin(2 * np.pi * 3 * t), 0, None) + 0.003 * rng.standard_normal(t.size)
        sf.write(lib / f"l{i:02d}.wav", audio.astype(np.float32), 16000)
    out = tmp_path / "out"
    t0 = time.monotonic()
    done = subprocess.run(facewire_cmd("batch", str(lib), "--out", str(out), "--chunk", "1"),
                          capture_output=True, text=True, timeout=240,
                          env=two_nodes)
    assert done.returncode == 0, done.stderr
    assert "on 2 worker(s)" in done.stderr and "2 node(s)" in done.stderr
    rows = [json.loads(x) for x in (out / "report.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and {r["status"] for r in rows} == {"done"}
    assert len({r["node_id"] for r in rows}) == 2, "all lines ran on one node"
    print(f"two-node batch of 12 lines: {time.monotonic() - t0:.1f} s")


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_the_rerun_resumes(tmp_path: Path) -> None:
    """SIGINT to the command's process group, as a terminal's Ctrl-C sends it."""
    lib = tmp_path / "lib"
    lib.mkdir()
    t = np.arange(int(2.5 * 16000)) / 16000
    audio = (0.3 * np.sign(np.sin(2 * np.pi * 120 * t)) * (t > 0.1)).astype(np.float32)
    for i in range(150):
        sf.write(lib / f"l{i:03d}.wav", audio, 16000)
    temp = tempfile.mkdtemp(prefix="fwray3-")
    out = tmp_path / "out"
    cmd = facewire_cmd("batch", str(lib), "--out", str(out), "--ray-temp-dir", temp,
                       "--workers", "1", "--chunk", "2")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env, start_new_session=True)
        report = out / "report.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (report.is_file() and report.read_text()):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stderr
        assert "interrupted" in stderr and "Traceback" not in stderr
        assert "not run" in stdout
        assert not list(out.glob(".*.tmp"))
        complete = len(list(out.glob("*.take.json")))
        assert 0 < complete < 150
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
        assert again.returncode == 0, again.stderr
        assert f"{150 - complete} done, {complete} skipped, 0 failed" in again.stdout
    finally:
        stop_processes_under(temp)
        shutil.rmtree(temp, ignore_errors=True)
