"""The grant mutation check's enumerator and report: one mutant per allowed action, each alone."""

from __future__ import annotations

import copy

import pytest

from benchmarks.grant_mutation import Grant, Result, grants, is_unenforced, render, report, without

pytestmark = pytest.mark.infra


def policy(*statements: dict, roles=("WorkerRole",)) -> dict:
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyDocument": {"Statement": list(statements), "Version": "2012-10-17"},
            "PolicyName": "P",
            "Roles": [{"Ref": role} for role in roles],
        },
        "Metadata": {"aws:cdk:path": "Stack/Pattern/WorkerRole/DefaultPolicy/Resource"},
    }


TEMPLATE = {
    "Resources": {
        "WorkerPolicy": policy(
            {
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
                "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
            },
            {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": {"Fn::GetAtt": ["Table", "Arn"]}},
            {"Effect": "Deny", "Action": "dynamodb:DeleteTable", "Resource": "*"},
        ),
        "LonePolicy": policy({"Effect": "Allow", "Action": "xray:GetSamplingRules", "Resource": "*"}),
        "Worker": {"Type": "AWS::Lambda::Function", "DependsOn": ["LonePolicy", "WorkerPolicy"]},
        "Other": {"Type": "AWS::Lambda::Function", "DependsOn": "LonePolicy"},
        "InlineRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Policies": [
                    {
                        "PolicyName": "inline",
                        "PolicyDocument": {
                            "Statement": [
                                {"Effect": "Allow", "Action": "states:StartExecution", "Resource": "*"}
                            ]
                        },
                    }
                ]
            },
        },
        "Managed": {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "PolicyDocument": {
                    "Statement": [{"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "*"}]
                }
            },
        },
    }
}


def test_every_allowed_action_is_one_grant_and_deny_statements_are_not():
    found = [(g.policy, g.statement, g.action) for g in grants(TEMPLATE)]
    assert found == [
        ("WorkerPolicy", 0, "sqs:ReceiveMessage"),
        ("WorkerPolicy", 0, "sqs:DeleteMessage"),
        ("WorkerPolicy", 1, "dynamodb:PutItem"),
        ("LonePolicy", 0, "xray:GetSamplingRules"),
        ("InlineRole", 0, "states:StartExecution"),
        ("Managed", 0, "logs:PutLogEvents"),
    ]
    assert grants(TEMPLATE)[0].label == "Pattern/WorkerRole: sqs:ReceiveMessage on Queue"


def test_a_mutant_lacks_its_one_action_and_leaves_the_template_as_it_was():
    before = copy.deepcopy(TEMPLATE)
    receive, _delete, put, lone, inline, managed = grants(TEMPLATE)

    statements = without(TEMPLATE, receive)["Resources"]["WorkerPolicy"]["Properties"]["PolicyDocument"]
    assert statements["Statement"][0]["Action"] == "sqs:DeleteMessage"
    assert len(statements["Statement"]) == 3

    statements = without(TEMPLATE, put)["Resources"]["WorkerPolicy"]["Properties"]["PolicyDocument"]
    assert [s["Action"] for s in statements["Statement"]] == [
        ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
        "dynamodb:DeleteTable",
    ], "a statement left without actions goes"

    mutated = without(TEMPLATE, lone)["Resources"]
    assert "LonePolicy" not in mutated, "IAM refuses an empty policy: the policy goes"
    assert mutated["Worker"]["DependsOn"] == ["WorkerPolicy"]
    assert "DependsOn" not in mutated["Other"]

    assert without(TEMPLATE, inline)["Resources"]["InlineRole"]["Properties"]["Policies"] == []
    assert "Managed" not in without(TEMPLATE, managed)["Resources"]
    assert before == TEMPLATE, "the template it was given is left as it was"


def test_only_x_ray_sampling_is_unenforced():
    assert [g.action for g in grants(TEMPLATE) if g.unenforced] == ["xray:GetSamplingRules"], (
        "the managed policy's logs:PutLogEvents is enforced"
    )
    assert is_unenforced("xray:GetSamplingTargets")
    assert not any(
        is_unenforced(a)
        for a in (
            "logs:CreateLogDelivery",
            "logs:DescribeLogGroups",
            "logs:PutLogEvents",
            "logs:CreateLogStream",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "logs:FilterLogEvents",
            "sqs:SendMessage",
        )
    ), (
        "the logs and X-Ray actions Lambda and Step Functions send and set up delivery with are enforced like any other"
    )


def test_describe_execution_is_unenforced_only_for_a_state_machines_own_role():
    """A Map Run describes its children for the state machine's role; a function's grant is played."""

    def template(service: str) -> dict:
        trust = {
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
        }
        statement = {"Effect": "Allow", "Action": "states:DescribeExecution", "Resource": "*"}
        return {
            "Resources": {
                "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
                "Policy": {
                    "Type": "AWS::IAM::Policy",
                    "Properties": {"PolicyDocument": {"Statement": [statement]}, "Roles": [{"Ref": "Role"}]},
                },
            }
        }

    [machine] = grants(template("states.amazonaws.com"))
    [function] = grants(template("lambda.amazonaws.com"))
    assert machine.unenforced and not function.unenforced
    assert not is_unenforced("states:DescribeExecution")


def test_only_a_surviving_enforced_action_fails_the_check():
    receive, delete, put, lone, _inline, managed = grants(TEMPLATE)
    results = [
        Result("p", None, ""),
        Result("p", receive, "the stack did not start: InvalidRequest: ..."),
        Result("p", delete, ""),
        Result("p", put, "check failed: the item is stored"),
        Result("p", lone, "", played=False),
        Result("p", managed, "check failed: every invoked function's log lines reached its log group"),
    ]
    [found] = report(results)
    assert (len(found.caught), found.total) == (3, 5)
    assert [r.grant for r in found.survivors] == [delete]
    assert [r.grant for r in found.not_enforced] == [lone]
    assert not found.ok
    text = render([found])
    assert "| p | 3/5 | 1 | 1 |" in text
    assert "Pattern/WorkerRole: sqs:DeleteMessage on Queue" in text
    assert "not enforced offline (not played; --all plays them): xray:GetSamplingRules x1" in text

    [clean] = report([r for r in results if r.grant is not delete])
    assert clean.ok, "unenforced actions that survive are listed, not failed"
    [unheld] = report([Result("p", None, "check failed: x"), *results[3:]])
    assert not unheld.ok, "a scenario that fails unmutated catches everything and proves nothing"
    broken = Result("p", put, "ERROR in the check: Traceback ...")
    [errored] = report([results[0], broken])
    assert not errored.ok and errored.errors == [broken]


def test_a_grant_that_is_not_in_its_statement_is_an_error():
    stale = Grant("WorkerPolicy", ("Properties", "PolicyDocument"), 1, "dynamodb:Scan", "x")
    with pytest.raises(ValueError, match="not in statement 1 of WorkerPolicy"):
        without(TEMPLATE, stale)
