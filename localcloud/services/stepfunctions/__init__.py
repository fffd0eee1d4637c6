"""Step Functions in the local cloud: Standard and Express state machines run by moto's interpreter,
step by step from the cloud's pump, on the virtual clock, as their roles.

Example::

    execution = cloud.start_execution("Orders/Workflow", {"orderId": "o-1"})
    cloud.drain()                      # runs it, moving virtual time over its waits
    assert execution.status == "SUCCEEDED", execution.cause
    execution.states()                 # ["LoadDrivers", "AssignDriver", ...]

This module stays light: moto's interpreter (about a second to import) loads when a stack has a
state machine, or a test creates one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localcloud.core.service import AwsCall, Service, Target
from localcloud.core.targets import text
from localcloud.errors import LocalCloudError

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.core.trace import Span
    from localcloud.services.stepfunctions.engine import Engine, Run


#: The state machine ARN of each task token an execution is waiting on, for the IAM check of
#: SendTaskSuccess and its kin (filled by the engine).
TASK_TOKENS: dict[str, str] = {}


class Execution:
    """One execution, as a test reads it: its status, output or error, and its history."""

    def __init__(self, run: Run) -> None:
        self._run = run

    @property
    def arn(self) -> str:
        return self._run.moto.exec_arn

    @property
    def name(self) -> str:
        return self._run.moto.name

    @property
    def state_machine(self) -> str:
        return self._run.machine

    @property
    def status(self) -> str:
        """``RUNNING``, ``SUCCEEDED``, ``FAILED``, ``TIMED_OUT`` or ``ABORTED``."""
        return str(self._run.moto.exec_status.value)

    @property
    def input(self) -> Any:
        return self._run.moto.input_data

    @property
    def output(self) -> Any:
        """The output, parsed, once the execution has succeeded; else None."""
        return self._run.moto.output if self.status == "SUCCEEDED" else None

    @property
    def error(self) -> str | None:
        return self._run.moto.error

    @property
    def cause(self) -> str | None:
        return self._run.moto.cause

    @property
    def span(self) -> Span:
        """The execution's span in ``cloud.trace``: its states, and what they invoked, are under it."""
        return self._run.span

    def history(self) -> list[dict[str, Any]]:
        """The execution's events, as ``GetExecutionHistory`` returns them (``type`` a plain string)."""
        env = self._run.env
        if env is None:
            return []
        events = env.event_manager.get_event_history()
        return [{**event, "type": str(event["type"].value)} for event in events]

    def states(self) -> list[str]:
        """The names of the states entered, in order (a retried state once, a loop's each time)."""
        return [
            details["name"]
            for event in self.history()
            if (details := event.get("stateEnteredEventDetails")) is not None
        ]

    def __repr__(self) -> str:
        return f"Execution({self.name!r} of {self.state_machine}: {self.status})"


def start_execution(
    cloud: Kernel, state_machine: str, payload: Any = None, name: str | None = None
) -> Execution:
    """Start an execution as a test would with the SDK; it runs on the cloud's next pump."""
    arn = state_machine if state_machine.startswith("arn:") else cloud.physical_id(state_machine)
    request: dict[str, Any] = {
        "stateMachineArn": arn,
        "input": json.dumps({} if payload is None else payload),
    }
    if name is not None:
        request["name"] = name
    started = cloud.admin_client("stepfunctions").start_execution(**request)
    return execution(cloud, started["executionArn"])


def execution(cloud: Kernel, arn: str) -> Execution:
    """An execution of this cloud by ARN (Standard, or Express started synchronously)."""
    from localcloud.services.stepfunctions.engine import engine

    run = engine(cloud).runs.get(arn)
    if run is None:
        raise LocalCloudError(f"no Step Functions execution {arn} in {cloud.stack_name}")
    return Execution(run)


def start_sync_execution(cloud: Kernel, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """``StartSyncExecution`` (which moto lacks), answered as botocore parses it: (status, body)."""
    from moto.core.exceptions import JsonRESTError

    from localcloud.services.stepfunctions.engine import StepFunctionsError, engine

    try:
        return 200, engine(cloud).start_sync(params)
    except StepFunctionsError as error:
        code, message = error.code, error.message
    except JsonRESTError as error:
        code, message = error.error_type, error.message
    return 400, {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}


def _new_engine(kernel: Kernel) -> Engine:
    """The cloud's Step Functions engine; made (and moto's interpreter fitted) on first use."""
    from localcloud.services.stepfunctions.engine import Engine

    return Engine(kernel)


def _answer_start_sync(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    """Step Functions' StartSyncExecution, which moto lacks, runs the Express execution here."""
    return start_sync_execution(kernel, call.params)


def _start(
    kernel: Kernel, arn: str, body: str | bytes, options: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    return "start_execution", {"stateMachineArn": arn, "input": text(body), **options}


from localcloud.services.stepfunctions import observe, provision  # noqa: E402  (they need nothing from here)


def _answer_heartbeat(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]] | None:
    from localcloud.services.stepfunctions.calls import answer_heartbeat

    return answer_heartbeat(kernel, call.params)


def _answer_task_failure(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]] | None:
    from localcloud.services.stepfunctions.calls import answer_task_failure

    return answer_task_failure(kernel, call.params)


def _answer_stop(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]] | None:
    from localcloud.services.stepfunctions.calls import answer_stop

    return answer_stop(kernel, call.params)


def _check(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    from localcloud.services.stepfunctions.calls import check_callback, check_express
    from localcloud.services.stepfunctions.definition import check_request

    if operation in ("CreateStateMachine", "UpdateStateMachine"):
        check_request(operation, params)
    check_callback(kernel, operation, params)
    check_express(kernel, operation, params)


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    if params.get("taskToken"):
        # SendTaskSuccess and its kin are authorized on the state machine the token belongs to.
        return TASK_TOKENS.get(params["taskToken"])
    return params.get("stateMachineArn") or params.get("executionArn")


SERVICE = Service.of(
    "states",
    provision,
    observe,
    state=_new_engine,
    answers={
        "stepfunctions.StartSyncExecution": _answer_start_sync,
        "stepfunctions.SendTaskHeartbeat": _answer_heartbeat,
        "stepfunctions.SendTaskFailure": _answer_task_failure,
        "stepfunctions.StopExecution": _answer_stop,
    },
    checks={"stepfunctions": _check},
    target=Target("stepfunctions", _start),
    iam_resources={"states": _iam_resource},
)
