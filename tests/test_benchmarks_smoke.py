"""Every script in benchmarks/ runs in its quick mode, so none can rot unnoticed.

Scripts are discovered, not listed: a new benchmark is covered the moment it is added.
The figures they print are read by people, never asserted here (speed is not a test).
The scripts run three at a time (several wait on real-time graphs or sockets, not on the
CPU), each checked by its own test so a failure names the script.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((REPO / "benchmarks").glob("*.py"))
QUICK_TIMEOUT_S = 90
PARALLEL = 3


def test_benchmarks_are_found() -> None:
    assert len(SCRIPTS) >= 5, f"expected the benchmarks/ scripts, found {SCRIPTS}"


def _run_quick(script: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
    try:
        return subprocess.run([sys.executable, str(script), "--quick"], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=QUICK_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, -1, str(exc.stdout or ""),
                                           f"--quick ran past {QUICK_TIMEOUT_S} s")


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess[str]]:
    runnable = [s for s in SCRIPTS if "--quick" in s.read_text()]
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {s.name: pool.submit(_run_quick, s, tmp_path_factory.mktemp(s.stem))
                   for s in runnable}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_benchmark_runs_quick(script: Path, quick_runs) -> None:
    source = script.read_text()
    assert "--quick" in source, f"{script.name} must accept --quick (a smoke run of seconds)"
    assert '__name__ == "__main__"' in source, f"{script.name} must be runnable as a script"
    proc = quick_runs[script.name]
    assert proc.returncode == 0, (
        f"{script.name} --quick exited {proc.returncode}:\n{proc.stdout[-2000:]}\n"
        f"{proc.stderr[-3000:]}")
    assert proc.stdout.strip(), f"{script.name} --quick printed no figures"
