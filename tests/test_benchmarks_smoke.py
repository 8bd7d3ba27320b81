"""Every script in benchmarks/ runs in its quick mode, so none can rot unnoticed.

Scripts are discovered, not listed: a new benchmark is covered the moment it is added.
The figures they print are read by people, never asserted here (speed is not a test).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((REPO / "benchmarks").glob("*.py"))
QUICK_TIMEOUT_S = 60


def test_benchmarks_are_found() -> None:
    assert len(SCRIPTS) >= 5, f"expected the benchmarks/ scripts, found {SCRIPTS}"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_benchmark_runs_quick(script: Path, tmp_path: Path) -> None:
    source = script.read_text()
    assert "--quick" in source, f"{script.name} must accept --quick (a smoke run of seconds)"
    assert '__name__ == "__main__"' in source, f"{script.name} must be runnable as a script"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
    proc = subprocess.run([sys.executable, str(script), "--quick"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=QUICK_TIMEOUT_S)
    assert proc.returncode == 0, (
        f"{script.name} --quick exited {proc.returncode}:\n{proc.stdout[-2000:]}\n"
        f"{proc.stderr[-3000:]}")
    assert proc.stdout.strip(), f"{script.name} --quick printed no figures"
