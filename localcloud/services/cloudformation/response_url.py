"""Custom resources whose ``ServiceToken`` is a plain Python function of the stack: the function
answers as on AWS, by PUTting its response to the request's ``ResponseURL``.

On AWS that URL is a pre-signed S3 URL CloudFormation watches; offline it is a loopback HTTP
endpoint of this cloud (``http://127.0.0.1:<port>/...``), started on the first such request and
closed with the cloud, so ``urllib``, ``urllib3`` and ``requests`` reach it as they would S3. The
function is invoked synchronously (CloudFormation invokes it asynchronously, with Lambda's retries).
What CloudFormation refuses fails the resource: no response (on AWS the stack waits an hour, or the
resource's ``ServiceTimeout``), a response that is not JSON, over 4,096 bytes, without
``PhysicalResourceId``, or whose ``Status`` is not ``SUCCESS``/``FAILED``; ``FAILED`` carries its
``Reason``. AWS's ``cfnresponse`` module, which Lambda adds to inline (``ZipFile``) code, is not
provided.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


class ResponseUrls:
    """The loopback endpoint standing in for CloudFormation's response bucket."""

    def __init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._answers: dict[str, bytes] = {}

    def url(self, request_id: str) -> str:
        if self._server is None:
            answers = self._answers

            class Handler(BaseHTTPRequestHandler):
                def do_PUT(self) -> None:
                    length = int(self.headers.get("Content-Length") or 0)
                    answers[self.path.rsplit("/", 1)[-1].split("?")[0]] = self.rfile.read(length)
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

                def log_message(self, *args: Any) -> None:
                    return

            self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            self._server.daemon_threads = True
            threading.Thread(
                target=self._server.serve_forever, args=(0.05,), daemon=True, name="cfn-response"
            ).start()
        port = self._server.server_address[1]
        return (
            f"http://127.0.0.1:{port}/cloudformation-custom-resource-response/{request_id}?X-Amz-Expires=7200"
        )

    def take(self, request_id: str) -> bytes | None:
        return self._answers.pop(request_id, None)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def run(kernel: Kernel, function: Any, event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Send ``event`` to ``function`` and read its answer from the ResponseURL: physical id and Data."""
    from localcloud.services.cloudformation.custom_resources import MAX_RESPONSE, CustomResourceFailed

    def fail(reason: str) -> CustomResourceFailed:
        return CustomResourceFailed(
            event["LogicalResourceId"], event["ResourceType"], event["RequestType"], reason
        )

    responses = kernel.service("cloudformation").responses
    event = {**event, "ResponseURL": responses.url(event["RequestId"])}
    span = kernel.trace.record(
        "custom-resource",
        "cloudformation",
        event["LogicalResourceId"],
        f"{event['RequestType']} {event['ResourceType']}",
        at=kernel.clock.elapsed(),
    )
    result = kernel.service("lambda").invoker.invoke_sync(
        function, event, source="cloudformation", cause=span.id
    )
    body = responses.take(event["RequestId"])
    if body is None:
        failed = f" (it failed: {result.error['errorMessage']})" if result.failed else ""
        span.outcome = "no response"
        raise fail(
            f"{function.name} sent no response to the ResponseURL{failed}; on AWS the stack would wait "
            "for the resource's ServiceTimeout (3600 s by default)"
        )
    if len(body) > MAX_RESPONSE:
        raise fail(f"Response object is too long ({len(body)} bytes, over {MAX_RESPONSE}).")
    try:
        answer = json.loads(body)
    except ValueError:
        raise fail(f"{function.name}'s response is not JSON: {body[:200]!r}") from None
    status = answer.get("Status") if isinstance(answer, dict) else None
    if status not in ("SUCCESS", "FAILED"):
        raise fail(f"{function.name}'s response has Status {status!r}, not SUCCESS or FAILED")
    if status == "FAILED":
        span.outcome = "FAILED"
        raise fail(answer.get("Reason") or "the handler answered FAILED")
    physical_id = answer.get("PhysicalResourceId")
    if not physical_id:
        raise fail(f"{function.name}'s response has no PhysicalResourceId")
    span.data["physical_id"] = physical_id
    return str(physical_id), dict(answer.get("Data") or {})
