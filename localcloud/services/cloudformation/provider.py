"""The provider framework of CDK's ``custom_resources.Provider``, done as its framework functions do
it, with the user's Python handlers run in-process through the Lambda invoker (their role, their
environment, traced).

CloudFormation's request goes to ``on_event``; its answer's ``PhysicalResourceId`` (else the
request id on Create, the old id otherwise) and ``Data`` make the response. With ``is_complete``,
the framework's waiter asks it at once and then at the waiter state machine's retry interval on the
virtual clock (``query_interval``), ``MaxAttempts`` times (``total_timeout / query_interval``), until
it answers ``IsComplete: true``; its ``Data`` is merged over ``on_event``'s. A handler that raises,
a ``Delete`` that changes the physical id, ``Data`` with ``IsComplete: false`` and a wait past the
total timeout (``Operation timed out``) fail the resource with the framework's reason.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localcloud.errors import Unsupported
from localcloud.services.cloudformation.custom_resources import CustomResourceFailed, response_size

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

USER_ON_EVENT = "USER_ON_EVENT_FUNCTION_ARN"
USER_IS_COMPLETE = "USER_IS_COMPLETE_FUNCTION_ARN"
WAITER = "WAITER_STATE_MACHINE_ARN"
WAITER_TASK = "framework-isComplete-task"
#: The waiter's retry when its state machine cannot be read: CDK's defaults (5 s, 30 minutes).
DEFAULT_RETRY = {"IntervalSeconds": 5, "MaxAttempts": 360, "BackoffRate": 1}


def run(kernel: Kernel, framework: Any, event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Send ``event`` through the framework whose onEvent function is ``framework``: the resource's
    physical id and ``Data``, or :class:`CustomResourceFailed` with the framework's reason."""
    fail = _failure(event)
    span = kernel.trace.record(
        "custom-resource",
        "cloudformation",
        event["LogicalResourceId"],
        f"{event['RequestType']} {event['ResourceType']}",
        at=kernel.clock.elapsed(),
    )
    on_event = _user_function(kernel, framework, USER_ON_EVENT, event)
    answer = _invoke(kernel, framework, on_event, event, span.id, fail)
    physical_id = answer.get("PhysicalResourceId") or (
        event["RequestId"] if event["RequestType"] == "Create" else event["PhysicalResourceId"]
    )
    if event["RequestType"] == "Delete" and physical_id != event["PhysicalResourceId"]:
        raise fail(
            f'DELETE: cannot change the physical resource ID from "{event["PhysicalResourceId"]}" '
            f'to "{answer.get("PhysicalResourceId")}" during deletion'
        )
    response = {**event, **answer, "PhysicalResourceId": physical_id}
    if USER_IS_COMPLETE in framework.environment:
        response = _wait(kernel, framework, response, span.id, fail)
    span.ended = kernel.clock.elapsed()
    span.data["physical_id"] = physical_id
    data = dict(response.get("Data") or {})
    too_long = response_size(event, response["PhysicalResourceId"], data)
    if too_long:
        raise fail(too_long)
    return response["PhysicalResourceId"], data


def _wait(kernel: Kernel, framework: Any, response: dict[str, Any], span: int, fail: Any) -> dict[str, Any]:
    is_complete = _user_function(kernel, framework, USER_IS_COMPLETE, response)
    retry = _waiter_retry(kernel, framework)
    interval, attempts = float(retry["IntervalSeconds"]), int(retry["MaxAttempts"])
    for attempt in range(attempts + 1):
        if attempt:
            kernel.advance(interval * float(retry.get("BackoffRate", 2.0)) ** (attempt - 1))
        answer = _invoke(kernel, framework, is_complete, response, span, fail)
        if answer.get("IsComplete"):
            data = {**(response.get("Data") or {}), **(answer.get("Data") or {})}
            return {**response, **answer, "Data": data}
        if answer.get("Data"):
            raise fail('"Data" is not allowed if "IsComplete" is "False"')
    raise fail(f"Operation timed out (is_complete was asked {attempts + 1} times)")


def _user_function(kernel: Kernel, framework: Any, variable: str, event: dict[str, Any]) -> Any:
    function = kernel.service("lambda").function(framework.environment[variable])
    if not function.runtime.startswith("python"):
        raise Unsupported(
            f"{event['LogicalResourceId']} ({event['ResourceType']})",
            f"a provider handler on {function.runtime or 'an unknown runtime'} ({function.name})",
            "the local cloud runs Python handlers only",
        )
    return function


def _invoke(
    kernel: Kernel,
    framework: Any,
    function: Any,
    payload: dict[str, Any],
    span: int,
    fail: Any,
) -> dict[str, Any]:
    """Invoke a user handler as the framework function does (its role needs lambda:InvokeFunction)."""
    decision = kernel.iam.decide(framework.role_arn, "lambda:InvokeFunction", function.arn)
    if kernel.enforce_iam and not decision.allowed:
        raise fail(f"the framework's role may not lambda:InvokeFunction {function.arn} {decision.reason}")
    result = kernel.service("lambda").invoker.invoke_sync(
        function, json.loads(json.dumps(payload)), source=framework.name, cause=span
    )
    if result.failed:
        raise fail(f"{result.error['errorMessage']}\n\nLogs: /aws/lambda/{function.name}")
    answer = result.payload if result.payload is not None else {}
    if not isinstance(answer, dict):
        raise fail(f"{function.name} returned {answer!r}, not an object")
    return answer


def _waiter_retry(kernel: Kernel, framework: Any) -> dict[str, Any]:
    """The waiter state machine's retry of its isComplete task: query interval and attempts."""
    arn = framework.environment.get(WAITER)
    if not arn:
        return DEFAULT_RETRY
    definition = json.loads(
        kernel.admin_client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"]
    )
    retries = definition.get("States", {}).get(WAITER_TASK, {}).get("Retry") or [DEFAULT_RETRY]
    return {**DEFAULT_RETRY, **retries[0]}


def _failure(event: dict[str, Any]) -> Any:
    def fail(reason: str) -> CustomResourceFailed:
        return CustomResourceFailed(
            event["LogicalResourceId"], event["ResourceType"], event["RequestType"], reason
        )

    return fail
