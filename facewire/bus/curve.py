"""Optional CURVE encryption and authentication of data sockets between hosts.

Enabled by pointing ``FACEWIRE_CURVE`` at a folder made by ``facewire bus keys DIR``:
``server.key_secret`` (publishers), ``client.key_secret`` (subscribers) and
``authorized/`` (client public keys allowed to subscribe). A subscriber without the
right keys completes no handshake and so receives nothing.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

CURVE_ENV = "FACEWIRE_CURVE"
log = logging.getLogger("facewire.curve")


@dataclass
class CurveConfig:
    folder: Path | None = None
    authenticator: ThreadAuthenticator | None = None

    @classmethod
    def from_env(cls, ctx: zmq.Context, authenticate: bool = True) -> CurveConfig:
        """The keys $FACEWIRE_CURVE names; ``authenticate``: also check connecting clients
        (servers); a process that only connects (a probe) needs no authenticator."""
        folder = os.environ.get(CURVE_ENV)
        if not folder:
            return cls()
        path = Path(folder)
        for name in ("server.key_secret", "client.key_secret"):
            if not (path / name).exists():
                raise FileNotFoundError(
                    f"{CURVE_ENV}={folder}: {name} is missing; create the keys with "
                    f"'facewire bus keys {folder}'"
                )
            if (path / name).stat().st_mode & 0o077:
                log.warning("%s is readable by other users; run 'chmod 600 %s'",
                            path / name, path / name)
        if not authenticate:
            return cls(path)
        auth = ThreadAuthenticator(ctx)
        auth.start()
        auth.configure_curve(domain="*", location=str(path / "authorized"))
        return cls(path, auth)

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def apply_server(self, sock: zmq.Socket) -> None:
        if self.folder is None:
            return
        public, secret = zmq.auth.load_certificate(self.folder / "server.key_secret")
        sock.curve_secretkey = secret
        sock.curve_publickey = public
        sock.curve_server = True

    def apply_client(self, sock: zmq.Socket) -> None:
        if self.folder is None:
            return
        public, secret = zmq.auth.load_certificate(self.folder / "client.key_secret")
        server_public, _ = zmq.auth.load_certificate(self.folder / "server.key")
        sock.curve_secretkey = secret
        sock.curve_publickey = public
        sock.curve_serverkey = server_public

    def close(self) -> None:
        if self.authenticator is not None:
            self.authenticator.stop()


def create_keys(folder: str | Path) -> Path:
    """Make a server and a client key pair; authorise the client.

    The folders are 0700 and every key file 0600: a secret key readable by another user
    is that user's way into the graph.
    """
    path = Path(folder)
    old_umask = os.umask(0o077)  # nothing is ever readable by others, not even briefly
    try:
        (path / "authorized").mkdir(parents=True, exist_ok=True)
        zmq.auth.create_certificates(path, "server")
        client_public, _ = zmq.auth.create_certificates(path, "client")
        (path / "authorized" / "client.key").write_bytes(Path(client_public).read_bytes())
    finally:
        os.umask(old_umask)
    for folder_path in (path, path / "authorized"):
        folder_path.chmod(0o700)
    for key in [*path.glob("*.key*"), *(path / "authorized").glob("*.key")]:
        key.chmod(0o600)
    return path
