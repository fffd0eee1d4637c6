"""One PostgreSQL connection per execution environment, over TLS, with the credentials of an RDS secret.

Opened on first use (never at import, so a cold start that never reaches the database does not pay
psycopg's import or the handshake), reused while the environment stays warm, and made again once
when it has broken (a failover, an idle connection the server closed)::

    database = Database(application="orders", migrate=schema.migrate)
    rows = database.run(lambda connection: connection.execute("SELECT 1").fetchall())

The secret is the one RDS attaches to a cluster (``host``, ``port``, ``username``, ``password``,
``dbname``), named by ``DB_SECRET_ARN``. TLS is ``DB_SSLMODE`` (``require``: encrypted; with
``DB_SSLROOTCERT``, a CA bundle shipped with the function, ``verify-full`` also checks the server).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")


class Database:
    def __init__(
        self,
        *,
        application: str,
        migrate: Callable[[psycopg.Connection], None] | None = None,
    ) -> None:
        self.application, self.migrate = application, migrate
        self.connection: psycopg.Connection | None = None
        self.opened = 0

    def connect(self) -> psycopg.Connection:
        """The environment's connection, opened (and the schema migrated) on first use."""
        if self.connection is None or self.connection.closed or self.connection.broken:
            import boto3
            import psycopg

            secret = json.loads(
                boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["DB_SECRET_ARN"])[
                    "SecretString"
                ]
            )
            tls = {"sslmode": os.environ.get("DB_SSLMODE", "require")}
            if os.environ.get("DB_SSLROOTCERT"):
                tls["sslrootcert"] = os.environ["DB_SSLROOTCERT"]
            self.connection = psycopg.connect(
                host=secret["host"],
                port=secret["port"],
                user=secret["username"],
                password=secret["password"],
                dbname=secret["dbname"],
                application_name=self.application,
                autocommit=True,
                connect_timeout=5,
                **tls,
            )
            self.opened += 1
            if self.migrate is not None:
                self.migrate(self.connection)
        return self.connection

    def run(self, work: Callable[[psycopg.Connection], T]) -> T:
        """``work(connection)``; a connection that broke since the last invocation is remade once."""
        import psycopg

        try:
            return work(self.connect())
        except psycopg.OperationalError:
            connection = self.connection
            if connection is not None and not connection.broken and not connection.closed:
                raise  # the server refused the statement itself: not a broken connection
            self.connection = None
            return work(self.connect())
