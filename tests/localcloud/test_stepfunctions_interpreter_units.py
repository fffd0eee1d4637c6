"""The interpreter's pieces that need no cloud: JSONata evaluation and its surrogate pairs, the SDK
operation an integration names, a Parallel branch started twice, moto left as it was written when
no cloud runs (a start that names no execution still gets a UUID), and the context object's times
in UTC whatever the machine's zone."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from moto import mock_aws

from localcloud.services.stepfunctions import context_times, interpreter
from localcloud.services.stepfunctions.context_times import aws_time

pytestmark = pytest.mark.localcloud


@pytest.mark.parametrize(
    ("expression", "joined"),
    [
        ('"\\ud83d\\ude00"', '"\U0001f600"'),
        ('"\\uD83D\\uDE00!"', '"\U0001f600!"'),
        ('"\\\\\\ud83d\\ude00"', '"\\\\\U0001f600"'),  # an escaped backslash, then the pair
        ('"\\\\ud83d\\ude00"', '"\\\\ud83d\\ude00"'),  # a backslash written out, then text: no pair
        ('"\\ud83d"', '"\\ud83d"'),  # a lone high surrogate stays as written
    ],
)
def test_an_escaped_surrogate_pair_becomes_its_character(expression, joined):
    assert interpreter._surrogate_pairs_joined(expression) == joined


def test_jsonata_answers_json_values_undefined_as_none_and_errors_as_moto_expects():
    from moto.stepfunctions.parser.asl.jsonata.jsonata import JSONataException

    assert interpreter._eval_jsonata('{"sum": $sum([1, 2.5]), "text": "\\ud83d\\ude00"}') == {
        "sum": 3.5,
        "text": "\U0001f600",
    }
    assert interpreter._eval_jsonata("$length('\\ud83d\\ude00')") == 1
    assert interpreter._eval_jsonata("{}.missing") is None
    with pytest.raises(JSONataException) as failed:
        interpreter._eval_jsonata("$undefinedfunction(")
    assert failed.value.error == "UNKNOWN"
    assert failed.value.details


def test_an_integrations_action_is_the_sdk_operation_of_that_snake_case_name():
    assert interpreter._operation_model("sqs", "send_message").name == "SendMessage"
    assert interpreter._operation_model("dynamodb", "put_item").name == "PutItem"
    assert interpreter._operation_model("sqs", "no_such_action") is None


def test_a_parallel_branch_runs_once():
    worker = type("Worker", (), {"_worker_thread": object(), "_program": "branch"})()
    with pytest.raises(RuntimeError, match="Attempted to rerun BranchWorker"):
        interpreter._branch_start(None, worker)


UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")


class InlineThread:
    """moto's execution thread, run to its end when started: no cloud, no waiting."""

    def __init__(self, target, daemon=None):
        self.target = target

    def start(self):
        self.target()


def test_without_a_cloud_moto_runs_an_execution_as_it_wrote_it_and_names_it(monkeypatch):
    from moto.stepfunctions.parser.backend import execution_worker

    from localcloud.core import hooks

    monkeypatch.setattr(hooks, "_active", None)  # whatever cloud another module left running
    interpreter.install()
    monkeypatch.setattr(execution_worker, "Thread", InlineThread)
    with mock_aws():
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends["123456789012"]["us-east-1"]
        machine = backend.create_state_machine(
            name="Plain",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )
        names = []
        for _ in range(2):
            execution = backend.start_execution(machine.arn, execution_input='{"n": 1}')
            assert (execution.status, execution.output) == ("SUCCEEDED", {"n": 1})
            names.append(execution.name)
    assert all(UUID.match(name) for name in names) and names[0] != names[1]


def test_a_naive_context_time_is_utc_whatever_the_machines_zone(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert aws_time(datetime(2026, 1, 1, 0, 1, 0, 999_999)) == "2026-01-01T00:01:00.999Z"
        assert aws_time(datetime(2026, 1, 1, 2, 1, tzinfo=timezone(timedelta(hours=2)))) == (
            "2026-01-01T00:01:00.000Z"
        )
    finally:
        monkeypatch.undo()
        time.tzset()


def test_the_context_objects_times_are_rewritten_only_where_moto_writes_them():
    from moto.stepfunctions.parser.asl.component.state import state
    from moto.stepfunctions.parser.backend import execution_worker

    context_times.install()
    entered = datetime(2026, 1, 1, 0, 0, 1, 250_000)
    assert state.StateData(Name="A", EnteredTime=entered) == {
        "Name": "A",
        "EnteredTime": "2026-01-01T00:00:01.250Z",
    }
    assert state.StateData(Name="A") == {"Name": "A"}
    assert execution_worker.ExecutionData(Id="e", StartTime="2026-01-01T00:00:01+00:00") == {
        "Id": "e",
        "StartTime": "2026-01-01T00:00:01.000Z",
    }
    assert execution_worker.ExecutionData(Id="e", StartTime=None) == {"Id": "e", "StartTime": None}
    assert execution_worker.ExecutionData(Id="e") == {"Id": "e"}
