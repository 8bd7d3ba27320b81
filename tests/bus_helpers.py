"""Helpers for tests that run real node processes against the `registry` fixture."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import facewire_cmd


def start_node(kind: str, *args: str, log: Path | None = None) -> subprocess.Popen:
    """``facewire node run KIND ARGS`` with stderr to ``log`` (or discarded)."""
    err = open(log, "w") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(facewire_cmd("node", "run", kind, *args),
                            stdout=subprocess.DEVNULL, stderr=err)


def node_list(registry: str) -> list[dict[str, Any]]:
    out = subprocess.run(facewire_cmd("node", "list", "--json", "--registry", registry),
                         capture_output=True, text=True, timeout=20, check=True)
    return json.loads(out.stdout)


def wait_until(cond: Callable[[], Any], timeout_s: float = 10.0, what: str = "") -> Any:
    """Poll ``cond`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        time.sleep(0.1)


def find_node(registry: str, name: str) -> dict[str, Any] | None:
    return next((n for n in node_list(registry) if n["node"] == name), None)


def wait_running(registry: str, name: str, proc: subprocess.Popen,
                 timeout_s: float = 15.0) -> dict[str, Any]:
    """Wait until the node's heartbeat says running (fail early if the process died)."""

    def check() -> dict[str, Any] | None:
        assert proc.poll() is None, f"node {name} exited with {proc.returncode}"
        n = find_node(registry, name)
        return n if n and n["state"] == "running" else None

    return wait_until(check, timeout_s, f"node {name} running")


def read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
