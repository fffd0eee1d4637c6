"""moto's Step Functions interpreter, fitted to the local cloud.

moto (5.2) runs an execution on a thread of its own and really waits: ``Event.wait`` in Wait
states, ``time.sleep`` between retries, a thread per task and per branch, joins with timeouts. Each
place where it starts a thread or waits is replaced here, once per process, by the local cloud's
equivalent when the code runs on an execution's fiber (:mod:`localcloud.services.stepfunctions.fibers`),
and left as moto wrote it otherwise:

- ``Execution.start`` queues the execution with the cloud's engine instead of starting a thread,
  and a start that names no execution gets a generated name (moto would name it ``None``);
- the program and each task run on the execution's own thread, so they act as its role;
- Wait states, Retry intervals, ``.sync`` polling, task-token and heartbeat waits park the fiber
  until the virtual clock or the awaited event lets it go on; ``TimeoutSeconds`` of the definition
  is a moment on the virtual clock;
- Parallel branches and Map iterations are fibers of the same execution, run one at a time;
- each state is a span of the cloud's trace, under its execution (a Parallel's branches under the
  Parallel state), and what its tasks invoke hangs under it; a retry is a span too;
- a Lambda call the role may not make fails the task as AWS fails it (``Lambda.AWSLambdaException``
  with the AccessDeniedException in its cause), so Retry and Catch see what they would on AWS.
"""

from __future__ import annotations

import contextvars
import copy
import functools
import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from localcloud.core.trace import Span
from localcloud.errors import FunctionNotFound, aws_error
from localcloud.services.stepfunctions import choice_paths, context_times, distributed_map, task_time
from localcloud.services.stepfunctions.fibers import current, park

#: Virtual seconds between two checks of a ``.sync`` task's job (a nested execution, say).
SYNC_POLL_SECONDS = 1.0
#: Lambda's error codes as Step Functions names them in a task failure.
LAMBDA_ERRORS = {"AccessDeniedException": "Lambda.AWSLambdaException"}

_state_span: contextvars.ContextVar[Span | None] = contextvars.ContextVar(
    "localcloud_sfn_state", default=None
)
_installed = False


