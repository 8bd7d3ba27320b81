"""Dense mesh stream to Unity: MeshDeform displacements as chunked UDP datagrams.

For characters without blend shapes, the Unity package (``FacewireMeshDeformReceiver``)
adds the displacements to a mesh of the same topology. The wire format (little-endian), one
datagram per chunk of consecutive vertices, each small enough not to fragment (1400 bytes by
default)::

    offset size  field
    0      4     magic "FWMD"
    4      1     version (1)
    5      1     flags (0)
    6      2     chunk index
    8      2     chunk count (chunks of this frame)
    10     4     frame number (per subject, increasing)
    14     4     vertex count of the whole mesh
    18     4     first vertex of this chunk
    22     2     vertices in this chunk
    24     8     media time (seconds, float64)
    32     4     metres per unit of the displacements (float32; 0.01 for a centimetre rig)
    36     1     subject length n (UTF-8 bytes, at most 64)
    37     n     subject
    37+n   12*k  k displacements x, y, z (float32) in the rig's axes (right-handed, y up)

A frame is applied only when all its chunks arrived; a chunk of a newer frame abandons an
incomplete older one (UDP may drop or reorder; the newest frame is what a viewer wants).
"""

from __future__ import annotations

import struct

import numpy as np

from facewire.bridges.udp import UdpOut
from facewire.subjects import DEFAULT_MAX_SUBJECTS, LruDict

MAGIC = b"FWMD"
VERSION = 1
HEADER = struct.Struct("<4sBBHHIIIHdf")  # up to the subject length byte
MAX_SUBJECT = 64
DEFAULT_PORT = 11112
DEFAULT_PACKET = 1400
UNIT_METRES = {"mm": 0.001, "cm": 0.01, "m": 1.0}


class MeshStreamError(ValueError):
    """A frame that cannot be sent (bad shape, subject too long, packet size too small)."""


def encode_frame(displacements: np.ndarray, frame: int, media_time: float,
                 metres_per_unit: float, subject: str = "",
                 max_packet: int = DEFAULT_PACKET) -> list[bytes]:
    """The datagrams of one frame of ``[V, 3]`` displacements."""
    d = np.ascontiguousarray(displacements, dtype="<f4")
    if d.ndim != 2 or d.shape[1] != 3:
        raise MeshStreamError(f"displacements must be [vertices, 3], got {d.shape}")
    name = subject.encode("utf-8")
    if len(name) > MAX_SUBJECT:
        raise MeshStreamError(f"subject {subject!r} is longer than {MAX_SUBJECT} bytes")
    head = HEADER.size + 1 + len(name)
    per = (max_packet - head) // 12
    if per < 1:
        raise MeshStreamError(f"max_packet {max_packet} leaves no room for a vertex")
    per = min(per, 0xFFFF)
    n = len(d)
    chunks = max(1, -(-n // per))
    if chunks > 0xFFFF:
        raise MeshStreamError(f"{n} vertices need {chunks} chunks; raise max_packet")
    out = []
    for c in range(chunks):
        first = c * per
        part = d[first:first + per]
        out.append(HEADER.pack(MAGIC, VERSION, 0, c, chunks, frame & 0xFFFFFFFF, n, first,
                               len(part), float(media_time), float(metres_per_unit))
                   + bytes([len(name)]) + name + part.tobytes())
    return out


class MeshStreamSender:
    """Sends frames to ``host:port``, numbering them per subject."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 metres_per_unit: float = 0.01, max_packet: int = DEFAULT_PACKET) -> None:
        self.metres_per_unit = metres_per_unit
        self.max_packet = max_packet
        self.frames: LruDict = LruDict(DEFAULT_MAX_SUBJECTS)  # subjects come from messages
        self.out = UdpOut(host, port, send_buffer=4 * 1024 * 1024)
        self.datagrams = 0

    def send(self, displacements: np.ndarray, media_time: float, subject: str = "") -> int:
        """Send one frame; returns the number of datagrams."""
        frame = self.frames.use(subject, 0)
        packets = encode_frame(displacements, frame, media_time, self.metres_per_unit,
                               subject, self.max_packet)
        for p in packets:
            self.out.send(p)
        self.frames[subject] = frame + 1
        self.datagrams += len(packets)
        return len(packets)

    def close(self) -> None:
        self.out.close()

    def __enter__(self) -> MeshStreamSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
