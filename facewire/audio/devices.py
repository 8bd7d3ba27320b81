"""Sound devices (PortAudio via sounddevice): listing them, finding one, capturing from it."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import numpy as np

from facewire.audio import AudioSourceError


def list_devices() -> list[dict]:
    import sounddevice as sd

    return [
        {"index": i, "name": d["name"], "inputs": d["max_input_channels"],
         "rate": d["default_samplerate"]}
        for i, d in enumerate(sd.query_devices())
    ]


def find_input_device(spec: str) -> int | None:
    """A device by index or by (case-insensitive) name substring; None for the default."""
    if spec == "":
        return None
    devices = [d for d in list_devices() if d["inputs"] > 0]
    if spec.isdigit() and any(d["index"] == int(spec) for d in devices):
        return int(spec)
    matches = [d for d in devices if spec.lower() in d["name"].lower()]
    if len(matches) >= 1:
        exact = [d for d in matches if d["name"].lower() == spec.lower()]
        return (exact or matches)[0]["index"]
    listing = "\n".join(f"  {d['index']}: {d['name']} ({d['inputs']} in)" for d in devices)
    raise AudioSourceError(
        f"no input device matches {spec!r}. Input devices:\n{listing or '  (none)'}\n"
        "Pick one by index or name (facewire audio devices)."
    )


class InputCapture:
    """A running mono input stream at the device's own rate.

    PortAudio's callback thread only queues each block with the wall-clock time its first
    sample reached the converter (the callback's ADC time, mapped from the stream clock);
    :meth:`read` hands the queued blocks to the caller's thread.
    """

    def __init__(self, device: str, block_ms: float) -> None:
        import sounddevice as sd

        index = find_input_device(device)
        info = sd.query_devices(index, "input")
        self.name = info["name"]
        self.rate = int(info["default_samplerate"])
        self.samples = 0  # samples read so far: the index of the next block's first one
        self.q: queue.Queue[tuple[np.ndarray, int]] = queue.Queue()

        def callback(indata: np.ndarray, frames: int, t: object, status: object) -> None:
            # the ADC time of the block's first sample, on the stream clock, to wall clock
            lag = max(0.0, stream.time - getattr(t, "inputBufferAdcTime", stream.time))
            self.q.put((indata.copy(), time.time_ns() - int(lag * 1e9)))

        stream = sd.InputStream(device=index, channels=1, samplerate=self.rate,
                                blocksize=int(self.rate * block_ms / 1000),
                                dtype="float32", callback=callback)
        self.stream = stream
        stream.start()

    def read(self) -> Iterator[tuple[np.ndarray, int, int]]:
        """The blocks captured so far and not read yet: (samples (n, 1), index of the
        first sample in the stream, its capture_ns)."""
        while True:
            try:
                block, capture_ns = self.q.get_nowait()
            except queue.Empty:
                return
            first = self.samples
            self.samples += len(block)
            yield block, first, capture_ns

    def close(self) -> None:
        self.stream.stop()
        self.stream.close()
