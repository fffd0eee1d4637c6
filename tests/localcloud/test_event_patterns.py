"""Event patterns as EventBridge compiles and matches them (its Event Ruler), refusals included.

The cases follow the EventBridge user guide's pages on event patterns, on comparison operators and
on null values, and the answers AWS gave to the same questions (recorded in public test snapshots):
the wording of each refusal is AWS's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud.cloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.errors import LocalCloudError
from localcloud.lib.event_patterns import INVALID, InvalidEventPattern, compile_pattern, matches

pytestmark = pytest.mark.localcloud

EC2 = {
    "source": "aws.ec2",
    "detail-type": "EC2 Instance State-change Notification",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-1"],
    "detail": {"state": "running", "count": 5, "ratio": 0.5, "ip": "10.0.0.33", "ok": True, "gone": None},
}


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        # Nested keys are joined with dots when a pattern is compiled, and so are the event's.
        ({"detail.state": ["running"]}, EC2, True),
        ({"detail": {"state.status": ["up"]}}, {"detail": {"state": {"status": "up"}}}, True),
        ({"detail": {"state": {"status": ["up"]}}}, {"detail": {"state.status": "up"}}, True),
        ({"detail.state": ["stopped"]}, EC2, False),
        # An event array matches when any element does; a pattern array when any value does.
        ({"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-1", "x"]}, EC2, True),
        ({"tags": {"k": ["b"]}}, {"tags": [{"k": "a"}, {"k": "b"}]}, True),
        # Two fields of one match come from the same element of an array.
        (
            {"people": {"first": ["Anna"], "last": ["Smith"]}},
            {"people": [{"first": "Anna", "last": "Smith"}]},
            True,
        ),
        (
            {"people": {"first": ["Anna"], "last": ["Jones"]}},
            {"people": [{"first": "Anna", "last": "Smith"}, {"first": "Peter", "last": "Jones"}]},
            False,
        ),
        # Types never mix: a string is not a number, a number not a boolean.
        ({"detail": {"count": ["5"]}}, EC2, False),
        ({"detail": {"ok": [1]}}, EC2, False),
        ({"detail": {"ok": [True]}}, EC2, True),
        ({"detail": {"count": [5.0]}}, EC2, True),
        ({"detail": {"gone": [None]}}, EC2, True),
        ({"detail": {"gone": [""]}}, EC2, False),
        # exists works on leaves: null is a value, an object or an empty array is none.
        ({"detail": {"gone": [{"exists": True}]}}, EC2, True),
        ({"detail": [{"exists": True}]}, EC2, False),
        ({"resources": [{"exists": True}]}, {"resources": []}, False),
        ({"detail": {"missing": {"deeper": [{"exists": False}]}}}, EC2, True),
        ({"detail": {"state": [{"exists": False}]}}, EC2, False),
        # anything-but needs a value; a value of another type is not among the excluded.
        ({"detail": {"state": [{"anything-but": "stopped"}]}}, EC2, True),
        ({"detail": {"nothing": [{"anything-but": "stopped"}]}}, EC2, False),
        ({"detail": {"count": [{"anything-but": {"prefix": "5"}}]}}, EC2, True),
        ({"detail": {"state": [{"anything-but": {"equals-ignore-case": "RUNNING"}}]}}, EC2, False),
        ({"detail": {"state": [{"anything-but": {"wildcard": "run*"}}]}}, EC2, False),
        ({"detail": {"count": [{"anything-but": [4, 6]}]}}, EC2, True),
        # An absent field, or one that exists only under anything-but, is settled by exists: false.
        ({"detail": {"colour": [{"anything-but": ["red"]}, {"exists": False}]}}, EC2, True),
        # String operators match strings only; numeric matches numbers only.
        ({"detail": {"state": [{"prefix": {"equals-ignore-case": "RUN"}}]}}, EC2, True),
        ({"detail": {"state": [{"suffix": {"equals-ignore-case": "NING"}}]}}, EC2, True),
        ({"detail": {"state": [{"wildcard": "r*n*g"}]}}, EC2, True),
        ({"detail": {"state": [{"wildcard": "r\\*"}]}}, {"detail": {"state": "r*"}}, True),
        ({"detail": {"state": [{"wildcard": "r\\*"}]}}, EC2, False),
        ({"detail": {"count": [{"numeric": [">", 0, "<=", 5]}]}}, EC2, True),
        ({"detail": {"count": [{"numeric": [">", 5]}]}}, EC2, False),
        ({"detail": {"state": [{"numeric": [">", 0]}]}}, EC2, False),
        ({"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}}, EC2, True),
        ({"detail": {"ip": [{"cidr": "10.0.1.0/24"}]}}, EC2, False),
        ({"ip": [{"cidr": "2001:db8::/64"}]}, {"ip": "2001:db8::7"}, True),
        # Numeric bounds are exact: = and >= include the bound, < excludes it, a range has both ends.
        ({"detail": {"count": [{"numeric": ["=", 5]}]}}, EC2, True),
        ({"detail": {"count": [{"numeric": ["=", 6]}]}}, EC2, False),
        ({"detail": {"count": [{"numeric": [">=", 5]}]}}, EC2, True),
        ({"detail": {"count": [{"numeric": ["<", 5]}]}}, EC2, False),
        ({"detail": {"count": [{"numeric": ["<=", 5]}]}}, EC2, True),
        ({"detail": {"count": [{"numeric": [">", 0, "<", 5]}]}}, EC2, False),
        ({"detail": {"ratio": [0.5, {"numeric": [">", 9]}]}}, EC2, True),
        # Ignore-case operators fold both sides, and still match strings only.
        ({"detail": {"state": [{"prefix": {"equals-ignore-case": "NING"}}]}}, EC2, False),
        ({"detail": {"state": [{"suffix": {"equals-ignore-case": "RUN"}}]}}, EC2, False),
        ({"detail": {"count": [{"prefix": {"equals-ignore-case": "5"}}]}}, EC2, False),
        ({"detail": {"count": [{"equals-ignore-case": "5"}]}}, EC2, False),
        ({"detail": {"state": [{"equals-ignore-case": "RUNNING"}]}}, EC2, True),
        ({"k": [{"wildcard": "a\\\\b"}]}, {"k": "a\\b"}, True),
        ({"detail": {"ip": [{"cidr": "10.0.0.1/24"}]}}, EC2, True),
        ({"detail": {"count": [{"cidr": "10.0.0.0/8"}]}}, EC2, False),
        # Every field must match, the first as much as the last.
        ({"source": ["aws.s3"], "detail.state": ["running"]}, EC2, False),
        # $or: either branch, each joined to the fields around it.
        ({"source": ["aws.ec2"], "$or": [{"detail.count": [9]}, {"detail.ratio": [0.5]}]}, EC2, True),
        ({"source": ["aws.s3"], "$or": [{"detail.count": [5]}, {"detail.ratio": [0.5]}]}, EC2, False),
    ],
)
def test_a_pattern_matches_as_eventbridge_matches_it(pattern, event, expected):
    assert matches(pattern, event) is expected


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ({"source": "aws.ec2"}, '"source" must be an object or an array'),
        ({"resources": []}, "Empty arrays are not allowed"),
        ({"detail": {}}, "Empty objects are not allowed"),
        ({"k": [{"EXISTS": True}]}, "Unrecognized match type EXISTS"),
        ({"k": [{"exists": "yes"}]}, "exists match pattern must be either true or false."),
        ({"k": [{"prefix": 1}]}, "prefix match pattern must be a string"),
        ({"k": [{"suffix": [".png"]}]}, "suffix match pattern must be a string"),
        ({"k": [{"equals-ignore-case": ["a"]}]}, "equals-ignore-case match pattern must be a string"),
        ({"k": [{"wildcard": "a**b"}]}, "Consecutive wildcard characters at pos 2"),
        ({"k": [{"numeric": 10}]}, "Value of numeric must be an array."),
        ({"k": [{"numeric": [">", 0, ">", 5]}]}, "Bad numeric range operator: >"),
        ({"k": [{"numeric": [">", 0, "<"]}]}, "Value of < must be numeric"),
        ({"k": [{"numeric": [">", 10, "<", 5]}]}, "Bottom must be less than top"),
        ({"k": [{"numeric": [">=", 5, "<=", 5]}]}, "Bottom must be less than top"),
        (
            {"k": [{"anything-but": None}]},
            "Value of anything-but must be an array or single string/number value.",
        ),
        (
            {"k": [{"anything-but": ["a", None]}]},
            "Inside anything but list, start|null|boolean is not supported.",
        ),
        ({"k": [{"anything-but": {"prefix": ""}}]}, "Null prefix/suffix not allowed"),
        (
            {"k": [{"anything-but": {"equals-ignore-case": 1}}]},
            "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
        ),
        ({"k": [{"cidr": "bad"}]}, "Malformed CIDR, one '/' required"),
        ({"k": [{"cidr": "xx.1.2.3/8"}]}, "Nonstandard IP address: xx.1.2.3"),
        ({"$or": [{"a": ["1"]}]}, "There must have at least 2 Objects in $or relationship."),
        ({"$or": {"a": ["1"]}}, "It must be an Array followed with $or."),
        ({"$or": [{"a": ["1"]}, ["b"]]}, "Only JSON object is allowed in array of $or relationship."),
        (
            {"$or": [{"prefix": ["a"]}, {"b": ["c"]}]},
            "prefix is Ruler reserved fieldName which cannot be used inside $or.",
        ),
        ({"a": ["1"], "$or": [{"a": ["2"]}, {"b": ["3"]}]}, "Path `a` cannot be allowed multiple times"),
        ({"k": [["a"]]}, "Match value must be String, number, true, false, or null"),
        ({"k": [{}]}, "Match expression name not found"),
        ({"k": [{"prefix": "a", "suffix": "b"}]}, "Only one key allowed in match expression"),
        ({"k": [{"numeric": ["=", 1], "exists": True}]}, "Too many elements in numeric expression"),
        ({"k": [{"prefix": {}}]}, "Prefix expression name not found"),
        ({"k": [{"suffix": {"wildcard": "a"}}]}, "Unsupported suffix pattern: wildcard"),
        ({"k": [{"prefix": {"equals-ignore-case": 1}}]}, "equals-ignore-case match pattern must be a string"),
        (
            {"k": [{"prefix": {"equals-ignore-case": "a", "x": "b"}}]},
            "Only one key allowed in match expression",
        ),
        ({"k": [{"wildcard": 1}]}, "wildcard match pattern must be a string"),
        ({"k": [{"wildcard": "a\\b"}]}, "Invalid escape character at pos 2"),
        ({"k": [{"numeric": ["~", 1]}]}, "Unrecognized numeric range operator: ~"),
        ({"k": [{"numeric": [1, 2]}]}, "Invalid member in numeric match: 1"),
        ({"k": [{"numeric": ["=", "x"]}]}, "Value of equals must be numeric"),
        ({"k": [{"numeric": ["<", 5, "<", 9]}]}, "Too many elements in numeric expression"),
        ({"k": [{"numeric": [">", 0, 5]}]}, "Bad value in numeric range: 5"),
        ({"k": [{"numeric": [">", 0, "<", 5, "x"]}]}, "Too many terms in numeric range expression"),
        ({"k": [{"anything-but": {}}]}, "Anything-But expression name not found"),
        ({"k": [{"anything-but": {"numeric": [">", 1]}}]}, "Unsupported anything-but pattern: numeric"),
        (
            {"k": [{"anything-but": {"prefix": "a", "suffix": "b"}}]},
            "Too many elements in numeric expression",
        ),
        (
            {"k": [{"anything-but": ["a", 1]}]},
            "Inside anything but list, either all values are number or string, mixed type is not supported",
        ),
        (
            {"k": [{"anything-but": {"prefix": True}}]},
            "Value of anything-but must be an array or single string/number value.",
        ),
        ({"k": [{"cidr": ["10.0.0.0/8"]}]}, "prefix match pattern must be a string"),
        ({"k": [{"cidr": "10.0.0.0/x"}]}, "Malformed CIDR, mask bits must be an integer"),
        (
            {"k": [{"cidr": "10.0.0.0/33"}]},
            "Malformed CIDR, mask bits must be at most the address's length: 33",
        ),
    ],
)
def test_a_pattern_eventbridge_refuses_is_refused_with_its_reason(pattern, reason):
    """Every refusal of Event Ruler's compiler, worded as EventBridge answers it."""
    with pytest.raises(InvalidEventPattern) as refused:
        compile_pattern(pattern)
    assert str(refused.value) == INVALID + reason


