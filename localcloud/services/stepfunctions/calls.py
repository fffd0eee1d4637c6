"""Step Functions calls answered where moto falls short: task-token callbacks and StopExecution.

moto accepts a second ``SendTaskSuccess`` for a token it has already been given, a
``SendTaskFailure`` for the token of an execution that has ended, and output that is not JSON. Step
Functions answers the first two with ``TaskTimedOut`` (the task the token stood for no longer
exists) and the last with ``InvalidOutput``. A token this cloud never issued is answered
``InvalidToken`` here, as AWS answers it: moto would look for it in every execution, and fail on
one stopped before its first turn, which has no environment. moto also refuses a heartbeat for a task that sets no
``HeartbeatSeconds``, which AWS takes. moto drops the ``cause`` of ``SendTaskFailure`` and the
``error`` and ``cause`` of ``StopExecution`` (which DescribeExecution shows), and stamps a stop with
the wall clock: both are answered here, on the virtual clock. An Express execution has no history
AWS keeps: DescribeExecution, StopExecution and GetExecutionHistory refuse its ARN, and
ListExecutions refuses an Express state machine, with AWS's codes and wording (moto answers the
first three "Execution Does Not Exist" and lists the fourth's executions).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localcloud.errors import aws_error
from localcloud.services.stepfunctions import TASK_TOKENS

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

CALLBACKS = frozenset({"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"})
GONE = "Task Timed Out: 'Provided task does not exist anymore'"
INVALID = "Invalid Token: 'Invalid token'"
EXECUTION_CALLS = frozenset({"DescribeExecution", "StopExecution", "GetExecutionHistory"})
EXPRESS_ARN = "Invalid Arn: 'Resource type not valid in this context: express'"
NOT_SUPPORTED = "This operation is not supported by this type of state machine"


def check_express(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    """AWS's refusal of a call on an Express execution or, for ListExecutions, state machine."""
    if operation in EXECUTION_CALLS:
        parts = params.get("executionArn", "").split(":")
        if len(parts) > 5 and parts[5] == "express":
            raise aws_error("InvalidArn", EXPRESS_ARN, operation)
    elif operation == "ListExecutions" and params.get("stateMachineArn"):
        from localcloud.services.stepfunctions.engine import engine

        machines = engine(kernel).backend().state_machines
        machine = next((m for m in machines if m.arn == params["stateMachineArn"]), None)
        if machine is not None and machine.type == "EXPRESS":
            raise aws_error("StateMachineTypeNotSupported", NOT_SUPPORTED, operation)


def check_callback(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    if operation not in CALLBACKS:
        return
    if operation == "SendTaskSuccess":
        try:
            json.loads(params.get("output", ""))
        except ValueError as error:
            raise aws_error("InvalidOutput", f"Invalid Output: '{error}'", operation) from None
    token = params.get("taskToken", "")
    if token not in TASK_TOKENS:
        raise aws_error("InvalidToken", INVALID, operation)
    if _awaited(kernel, token) is None:
        raise aws_error("TaskTimedOut", GONE, operation)


def answer_heartbeat(kernel: Kernel, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """``SendTaskHeartbeat`` for an awaited task without ``HeartbeatSeconds``: taken, as on AWS."""
    endpoint = _awaited(kernel, params.get("taskToken", ""))
    if endpoint is not None and endpoint._heartbeat_endpoint is None:
        return 200, {}
    return None


def answer_task_failure(kernel: Kernel, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """``SendTaskFailure`` for an awaited task, with its cause; anything else is moto's to answer."""
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackOutcomeFailure

    token = params.get("taskToken", "")
    endpoint = _awaited(kernel, token)
    if endpoint is None:
        return None
    endpoint.notify(
        CallbackOutcomeFailure(callback_id=token, error=params.get("error"), cause=params.get("cause"))
    )
    return 200, {}


def answer_stop(kernel: Kernel, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """``StopExecution`` of a running execution of this cloud, with its error and cause."""
    from localcloud.services.stepfunctions.engine import engine

    run = engine(kernel).runs.get(params.get("executionArn", ""))
    if run is None or str(run.moto.exec_status.value) != "RUNNING" or run.moto.sm_type != "STANDARD":
        return None
    stopped = kernel.clock.now()
    run.moto.stop(stop_date=stopped, error=params.get("error"), cause=params.get("cause"))
    return 200, {"stopDate": stopped}


def _awaited(kernel: Kernel, token: str) -> Any:
    """moto's endpoint for ``token`` while a running execution still waits on it (not answered,
    not timed out); else None."""
    if token not in TASK_TOKENS:
        return None
    from localcloud.services.stepfunctions.engine import engine

    for run in engine(kernel).runs.values():
        env = run.env
        endpoint = env.callback_pool_manager.get(token) if env is not None else None
        if endpoint is not None:
            answered = endpoint._notify_event.is_set() or endpoint.consumer_error is not None
            return endpoint if env.is_running() and not answered else None
    return None
