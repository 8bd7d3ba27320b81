"""Stopping a graph's process the way Ctrl-C would, with a bounded wait.

``facewire demo``, ``facewire say`` and the live-graph evaluation each start a launch (and
a recorder) as child processes; SIGINT lets them close their bags and sockets cleanly, and
a kill after ``timeout_s`` keeps a stuck child from hanging the command.
"""

from __future__ import annotations

import signal
import subprocess


def stop_gracefully(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """SIGINT, wait up to ``timeout_s``, then SIGKILL; a process already gone is left be."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
