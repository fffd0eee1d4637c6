"""cfn-lint with its validator classes made once finds what it found making one per schema node."""

from __future__ import annotations

import pytest

from tests.infra import cfn_lint_classes
from tests.infra.conftest import lint_template

pytestmark = pytest.mark.infra

#: A finding at each depth a rule extends a validator: a property's type and name, a reference, a
#: condition's arguments, a parameter left unused.
BROKEN = {
    "Parameters": {"Unused": {"Type": "String"}},
    "Conditions": {"Never": {"Fn::Equals": [1]}},
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": "x", "Nope": 1}},
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Fn::Sub": "${Missing}"}}},
    },
}


def test_each_finding_is_still_reported_and_classes_are_reused():
    findings = {finding.split()[0] for finding in lint_template(BROKEN)}
    assert {"W2001", "E8003", "E3012", "E3002", "E1019"} <= findings, findings
    from cfnlint.jsonschema import validators

    made = getattr(validators.create, "made", None)
    if made is None:
        pytest.skip(
            f"cfn-lint is not {cfn_lint_classes.CFN_LINT_VERSION}: its classes are made as it makes them"
        )
    classes = len(made)
    assert classes and lint_template(BROKEN) != [], "a template with findings is linted each time"
    assert len(made) == classes, "linting it again made no new validator class"
