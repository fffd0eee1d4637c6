"""A Lambda behind a non-proxy integration: it gets what the request template made.

``{"action": "fail", "message": "..."}`` raises with that message, so the integration responses'
selection patterns can pick a status; anything else comes back under ``received``.
"""


class NotFound(Exception):
    pass


def handler(event, context):
    if isinstance(event, dict) and event.get("action") == "fail":
        raise NotFound(event.get("message", "failed"))
    return {"received": event, "ok": True}
