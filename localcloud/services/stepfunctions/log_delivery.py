"""Step Functions' execution logs, written straight to moto's CloudWatch Logs backend.

Every history event of an execution with a ``LoggingConfiguration`` is one log event (a dozen or
more per execution at level ``ALL``, the house default). Through a botocore client each cost
several milliseconds (serializing, moto's HTTP stub, parsing the answer), about a third of a short
execution's time. This writes the same events to the same backend, which checks them as the API
does, then lets the observers of ``CreateLogStream`` and ``PutLogEvents`` (subscription filters) see
the calls as after a client's call, as the Lambda service's own log writer does. Step Functions
delivers these logs itself, so no role's policy is consulted, as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.errors import aws_error

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


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
