"""Step Functions executions in one cloud: started, run step by step from the pump, and traced.

moto's interpreter runs the definition (see :mod:`localcloud.services.stepfunctions.interpreter` for how it
is fitted to the local cloud); this module decides when each execution runs. ``StartExecution``
returns at once with the execution RUNNING, as on AWS; its first turn comes on the cloud's next
pump, and each wait (Wait state, Retry interval, task token) hands the turn back until the virtual
clock or the awaited event lets it go on. ``StartSyncExecution`` (Express) runs its execution to the
end before it answers, moving the virtual clock over its waits.

Every call an execution makes runs as the state machine's role: its Lambda tasks through the
cloud's own invoke path, its service integrations against moto, each checked by IAM.
"""

from __future__ import annotations

import contextvars
import copy
import json
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from localcloud.core.role_use import state_machine_delivery
from localcloud.core.trace import Span
from localcloud.services.stepfunctions import TASK_TOKENS
from localcloud.services.stepfunctions.fibers import Fiber, Scheduler

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

_current_run: contextvars.ContextVar[Run | None] = contextvars.ContextVar("localcloud_sfn_run", default=None)


def current_run() -> Run | None:
    """The execution whose thread is running now, if any."""
    return _current_run.get()


@dataclass
class Run:
    """One execution as the local cloud runs it: moto's execution, its role, its trace span."""

    cloud: Kernel
    moto: Any
    """moto's ``Execution`` (or ``SyncExecution``): status, output, history."""
    machine: str
    """The state machine's name: the session name of its calls, the source of its spans."""
    role_arn: str
    span: Span
    deadline: datetime | None = None
    """When the execution times out (the definition's ``TimeoutSeconds``), if it can."""
    fiber: Fiber | None = None
    state_spans: list[Span] = field(default_factory=list)

    @property
    def env(self) -> Any:
        """The interpreter's root environment (None until the execution's first turn)."""
        return self.moto.exec_worker.env

    def finish(self) -> None:
        stopped = self.env.program_state() if self.env is not None else None
        if stopped is not None and hasattr(stopped, "stop_date") and self.moto.error is None:
            # StopExecution's error and cause, which DescribeExecution shows (moto drops them).
            self.moto.error, self.moto.cause = stopped.error, stopped.cause
        self.span.outcome = str(self.moto.exec_status.value)
        self.span.ended = self.cloud.clock.elapsed()
        if self.moto.error:
            self.span.data["error"] = self.moto.error
            self.span.data["cause"] = self.moto.cause


class Engine:
    """The executions of one cloud and the fibers that run them."""

    def __init__(self, cloud: Kernel) -> None:
        from localcloud.services.stepfunctions import interpreter

        interpreter.install()
        # Only one cloud runs at a time: what an earlier cloud left waiting can never go on.
        for stale in list(_schedulers):
            stale.close()
        _schedulers.clear()
        TASK_TOKENS.clear()
        self.cloud = cloud
        self.scheduler = Scheduler(cloud.clock)
        _schedulers.add(self.scheduler)
        cloud.add_pollable(self.scheduler)
        cloud.add_pollable(self.scheduler.deadlines)
        self.runs: dict[str, Run] = {}
        self._names = 0

    # ------------------------------------------------------------------------------------ naming

    def execution_name(self, machine_arn: str) -> str:
        """The name AWS generates when a start names none: a UUID, here repeatable run to run."""
        self._names += 1
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{machine_arn}/{self._names}"))

    # ------------------------------------------------------------------------------------ starting

    def start(self, execution: Any) -> Run:
        """Queue a started execution: it runs on the cloud's next pump (``StartExecution``)."""
        run = self._run(execution, kind="execution")
        run.fiber = self.scheduler.spawn(lambda: self._execute(run), f"execution {execution.name}", owner=run)
        return run

    def start_sync(self, params: dict[str, Any]) -> dict[str, Any]:
        """``StartSyncExecution``: run an Express execution to its end and answer with its outcome."""
        from moto.stepfunctions.parser.api import ExecutionStatus
        from moto.stepfunctions.parser.backend.execution import SyncExecution

        backend = self.backend()
        machine = backend.describe_state_machine(params["stateMachineArn"])
        if machine.type != "EXPRESS":
            raise StepFunctionsError(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            )
        text = params.get("input") or "{}"
        check_input_size(text)
        try:
            json.loads(text)
        except ValueError as error:
            raise StepFunctionsError(
                "InvalidExecutionInput", f"Invalid State Machine Execution Input: {error}"
            ) from None
        name = params.get("name") or self.execution_name(machine.arn)
        where = f"{self.cloud.partition}:states:{self.cloud.region}:{self.cloud.account}"
        execution = SyncExecution(
            name=name,
            sm_type=machine.type,
            role_arn=machine.roleArn,
            exec_arn=f"arn:{where}:express:{machine.name}:{name}:{self.execution_name(name)}",
            account_id=self.cloud.account,
            region_name=self.cloud.region,
            state_machine=copy.deepcopy(
                machine, {id(machine.executions): [], id(machine.backend): machine.backend}
            ),
            start_date=self.cloud.clock.now(),
            cloud_watch_logging_session=None,
            input_data=text,
            trace_header=params.get("traceHeader"),
            activity_store={},
        )
        execution.exec_worker = execution._get_start_execution_worker()
        execution.exec_status = ExecutionStatus.RUNNING
        run = self._run(execution, kind="sync-execution")
        run.fiber = self.scheduler.spawn(lambda: self._execute(run), f"execution {name}", owner=run)
        self.scheduler.run_until_done(run.fiber, run)
        output = execution.to_start_sync_execution_output()
        output["status"] = str(output["status"].value)
        return output

    def _run(self, execution: Any, *, kind: str) -> Run:
        source, parent = self.cloud.caller()
        machine = execution.state_machine
        span = self.cloud.trace.record(
            kind, source, machine.name, execution.name, at=self.cloud.clock.elapsed(), parent=parent
        )
        span.outcome = "RUNNING"
        span.data["execution_arn"] = execution.exec_arn
        state_machine_delivery(self.cloud, machine, execution.role_arn, span)
        run = Run(self.cloud, execution, machine.name, execution.role_arn, span)
        execution.exec_worker._cloud_watch_logging_session = _logging_session(self.cloud, execution)
        self.runs[execution.exec_arn] = run
        return run

    def _execute(self, run: Run) -> None:
        stopped = getattr(run.moto.exec_worker, "stopped_before_start", None)
        if stopped is not None:
            from moto.stepfunctions.parser.api import ExecutionStatus

            run.moto.exec_status = ExecutionStatus.ABORTED
            run.moto.stop_date, run.moto.error, run.moto.cause = stopped
            run.finish()
            return
        token = _current_run.set(run)
        try:
            with self.cloud.acting_as(run.role_arn, run.machine, run.span.id):
                run.moto.exec_worker._execution_logic()
        finally:
            _current_run.reset(token)
            run.finish()

    # ------------------------------------------------------------------------------------ lookups

    def backend(self) -> Any:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        return stepfunctions_parser_backends[self.cloud.account][self.cloud.region]


