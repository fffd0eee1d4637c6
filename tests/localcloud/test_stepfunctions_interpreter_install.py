"""The fitting of moto's interpreter, run from moto's own methods: every method the interpreter
replaces is wrapped around moto's, JSONata, the context object's times, Choice paths and the
Distributed Map are fitted with it, fitting twice changes nothing, and StartExecution and
StopExecution are the local cloud's outside an execution too.

The fitting runs once per process, when the first cloud's engine is made, so coverage (and the
mutation tool, benchmarks/mutate.py) credits its lines to whichever test made that engine; what
each fitted method does is pinned by the semantic tests, which run with it in place. This test
puts moto's versions back first, so the fitting runs in it whichever test ran first, and the
monkeypatch restores the process's fitting afterwards."""

from __future__ import annotations

import importlib

import pytest

from localcloud.services.stepfunctions import distributed_map, interpreter

pytestmark = pytest.mark.localcloud

PARSER = "moto.stepfunctions.parser"
STATE = f"{PARSER}.asl.component.state"
#: Each moto method the interpreter runs its own version of: (module, class, method).
FITTED = [
    (f"{PARSER}.models", "StepFunctionsParserBackend", "start_execution"),
    (f"{PARSER}.backend.execution", "Execution", "start"),
    (f"{PARSER}.backend.execution_worker", "ExecutionWorker", "stop"),
    (f"{PARSER}.asl.component.program.program", "Program", "eval"),
    (f"{PARSER}.asl.eval.environment", "Environment", "set_error"),
    (f"{STATE}.exec.execute_state", "ExecutionState", "_evaluate_with_timeout"),
    (f"{STATE}.exec.execute_state", "ExecutionState", "_handle_catch"),
    (f"{STATE}.state", "CommonStateField", "_eval_body"),
    (f"{STATE}.wait.wait_function.wait_function", "WaitFunction", "_wait_interval"),
    (f"{PARSER}.asl.component.common.retry.retrier_decl", "RetrierDecl", "_eval_body"),
    (f"{STATE}.exec.state_parallel.branch_worker", "BranchWorker", "start"),
    (f"{STATE}.exec.state_parallel.branches_decl", "BranchWorkerPool", "wait"),
    (
        f"{STATE}.exec.state_map.iteration.inline_iteration_component",
        "InlineIterationComponent",
        "_launch_worker",
    ),
    (f"{STATE}.exec.state_map.iteration.job", "JobPool", "await_jobs"),
    (f"{PARSER}.asl.eval.callback.callback", "CallbackPoolManager", "add"),
    (f"{PARSER}.asl.eval.callback.callback", "CallbackEndpoint", "wait"),
    (f"{PARSER}.asl.eval.callback.callback", "HeartbeatEndpoint", "clear_and_wait"),
    (
        f"{STATE}.exec.state_task.service.state_task_service_callback",
        "StateTaskServiceCallback",
        "_eval_sync",
    ),
    (f"{STATE}.exec.state_task.service.state_task_service", "StateTaskService", "_normalise_parameters"),
    (f"{STATE}.exec.state_task.service.state_task_service", "StateTaskService", "_normalise_response"),
    (
        f"{STATE}.exec.state_map.iteration.distributed_iteration_component",
        "DistributedIterationComponent",
        "_map_run",
    ),
    (
        f"{STATE}.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker",
        "DistributedItemProcessorWorker",
        "_eval_job",
    ),
]
DISTRIBUTED = {("DistributedIterationComponent", "_map_run"), ("DistributedItemProcessorWorker", "_eval_job")}
READER = f"{STATE}.exec.state_map.item_reader.eval.resource_eval_s3"
WRITER = f"{STATE}.exec.state_map.result_writer.resource_eval.resource_eval_s3"


def motos_choice_comparison(self, env) -> None:
    """Stands for moto's ``ComparisonVariable._eval_body``: any method not fitted."""


def test_fitting_wraps_each_of_motos_methods_once_and_fits_jsonata_times_choices_and_distributed_maps(
    monkeypatch,
):
    from moto.stepfunctions.parser.asl.component.state import state
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_variable import (
        ComparisonVariable,
    )
    from moto.stepfunctions.parser.asl.eval import states as moto_states
    from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
    from moto.stepfunctions.parser.backend import execution_worker

    motos: dict[tuple[str, str], object] = {}
    for module, owner, name in FITTED:
        cls = getattr(importlib.import_module(module), owner)
        method = cls.__dict__[name]
        fitted = interpreter._installed if (owner, name) not in DISTRIBUTED else distributed_map._installed
        motos[owner, name] = method.__wrapped__ if fitted else method
        monkeypatch.setattr(cls, name, motos[owner, name])
    reader = importlib.import_module(READER).ResourceEvalS3
    writer = importlib.import_module(WRITER).ResourceEvalS3
    monkeypatch.setattr(reader, "_handle_list_objects_v2", staticmethod(lambda *args: None))
    monkeypatch.setattr(writer, "_handle_put_object", staticmethod(lambda *args: None))
    monkeypatch.setattr(moto_jsonata, "_eval_jsonata", None)
    monkeypatch.setattr(state, "StateData", moto_states.StateData)
    monkeypatch.setattr(execution_worker, "ExecutionData", moto_states.ExecutionData)
    monkeypatch.setattr(ComparisonVariable, "_eval_body", motos_choice_comparison)
    monkeypatch.setattr(interpreter, "_installed", False)
    monkeypatch.setattr(distributed_map, "_installed", False)

    interpreter.install()

    def fitting() -> dict:
        return {
            **{
                (owner, name): getattr(importlib.import_module(module), owner).__dict__[name]
                for module, owner, name in FITTED
            },
            "jsonata": moto_jsonata._eval_jsonata,
            "times": (state.StateData, execution_worker.ExecutionData),
            "choices": ComparisonVariable._eval_body,
            "reader": reader._handle_list_objects_v2,
            "writer": writer._handle_put_object,
        }

    once = fitting()
    for _, owner, name in FITTED:
        assert once[owner, name].__wrapped__ is motos[owner, name], f"{owner}.{name} is not fitted"
    assert once["jsonata"] is interpreter._eval_jsonata
    assert once["times"] != (moto_states.StateData, moto_states.ExecutionData)
    assert once["choices"] is not motos_choice_comparison
    assert once["reader"] is distributed_map._list_objects
    assert once["writer"] is distributed_map._write_results

    interpreter.install()
    assert fitting() == once
    outside_any_execution_starts_and_stops_are_the_local_clouds()


def outside_any_execution_starts_and_stops_are_the_local_clouds() -> None:
    """StartExecution and StopExecution come from a client, not an execution's fiber: the fitted
    versions run there too (the input quota refused, a stop before the first turn kept)."""
    from moto.core.exceptions import JsonRESTError
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from localcloud.services.stepfunctions.engine import MAX_PAYLOAD_BYTES

    with pytest.raises(JsonRESTError, match="Member must have length less than or equal to"):
        StepFunctionsParserBackend.start_execution(object(), "arn", "big", "x" * (MAX_PAYLOAD_BYTES + 1))
    worker = ExecutionWorker.__new__(ExecutionWorker)
    worker.env = None
    ExecutionWorker.stop(worker, "stopped", "Error", "cause")
    assert worker.stopped_before_start == ("stopped", "Error", "cause")
