"""Templates of the synthesized stacks, for assertions and gates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template


@pytest.fixture(scope="session")
def templates(cloud_assembly) -> dict[str, dict[str, Any]]:
    """Raw CloudFormation template of every synthesized stack, by stack name."""
    return {stack.stack_name: stack.template for stack in cloud_assembly.stacks}


@pytest.fixture(scope="session")
def nag_report(cloud_assembly) -> dict[str, Any]:
    """The validation report cdk-nag wrote at synth: every finding and every acknowledgment."""
    return json.loads((Path(cloud_assembly.directory) / "validation-report.json").read_text())


def assertions_template(templates: dict[str, dict[str, Any]], stack_name: str) -> Template:
    return Template.from_json(templates[stack_name])


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def statements_of(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Statements of the template's identity policies, with ``Action`` always a list."""
    return [
        {
            **statement,
            "Action": [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"],
        }
        for policy in resources_of(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
