"""What an HTTP API answers by itself: ``{"message": ...}`` with AWS's status for each cause."""

from __future__ import annotations

import json

from localcloud.lib.http import HttpResponse

#: (status, message, the response type ``$context.error.responseType`` names).
NOT_FOUND = (404, "Not Found", "RESOURCE_NOT_FOUND")
TOO_MANY_REQUESTS = (429, "Too Many Requests", "THROTTLED")
UNAUTHORIZED = (401, "Unauthorized", "UNAUTHORIZED")
FORBIDDEN = (403, "Forbidden", "ACCESS_DENIED")
INTERNAL_SERVER_ERROR = (500, "Internal Server Error", "INTEGRATION_FAILURE")
TIMEOUT = (503, "Service Unavailable", "INTEGRATION_TIMEOUT")
PAYLOAD_TOO_LARGE = (413, "Request Entity Too Large", "REQUEST_TOO_LARGE")


class Refusal(Exception):
    """The API answers the request itself: ``status`` with ``{"message": message}``.

    ``cause`` is the one log line (and trace outcome) that says why; ``headers`` are added to the
    answer (a JWT authorizer's ``www-authenticate``)."""

    def __init__(self, answer: tuple[int, str], cause: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(cause)
        self.status, self.message, self.response_type = answer
        self.cause = cause
        self.headers = headers or {}

    def response(self, request_id: str) -> HttpResponse:
        headers = {"Content-Type": ["application/json"], "apigw-requestid": [request_id]}
        headers.update({name: [value] for name, value in self.headers.items()})
        return HttpResponse(self.status, headers, json.dumps({"message": self.message}).encode())


class UnsupportedIntegration(Refusal):
    """An integration or authorization type the local cloud does not serve yet: a 500 whose cause
    names the type, so the gap is plain rather than a quiet wrong answer."""

    def __init__(self, what: str) -> None:
        super().__init__(INTERNAL_SERVER_ERROR, f"{what} is not supported by the local cloud")
