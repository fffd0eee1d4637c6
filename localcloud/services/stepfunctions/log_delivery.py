"""Step Functions' execution logs, written straight to moto's CloudWatch Logs backend.

Every history event of an execution with a ``LoggingConfiguration`` is one log event (a dozen or
more per execution at level ``ALL``, the house default). Through a botocore client each cost
several milliseconds (serializing, moto's HTTP stub, parsing the answer), about a third of a short
execution's time. This writes the same events to the same backend, which checks them as the API
does, then lets the observers of ``CreateLogStream`` and ``PutLogEvents`` (subscription filters) see
the calls as after a client's call, as the Lambda service's own log writer does. Step Functions
delivers these logs itself, so no role's policy is consulted, as before.

A delivery Logs refuses (the log group was deleted) is lost on the Logs side, as AWS's vended log
delivery loses it: the execution runs on (:func:`deliver`). Each log group's refusal is recorded
once, as a dropped-logs line (:func:`localcloud.core.role_use.dropped`, which scenarios check) and a
``drop`` span.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from localcloud.errors import aws_error

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


def deliver(cloud: Kernel, group: str, stream: str, event: dict[str, Any], exists: bool) -> bool:
    """:func:`put_log_event` as Step Functions delivers an execution's log event: one Logs refuses is
    lost and recorded, never raised into the execution. Whether it was delivered."""
    try:
        put_log_event(cloud, group, stream, event, exists)
    except ClientError as error:
        detail = error.response["Error"]
        line = f"{group}: Step Functions' log delivery failed: {detail['Code']}: {detail['Message']}"
        lines = cloud.role_use.dropped["logs"]
        if line not in lines:
            lines.append(line)
            cloud.trace.record(
                "drop", "states", group, line, at=cloud.clock.elapsed(), outcome=detail["Code"]
            )
        return False
    return True


def put_log_event(cloud: Kernel, group: str, stream: str, event: dict[str, Any], exists: bool) -> None:
    """Put ``event`` on ``group``'s ``stream``, creating the stream first unless it ``exists``."""
    from moto.core.exceptions import JsonRESTError
    from moto.logs.models import logs_backends

    backend = logs_backends[cloud.account][cloud.region]
    try:
        if not exists:
            backend.create_log_stream(group, stream)
            cloud.after_call("logs", "CreateLogStream", {"logGroupName": group, "logStreamName": stream}, {})
        token, rejected = backend.put_log_events(group, stream, [event])
    except JsonRESTError as error:
        raise aws_error(error.relative_error_type, error.message, "PutLogEvents") from None
    parsed: dict[str, Any] = {"nextSequenceToken": token}
    if rejected:
        parsed["rejectedLogEventsInfo"] = rejected
    params = {"logGroupName": group, "logStreamName": stream, "logEvents": [event]}
    cloud.after_call("logs", "PutLogEvents", params, parsed)
