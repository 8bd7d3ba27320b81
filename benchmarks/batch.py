"""Dialogue-library throughput: the ``facewire animate`` loop against ``facewire batch`` on Ray.

Generates a library of short lines (1-4 s, 16 kHz) from real FSDD digit recordings (or a
synthetic buzz when the data is absent), then in one run:

- the graph alone: ``animate_file`` in this process, models loaded (the floor);
- ``facewire animate LIB --out DIR --no-plot``: the old one-process loop, as a user runs it;
- ``batch`` on a local Ray instance with 1 and with 2 workers (steady state: Ray and the
  workers are started first, and that start-up is printed on its own).

Prints lines/s, multiples of real time, the per-line overhead of batch over the graph
alone, the 2-worker / 1-worker ratio, and the projected wall-clock of 100,000 lines.

    python benchmarks/batch.py --quick            # a few seconds of work, plus Ray start-up
    python benchmarks/batch.py --lines 2000 --old-ref ba08d50   # full run (minutes)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from facewire.batch.cluster import make_workers, run_lines, start_ray, stop_ray
from facewire.batch.line import BatchOptions
from facewire.batch.manifest import read_manifest
from facewire.offline import animate_file, limit_blas_threads

RATE = 16000


def digit_clips(data: Path) -> list[np.ndarray]:
    from scipy.signal import resample_poly

    clips = []
    for path in sorted((data / "recordings").glob("*.wav"))[:400]:
        audio, rate = sf.read(path, dtype="float32")
        clips.append(resample_poly(audio, RATE, rate).astype(np.float32) if rate != RATE
                     else audio)
    return clips


def synthetic_clip(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(rng.uniform(0.3, 0.6) * RATE)) / RATE
    env = np.clip(np.sin(np.pi * t / t[-1]), 0, None)
    return (0.3 * env * np.sign(np.sin(2 * np.pi * rng.uniform(100, 180) * t))).astype(np.float32)


def make_library(folder: Path, n: int, data: Path | None, seed: int = 0) -> float:
    """``n`` lines of 1-4 s (digits joined by short pauses); returns the total seconds."""
    rng = np.random.default_rng(seed)
    clips = digit_clips(data) if data is not None else []
    gap = np.zeros(int(0.08 * RATE), np.float32)
    total = 0.0
    for i in range(n):
        target = rng.uniform(1.0, 4.0) * RATE
        parts: list[np.ndarray] = [np.zeros(int(0.1 * RATE), np.float32)]
        while sum(len(p) for p in parts) < target:
            parts += [clips[rng.integers(len(clips))] if clips else synthetic_clip(rng), gap]
        line = np.concatenate(parts)[: int(target)]
        line += (0.002 * rng.standard_normal(line.size)).astype(np.float32)
        sf.write(folder / f"line{i:05d}.wav", line, RATE)
        total += len(line) / RATE
    return total


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def children_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def run_animate_cli(lib: Path, out: Path, tree: Path | None) -> tuple[float, float]:
    """(wall s, CPU s) of ``facewire animate`` over the library, as a user runs it."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = str(tree or Path(__file__).resolve().parents[1])
    cmd = [sys.executable, "-m", "facewire", "animate", str(lib), "--out", str(out), "--no-plot"]
    t0, cpu0 = time.perf_counter(), children_cpu()
    # cwd outside the repository: "python -m" puts the cwd first on sys.path, so run from
    # the repository root the old tree's loop would import this tree's facewire
    subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=out.parent)
    return time.perf_counter() - t0, children_cpu() - cpu0


def output_difference(new: Path, old: Path) -> tuple[float, int]:
    """Largest absolute difference between the curves of two ``animate`` output folders
    (inf when a take's frame count differs), and how many takes were compared."""
    worst, takes = 0.0, 0
    for path in sorted(new.glob("*.npz")):
        with np.load(path) as a, np.load(old / path.name) as b:
            if a["weights"].shape != b["weights"].shape:
                return float("inf"), takes + 1
            worst = max(worst, float(np.abs(a["weights"] - b["weights"]).max(initial=0.0)))
        takes += 1
    return worst, takes


