"""Where things live on the bus: the registry's address, endpoints, topic names."""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
import uuid
from urllib.parse import urlparse

DEFAULT_REGISTRY = "tcp://127.0.0.1:7447"
REGISTRY_ENV = "FACEWIRE_BUS"
TRANSPORT_ENV = "FACEWIRE_TRANSPORT"  # ipc | tcp
HOST_IP_ENV = "FACEWIRE_HOST_IP"  # address other hosts reach this one at


def registry_address(explicit: str | None = None) -> str:
    """The one address of the registry: flag, then $FACEWIRE_BUS, then the default."""
    return explicit or os.environ.get(REGISTRY_ENV) or DEFAULT_REGISTRY


def address_problem(address: str) -> str | None:
    """Why ``address`` cannot be a registry address (with the fix), or None when it can."""
    if address.startswith("ipc://") and len(address) > len("ipc://"):
        return None
    if address.startswith("tcp://"):
        host, sep, port = address[len("tcp://"):].rpartition(":")
        if sep and host and port.isdigit() and 0 < int(port) < 65536:
            return None
    return (f"registry address {address!r} is not a ZeroMQ address: use tcp://HOST:PORT "
            f"(e.g. {DEFAULT_REGISTRY}) or ipc://PATH")


def runtime_dir() -> str:
    """Folder for ipc:// sockets (short paths: ipc paths are limited to ~100 bytes)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    path = os.path.join(base, f"facewire-{os.getuid()}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _registry_host(registry: str) -> str | None:
    parsed = urlparse(registry)
    return parsed.hostname if parsed.scheme == "tcp" else None


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "*"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def choose_transport(registry: str) -> str:
    """ipc:// on one host, tcp:// when the registry is on another host (or forced by env)."""
    forced = os.environ.get(TRANSPORT_ENV)
    if forced:
        if forced not in ("ipc", "tcp"):
            raise ValueError(f"{TRANSPORT_ENV}={forced!r}: use 'ipc' or 'tcp'")
        return forced
    host = _registry_host(registry)
    return "tcp" if host is not None and not _is_loopback(host) else "ipc"


def advertise_ip(registry: str) -> str:
    """The local address that the registry's host (and so other hosts) can reach us at."""
    explicit = os.environ.get(HOST_IP_ENV)
    if explicit:
        return explicit
    host = _registry_host(registry)
    if host is None or _is_loopback(host):
        return "127.0.0.1"
    parsed = urlparse(registry)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((host, parsed.port or 7447))  # no packet is sent for UDP connect
        return probe.getsockname()[0]


def new_ipc_endpoint(tag: str) -> str:
    safe = "".join(c if c.isalnum() else "_" for c in tag)[:24]
    return f"ipc://{runtime_dir()}/{safe}-{uuid.uuid4().hex[:10]}.sock"


def resolve_topic(name: str, namespace: str = "/") -> str:
    """ROS-style names: ``/x`` is absolute, ``x`` lives under the node's namespace."""
    if not name:
        raise ValueError("empty topic name")
    if name.startswith("/"):
        full = name
    else:
        full = namespace.rstrip("/") + "/" + name
    if not full.startswith("/"):
        full = "/" + full
    while "//" in full:
        full = full.replace("//", "/")
    return full.rstrip("/") or "/"


def hostname() -> str:
    return socket.gethostname()
