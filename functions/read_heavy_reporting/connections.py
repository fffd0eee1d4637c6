"""The database and cache connections, kept across invocations of one execution environment.

Each is made on first use (not at import, so a cold start that only reads the cache never opens
the database), reused while the environment stays warm, and made again when it has broken (a
failover, an idle connection the server closed). Opening a PostgreSQL connection costs a TLS-less
handshake plus SCRAM here and tens of milliseconds on AWS: paying it once per environment rather
than once per invocation is most of this pattern's latency gain on a cache miss.

Each driver is imported on first use too: a reader whose cold start is a cache hit never loads
psycopg or boto3, and the invalidator never loads psycopg (each is about a tenth of a second).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import psycopg
    import redis

APPLICATION = "read_heavy_reporting"
T = TypeVar("T")

_database: psycopg.Connection | None = None
_cache: redis.Redis | None = None


def database() -> psycopg.Connection:
    """The environment's PostgreSQL connection, opened (and the schema migrated) on first use."""
    global _database
    if _database is None or _database.closed or _database.broken:
        import boto3
        import psycopg

        from schema import migrate

        secret = json.loads(
            boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["DB_SECRET_ARN"])[
                "SecretString"
            ]
        )
        _database = psycopg.connect(
            host=secret["host"],
            port=secret["port"],
            user=secret["username"],
            password=secret["password"],
            dbname=secret["dbname"],
            application_name=APPLICATION,
            autocommit=True,
        )
        migrate(_database)
    return _database


def with_database(work: Callable[[psycopg.Connection], T]) -> T:
    """``work(connection)``; a connection that broke since the last invocation is remade once."""
    global _database
    import psycopg

    try:
        return work(database())
    except psycopg.OperationalError:
        if _database is not None and not _database.broken and not _database.closed:
            raise  # the server refused the statement itself: not a broken connection
        _database = None
        return work(database())


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
