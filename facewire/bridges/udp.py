"""The UDP socket every engine bridge sends through (Live Link, VMC, Unity mesh stream).

One place decides how a datagram that cannot be sent is handled: counted and logged once per
cause, never raised, so one unreachable engine never stops the animation to the others.
"""

from __future__ import annotations

import errno
import logging
import socket
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class SendStats:
    """Send-side counters: datagrams out, and failures by errno name."""

    sent: int = 0
    errors: int = 0
    by_cause: dict[str, int] = field(default_factory=dict)


class UdpOut:
    """A non-blocking UDP socket whose send never raises.

    An unreachable host or a closed port surfaces as ENETUNREACH, EHOSTUNREACH or (after an
    ICMP port-unreachable) ECONNREFUSED on a later send; a full buffer as EAGAIN. All are
    counted and logged once per cause: the animation must keep flowing to the other outputs.
    """

    def __init__(self, host: str, port: int, send_buffer: int | None = None) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"UDP port must be in 1..65535, got {port}")
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)  # raises if unresolvable
        family, _, _, _, addr = infos[0]
        self.address = addr
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        if send_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        self.sock.setblocking(False)
        self.stats = SendStats()

    def send(self, data: bytes) -> bool:
        """Send one datagram; False (counted, logged once per cause) when it failed."""
        try:
            self.sock.sendto(data, self.address)
        except OSError as e:
            cause = errno.errorcode.get(e.errno or 0, type(e).__name__)
            self.stats.errors += 1
            n = self.stats.by_cause.get(cause, 0)
            self.stats.by_cause[cause] = n + 1
            if n == 0:
                log.warning("UDP send to %s failed (%s: %s); counting further failures",
                            self.address, cause, e)
            return False
        self.stats.sent += 1
        return True

    def close(self) -> None:
        self.sock.close()
