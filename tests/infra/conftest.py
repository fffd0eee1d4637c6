"""Templates of the synthesized stacks, for assertions and gates."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import re
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


def properties_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """The properties of every resource of one type, by logical id."""
    return {k: v.get("Properties", {}) for k, v in resources_of(template, resource_type).items()}


def unbounded(schema: dict[str, Any], path: str = "body") -> list[str]:
    """Where a request model lets through a value with no bound: a string without ``maxLength``
    (or a ``pattern`` that bounds it), an integer or number without ``maximum``, an array without
    ``maxItems``. API Gateway should refuse what the store cannot take before any code runs."""
    kind = schema.get("type")
    if kind == "object":
        return [
            problem
            for name, spec in schema.get("properties", {}).items()
            for problem in unbounded(spec, f"{path}.{name}")
        ]
    if kind == "array":
        return ([] if "maxItems" in schema else [f"{path}: no maxItems"]) + unbounded(
            schema.get("items", {}), f"{path}[]"
        )
    if kind == "string" and "maxLength" not in schema and "pattern" not in schema:
        return [f"{path}: no maxLength"]
    if kind in ("integer", "number") and ("maximum" not in schema or "minimum" not in schema):
        return [f"{path}: no minimum or maximum"]
    return []


def statements_of(template: dict[str, Any], role_id: str | None = None) -> list[dict[str, Any]]:
    """Statements of the identity policies (of one role, if given), with ``Action`` always a list."""
    return [
        {
            **statement,
            "Action": [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"],
        }
        for policy in properties_of(template, "AWS::IAM::Policy").values()
        if role_id is None or {"Ref": role_id} in policy["Roles"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


#: CDK writes W3005 (redundant DependsOn) on every function; it is the one check ignored.
CFN_LINT_IGNORED = ["W3005"]
CFN_LINT_REGIONS = ["us-east-1"]


#: Digests of templates this cfn-lint, so configured, found clean in an earlier run (one empty file
#: each): linting is a pure function of them, and the most expensive gate (a third of a second and up
#: per stack). A template with findings is linted again each time, so they are reported in full.
CLEAN_TEMPLATES = Path(__file__).parents[2] / ".pytest_cache" / "cfn-lint-clean"
ASSET_FOLDER = re.compile(r'("aws:asset:path": ")[^"]*/(?=[^"/]*")')


def lint_template(template: dict[str, Any]) -> list[str]:
    """cfn-lint's errors and warnings for a template, CDK's W3005 aside."""
    from cfnlint.decode.decode import decode_str

    # As cfnlint.api.lint reads it: from JSON text, so findings carry line numbers.
    text = json.dumps(template)
    # Where an asset lies (resource metadata: the run's cloud assembly, jsii's temporary folder)
    # differs per run; its name (its hash) does not.
    key = ASSET_FOLDER.sub(r"\1", text)
    clean = CLEAN_TEMPLATES / hashlib.sha256(f"{_cfn_lint_settings()}\n{key}".encode()).hexdigest()
    if clean.exists():
        return []
    decoded, matches = decode_str(text)
    if decoded is not None and not matches:
        matches = list(_cfn_lint_runner().validate_template(decoded))
    if not matches:
        with contextlib.suppress(OSError):  # a read-only checkout only lints again
            clean.parent.mkdir(parents=True, exist_ok=True)
            clean.touch()
    return [f"{m.rule.id} {m.message} ({m.filename or 'template'}:{m.linenumber})" for m in matches]


@functools.cache
def _cfn_lint_settings() -> str:
    """What besides the template decides cfn-lint's findings: its version (rules and resource
    specifications ship with it), the checks and regions given here and any ``.cfnlintrc`` it reads."""
    from cfnlint.version import __version__

    rc_files = [
        (str(path), path.read_text())
        for folder in (Path.cwd(), Path.home())
        for path in sorted(folder.glob(".cfnlintrc*"))
    ]
    return json.dumps([__version__, CFN_LINT_IGNORED, CFN_LINT_REGIONS, rc_files])


@functools.cache
def _cfn_lint_runner() -> Any:
    """One cfn-lint runner for every template, as its command line lints several files: loading its
    rules took a third of each lint. Imported here, not at collection, which every worker pays."""
    from cfnlint.config import ConfigMixIn, ManualArgs
    from cfnlint.runner import Runner

    from tests.infra import cfn_lint_classes

    cfn_lint_classes.register()
    return Runner(ConfigMixIn(**ManualArgs(regions=CFN_LINT_REGIONS, ignore_checks=CFN_LINT_IGNORED)))
