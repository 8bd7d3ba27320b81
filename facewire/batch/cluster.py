"""Spread dialogue lines over Ray actors: one local instance by default, or a cluster.

Why actors, not Ray Data's ``map_batches``: each line is independent, takes milliseconds,
and must come back as its own report row with its own retry. Actors hold the loaded model
(one per worker process), take small chunks of lines per call (so Ray's per-call cost is
shared by several lines) and return one row per line; a line that fails is simply sent
again. With ``map_batches`` a failing row fails its whole block (or is dropped under
``max_errored_blocks``), a job pays Ray Data's planner and streaming executor start-up, and
rows come back in blocks rather than one at a time for the progress bar and the report.
``ray.util.ActorPool`` was the other candidate, but when an actor dies its
``get_next_unordered`` raises without saying which item was lost, so the dispatch below
keeps its own map of in-flight calls (``ray.wait`` over them).

Audio travels one of two ways: by default workers read audio and write outputs by path,
which needs storage every node sees (NFS, a shared disk; always true on one machine);
with ``ship=True`` the driver reads each file and sends its bytes with the task, and the
files come back to the driver as bytes (no shared storage needed; costs network).
"""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from facewire.batch.line import BatchOptions, animate_line, read_audio_bytes, skip_if_complete
from facewire.batch.manifest import Line
from facewire.batch.outputs import write_line_files

CALLS_IN_FLIGHT = 2  # per actor: the next chunk is queued while one runs
MAX_ATTEMPTS = 2  # a failing line is retried once, then reported


class ClusterError(RuntimeError):
    """Ray could not be started or reached; the text says what to do."""


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def start_ray(address: str | None = None, num_cpus: int | None = None,
              temp_dir: str | None = None, object_store_mb: int = 200) -> str:
    """Join the cluster at ``address`` (or RAY_ADDRESS), else start a local instance.

    A local instance has no dashboard and a bounded object store; it never joins a cluster
    another user started on this machine. Returns a description for the log."""
    import ray

    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        check_reachable(address)
        try:
            ray.init(address=address, log_to_driver=False, logging_level="error")
        except Exception as exc:
            raise ClusterError(f"cannot join the Ray cluster at {address} ({one_line(exc)}): "
                               "start it with 'ray start --head', or leave --address out to "
                               "run on this machine") from None
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        return f"Ray cluster at {address}: {len(nodes)} node(s)"
    if temp_dir:
        Path(temp_dir).mkdir(parents=True, exist_ok=True)
    # workers keep this command's priority (Ray's default renices them to 15, which on a
    # shared machine hands their CPU to everything else); run 'nice facewire batch' to yield
    ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False,
             object_store_memory=object_store_mb * 1024 * 1024, _temp_dir=temp_dir,
             _system_config={"worker_niceness": 0}, log_to_driver=False, logging_level="error")
    return f"local Ray instance ({num_cpus or os.cpu_count()} CPU)"


def check_reachable(address: str, timeout_s: float = 3.0) -> None:
    """Fail in seconds on a HOST:PORT nobody listens at (Ray itself retries for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # 'auto', ray:// client addresses: left to Ray
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ClusterError(f"nothing answers at {address} ({exc.strerror or exc}): start the "
                           "head with 'ray start --head --port PORT', or leave --address out to "
                           "run on this machine") from None


def stop_ray() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


def cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


class LineWorker:
    """A Ray actor: loads the model once, then animates chunks of lines."""

    def __init__(self, model: str = "", fps: float = 60.0) -> None:
        import ray

        from facewire.offline import limit_blas_threads, preload_model

        limit_blas_threads()
        # onnxruntime's CUDA provider when Ray gave this worker a GPU, else the CPU
        self.device = "cuda" if ray.get_gpu_ids() else "cpu"
        self.node_id = ray.get_runtime_context().get_node_id()
        try:
            preload_model(model, self.device, fps)
        except Exception:  # a bad model or device: each line then fails saying why
            pass

    def where(self) -> dict:
        """Where this worker runs, and the CPU time its process has used so far."""
        return {"host": socket.gethostname(), "pid": os.getpid(), "node_id": self.node_id,
                "cpu_s": time.process_time()}

    def run(self, opts: BatchOptions, tasks: list[tuple[Line, bytes | None]]) -> list[dict]:
        rows = []
        for line, audio in tasks:
            try:
                row = animate_line(line, opts, audio, self.device)
            except Exception as exc:  # the line fails, the worker goes on
                row = {"id": line.id, "audio": line.audio, "status": "failed",
                       "reason": one_line(exc), "node": socket.gethostname(), "pid": os.getpid()}
            rows.append({**row, "node_id": self.node_id})
        return rows


def chunks(lines: list[Line], size: int) -> Iterator[list[Line]]:
    for i in range(0, len(lines), size):
        yield lines[i:i + size]


def make_workers(n: int, model: str = "", fps: float = 60.0, gpus_per_worker: float = 0.0
                 ) -> list:
    """``n`` actors spread over the cluster's nodes, each with ``model`` loaded."""
    import ray

    actor = ray.remote(LineWorker).options(
        num_cpus=1, num_gpus=gpus_per_worker, max_restarts=-1, max_task_retries=0,
        scheduling_strategy="SPREAD")
    return [actor.remote(model, fps) for _ in range(n)]


