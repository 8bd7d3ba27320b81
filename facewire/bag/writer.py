"""Write facewire messages into an MCAP file.

Each message is stored in the codec's bag form (``codec.encode_bytes``, message encoding
``msgpack``) on a channel per (topic, type), and every type's JSON schema goes in with
schema encoding ``jsonschema``, so a bag is self-describing for any MCAP tool: each stored
message, msgpack-decoded, validates against its channel's schema, and the schema names
the curves (``facewire_names``, see ``facewire.bag.names`` and docs/bags.md). Chunks are
compressed (zstd by default, lz4 or none on request). ``log_time`` is when the recorder
received the message, ``publish_time`` the publisher's header ``stamp_ns``.

``flush()`` closes the chunk in progress and hands it to the operating system: a recorder
calls it every fraction of a second so that a SIGKILL loses at most the last chunk.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO

from mcap.writer import CompressionType, Writer

from facewire.bag.names import names_of_type
from facewire.messages.base import Message, json_schema, lookup
from facewire.messages.codec import encode_bytes

MESSAGE_ENCODING = "msgpack"
SCHEMA_ENCODING = "jsonschema"
PROFILE = "facewire"
COMPRESSIONS: dict[str, CompressionType] = {
    "zstd": CompressionType.ZSTD,
    "lz4": CompressionType.LZ4,
    "none": CompressionType.NONE,
}
DEFAULT_CHUNK_SIZE = 1024 * 1024


class BagWriter:
    """An MCAP file being written; use as a context manager or call ``close()``."""

    def __init__(
        self,
        path: str | Path,
        compression: str = "zstd",
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {sorted(COMPRESSIONS)}, "
                             f"got {compression!r}")
        self.path = Path(path)
        self.compression = compression
        self._file: IO[bytes] = open(self.path, "wb")  # closed in close()
        self._mcap = Writer(self._file, chunk_size=chunk_size,
                            compression=COMPRESSIONS[compression])
        self._mcap.start(profile=PROFILE, library="facewire")
        self._file.flush()
        self._schemas: dict[str, int] = {}
        self._channels: dict[tuple[str, str], int] = {}
        self.counts: dict[str, int] = {}
        self.closed = False

    def _schema_id(self, type_name: str) -> int:
        if type_name not in self._schemas:
            cls = lookup(type_name)
            data = (json.dumps(json_schema(cls, names_of_type(type_name))).encode()
                    if cls is not None else b"")
            self._schemas[type_name] = self._mcap.register_schema(
                type_name, SCHEMA_ENCODING if data else "", data)
        return self._schemas[type_name]

    def channel(self, topic: str, type_name: str, version: int | None = None) -> int:
        """The channel id of (topic, type), registering it on first use."""
        key = (topic, type_name)
        if key not in self._channels:
            cls = lookup(type_name)
            if version is None:
                version = cls.VERSION if cls is not None else 0
            self._channels[key] = self._mcap.register_channel(
                topic, MESSAGE_ENCODING, self._schema_id(type_name),
                metadata={"type": type_name, "version": str(version)},
            )
        return self._channels[key]

    def write(self, topic: str, msg: Message, log_time_ns: int | None = None) -> None:
        """Store one message; log_time defaults to now (the receive time)."""
        self.write_raw(topic, msg.TYPE, encode_bytes(msg),
                       time.time_ns() if log_time_ns is None else log_time_ns,
                       msg.header.stamp_ns, msg.header.seq, msg.VERSION)

    def write_raw(self, topic: str, type_name: str, data: bytes, log_time_ns: int,
                  publish_time_ns: int, sequence: int = 0, version: int | None = None) -> None:
        """Store an already encoded message (bag repair copies these untouched)."""
        channel_id = self.channel(topic, type_name, version)
        self._mcap.add_message(channel_id, log_time=log_time_ns, data=data,
                               publish_time=publish_time_ns,
                               sequence=sequence & 0xFFFFFFFF)
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def add_metadata(self, name: str, data: dict[str, str]) -> None:
        """An MCAP metadata record (e.g. which phone source made a take)."""
        self._mcap.add_metadata(name=name, data={str(k): str(v) for k, v in data.items()})

    def flush(self) -> None:
        """End the chunk in progress and push it to the OS (survives a SIGKILL)."""
        self._mcap.flush()

    def close(self) -> None:
        """Write the summary and footer: the file is complete after this."""
        if self.closed:
            return
        self.closed = True
        try:
            self._mcap.finish()
        finally:
            self._file.close()

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
