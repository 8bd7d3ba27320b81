"""Read facewire bags, including ones a SIGKILLed recorder left without a footer.

The reader walks the file record by record instead of trusting the summary at its end,
so a truncated file gives back every message of every complete chunk, and says that it
was truncated, where, and how much it recovered. A complete file's summary is used for a
quick ``info``. Anything that is not an MCAP file raises :class:`BagError` with a sentence
a person can act on, never a library traceback.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcap.exceptions import EndOfFile, InvalidMagic
from mcap.reader import make_reader
from mcap.records import Channel, Chunk, DataEnd, Footer, Schema
from mcap.records import Message as McapMessage
from mcap.stream_reader import StreamReader, breakup_chunk

from facewire.messages.base import Message
from facewire.messages.codec import DecodeError, decode_bytes

log = logging.getLogger("facewire.bag")

MAGIC = b"\x89MCAP0\r\n"


class BagError(RuntimeError):
    """A file that cannot be read as a bag (with the reason and what to do)."""


@dataclass
class TopicInfo:
    topic: str
    type: str
    count: int = 0
    first_ns: int = 0
    last_ns: int = 0


@dataclass
class BagInfo:
    """What ``facewire bag info`` shows."""

    path: str
    size: int
    complete: bool
    messages: int = 0
    start_ns: int = 0
    end_ns: int = 0
    chunks: int = 0
    compression: set[str] = field(default_factory=set)
    topics: dict[str, TopicInfo] = field(default_factory=dict)
    recovered_bytes: int = 0  # file prefix that held complete records
    problem: str = ""  # why reading stopped early (truncated files)

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9 if self.messages else 0.0

    @property
    def truncated(self) -> bool:
        return not self.complete

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "size": self.size, "complete": self.complete,
            "truncated": self.truncated, "problem": self.problem,
            "recovered_bytes": self.recovered_bytes, "lost_bytes": self.size - self.recovered_bytes,
            "messages": self.messages, "duration_s": self.duration_s, "start_ns": self.start_ns,
            "end_ns": self.end_ns, "chunks": self.chunks,
            "compression": sorted(self.compression),
            "topics": {t.topic: {"type": t.type, "count": t.count} for t in self.topics.values()},
        }


@dataclass(frozen=True)
class BagRecord:
    """One stored message, still encoded (``data`` is the codec's bag form)."""

    topic: str
    type: str
    log_time_ns: int
    publish_time_ns: int
    sequence: int
    data: bytes
    version: int

    def decode(self) -> Message:
        return decode_bytes(self.data)


@dataclass(frozen=True)
class BagMessage:
    """A decoded message with its topic and the time the recorder received it."""

    topic: str
    log_time_ns: int
    msg: Message


def _check_opens(path: Path) -> int:
    if not path.exists():
        raise BagError(f"{path}: no such file")
    if path.is_dir():
        raise BagError(f"{path}: is a folder, not a bag file")
    size = path.stat().st_size
    if size == 0:
        raise BagError(f"{path}: empty file (the recorder was killed before it wrote anything)")
    with open(path, "rb") as f:
        head = f.read(len(MAGIC))
    if head != MAGIC[: len(head)]:
        raise BagError(f"{path}: not an MCAP file (it does not start with the MCAP magic bytes)")
    return size


class BagReader:
    """Sequential reader of one bag file; see the module docstring."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.size = _check_opens(self.path)
        self.problem = ""  # set when the last pass stopped before the footer
        self.complete = False
        self.recovered_bytes = 0
        self.undecodable = 0
        self.schema_data: dict[str, bytes] = {}  # topic -> its channel's schema (as read)

    # -- raw records -------------------------------------------------------------------
    def records(self, topics: Iterable[str] | None = None) -> Iterator[BagRecord]:
        """Every message of every complete chunk, in file order.

        Stops quietly at a truncation or corruption; ``problem`` then says what happened.
        """
        wanted = set(topics) if topics is not None else None
        self.problem, self.complete, self.recovered_bytes = "", False, 0
        schemas: dict[int, Schema] = {}
        channels: dict[int, Channel] = {}
        footer_seen = False
        with open(self.path, "rb") as f:
            stream = StreamReader(f, emit_chunks=True, validate_crcs=False,
                                  record_size_limit=self.size)
            it = stream.records
            while True:
                try:
                    record = next(it)
                    inner = (breakup_chunk(record, validate_crc=True)
                             if isinstance(record, Chunk) else [record])
                except StopIteration:
                    self.complete = footer_seen
                    break
                except Exception as exc:  # mcap, struct and decompressors raise many types
                    self.problem = self._why_stopped(stream._stream.count, exc)
                    break
                self.recovered_bytes = stream._stream.count  # bytes consumed
                for rec in inner:
                    if isinstance(rec, Schema):
                        schemas[rec.id] = rec
                    elif isinstance(rec, Channel):
                        channels[rec.id] = rec
                    elif isinstance(rec, McapMessage):
                        ch = channels.get(rec.channel_id)
                        if ch is None:
                            continue  # its channel was in a lost part of the file
                        if wanted is not None and ch.topic not in wanted:
                            continue
                        if ch.topic not in self.schema_data:
                            schema = schemas.get(ch.schema_id)
                            self.schema_data[ch.topic] = schema.data if schema else b""
                        yield BagRecord(
                            topic=ch.topic, type=_type_of(ch, schemas),
                            log_time_ns=rec.log_time, publish_time_ns=rec.publish_time,
                            sequence=rec.sequence, data=rec.data,
                            version=int(ch.metadata.get("version", "0") or 0),
                        )
                    elif isinstance(rec, Footer):
                        footer_seen = True
            if not self.complete and not self.problem:
                self.problem = "the file ends before its footer"
            if self.complete:
                self.recovered_bytes = self.size

    def _why_stopped(self, position: int, exc: Exception) -> str:
        if position <= self.recovered_bytes + 1 and position >= self.size:
            return "the file ends after its last complete record, without a footer"
        if position >= self.size or isinstance(exc, EndOfFile):
            return "the file ends in the middle of a record"
        if isinstance(exc, InvalidMagic):
            return "the file ends without its closing magic bytes"
        return (f"unreadable data after byte {self.recovered_bytes} "
                f"({type(exc).__name__}: {exc})")

    def channels(self) -> dict[str, str]:
        """topic -> type of every channel in the readable part of the file."""
        info = self.info()
        return {t.topic: t.type for t in info.topics.values()}

    # -- decoded messages --------------------------------------------------------------
    def messages(self, topics: Iterable[str] | None = None,
                 start_ns: int | None = None) -> Iterator[BagMessage]:
        """Decoded messages in file order; undecodable ones are counted, logged once, skipped."""
        for rec in self.records(topics):
            if start_ns is not None and rec.log_time_ns < start_ns:
                continue
            try:
                msg = rec.decode()
            except DecodeError as exc:
                if not self.undecodable:
                    log.warning("%s: skipping a message on %s (%s); further ones only counted",
                                self.path, rec.topic, exc)
                self.undecodable += 1
                continue
            yield BagMessage(rec.topic, rec.log_time_ns, msg)

    def read_all(self, topics: Iterable[str] | None = None) -> list[BagMessage]:
        return list(self.messages(topics))

    # -- summary -------------------------------------------------------------------------
    def info(self) -> BagInfo:
        """Counts, times, types and completeness; from the summary when the file has one."""
        quick = self._info_from_summary()
        if quick is not None:
            return quick
        info = BagInfo(str(self.path), self.size, complete=False)
        for rec in self.records():
            _count(info, rec.topic, rec.type, rec.log_time_ns)
        info.complete = self.complete
        info.problem = self.problem
        info.recovered_bytes = self.recovered_bytes
        info.chunks, info.compression = self._chunk_stats(info.recovered_bytes)
        return info

    def _info_from_summary(self) -> BagInfo | None:
        with open(self.path, "rb") as f:
            f.seek(max(0, self.size - len(MAGIC)))
            if f.read() != MAGIC:
                return None
            f.seek(0)
            try:
                summary = make_reader(f).get_summary()
            except Exception:  # a damaged summary: fall back to the sequential scan
                return None
        if summary is None or summary.statistics is None:
            return None
        stats = summary.statistics
        info = BagInfo(str(self.path), self.size, complete=True, recovered_bytes=self.size,
                       messages=stats.message_count, chunks=stats.chunk_count)
        if stats.message_count:
            info.start_ns, info.end_ns = stats.message_start_time, stats.message_end_time
        info.compression = {c.compression or "none" for c in summary.chunk_indexes}
        for cid, ch in summary.channels.items():
            t = info.topics.setdefault(ch.topic, TopicInfo(ch.topic, _type_of(ch, summary.schemas)))
            t.count += stats.channel_message_counts.get(cid, 0)
        return info

    def _chunk_stats(self, upto: int) -> tuple[int, set[str]]:
        """Chunks (and their compression) in the readable prefix, without decompressing."""
        count, kinds = 0, set()
        with open(self.path, "rb") as f:
            data = io.BytesIO(f.read(upto))
        stream = StreamReader(data, emit_chunks=True, record_size_limit=max(upto, 1))
        try:
            for rec in stream.records:
                if isinstance(rec, Chunk):
                    count += 1
                    kinds.add(rec.compression or "none")
                elif isinstance(rec, DataEnd | Footer):
                    break
        except Exception:
            pass
        return count, kinds


def _type_of(ch: Channel, schemas: dict[int, Schema]) -> str:
    name = ch.metadata.get("type")
    if name:
        return name
    schema = schemas.get(ch.schema_id)
    return schema.name if schema is not None else "?"


def _count(info: BagInfo, topic: str, type_name: str, log_time_ns: int) -> None:
    t = info.topics.get(topic)
    if t is None:
        t = info.topics[topic] = TopicInfo(topic, type_name, first_ns=log_time_ns)
    t.count += 1
    t.last_ns = max(t.last_ns, log_time_ns)
    if info.messages == 0:
        info.start_ns = info.end_ns = log_time_ns
    info.start_ns = min(info.start_ns, log_time_ns)
    info.end_ns = max(info.end_ns, log_time_ns)
    info.messages += 1


def read_bag(path: str | Path, topics: Iterable[str] | None = None) -> list[BagMessage]:
    """All (or the selected topics') decoded messages of a bag, truncated or not."""
    return BagReader(path).read_all(topics)


def repair(src: str | Path, dst: str | Path, compression: str = "zstd") -> BagInfo:
    """Copy everything recoverable from ``src`` into a complete bag at ``dst``."""
    from facewire.bag.writer import BagWriter

    reader = BagReader(src)
    if os.path.abspath(src) == os.path.abspath(dst):
        raise BagError("repair writes a new file: give an output path other than the input")
    with BagWriter(dst, compression=compression) as writer:
        for rec in reader.records():
            writer.write_raw(rec.topic, rec.type, rec.data, rec.log_time_ns,
                             rec.publish_time_ns, rec.sequence, rec.version)
    info = BagReader(dst).info()
    info.problem = reader.problem if not reader.complete else ""
    return info
