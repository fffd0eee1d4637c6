"""TLS in front of a local PostgreSQL, as RDS and Aurora offer it, and ``rds.force_ssl``.

The wheel's PostgreSQL is built without OpenSSL, so the server cannot speak TLS itself. RDS can,
and a handler that asks for it (``sslmode=require``) must get it offline too, or it would fail here
and pass on AWS, or (worse) a handler that never asks would pass here and be refused by a cluster
whose parameter group sets ``rds.force_ssl=1``. So the endpoint's port is held by this front: it
answers PostgreSQL's ``SSLRequest`` with ``S`` and a TLS handshake (a certificate made for this
process, as RDS presents its own; clients verifying it against Amazon's RDS bundle will refuse it,
as they would refuse any other server), declines ``GSSENCRequest`` as RDS does, and relays the
session to the server's plain port. With ``force_ssl``, a startup without TLS is answered as RDS's
``hostssl`` rules answer it: ``FATAL 28000 no pg_hba.conf entry for host ..., no encryption``.
"""

from __future__ import annotations

import contextlib
import datetime
import select
import socket
import ssl
import struct
import tempfile
import threading
from pathlib import Path

from localcloud.core.servers import LOOPBACK

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CHUNK = 65536

_context_lock = threading.Lock()
_context: ssl.SSLContext | None = None


def server_context() -> ssl.SSLContext:
    """One TLS server context per process: a fresh EC key and a self-signed certificate."""
    global _context
    with _context_lock:
        if _context is None:
            _context = _make_context()
        return _context


def _make_context() -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localcloud rds")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("*.rds.amazonaws.com")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(prefix="localcloud-rds-tls-") as folder:
        pem = Path(folder) / "server.pem"
        pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            + certificate.public_bytes(serialization.Encoding.PEM)
        )
        context.load_cert_chain(pem)
    return context


class TlsFront:
    """Listens on ``listener`` (a socket bound to the server's loopback port, handed over by the
    servers' reservation) for one server whose plain PostgreSQL listens on ``upstream``."""

    def __init__(self, listener: socket.socket, upstream: int, *, force_ssl: bool) -> None:
        self.upstream, self.force_ssl = upstream, force_ssl
        self.listener = listener
        port = listener.getsockname()[1]
        self.listener.listen(64)
        self.sessions: set[socket.socket] = set()
        self.closed = False
        threading.Thread(target=self._accept, name=f"rds-tls-{port}", daemon=True).start()

    def stop(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):  # shutdown wakes the accepting thread; close alone does not
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for connection in list(self.sessions):
            _close(connection)

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(client,), daemon=True).start()

    def _session(self, client: socket.socket) -> None:
        self.sessions.add(client)
        upstream = None
        try:
            client, startup, encrypted = self._negotiate(client)
            if not encrypted and self.force_ssl:
                client.sendall(_refusal(startup))
                return
            upstream = socket.create_connection((LOOPBACK, self.upstream))
            self.sessions.add(upstream)
            upstream.sendall(startup)
            _relay(client, upstream)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            for connection in (client, upstream):
                if connection is not None:
                    self.sessions.discard(connection)
                    _close(connection)

    def _negotiate(self, client: socket.socket) -> tuple[socket.socket, bytes, bool]:
        """The client's startup message, after the encryption requests that come before it."""
        encrypted = False
        while True:
            head = _read(client, 8)
            length, code = struct.unpack("!ii", head)
            if length == 8 and code == SSL_REQUEST and not encrypted:
                client.sendall(b"S")
                self.sessions.discard(client)
                client = server_context().wrap_socket(client, server_side=True)
                self.sessions.add(client)
                encrypted = True
            elif length == 8 and code == GSSENC_REQUEST:
                client.sendall(b"N")
            else:
                if not 8 <= length <= 10_000:
                    raise ValueError("not a PostgreSQL startup message")
                return client, head + _read(client, length - 8), encrypted


def _relay(client: socket.socket, upstream: socket.socket) -> None:
    while True:
        pending = isinstance(client, ssl.SSLSocket) and client.pending() > 0
        readable = [client] if pending else select.select([client, upstream], [], [])[0]
        for source in readable:
            target = upstream if source is client else client
            data = source.recv(CHUNK)
            if not data:
                return
            target.sendall(data)


def _refusal(startup: bytes) -> bytes:
    """RDS's answer to a startup without TLS when ``rds.force_ssl`` is on."""
    fields = startup[8:].split(b"\x00")
    params = dict(zip(fields[0::2], fields[1::2], strict=False))
    user = params.get(b"user", b"").decode(errors="replace")
    database = params.get(b"database", b"").decode(errors="replace") or user
    message = (
        f'no pg_hba.conf entry for host "{LOOPBACK}", user "{user}", database "{database}", no encryption'
    )
    body = b"".join(
        kind + text.encode() + b"\x00"
        for kind, text in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", "28000"), (b"M", message))
    )
    body += b"\x00"
    return b"E" + struct.pack("!i", len(body) + 4) + body


def _read(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ValueError("the client closed the connection")
        data += chunk
    return data


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.close()


def free_port() -> int:
    """A loopback port for the server's plain listener, which only the front connects to."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]
