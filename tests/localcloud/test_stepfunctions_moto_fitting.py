"""moto's Step Functions interpreter as the local cloud fits it, with no cloud running: a Choice
rule on a path the input lacks fails with ``States.Runtime`` (not the ``Default``), the context
object's times are in AWS's form, and fitting it twice changes nothing.

The test puts moto's own versions back before fitting, so the fitting runs in it whichever test
ran first: it runs once per process, and the mutation tool (benchmarks/mutate.py) credits a line
only to the tests that ran it."""

from __future__ import annotations

import json
import re

import pytest
from moto import mock_aws

from localcloud.services.stepfunctions import choice_paths, context_times

pytestmark = pytest.mark.localcloud

AWS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def motos_comparison(self, env) -> None:
    """moto 5.2's ``ComparisonVariable._eval_body``: a missing variable is a comparison that fails."""
    self.variable.eval(env)
    self.comparison_function.eval(env)


class InlineThread:
    """moto's execution thread, run to its end when started: nothing waits."""

    def __init__(self, target, daemon=None):
        self.target = target

    def start(self):
        self.target()


def test_a_missing_choice_path_fails_and_context_times_are_awss_once_fitted(monkeypatch):
    from moto.stepfunctions.parser.asl.component.state import state
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_variable import (
        ComparisonVariable,
    )
    from moto.stepfunctions.parser.asl.eval import states as moto_states
    from moto.stepfunctions.parser.backend import execution_worker

    from localcloud.core import hooks

    monkeypatch.setattr(ComparisonVariable, "_eval_body", motos_comparison)
    monkeypatch.setattr(state, "StateData", moto_states.StateData)
    monkeypatch.setattr(execution_worker, "ExecutionData", moto_states.ExecutionData)
    choice_paths.install()
    context_times.install()
    fitted = (ComparisonVariable._eval_body, state.StateData, execution_worker.ExecutionData)
    assert fitted != (motos_comparison, moto_states.StateData, moto_states.ExecutionData)
    choice_paths.install()
    context_times.install()
    assert (ComparisonVariable._eval_body, state.StateData, execution_worker.ExecutionData) == fitted

    monkeypatch.setattr(hooks, "_active", None)  # whatever cloud another module left running
    monkeypatch.setattr(execution_worker, "Thread", InlineThread)
    times = {"entered.$": "$$.State.EnteredTime", "started.$": "$$.Execution.StartTime"}
    definition = {
        "StartAt": "Stamp",
        "States": {
            "Stamp": {"Type": "Pass", "Parameters": times, "ResultPath": "$.times", "Next": "Route"},
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.circuit.state", "StringEquals": "OPEN", "Next": "Open"}],
                "Default": "Closed",
            },
            "Open": {"Type": "Pass", "End": True},
            "Closed": {"Type": "Pass", "End": True},
        },
    }
    with mock_aws():
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends["123456789012"]["us-east-1"]
        machine = backend.create_state_machine(
            name="Fitted", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
        )
        present = backend.start_execution(machine.arn, "present", '{"circuit": {"state": "OPEN"}}')
        missing = backend.start_execution(machine.arn, "missing", '{"circuit": {}}')

    assert present.status == "SUCCEEDED"
    assert set(present.output["times"]) == {"entered", "started"}
    assert all(AWS_TIME.match(moment) for moment in present.output["times"].values())
    assert (missing.status, missing.error) == ("FAILED", "States.Runtime")
    assert missing.cause.endswith(
        "Invalid path '$.circuit.state': The choice state's condition path references an invalid value."
    )
