"""Reads and writes Aurora PostgreSQL with psycopg, connecting with what the cluster's secret holds."""

import json
import os

import boto3
import psycopg


def handler(event, context):
    secret = json.loads(
        boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["SECRET"])["SecretString"]
    )
    host = os.environ["PROXY"] if event.get("via") == "proxy" else secret["host"]
    try:
        with psycopg.connect(
            host=host,
            port=secret["port"],
            user=secret["username"],
            password=secret["password"],
            dbname=secret["dbname"],
            sslmode=event.get("sslmode", "prefer"),
        ) as connection:
            connection.execute("CREATE TABLE IF NOT EXISTS notes (id text PRIMARY KEY, body text)")
            if "put" in event:
                connection.execute("INSERT INTO notes VALUES (%s, %s)", (event["put"], event["body"]))
            rows = connection.execute("SELECT id, body FROM notes ORDER BY id").fetchall()
            tls = connection.pgconn.ssl_in_use
    except psycopg.OperationalError as error:
        return {"error": str(error)}
    return {"rows": [list(row) for row in rows], "host": host, "tls": tls}
