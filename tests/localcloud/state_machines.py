"""Template pieces the Step Functions test files share."""

from __future__ import annotations

from typing import Any


def states_role(policy_name: str = "", *statements: dict[str, Any]) -> dict[str, Any]:
    """An ``AWS::IAM::Role`` that Step Functions assumes, with ``statements`` as one inline policy
    named ``policy_name`` (no policy when there are none)."""
    properties: dict[str, Any] = {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "states.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    }
    if statements:
        properties["Policies"] = [
            {
                "PolicyName": policy_name,
                "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
            }
        ]
    return {"Type": "AWS::IAM::Role", "Properties": properties}
