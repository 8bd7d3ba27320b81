"""Offline graph CPU per line: this tree against an older commit, interleaved.

On a shared machine the CPU time of the same work drifts by a third within minutes (other
jobs evict the caches), so two runs one after the other cannot show a 20% change. Here
both trees run in two worker processes at once, get the same slices of lines in turn
(A then B, B then A, ...) and each slice's CPU time (``time.process_time``) is compared:
the median of the per-slice ratios is the figure. Lines of 1-4 s as in batch.py.

    python benchmarks/graph_ab.py --old-ref abd2fb9 [--lines 200] [--rounds 6] [--chunk-ms 10]
    python benchmarks/graph_ab.py --old-ref abd2fb9 --render   # plus a batch line's files
    python benchmarks/graph_ab.py --quick      # this tree against itself, a few seconds
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from batch import make_library  # benchmarks/batch.py, beside this script

REPO = Path(__file__).resolve().parents[1]

WORKER = """
import os, sys, time
from pathlib import Path
import facewire.offline as offline
offline.limit_blas_threads()
if os.environ.get("FW_CHUNK_MS"):  # e.g. 10: the live graph's chunking, in-process
    offline.OFFLINE_CHUNK_MS = float(os.environ["FW_CHUNK_MS"])
model = os.environ.get("FW_MODEL", "")
render = None
if os.environ.get("FW_RENDER"):  # also a batch line's CSV and npz, as a worker renders them
    from facewire.batch.outputs import render_outputs
    render = lambda take: render_outputs(take, False, False)  # noqa: E731
files = sorted(Path(sys.argv[1]).glob("*.wav"))
for f in files[:5]:  # load the model, warm the caches
    offline.animate_file(f, model=model)
print("ready", flush=True)
for line in sys.stdin:
    a, b = map(int, line.split())
    cpu = time.process_time()
    for f in files[a:b]:
        take = offline.animate_file(f, model=model)
        if render is not None:
            render(take)
    print((time.process_time() - cpu) / (b - a), flush=True)
"""


def start_worker(tree: Path, lib: Path, env: dict[str, str]) -> subprocess.Popen:
    # cwd outside the repository: "python -c" puts the cwd first on sys.path, which would
    # import the working tree's facewire whatever PYTHONPATH says
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(lib)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=lib,
                            env={**env, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"})
    if proc.stdout.readline().strip() != "ready":
        raise SystemExit(f"worker for {tree} did not start")
    return proc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: this tree against itself")
    ap.add_argument("--old-ref", default="", help="git commit to compare with (default: none, "
                    "this tree against itself)")
    ap.add_argument("--lines", type=int, default=200)
    ap.add_argument("--slice", type=int, default=25, help="lines per timed slice")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--chunk-ms", type=float, default=0.0,
                    help="audio chunk (default: the offline 1000 ms; 10: live-sized chunks)")
    ap.add_argument("--model", default="", help="e.g. facewire_cnn_gru_logmel_live")
    ap.add_argument("--render", action="store_true",
                    help="also render each take's CSV and npz (a batch line's work)")
    ap.add_argument("--data", default=os.environ.get("FACEWIRE_DATA", ""),
                    help="folder holding fsdd/ (default: FACEWIRE_DATA or ../shared/data)")
    args = ap.parse_args()
    if args.quick:
        args.lines, args.slice, args.rounds = 8, 4, 1
    data_root = Path(args.data) if args.data else REPO.parent / "shared" / "data"
    fsdd = data_root / "fsdd" if (data_root / "fsdd" / "recordings").is_dir() else None
    tmp = Path(tempfile.mkdtemp(prefix="fwgraphab-"))
    workers: dict[str, subprocess.Popen] = {}
    try:
        lib = tmp / "lib"
        lib.mkdir()
        audio_s = make_library(lib, args.lines, fsdd) / args.lines
        old_tree = REPO
        if args.old_ref:
            old_tree = tmp / "old"
            old_tree.mkdir()
            archive = subprocess.run(["git", "archive", args.old_ref, "facewire"], check=True,
                                     capture_output=True, cwd=REPO)
            subprocess.run(["tar", "-x", "-C", str(old_tree)], input=archive.stdout, check=True)
        env = dict(os.environ)
        if args.chunk_ms:
            env["FW_CHUNK_MS"] = str(args.chunk_ms)
        if args.model:
            env["FW_MODEL"] = args.model
        if args.render:
            env["FW_RENDER"] = "1"
        label_old = args.old_ref[:10] or "this tree (again)"
        workers = {"old": start_worker(old_tree, lib, env), "new": start_worker(REPO, lib, env)}
        cpu: dict[str, list[float]] = {"old": [], "new": []}
        for r in range(args.rounds):
            for k, a in enumerate(range(0, args.lines, args.slice)):
                order = ("old", "new") if (r + k) % 2 == 0 else ("new", "old")
                for name in order:
                    workers[name].stdin.write(f"{a} {min(a + args.slice, args.lines)}\n")
                    workers[name].stdin.flush()
                    cpu[name].append(float(workers[name].stdout.readline()))
        ratios = [n / o for o, n in zip(cpu["old"], cpu["new"])]
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
        print(f"{args.lines} lines of {audio_s:.2f} s on average, {len(ratios)} slice pairs, "
              f"chunk {args.chunk_ms or 1000:g} ms, model {args.model or 'default'}"
              + (", CSV and npz rendered" if args.render else ""))
        print(f"{'tree':28s} {'CPU ms/line (median)':>21s} {'x real time':>12s}")
        for name, label in (("old", label_old), ("new", "this tree")):
            ms = statistics.median(cpu[name]) * 1e3
            print(f"{label:28s} {ms:21.2f} {audio_s / (ms / 1e3):12.0f}")
        print(f"this tree / {label_old}: CPU per line x{statistics.median(ratios):.3f} "
              f"(median of per-slice ratios; quartiles {quartiles[0]:.3f}..{quartiles[2]:.3f})")
    finally:
        for proc in workers.values():
            proc.stdin.close()
            proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
