"""Fails when asked to, so asynchronous retries and destinations can be observed."""


def handler(event, context):
    if event.get("fail"):
        raise RuntimeError(f"failing on purpose: {event.get('id')}")
    return {"ok": event.get("id")}
