"""Bridge cost per frame: Live Link Face encode/send, VMC bundles, and how many 60 fps subjects
one core sustains through the Live Link sender.

    python benchmarks/bench_bridges.py [--quick]
"""

from __future__ import annotations

import argparse
import socket
import time

import numpy as np

from facewire.bridges.livelink import LiveLinkEncoder, LiveLinkSender
from facewire.bridges.vmc import VmcEncoder


def per_call_us(fn, n: int) -> float:
    fn(0)
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer calls (a smoke run)")
    args = ap.parse_args()
    scale = 50 if args.quick else 1
    rng = np.random.default_rng(0)
    w = rng.random(52).astype(np.float32)
    rot = rng.uniform(-20, 20, 9)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.setblocking(False)
    port = sink.getsockname()[1]

    enc = LiveLinkEncoder("Ada")
    print(f"livelink encode           {per_call_us(lambda i: enc.encode(w, i / 60, rot), 20000 // scale):7.1f} us/packet")
    subjects = [f"Actor{i:02d}" for i in range(16)]
    with LiveLinkSender("127.0.0.1", port, subject=subjects[0]) as tx:
        for s in subjects[1:]:
            tx.add_subject(s)

        def send_all(i: int) -> None:
            for s in subjects:
                tx.send(w, i / 60, rot, subject=s)
            while True:  # keep the receive buffer from filling (not counted as bridge cost)
                try:
                    sink.recv(2048)
                except BlockingIOError:
                    break

        t0 = time.process_time()
        frames = 2000 // scale
        for i in range(frames):
            send_all(i)
        cpu = time.process_time() - t0
        per_packet = cpu / (frames * len(subjects)) * 1e6
        print(f"livelink encode+send      {per_packet:7.1f} us/packet (CPU, incl. draining)")
        print(f"16 subjects @ 60 fps      {per_packet * 16 * 60 / 1e4:7.2f} % of one core")
        print(f"subjects @ 60 fps / core  {1e6 / (per_packet * 60):7.0f}")
    for profile in ("perfect_sync", "vrm", "both"):
        v = VmcEncoder(profile)
        print(f"vmc bundles {profile:13s} {per_call_us(lambda i, v=v: v.bundles(w, i / 60), 5000 // scale):7.1f} us/frame")


if __name__ == "__main__":
    main()