def test_what_is_not_a_json_object_is_no_pattern_and_no_event():
    for pattern in (["a"], {"k": {1, 2}}):
        with pytest.raises(InvalidEventPattern, match="Filter is not an object"):
            compile_pattern(pattern)
    assert not matches({"k": ["a"]}, ["k", "a"])


def template_with(resources: dict) -> StackArtifact:
    return StackArtifact("Patterns", {"Resources": resources}, Path("."))


def test_a_rule_whose_pattern_eventbridge_refuses_stops_the_stack_naming_it():
    stack = template_with(
        {"Rule": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": "aws.ec2"}}}}
    )
    cloud = LocalCloud(stack)
    with pytest.raises(
        LocalCloudError, match=r'^Rule\.EventPattern: Event pattern is not valid\. Reason: "source"'
    ):
        cloud.start()
    cloud.stop()


def test_a_filter_lambda_refuses_stops_its_event_source_mapping():
    from localcloud.services.lambda_.event_sources import MappingSettings

    props = {"FilterCriteria": {"Filters": [{"Pattern": '{"body": {"kind": "order"}}'}]}}
    with pytest.raises(LocalCloudError, match=r"Invalid filter pattern definition .*\"kind\" must be"):
        MappingSettings.from_props(props, default_batch_size=10)
