"""PutLogEvents for the Lambda service's own writes, straight to moto's CloudWatch Logs backend.

A function's lines are written after every invocation that prints, so the write is on the serving
path. Through a botocore client it cost about 2.5 ms (serializing, moto's HTTP stub, parsing the
answer), several times the handler's own DynamoDB call. This writes the same events to the same
backend, which checks them as the API does (the group and stream exist, chronological order, the
14-day and 2-hour window), and then lets the observers of ``PutLogEvents`` (subscription filters)
see the call as after a client's call, under whoever is acting. The IAM decision is not skipped: it
is the Lambda service's, made per function by :mod:`localcloud.services.lambda_.function_role` before the write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.errors import aws_error

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


def put_log_events(cloud: Kernel, group: str, stream: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Put ``events`` on ``group``'s ``stream`` as PutLogEvents would; raise moto's error as a
    ``ClientError``, as the client did."""
    from moto.core.exceptions import JsonRESTError
    from moto.logs.models import logs_backends

    params = {"logGroupName": group, "logStreamName": stream, "logEvents": events}
    try:
        token, rejected = logs_backends[cloud.account][cloud.region].put_log_events(group, stream, events)
    except JsonRESTError as error:
        raise aws_error(error.relative_error_type, error.message, "PutLogEvents") from None
    parsed: dict[str, Any] = {"nextSequenceToken": token}
    if rejected:
        parsed["rejectedLogEventsInfo"] = rejected
    cloud.after_call("logs", "PutLogEvents", params, parsed)
    return parsed
