"""Shared fixtures: a real registry process per test on its own address, process helpers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACEWIRE_DATA", REPO.parent / "shared"))


def facewire_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "facewire", *args]


def wait_for_registry(address: str, timeout_s: float = 10.0) -> None:
    """Ping until the registry answers (process start-up is not instant)."""
    from facewire.bus.client import RegistryClient, RegistryUnreachable

    deadline = time.monotonic() + timeout_s
    ctx = zmq.Context()
    try:
        while True:
            client = None  # the constructor closes its own socket when it fails
            try:
                client = RegistryClient(ctx, "probe", address)
                client.request({"op": "ping"}, timeout_s=0.5)
                client.close()
                return
            except RegistryUnreachable:
                if client is not None:
                    client.sock.close(0)
                if time.monotonic() > deadline:
                    raise
    finally:
        ctx.term()


def stop_process(proc: subprocess.Popen, timeout_s: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A registry process on a fresh ipc address, exported as FACEWIRE_BUS."""
    address = f"ipc://{tmp_path}/bus-{uuid.uuid4().hex[:6]}.sock"
    monkeypatch.setenv("FACEWIRE_BUS", address)
    proc = subprocess.Popen(facewire_cmd("bus", "--address", address),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_registry(address)
        yield address
    finally:
        stop_process(proc)


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    """A UDP socket on a free loopback port, as an engine's receiver would be."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.skip(f"shared data folder {SHARED} is absent (set FACEWIRE_DATA to use it)")
    return SHARED


@pytest.fixture(scope="session")
def aperture():
    """The ICT rig's inner-lip aperture, as the lip metrics score it; skips without the rig."""
    from facewire.train.metrics import default_aperture

    ap = default_aperture()
    if ap is None:
        pytest.skip("the ICT rig (../shared/assets/ict_facekit.npz) is absent: no lip "
                    "aperture to score")
    return ap
