"""The grant mutation check on one small pattern: what its scenario needs is caught, an extra is not.

``make grants`` runs it on every registered pattern; this keeps the check itself honest and fast.
"""

from __future__ import annotations

import copy

import pytest

from benchmarks.grant_mutation import grants, report, run
from localcloud.core.assembly import StackArtifact, load_stack
from patterns.registry import get

pytestmark = pytest.mark.e2e

PATTERN = "storage_first"


def test_every_grant_the_scenario_needs_is_caught_and_an_unneeded_one_survives(cloud_assembly):
    stack = load_stack(cloud_assembly.directory, get(PATTERN).stack_name)
    # An action the pattern never calls, put next to one it does, as CDK's broad helpers put them.
    template = copy.deepcopy(stack.template)
    [send] = [g for g in grants(template) if g.action == "sqs:SendMessage"]
    statement = template["Resources"][send.policy]["Properties"]["PolicyDocument"]["Statement"][
        send.statement
    ]
    statement["Action"] = ["sqs:SendMessage", "sqs:PurgeQueue"]

    [found] = report(run({PATTERN: StackArtifact(stack.name, template, stack.directory)}))

    assert found.held_unmutated == ""
    assert found.errors == []
    assert [r.grant.action for r in found.survivors] == ["sqs:PurgeQueue"]
    assert not found.ok
    caught = {r.grant.action: r.caught_by for r in found.caught}
    assert set(caught) == {
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "dynamodb:PutItem",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    assert "does not have permissions to call ReceiveMessage on SQS" in caught["sqs:ReceiveMessage"], (
        "the event source mapping is refused at creation, as Lambda refuses it"
    )
    assert caught["logs:PutLogEvents"].startswith(
        "check failed: every invoked function's log lines reached its log group"
    ), "the Lambda service drops the lines of a role that may not write its group"
    assert caught["xray:PutTraceSegments"].startswith(
        "check failed: every actively traced function's and state machine's segments reached X-Ray"
    )
    assert found.not_enforced == []