def _logging_session(cloud: Kernel, execution: Any) -> Any:
    """Where the execution's history events go under the state machine's ``LoggingConfiguration``
    (level and ``includeExecutionData`` as AWS applies them), or None when logging is off."""
    from moto.stepfunctions.parser.asl.eval.event.logging import (
        CloudWatchLoggingConfiguration,
        CloudWatchLoggingSession,
    )
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    class LogGroupSession(CloudWatchLoggingSession):
        """moto's session, writing through the cloud's Logs API (moto's own cannot: it expects a
        datetime where its event manager passes a string), one stream per execution."""

        def publish_history_log(self, history_log: dict[str, Any]) -> None:
            if not self.configuration.include_execution_data and "details" in history_log:
                # A task's parameters are execution data too (moto leaves them in).
                history_log = {**history_log, "details": {**history_log["details"]}}
                history_log["details"].pop("parameters", None)
            group = self.configuration.log_group_name
            stream = f"states/{execution.state_machine.name}/{execution.start_date:%Y-%m-%d}/{execution.name}"
            moment = datetime.fromisoformat(history_log["event_timestamp"].replace("Z", "+00:00"))
            event = {"timestamp": int(moment.timestamp() * 1000), "message": to_json_str(history_log)}
            # Step Functions delivers its logs itself: the state machine's role does not write them.
            if contextvars.Context().run(_deliver, cloud, group, stream, event, stream in streams):
                streams.add(stream)

    streams: set[str] = set()
    settings = dict(execution.state_machine.loggingConfiguration or {})
    settings.setdefault("includeExecutionData", False)
    configuration = CloudWatchLoggingConfiguration.from_logging_configuration(
        execution.state_machine.arn, settings
    )
    if configuration is None:
        return None
    return LogGroupSession(execution_arn=execution.exec_arn, configuration=configuration)


def _deliver(cloud: Kernel, group: str, stream: str, event: dict[str, Any], exists: bool) -> bool:
    from localcloud.services.stepfunctions.log_delivery import deliver

    return deliver(cloud, group, stream, event, exists)


class StepFunctionsError(Exception):
    """An error AWS answers a Step Functions call with, by code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


#: Step Functions' quota on an execution's input (and any state's input or output): 256 KiB of UTF-8.
MAX_PAYLOAD_BYTES = 262_144


def check_input_size(text: str) -> None:
    """Refuse an execution input over the quota, as ``StartExecution`` and ``StartSyncExecution`` do."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_PAYLOAD_BYTES:
        raise StepFunctionsError(
            "ValidationException",
            "1 validation error detected: Value at 'input' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_PAYLOAD_BYTES}",
        )


_schedulers: weakref.WeakSet[Scheduler] = weakref.WeakSet()


def engine(cloud: Kernel) -> Engine:
    """The cloud's Step Functions engine, made (and moto's interpreter fitted) on first use."""
    return cloud.service("states")
