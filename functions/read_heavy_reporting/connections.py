"""The database and cache connections, kept across invocations of one execution environment.

The database's is ``shared/postgres.py``'s (the cluster secret's credentials, over TLS). Each is
made on first use (not at import, so a cold start that only reads the cache never opens the database), reused while the environment stays warm, and made again when it has broken (a
failover, an idle connection the server closed). Opening a PostgreSQL connection costs a TLS
handshake plus SCRAM here and tens of milliseconds on AWS: paying it once per environment rather
than once per invocation is most of this pattern's latency gain on a cache miss.

Each driver is imported on first use too: a reader whose cold start is a cache hit never loads
psycopg or boto3, and the invalidator never loads psycopg (each is about a tenth of a second).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from schema import migrate
from shared.postgres import Database

if TYPE_CHECKING:
    import psycopg
    import redis

APPLICATION = "read_heavy_reporting"
T = TypeVar("T")

_cache: redis.Redis | None = None
_database = Database(application=APPLICATION, migrate=migrate)


def database() -> psycopg.Connection:
    """The environment's PostgreSQL connection, opened (and the schema migrated) on first use."""
    return _database.connect()


def with_database(work: Callable[[psycopg.Connection], T]) -> T:
    """``work(connection)``; a connection that broke since the last invocation is remade once."""
    return _database.run(work)


def cache() -> redis.Redis:
    """The environment's cache client; its pool connects on first command, and a command whose
    connection dropped is retried once, at once, on a fresh one (redis-py's default would back off
    for seconds while the reader could be answering from the database)."""
    global _cache
    if _cache is None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        _cache = redis.Redis(
            host=os.environ["CACHE_HOST"],
            port=int(os.environ["CACHE_PORT"]),
            client_name=APPLICATION,
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=Retry(NoBackoff(), 1),
            decode_responses=True,
        )
    return _cache
