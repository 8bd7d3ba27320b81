"""Stream clocks: how a node stamps its outputs on the audio stream's clock (DESIGN.md §3).

A node that turns one stream into another (audio into features, features into animation
frames, raw frames into smoothed ones) has to say, for every output, which media time it
describes and when the audio at that time entered the system (``capture_ns``: the bridge's
send time minus it is the delay a viewer sees). The rule is the same in every such node,
so it lives here, and a node only says when inputs arrive and when it publishes:

* An output frame sits on its stream's frame grid: frame ``k`` describes
  ``origin + k * step / rate``, where origin is the media_time of the stream's first input.
  Frames count from 0 at each stream start, so replaying a bag at any speed gives the same
  times.
* Its capture_ns is mapped from the input that completed it (the newest one): that input's
  capture_ns plus the media time between the two. A frame that needed lookahead is
  completed by a later input, so it is stamped earlier than that input's capture time, and
  the lookahead shows up in the latency figures, where it belongs.
* A node whose outputs each describe one earlier input (a smoother) stamps them with that
  input's own capture_ns instead (:meth:`StreamClock.stamp_at`), so its delay shows up too.

A stream starts again (new origin, frame count 0) when an input does not continue where the
previous one ended, beyond ``tolerance`` seconds: a seek, a loop, a new take, a restarted
source. Without durations, an input continues the stream when it is later than the last.
"""

from __future__ import annotations

from facewire.messages.base import Header


class StreamClock:
    """Records a stream's inputs as they arrive; stamps the outputs made from them.

    ``rate`` and ``step`` set the output grid: ``rate`` ticks per second, ``step`` ticks
    per frame (the features node counts in samples, 160 per 10 ms log-mel hop at 16 kHz;
    an animation node in frames, step 1). ``keep`` inputs are held for :meth:`stamp_at`.
    """

    def __init__(self, rate: float = 1.0, step: int = 1, tolerance: float = 1e-6,
                 keep: int = 0) -> None:
        self.rate, self.step, self.tolerance, self.keep = rate, step, tolerance, keep
        self.origin = 0.0
        self.index = 0  # the next output frame of this stream
        self.expected: float | None = None  # where the next input should start
        self.latest: tuple[float, int] | None = None  # newest input: (media_time, capture_ns)
        self.held: dict[float, int] = {}  # media_time -> capture_ns, for stamp_at

    @property
    def started(self) -> bool:
        """Whether any input has arrived (end_of_stream has something to flush)."""
        return self.latest is not None

    def starts_stream(self, media_time: float) -> bool:
        """Whether an input at ``media_time`` begins a new stream: the first input, or one
        that does not continue the last. Ask before :meth:`arrive`, to flush the old one."""
        if self.latest is None:
            return True
        if self.expected is None:
            return media_time <= self.latest[0]
        return abs(media_time - self.expected) > self.tolerance

    def arrive(self, header: Header, duration: float | None = None) -> None:
        """Record an input covering ``duration`` seconds from its media_time (None: unknown)."""
        t = header.media_time
        if self.starts_stream(t):
            self.origin, self.index = t, 0
            self.held.clear()
        self.expected = None if duration is None else t + duration
        self.latest = (t, header.capture_ns)
        if self.keep:
            if len(self.held) >= self.keep:  # outputs stopped asking: forget the oldest
                del self.held[next(iter(self.held))]
            self.held[t] = header.capture_ns

    def stamp(self, frames: int = 1) -> Header:
        """The header of the next output frame (the first of ``frames`` in one message),
        counted on the grid and mapped from the newest input; the count moves on."""
        if self.latest is None:
            raise RuntimeError("StreamClock.stamp before any input arrived")
        media_time = self.origin + self.index * self.step / self.rate
        self.index += frames
        t, capture_ns = self.latest
        return Header(0, 0, media_time, capture_ns + int((media_time - t) * 1e9))

    def stamp_at(self, media_time: float) -> Header:
        """The header of an output describing the held input at ``media_time``, with that
        input's capture_ns (0, unknown, when it is not held); each input is stamped once."""
        return Header(0, 0, media_time, self.held.pop(media_time, 0))