def run_batch(lines: list, opts: BatchOptions, n_workers: int, chunk: int
              ) -> tuple[float, float, float, list]:
    """(worker start-up s, steady-state wall s, CPU s of workers and driver, rows)."""
    import ray

    t0 = time.perf_counter()
    workers = make_workers(n_workers)
    before = ray.get([w.where.remote() for w in workers])
    start_s = time.perf_counter() - t0
    t0, cpu0 = time.perf_counter(), time.process_time()
    rows = list(run_lines(lines, opts, workers, chunk))
    wall, driver_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    after = ray.get([w.where.remote() for w in workers])
    for w in workers:
        ray.kill(w)
    worker_cpu = sum(a["cpu_s"] - b["cpu_s"] for a, b in zip(after, before))
    return start_s, wall, worker_cpu + driver_cpu, rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 24 lines")
    ap.add_argument("--lines", type=int, default=2000)
    ap.add_argument("--data", default=os.environ.get("FACEWIRE_DATA", ""),
                    help="folder holding fsdd/ (default: FACEWIRE_DATA or ../shared/data)")
    ap.add_argument("--old-ref", default="",
                    help="also run 'facewire animate' as of this git commit (e.g. before batch)")
    ap.add_argument("--chunk", type=int, default=8, help="lines per worker call")
    ap.add_argument("--fsync", action="store_true", help="batch: fsync every output file")
    args = ap.parse_args()
    n = 24 if args.quick else args.lines
    data_root = Path(args.data) if args.data else Path(__file__).resolve().parents[2] / "shared" / "data"
    fsdd = data_root / "fsdd" if (data_root / "fsdd" / "recordings").is_dir() else None
    tmp = Path(tempfile.mkdtemp(prefix="fwbatch-"))
    try:
        lib = tmp / "lib"
        lib.mkdir()
        audio_s = make_library(lib, n, fsdd)
        lines = read_manifest(lib)
        print(f"library: {n} lines, {audio_s:.0f} s of audio ({audio_s / n:.2f} s a line), "
              f"from {'FSDD digits' if fsdd else 'synthetic buzz (no FSDD found)'}")
        results: list[tuple[str, float, float]] = []  # (label, wall s, CPU s)

        limit_blas_threads()  # as the animate command and the batch workers do
        sample = lines[: min(n, 200)]
        animate_file(sample[0].audio)  # load the model once, like a worker
        cpu0 = time.process_time()
        graph_s = timed(lambda: [animate_file(ln.audio) for ln in sample]) / len(sample)
        graph_cpu = (time.process_time() - cpu0) / len(sample)
        results.append(("graph alone, in-process (floor)", graph_s * n, graph_cpu * n))
        results.append(("facewire animate loop (this tree)",
                        *run_animate_cli(lib, tmp / "animate", None)))
        if args.old_ref:
            old = tmp / "old_tree"
            old.mkdir()
            archive = subprocess.run(["git", "archive", args.old_ref, "facewire"], check=True,
                                     capture_output=True, cwd=Path(__file__).resolve().parents[1])
            subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
            results.append((f"facewire animate loop (at {args.old_ref[:10]})",
                            *run_animate_cli(lib, tmp / "animate_old", old)))
            diff, takes = output_difference(tmp / "animate", tmp / "animate_old")
            print(f"outputs against {args.old_ref[:10]}: largest |weight difference| "
                  f"{diff:.2g} over {takes} takes (speed-ups must keep it <= 1e-5)")

        ray_temp = tempfile.mkdtemp(prefix="fwrayb-")
        t0 = time.perf_counter()
        start_ray(num_cpus=2, temp_dir=ray_temp, object_store_mb=100)
        ray_start_s = time.perf_counter() - t0
        try:
            walls, cpus = {}, {}
            for k in (1, 2):
                opts = BatchOptions(out=str(tmp / f"batch{k}"), fsync=args.fsync)
                start_s, walls[k], cpus[k], rows = run_batch(lines, opts, k, args.chunk)
                bad = [r for r in rows if r["status"] != "done"]
                if bad:
                    print(f"batch {k}: {len(bad)} line(s) not done: {bad[0].get('reason')}")
                results.append((f"facewire batch, {k} worker(s)", walls[k], cpus[k]))
                print(f"batch {k} worker(s): workers ready in {start_s:.1f} s")
            parts = {key: np.mean([r["timings"][key] for r in rows]) * 1e3
                     for key in ("read_s", "animate_s", "render_s", "write_s", "total_s",
                                 "cpu_s")}
        finally:
            stop_ray()
            shutil.rmtree(ray_temp, ignore_errors=True)
        print(f"Ray local instance start-up: {ray_start_s:.1f} s (once per run)")
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
              "cores (other processes share them: wall figures are pessimistic)\n")

        print(f"{'path':42s} {'wall s':>8s} {'lines/s':>8s} {'x real time':>12s} "
              f"{'CPU ms/line':>12s}")
        for label, wall, cpu in results:
            print(f"{label:42s} {wall:8.1f} {n / wall:8.1f} {audio_s / wall:12.0f} "
                  f"{cpu / n * 1e3:12.1f}")
        print("\nper line in a worker, mean ms: " + ", ".join(f"{k[:-2]} {v:.1f}"
                                                            for k, v in parts.items()))
        cpu_line = cpus[1] / n
        print(f"per-line overhead of batch over the graph alone: wall "
              f"{(walls[1] / n - graph_s) * 1e3:.1f} ms, CPU {(cpu_line - graph_cpu) * 1e3:.1f} "
              "ms (goal <= 15 ms; CPU excludes Ray's own raylet/GCS processes)")
        print(f"2 workers / 1 worker throughput: {walls[1] / walls[2]:.2f}x (goal >= 1.7x); "
              f"2 workers: {audio_s / walls[2]:.0f}x real time (goal >= 300x); one core of "
              f"batch CPU per line: {audio_s / cpus[1]:.0f}x real time per worker")
        efficiency = min(1.0, walls[1] / walls[2] / 2)
        print("projected wall-clock for 100,000 lines of this length:")
        print(f"  {'workers':>8s} {'measured rate':>14s} {'dedicated cores':>16s}")
        for k in (1, 8, 64):
            measured = 100_000 * walls[1] / n / (k * (1.0 if k == 1 else efficiency))
            dedicated = 100_000 * cpu_line / k
            print(f"  {k:8d} {measured / 3600:12.2f} h {dedicated / 3600:14.2f} h")
        print(f"  (measured: the 1-worker wall rate, {efficiency:.0%} per-worker efficiency as "
              "measured with 2; dedicated: batch CPU per line on one core per worker)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
