"""A bag rewritten as JSON-encoded MCAP, the form Foxglove (and any MCAP tool) decodes.

Channels keep their topics; each gets ``message_encoding="json"`` and a ``jsonschema``
schema of the JSON form (``facewire.messages.json_form``), so Foxglove's Plot panel takes
``/blendshapes.weights.jawOpen``. Curve names come from the source bag's own schemas, or
from facewire's tables for bags written before they travelled. Times are kept as stored.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from mcap.writer import CompressionType, Writer

from facewire.bag.names import names_from_schema
from facewire.bag.reader import BagReader
from facewire.messages.base import lookup
from facewire.messages.codec import DecodeError, decode_bytes
from facewire.messages.json_form import json_form_schema, to_json


def export_json(src: str | Path, dst: str | Path, topics: Iterable[str] | None = None
                ) -> Counter[str]:
    """Write ``dst`` from ``src``; returns messages written per topic.

    Messages this facewire cannot decode are skipped and counted under ``"undecodable"``.
    """
    reader = BagReader(src)
    if Path(src).resolve() == Path(dst).resolve():
        raise ValueError("export writes a new file: give an output path other than the input")
    counts: Counter[str] = Counter()
    channels: dict[tuple[str, str], tuple[int, dict]] = {}
    schemas: dict[tuple[str, str], int] = {}
    with open(dst, "wb") as f:
        writer = Writer(f, compression=CompressionType.ZSTD)
        writer.start(profile="", library="facewire bag export --json")
        for rec in reader.records(topics):
            try:
                msg = decode_bytes(rec.data)
            except DecodeError:
                counts["undecodable"] += 1
                continue
            key = (rec.topic, rec.type)
            if key not in channels:
                names = names_from_schema(reader.schema_data.get(rec.topic, b""), rec.type)
                schema_key = (rec.type, json.dumps(names, sort_keys=True))
                if schema_key not in schemas:
                    schema = json_form_schema(lookup(rec.type) or type(msg), names)
                    schemas[schema_key] = writer.register_schema(
                        rec.type, "jsonschema", json.dumps(schema).encode())
                channel_id = writer.register_channel(
                    rec.topic, "json", schemas[schema_key],
                    metadata={"type": rec.type, "version": str(rec.version)})
                channels[key] = (channel_id, names)
            channel_id, names = channels[key]
            data = json.dumps(to_json(msg, names), allow_nan=False, separators=(",", ":"))
            writer.add_message(channel_id, log_time=rec.log_time_ns, data=data.encode(),
                               publish_time=rec.publish_time_ns,
                               sequence=rec.sequence & 0xFFFFFFFF)
            counts[rec.topic] += 1
        writer.finish()
    return counts
