"""``facewire batch MANIFEST --out DIR``: a dialogue library animated on Ray.

Per line: a Live Link Face CSV and an .npz (optionally the MCAP bag and a plot); per run:
``report.jsonl``, ``summary.json`` and ``report.png``. A second run skips complete lines.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="animate a dialogue library on Ray (local or a cluster)")
    p.add_argument("manifest", help="CSV or JSONL manifest (columns: audio, id, text, "
                   "subject, emotion, intensity, model), or a folder of audio files")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--model", default="", help="model for lines without one (default: bundled)")
    p.add_argument("--fps", type=float, default=60.0, choices=(60.0, 30.0))
    p.add_argument("--smoothing", default="savgol", choices=("savgol", "one_euro", "none"))
    p.add_argument("--bag", action="store_true", help="also write each line's MCAP bag")
    p.add_argument("--plot", action="store_true", help="also write each line's PNG plot")
    p.add_argument("--force", action="store_true", help="redo lines that are already complete")
    p.add_argument("--fsync", action="store_true",
                   help="fsync each output (survives a power cut, not only a crash; slower)")
    p.add_argument("--address", default=None,
                   help="Ray cluster to join (default: RAY_ADDRESS, else a local instance)")
    p.add_argument("--workers", type=int, default=0,
                   help="worker processes (default: one per CPU of the instance or cluster)")
    p.add_argument("--chunk", type=int, default=0,
                   help="lines per worker call (default: from the line count)")
    p.add_argument("--ship", action="store_true",
                   help="send audio and outputs through Ray (no storage shared by the nodes)")
    p.add_argument("--gpus-per-worker", type=float, default=0.0,
                   help="GPUs each worker asks Ray for (onnxruntime CUDA where given)")
    p.add_argument("--ray-temp-dir", default=None, help="local instance: Ray's temp folder")
    p.add_argument("--object-store-mb", type=int, default=200,
                   help="local instance: object store size")
    p.set_defaults(func=run)


def pick_chunk(n_lines: int, workers: int) -> int:
    """Several lines per call share Ray's per-call cost; enough calls keep workers even."""
    return max(1, min(16, n_lines // (workers * 8)))


def run(args: argparse.Namespace) -> int:
    from facewire.batch.manifest import ManifestError, read_manifest
    from facewire.models.runtime import ModelError

    try:
        lines = read_manifest(args.manifest)
        from facewire.batch.line import BatchOptions, model_digest

        for model in {args.model} | {ln.model for ln in lines}:
            model_digest(model)  # a missing model fails here, not on every line
    except (ManifestError, ModelError) as exc:
        print(f"facewire batch: {exc}", file=sys.stderr)
        return 2
    if args.workers < 0 or args.chunk < 0:
        print("facewire batch: --workers and --chunk must be positive (0: automatic)",
              file=sys.stderr)
        return 2
    opts = BatchOptions(out=str(Path(args.out).resolve()), model=args.model, fps=args.fps,
                        smoothing=args.smoothing, bag=args.bag, plot=args.plot,
                        force=args.force, ship=args.ship, fsync=args.fsync)
    return run_batch(lines, opts, args)


def run_batch(lines: list, opts, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facewire.batch.cluster import (
        ClusterError,
        cluster_cpus,
        make_workers,
        run_lines,
        start_ray,
        stop_ray,
    )
    from facewire.batch.report import Report

    try:
        import ray  # noqa: F401
    except ImportError:
        print("facewire batch: needs Ray: pip install 'facewire[batch]'", file=sys.stderr)
        return 2
    local_cpus = args.workers or os.cpu_count() or 1
    try:
        where = start_ray(args.address, local_cpus, args.ray_temp_dir, args.object_store_mb)
    except ClusterError as exc:
        print(f"facewire batch: {exc}", file=sys.stderr)
        return 2
    report = Report(Path(opts.out))
    interrupted = False
    n_workers = local_cpus
    t0 = time.perf_counter()
    try:
        n_workers = args.workers or cluster_cpus()
        chunk = args.chunk or pick_chunk(len(lines), n_workers)
        print(f"{len(lines)} line(s) on {n_workers} worker(s), {where}", file=sys.stderr)
        workers = make_workers(n_workers, opts.model, opts.fps, args.gpus_per_worker)
        with tqdm(total=len(lines), unit="line", desc="batch", disable=None) as bar:
            for row in run_lines(lines, opts, workers, chunk):
                report.add(row)
                bar.update()
                if row["status"] == "failed":
                    tqdm.write(f"failed: {row['id']} ({row['audio']}): {row['reason']}",
                               file=sys.stderr)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        wall_s = time.perf_counter() - t0
        report.close()
        stop_ray()
    summary = report.summary(wall_s, len(lines), n_workers, where)
    report.write_summary(summary)
    plot = report.plot_times()
    print(f"{summary['done']} done, {summary['skipped']} skipped, {summary['failed']} failed"
          + (f", {summary['not_run']} not run" if summary["not_run"] else "")
          + f"; {summary['audio_hours'] * 3600:.1f} s of audio in {wall_s:.1f} s "
          f"({summary['lines_per_s']:.1f} lines/s, {summary['x_real_time']:.0f}x real time)")
    print(f"report: {Path(opts.out) / 'report.jsonl'}" + (f", plot: {plot}" if plot else ""))
    if interrupted:
        print("interrupted: finished lines are kept; run the same command again to resume",
              file=sys.stderr)
        return 130
    return 1 if summary["failed"] else 0
