"""The batch's record: ``report.jsonl`` (one row per line, written as lines finish, so an
interrupted run still says what it did), ``summary.json`` and a plot of per-line times."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class Report:
    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.rows: list[dict] = []
        self._file = open(out / "report.jsonl", "w", encoding="utf-8")  # closed in close()

    def add(self, row: dict) -> None:
        self.rows.append(row)
        self._file.write(json.dumps(row, sort_keys=True, default=str) + "\n")
        self._file.flush()

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.rows)

    def summary(self, wall_s: float, total: int, workers: int, where: str) -> dict:
        done = [r for r in self.rows if r["status"] == "done"]
        audio_s = float(sum(r.get("audio_s", 0.0) for r in done))
        per_line = np.array([r["timings"]["total_s"] for r in done if "timings" in r])
        return {
            "lines": total, "done": len(done), "skipped": self.count("skipped"),
            "failed": self.count("failed"), "not_run": total - len(self.rows),
            "audio_hours": audio_s / 3600, "wall_s": wall_s, "workers": workers,
            "cluster": where,
            "lines_per_s": len(done) / wall_s if wall_s > 0 else 0.0,
            "x_real_time": audio_s / wall_s if wall_s > 0 else 0.0,
            "line_ms_p50": float(np.median(per_line) * 1e3) if per_line.size else None,
            "line_ms_p95": float(np.percentile(per_line, 95) * 1e3) if per_line.size else None,
            "failures": {r["id"]: r.get("reason", "") for r in self.rows
                         if r["status"] == "failed"},
        }

    def write_summary(self, summary: dict) -> Path:
        path = self.out / "summary.json"
        path.write_text(json.dumps(summary, indent=1, sort_keys=True))
        return path

    def plot_times(self) -> Path | None:
        """Histogram of per-line worker time: the long tail is where a library's time goes."""
        times = [r["timings"]["total_s"] * 1e3 for r in self.rows
                 if r["status"] == "done" and "timings" in r]
        if not times:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.hist(times, bins=min(50, max(5, len(times) // 4)), color="0.35")
        ax.set_xlabel("time per line in a worker (ms)")
        ax.set_ylabel("lines")
        ax.set_title(f"{len(times)} lines, median {np.median(times):.1f} ms")
        fig.tight_layout()
        path = self.out / "report.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    def close(self) -> None:
        self._file.close()