def run_lines(lines: list[Line], opts: BatchOptions, workers: list, chunk: int = 4
              ) -> Iterator[dict]:
    """Yield one final row per line (done, skipped or failed) as lines finish.

    A chunk whose worker died, and any line that failed, is queued again until it has had
    MAX_ATTEMPTS. A dead actor restarts by itself (``max_restarts``); it gets no work until
    it answers a ping, so a retry is not spent on an actor that is still coming back."""
    import ray
    from ray.exceptions import RayError

    queue: deque[tuple[int, list[Line]]] = deque((1, c) for c in chunks(lines, chunk))
    in_flight: dict = {}  # ObjectRef -> (actor index, attempt, lines)
    down: dict = {}  # ping ObjectRef -> actor index, for actors restarting
    load = [0] * len(workers)
    while queue or in_flight:
        resting = set(down.values())
        for i, actor in enumerate(workers):
            while i not in resting and load[i] < CALLS_IN_FLIGHT and queue:
                attempt, items = queue.popleft()
                tasks, early = _prepare(items, opts)
                for row in early:
                    yield _finish(row, opts, attempt)
                if tasks:
                    in_flight[actor.run.remote(opts, tasks)] = (i, attempt, [t[0] for t in tasks])
                    load[i] += 1
        if not in_flight and not down:
            continue
        ready, _ = ray.wait([*in_flight, *down], num_returns=1, timeout=1.0)
        for ref in ready:
            if ref in down:  # a restarted actor answers (or is still away: ping again)
                i = down.pop(ref)
                try:
                    ray.get(ref)
                except RayError:
                    down[workers[i].where.remote()] = i
                continue
            i, attempt, items = in_flight.pop(ref)
            load[i] -= 1
            try:
                rows = ray.get(ref)
            except RayError as exc:  # the worker died (killed, out of memory, node lost)
                reason = f"worker died: {one_line(exc)}"
                rows = [{"id": ln.id, "audio": ln.audio, "status": "failed", "reason": reason}
                        for ln in items]
                if i not in down.values():
                    down[workers[i].where.remote()] = i
            retry = []
            for line, row in zip(items, rows):
                if row["status"] == "failed" and attempt < MAX_ATTEMPTS:
                    retry.append(line)
                else:
                    yield _finish(row, opts, attempt)
            if retry:
                queue.append((attempt + 1, retry))


def _prepare(items: list[Line], opts: BatchOptions) -> tuple[list[tuple[Line, bytes | None]],
                                                             list[dict]]:
    """Tasks for the workers; in ship mode the driver reads and checks each line first."""
    if not opts.ship:
        return [(line, None) for line in items], []
    tasks, early = [], []
    for line in items:
        try:
            audio = read_audio_bytes(line)
        except OSError as exc:
            early.append({"id": line.id, "audio": line.audio, "status": "failed",
                          "reason": one_line(exc)})
            continue
        _, done = skip_if_complete(line, audio, opts)
        if done is not None:
            early.append({**done, "status": "skipped"})
        else:
            tasks.append((line, audio))
    return tasks, early


def _finish(row: dict, opts: BatchOptions, attempt: int) -> dict:
    """The final row; in ship mode, first write the files a worker sent back."""
    files, record = row.pop("files", None), row.pop("record", None)
    if files is not None and record is not None:
        t0 = time.perf_counter()
        write_line_files(Path(opts.out), row["id"], files, record, opts.fsync)
        row.setdefault("timings", {})["write_s"] = time.perf_counter() - t0
    row.pop("options", None)
    row["attempts"] = attempt
    if attempt > 1 and row["status"] == "skipped":  # finished just before its worker died
        row["status"] = "done"
    return row
