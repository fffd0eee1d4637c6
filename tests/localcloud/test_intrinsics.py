"""CloudFormation intrinsics and conditions, resolved as AWS resolves them."""

from __future__ import annotations

import pytest

from localcloud import TemplateError, UnsupportedIntrinsic
from localcloud.lib.intrinsics import Resolver, creation_order

pytestmark = pytest.mark.localcloud

TEMPLATE = {
    "Parameters": {"Stage": {"Type": "String", "Default": "prod"}, "Unset": {"Type": "String"}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
        "IsNotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
        "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "IsNotProd"}]},
    },
    "Mappings": {"Sizes": {"prod": {"Memory": 512}}},
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Env": {"Fn::GetAtt": ["Queue", "Arn"]}}},
        "Later": {"Type": "AWS::SNS::Topic", "DependsOn": "Fn"},
    },
}


@pytest.fixture
def resolver() -> Resolver:
    return Resolver(
        TEMPLATE,
        parameters={"Stage": "prod"},
        pseudo={"AWS::Region": "eu-west-1", "AWS::AccountId": "111122223333", "AWS::Partition": "aws"},
        ref=lambda logical_id: f"ref-{logical_id}",
        get_att=lambda logical_id, attribute: f"{logical_id}.{attribute}",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "Queue"}, "ref-Queue"),
        ({"Fn::GetAtt": ["Queue", "Arn"]}, "Queue.Arn"),
        ({"Fn::GetAtt": "Queue.Arn"}, "Queue.Arn"),
        (
            {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${Queue}"},
            "arn:aws:sqs:eu-west-1:111122223333:ref-Queue",
        ),
        ({"Fn::Sub": "${Queue.Arn}/x"}, "Queue.Arn/x"),
        ({"Fn::Sub": ["${Name}-${!Literal}", {"Name": {"Ref": "Stage"}}]}, "prod-${Literal}"),
        ({"Fn::Join": ["-", ["a", {"Ref": "Stage"}, 3]]}, "a-prod-3"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, "b"),
        ({"Fn::If": ["IsProd", "big", "small"]}, "big"),
        ({"Fn::Select": [0, {"Fn::GetAZs": ""}]}, "eu-west-1a"),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}, 512),
        ({"Fn::Base64": "hi"}, "aGk="),
        ({"Fn::Contains": [["a", "b"], "b"]}, True),
        ([1, {"Ref": "AWS::NoValue"}, 2], [1, 2]),
        ({"Keep": 1, "Drop": {"Fn::If": ["IsNotProd", "x", {"Ref": "AWS::NoValue"}]}}, {"Keep": 1}),
    ],
)
def test_intrinsics_resolve(resolver, value, expected):
    assert resolver.resolve(value, "Test") == expected


def test_conditions_compose(resolver):
    assert (
        resolver.condition("IsProd") and not resolver.condition("IsNotProd") and resolver.condition("Either")
    )


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ({"Fn::Transform": {}}, UnsupportedIntrinsic, "Where: intrinsic function Fn::Transform"),
        ({"Ref": "Nothing"}, TemplateError, "Ref to 'Nothing'"),
        ({"Ref": "Unset"}, TemplateError, "parameter Unset has no value"),
        ({"Fn::Select": [5, ["a"]]}, TemplateError, "index 5"),
        ({"Fn::If": ["Undefined", 1, 2]}, TemplateError, "condition 'Undefined' is not defined"),
    ],
)
def test_what_cannot_be_resolved_is_named(resolver, value, error, message):
    with pytest.raises(error, match=message):
        resolver.resolve(value, "Where")


def test_resources_are_created_after_what_they_reference():
    order = creation_order(TEMPLATE)
    assert order.index("Queue") < order.index("Fn") < order.index("Later")


def test_a_dependency_cycle_is_named():
    template = {"Resources": {"A": {"Type": "T", "DependsOn": "B"}, "B": {"Type": "T", "DependsOn": "A"}}}
    with pytest.raises(TemplateError, match="circular dependency: A -> B -> A"):
        creation_order(template)