def install() -> None:
    """Fit moto's interpreter to the local cloud, once per process."""
    global _installed
    if _installed:
        return
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
    from moto.stepfunctions.parser.asl.component.program.program import Program
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.inline_iteration_component import (
        InlineIterationComponent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobPool
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker import BranchWorker
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl import (
        BranchWorkerPool,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.eval.callback.callback import (
        CallbackEndpoint,
        CallbackPoolManager,
        HeartbeatEndpoint,
    )
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    _replace(StepFunctionsParserBackend, "start_execution", _start_execution, anywhere=True)
    _replace(Execution, "start", _execution_start, anywhere=True)
    _replace(ExecutionWorker, "stop", _worker_stop, anywhere=True)
    _replace(Program, "eval", _program_eval)
    _replace(Environment, "set_error", _set_error)
    _replace(ExecutionState, "_evaluate_with_timeout", _evaluate_on_own_thread)
    _replace(ExecutionState, "_handle_catch", _handle_catch)
    _replace(CommonStateField, "_eval_body", _traced_state)
    _replace(WaitFunction, "_wait_interval", _wait_interval)
    _replace(RetrierDecl, "_eval_body", _retrier_eval_body)
    _replace(BranchWorker, "start", _branch_start)
    _replace(BranchWorkerPool, "wait", _branches_wait)
    _replace(InlineIterationComponent, "_launch_worker", _launch_iteration_worker)
    _replace(JobPool, "await_jobs", _await_jobs)
    _replace(CallbackPoolManager, "add", _add_task_token)
    _replace(CallbackEndpoint, "wait", _callback_wait)
    _replace(HeartbeatEndpoint, "clear_and_wait", _heartbeat_clear_and_wait)
    _replace(StateTaskServiceCallback, "_eval_sync", _eval_sync)
    _replace(StateTaskService, "_normalise_parameters", _normalise_parameters)
    _replace(StateTaskService, "_normalise_response", _normalise_response)
    moto_jsonata._eval_jsonata = _eval_jsonata
    context_times.install()
    choice_paths.install()
    distributed_map.install(_replace)
    _installed = True


def _replace(owner: type, name: str, replacement: Callable[..., Any], *, anywhere: bool = False) -> None:
    """Make ``owner.name`` call ``replacement(original, self, ...)`` on an execution's fiber (or
    ``anywhere``), and moto's original everywhere else."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not anywhere and current() is None:
            return original(self, *args, **kwargs)
        return replacement(original, self, *args, **kwargs)

    setattr(owner, name, method)


def _active_cloud() -> Any:
    from localcloud.core import hooks

    return hooks.active()


def _engine(cloud: Any) -> Any:
    from localcloud.services.stepfunctions.engine import engine

    return engine(cloud)


def _run() -> Any:
    from localcloud.services.stepfunctions.engine import current_run

    return current_run()


def _eval_jsonata(expression: str) -> Any:
    """JSONata for ``QueryLanguage: JSONata``: moto composes the expression, with ``$states`` and the
    variables bound in it, but leaves its evaluation to a JVM it does not start; jsonata-python
    evaluates it here."""
    import jsonata
    from moto.stepfunctions.parser.asl.jsonata.jsonata import JSONataException

    try:
        result = jsonata.Jsonata(_surrogate_pairs_joined(expression)).evaluate(None)
    except Exception as error:
        raise JSONataException("UNKNOWN", str(error)) from None
    return None if result is None else json.loads(json.dumps(result))


#: A ``\\uD83D\\uDE00`` escape pair in a JSONata string literal, not preceded by an escaped backslash.
_ESCAPED_PAIR = re.compile(r"(?<!\\)((?:\\\\)*)\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)


def _surrogate_pairs_joined(expression: str) -> str:
    """The expression with each escaped surrogate pair written as its character: moto writes the
    state's input into the expression as ASCII JSON, and jsonata-python reads each escape of a pair
    as a lone surrogate, so an emoji would be two characters to ``$length`` and ``$substring``
    where AWS's JSONata counts one."""
    return _ESCAPED_PAIR.sub(
        lambda m: (
            m[1]
            + (chr(int(m[2], 16)) + chr(int(m[3], 16))).encode("utf-16", "surrogatepass").decode("utf-16")
        ),
        expression,
    )


# ---------------------------------------------------------------------------------------- starting


def _start_execution(
    original: Callable[..., Any],
    self: Any,
    state_machine_arn: str,
    name: str | None = None,
    execution_input: Any = None,
    trace_header: Any = None,
) -> Any:
    """AWS names an execution started without a name with a UUID (moto would name it ``None``), and
    refuses an input over Step Functions' payload quota."""
    from moto.core.exceptions import JsonRESTError

    from localcloud.services.stepfunctions.engine import StepFunctionsError, check_input_size

    try:
        check_input_size(execution_input if isinstance(execution_input, str) else "")
    except StepFunctionsError as error:
        raise JsonRESTError(error.code, error.message) from None
    if not name:
        cloud = _active_cloud()
        name = _engine(cloud).execution_name(state_machine_arn) if cloud else str(uuid.uuid4())
    return original(self, state_machine_arn, name, execution_input, trace_header)


def _execution_start(original: Callable[..., Any], self: Any) -> None:
    """Queue the execution with the cloud's engine; it runs from the cloud's pump."""
    cloud = _active_cloud()
    if cloud is None:
        return original(self)
    from moto.stepfunctions.parser.api import ExecutionStatus

    self.exec_worker = self._get_start_execution_worker()
    self.exec_status = ExecutionStatus.RUNNING
    _engine(cloud).start(self)
    return None


def _worker_stop(
    original: Callable[..., Any], self: Any, stop_date: datetime, error: str | None, cause: str | None
) -> None:
    """``StopExecution`` of an execution that has not had its first turn: it will not run."""
    if self.env is None:
        self.stopped_before_start = (stop_date, error, cause)
        return
    original(self, stop_date=stop_date, error=error, cause=cause)


def _program_eval(original: Callable[..., Any], self: Any, env: Any) -> None:
    """The program on the calling fiber; its ``TimeoutSeconds`` a moment on the virtual clock."""
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    env.next_state_name = self.start_at.start_at_name
    run = _run()
    if self.timeout_seconds is not None and not env.is_frame() and run is not None:
        run.deadline = run.cloud.clock.now() + timedelta(seconds=self.timeout_seconds.timeout_seconds)
    EvalComponent.eval(self, env)


def _set_error(original: Callable[..., Any], self: Any, error: Any) -> None:
    """An execution that has timed out or been stopped stays so: the task it was waiting in fails
    when it wakes (States.Timeout), and moto would let that failure turn it FAILED."""
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped, ProgramTimedOut

    if isinstance(self.program_state(), ProgramTimedOut | ProgramStopped):
        return
    original(self, error)


# ---------------------------------------------------------------------------------------- tasks


def _evaluate_on_own_thread(original: Callable[..., Any], self: Any, env: Any) -> None:
    """moto's ``ExecutionState._evaluate_with_timeout`` without its thread: the task runs on the
    execution's fiber, as the state machine's role, in the trace under its state, lasting as long as
    the invocations it made (see :mod:`localcloud.services.stepfunctions.task_time`)."""
    self.timeout.eval(env=env)
    timeout_seconds = env.stack.pop()
    frame = env.open_frame()
    frame.states.reset(input_value=env.states.get_input())
    frame.stack = copy.deepcopy(env.stack)
    try:
        with task_time.timed(_state_span.get(), timeout_seconds):
            self._eval_execution(frame)
    except ClientError as error:
        raise _task_failure(self, env, error) from None
    except FunctionNotFound as error:
        raise _task_failure(self, env, _not_found(str(error))) from None
    except Exception:
        if _stopped(env):
            return
        raise
    finally:
        frame.set_ended()
        env.close_frame(frame)
    env.stack.append(frame.stack[-1])

    if not self._is_language_query_jsonpath():
        env.states.set_result(frame.stack[-1])
    if self.assign_decl:
        self.assign_decl.eval(env=env)
    if self.result_selector:
        self.result_selector.eval(env=env)
    if self.result_path:
        self.result_path.eval(env)
    else:
        env.states.reset(input_value=env.stack.pop())


def _stopped(env: Any) -> bool:
    """Whether ``StopExecution`` has ended the execution ``env`` belongs to: what its waiting task
    then raises (a callback wait cut short reads as a timeout) is no event of the history, which on
    AWS ends with ExecutionAborted after the state's last event."""
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

    return isinstance(env.program_state(), ProgramStopped)


def _task_failure(state: Any, env: Any, error: ClientError) -> Exception:
    """A failed service call as the task failure AWS reports for it."""
    from moto.stepfunctions.parser.api import (
        HistoryEventType,
        LambdaFunctionFailedEventDetails,
        TaskFailedEventDetails,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
        StateTaskServiceLambda,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
        StateTaskLambda,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    metadata = error.response.setdefault("ResponseMetadata", {})
    metadata.setdefault("RequestId", _request_id())
    if not isinstance(state, StateTaskLambda | StateTaskServiceLambda):
        return error
    code = error.response["Error"]["Code"]
    name = LAMBDA_ERRORS.get(code, f"Lambda.{code}")
    cause = (
        f"{error.response['Error']['Message']} (Service: AWSLambda; Status Code: "
        f"{metadata.get('HTTPStatusCode', 400)}; Error Code: {code}; Request ID: {metadata['RequestId']}; "
        "Proxy: null)"
    )
    if isinstance(state, StateTaskLambda):
        event_type = HistoryEventType.LambdaFunctionFailed
        details = EventDetails(
            lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(error=name, cause=cause)
        )
    else:
        event_type = HistoryEventType.TaskFailed
        details = EventDetails(
            taskFailedEventDetails=TaskFailedEventDetails(
                error=name, cause=cause, resource=state._get_sfn_resource(), resourceType="lambda"
            )
        )
    return FailureEventException(FailureEvent(env, CustomErrorName(name), event_type, details))


def _not_found(message: str) -> ClientError:
    return aws_error("ResourceNotFoundException", f"Function not found: {message}", "Invoke", status=404)


def _request_id() -> str:
    run = _run()
    seed = f"{run.moto.exec_arn}/{run.cloud.trace.spans[-1].id}" if run else "request"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))


def _normalise_parameters(
    original: Callable[..., Any],
    self: Any,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """A service integration's parameters in the SDK's casing and types, as AWS sends them (moto
    leaves this out, so ``StateMachineArn`` never reached ``stateMachineArn``)."""
    operation = _operation(self, boto_service_name, service_action_name)
    if operation is not None and operation.input_shape is not None:
        self._to_boto_request(parameters, operation.input_shape)


def _normalise_response(
    original: Callable[..., Any],
    self: Any,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """A service integration's answer in Step Functions' casing (``ExecutionArn``, ``Output``)."""
    operation = _operation(self, boto_service_name, service_action_name)
    if operation is not None and operation.output_shape is not None:
        self._from_boto_response(response, operation.output_shape)


def _operation(task: Any, service: str | None, action: str | None) -> Any:
    return _operation_model(task._get_boto_service_name(service), task._get_boto_service_action(action))


@functools.cache
def _operation_model(service: str, action: str) -> Any:
    """botocore's model of ``service``'s operation whose snake-case name is ``action``."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    name = next((name for name in model.operation_names if xform_name(name) == action), None)
    return model.operation_model(name) if name else None


# ---------------------------------------------------------------------------------------- trace


def _traced_state(original: Callable[..., Any], self: Any, env: Any) -> None:
    """Each state a span of the trace, under whatever runs it; its calls hang under it."""
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException

    run = _run()
    if run is None:
        return original(self, env)
    cloud = run.cloud
    _, parent = cloud.caller()
    span = cloud.trace.record(
        "state",
        run.machine,
        self.name,
        self.state_type.name,
        at=cloud.clock.elapsed(),
        parent=parent,
    )
    token = _state_span.set(span)
    try:
        with cloud.acting_as(run.role_arn, run.machine, span.id):
            original(self, env)
    except FailureEventException as failure:
        span.outcome = f"error: {failure.failure_event.error_name.error_name}"
        raise
    finally:
        span.ended = cloud.clock.elapsed()
        _state_span.reset(token)
    return None


def _handle_catch(original: Callable[..., Any], self: Any, env: Any, failure_event: Any) -> None:
    from moto.stepfunctions.parser.asl.component.common.catch.catch_outcome import CatchOutcome

    original(self, env, failure_event)
    span = _state_span.get()
    if span is not None and env.stack[-1] == CatchOutcome.Caught:
        span.outcome = f"caught: {failure_event.error_name.error_name}"


# ---------------------------------------------------------------------------------------- waiting


def _wait(
    env: Any,
    *,
    due: datetime | None = None,
    ready: Callable[[], bool] | None = None,
    deadline: bool = False,
) -> None:
    """Park the fiber until ``due``, ``ready()`` or the end of ``env``'s run (``deadline``: ``due``
    limits a wait for something outside the execution, such as a task token). When the execution's
    own ``TimeoutSeconds`` comes first, it times out."""
    run = _run()
    limit = run.deadline if run else None
    if limit is not None and (due is None or limit < due):
        due, deadline = limit, True
    park(
        ready=lambda: (env is not None and not env.is_running()) or (ready is not None and ready()),
        due=due,
        deadline=deadline,
    )
    if limit is not None and run.cloud.clock.now() >= limit and run.env.is_running():
        run.env.set_timed_out()


def _in(seconds: float) -> datetime:
    return _run().cloud.clock.now() + timedelta(seconds=seconds)


def _wait_interval(original: Callable[..., Any], self: Any, env: Any, wait_seconds: int) -> None:
    if wait_seconds > 0:
        _wait(env, due=_in(wait_seconds))


def _retrier_eval_body(original: Callable[..., Any], self: Any, env: Any) -> None:
    """moto's ``RetrierDecl._eval_body``, its interval slept on the virtual clock and traced."""
    from moto.stepfunctions.parser.asl.component.common.retry.max_attempts_decl import MaxAttemptsOutcome
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_outcome import RetrierOutcome

    self.error_equals.eval(env)
    if not env.stack.pop():
        env.stack.append(RetrierOutcome.Skipped)
        return
    self.max_attempts.eval(env=env)
    if env.stack.pop() == MaxAttemptsOutcome.EXHAUSTED:
        env.stack.append(RetrierOutcome.Failed)
        return
    self.interval_seconds.eval(env=env)
    self.backoff_rate.eval(env=env)
    self.max_delay_seconds.eval(env=env)
    self.jitter_strategy.eval(env=env)
    interval_seconds: float = env.stack.pop()
    run = _run()
    if run is None:
        time.sleep(interval_seconds)
    else:
        cloud = run.cloud
        state = env.states.context_object.context_object_data["State"]["Name"]
        span = cloud.trace.record(
            "retry",
            run.machine,
            state,
            f"in {interval_seconds:g}s",
            at=cloud.clock.elapsed(),
            parent=cloud.caller()[1],
        )
        _wait(env, due=_in(interval_seconds))
        span.ended = cloud.clock.elapsed()
    env.stack.append(RetrierOutcome.Executed)


def _add_task_token(original: Callable[..., Any], self: Any, callback_id: str) -> Any:
    """A task token, known to IAM as its state machine's, so ``SendTaskSuccess`` is authorized there."""
    from localcloud.services.stepfunctions import TASK_TOKENS

    TASK_TOKENS[callback_id] = _run().moto.state_machine.arn
    return original(self, callback_id)


def _callback_wait(original: Callable[..., Any], self: Any, timeout: float | None = None) -> Any:
    run = _run()
    _wait(
        run.env if run is not None else None,  # a stopped execution stops waiting
        ready=self._notify_event.is_set,
        due=_in(timeout) if timeout is not None else None,
        deadline=True,
    )
    return self._outcome


def _heartbeat_clear_and_wait(original: Callable[..., Any], self: Any) -> bool:
    """Wait for the next heartbeat; a stopped execution stops waiting, as for the token itself."""
    with self._mutex:
        if self._next_heartbeat_event.is_set():
            self._next_heartbeat_event.clear()
            return True
    _wait(
        _run().env, ready=self._next_heartbeat_event.is_set, due=_in(self._heartbeat_seconds), deadline=True
    )
    return self._next_heartbeat_event.is_set()


def _eval_sync(
    original: Callable[..., Any],
    self: Any,
    env: Any,
    sync_resolver: Callable[[], Any] | None,
    timeout_seconds: int | None,
    callback_endpoint: Any,
    heartbeat_endpoint: Any,
) -> Any:
    """A ``.sync`` task: its job polled every :data:`SYNC_POLL_SECONDS` of virtual time."""
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError

    deadline = _in(timeout_seconds) if timeout_seconds else None
    while env.is_running():
        result = sync_resolver()
        if result:
            return result
        if callback_endpoint is not None and callback_endpoint.get_outcome() is not None:
            return callback_endpoint.get_outcome()
        if deadline is not None and _run().cloud.clock.now() >= deadline:
            raise EvalTimeoutError()
        _wait(env, due=_in(SYNC_POLL_SECONDS))
    return None


# ---------------------------------------------------------------------------------------- branches


def _spawn(target: Callable[[], Any], label: str) -> Any:
    fiber = current()
    return _engine(_run().cloud).scheduler.spawn(target, label, owner=fiber.owner)


def _branch_start(original: Callable[..., Any], self: Any) -> None:
    if self._worker_thread is not None:
        raise RuntimeError(f"Attempted to rerun BranchWorker for program ${self._program}.")
    self._worker_thread = _spawn(self._thread_routine, "parallel branch").thread


def _branches_wait(original: Callable[..., Any], self: Any) -> None:
    park(ready=self._termination_event.is_set)


def _launch_iteration_worker(
    original: Callable[..., Any], self: Any, env: Any, eval_input: Any, job_pool: Any
) -> Any:
    worker = self._create_worker(env=env, eval_input=eval_input, job_pool=job_pool)
    _spawn(worker.eval, "map iteration")
    return worker


def _await_jobs(original: Callable[..., Any], self: Any) -> None:
    if not self._is_terminated():
        park(ready=self._is_terminated)
