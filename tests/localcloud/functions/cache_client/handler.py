"""Sets and reads a key in ElastiCache with redis-py, at the endpoint and with the token it is given."""

import os

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def handler(event, context):
    client = redis.Redis(
        host=os.environ["HOST"],
        port=int(os.environ["PORT"]),
        password=event.get("token", os.environ.get("TOKEN")),
        retry=Retry(NoBackoff(), 0),
    )
    try:
        if "set" in event:
            client.set(event["set"], event["value"], ex=event.get("ttl"))
        value = client.get(event["get"])
        return {"value": None if value is None else value.decode(), "ttl": client.ttl(event["get"])}
    except redis.exceptions.RedisError as error:
        return {"error": type(error).__name__, "message": str(error)}
    finally:
        client.close()
