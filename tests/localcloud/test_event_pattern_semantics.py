"""Event pattern semantics the first file leaves open: each case pins one rule of Event Ruler that a
small change to ``localcloud.lib.event_patterns`` would break unnoticed.

The answers are EventBridge's, as its user guide documents them and as the public snapshots of
AWS's own answers record them (positive, negative and refused patterns); the refusals use AWS's
wording. Pure functions only: no cloud is started.
"""

from __future__ import annotations

import json

import pytest

from localcloud.lib.event_patterns import INVALID, InvalidEventPattern, compile_pattern, matches

pytestmark = pytest.mark.localcloud

ORDER = {"detail": {"state": "shipped", "size": 5, "host": "10.1.2.3", "tags": ["red", "blue"]}}


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        # A key spelt like an operator is an ordinary field outside $or.
        ({"prefix": ["a"]}, {"prefix": "a"}, True),
        ({"detail": {"numeric": ["b"]}}, {"detail": {"numeric": "b"}}, True),
        # A field that is in no array joins any element of an array field.
        ({"source": ["shop"], "detail": {"tags": ["blue"]}}, {"source": "shop", **ORDER}, True),
        ({"detail": {"tags": ["blue"], "state": ["shipped"]}}, ORDER, True),
        ({"detail": {"state": ["shipped"], "tags": ["green"]}}, ORDER, False),
        # exists: false beside another matcher accepts a missing field, never a present one it refuses.
        (
            {"detail": {"colour": [{"anything-but": ["red"]}, {"exists": False}]}},
            {"detail": {"colour": "red"}},
            False,
        ),
        (
            {"detail": {"colour": [{"anything-but": ["red"]}, {"exists": False}]}},
            {"detail": {"colour": "blue"}},
            True,
        ),
        # anything-but of one number, of a prefix, a suffix, and of lists of each.
        ({"detail": {"size": [{"anything-but": 5}]}}, ORDER, False),
        ({"detail": {"size": [{"anything-but": 6}]}}, ORDER, True),
        ({"detail": {"size": [{"anything-but": [5, 6]}]}}, ORDER, False),
        ({"detail": {"state": [{"anything-but": ["shipped", "lost"]}]}}, ORDER, False),
        ({"detail": {"state": [{"anything-but": {"prefix": "ship"}}]}}, ORDER, False),
        ({"detail": {"state": [{"anything-but": {"prefix": "lost"}}]}}, ORDER, True),
        ({"detail": {"state": [{"anything-but": {"suffix": "ped"}}]}}, ORDER, False),
        ({"detail": {"state": [{"anything-but": {"suffix": "ship"}}]}}, ORDER, True),
        ({"detail": {"state": [{"anything-but": {"prefix": ["lost", "ship"]}}]}}, ORDER, False),
        ({"detail": {"state": [{"anything-but": {"prefix": ["lost", "gone"]}}]}}, ORDER, True),
        (
            {"detail": {"state": [{"anything-but": {"equals-ignore-case": ["LOST", "SHIPPED"]}}]}},
            ORDER,
            False,
        ),
        ({"detail": {"state": [{"anything-but": {"wildcard": ["l*", "*pp*"]}}]}}, ORDER, False),
        ({"detail": {"state": [{"anything-but": {"wildcard": ""}}]}}, ORDER, True),
        ({"detail": {"state": [{"anything-but": {"equals-ignore-case": ""}}]}}, ORDER, True),
        # A prefix or suffix is case-sensitive unless asked otherwise, and anchored at its end.
        ({"detail": {"state": [{"prefix": "SHIP"}]}}, ORDER, False),
        ({"detail": {"state": [{"suffix": "ped"}]}}, ORDER, True),
        ({"detail": {"state": [{"suffix": "ship"}]}}, ORDER, False),
        # A wildcard spans any characters, a line break included.
        ({"detail": {"note": [{"wildcard": "a*b"}]}}, {"detail": {"note": "a\nb"}}, True),
        # cidr matches addresses only: another string is no address in any network.
        ({"detail": {"host": [{"cidr": "10.1.0.0/16"}]}}, ORDER, True),
        ({"detail": {"host": [{"cidr": "10.1.0.0/16"}]}}, {"detail": {"host": "10.1.x.3"}}, False),
        # A number matches the same number however written, an exponent form included.
        ({"n": [100000000000000000000000]}, {"n": 1e23}, True),
        ({"n": [{"numeric": ["=", 100000000000000000000000]}]}, json.loads('{"n": 1E+23}'), True),
        # A range with one end open on each side, and a bound the value sits exactly on.
        ({"detail": {"size": [{"numeric": [">=", 5, "<", 6]}]}}, ORDER, True),
        ({"detail": {"size": [{"numeric": [">", 4.5, "<=", 5]}]}}, ORDER, True),
        ({"detail": {"size": [{"numeric": [">", 5, "<=", 9]}]}}, ORDER, False),
        # $or inside a nested object keeps the object's path; every branch alternative counts.
        ({"detail": {"$or": [{"state": ["lost"]}, {"size": [5]}]}}, ORDER, True),
        ({"detail": {"$or": [{"state": ["lost"]}, {"size": [6]}, {"host": ["10.1.2.3"]}]}}, ORDER, True),
        ({"detail": {"$or": [{"state": ["lost"]}, {"size": [6]}]}}, ORDER, False),
    ],
)
def test_a_pattern_matches_as_eventbridge_matches_it(pattern, event, expected):
    assert matches(pattern, event) is expected


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ({"k": [{"numeric": []}]}, "Invalid member in numeric match: ]"),
        ({"k": [{"numeric": [">", "x"]}]}, "Value of > must be numeric"),
        (
            {"k": [{"anything-but": True}]},
            "Value of anything-but must be an array or single string/number value.",
        ),
        ({"k": [{"anything-but": [True]}]}, "Inside anything but list, start|null|boolean is not supported."),
        (
            {"k": [{"anything-but": [{"a": 1}]}]},
            "Inside anything but list, start|null|boolean is not supported.",
        ),
        (
            {"k": [{"anything-but": []}]},
            "Inside anything but list, either all values are number or string, mixed type is not supported",
        ),
        ({"k": [{"anything-but": {"prefix": [1, "a"]}}]}, "prefix/suffix match pattern must be a string"),
        ({"k": [{"anything-but": {"suffix": 1}}]}, "prefix/suffix match pattern must be a string"),
        ({"k": [{"anything-but": {"suffix": ""}}]}, "Null prefix/suffix not allowed"),
        ({"k": [{"anything-but": {"wildcard": 1}}]}, "wildcard match pattern must be a string"),
        ({"k": [{"anything-but": {"wildcard": "a**"}}]}, "Consecutive wildcard characters at pos 2"),
        (
            {"k": [{"anything-but": {"prefix": {"equals-ignore-case": "a"}}}]},
            "Value of anything-but must be an array or single string/number value.",
        ),
        ({"k": [{"cidr": "10.0.0.0/8/8"}]}, "Malformed CIDR, one '/' required"),
        ({"k": [{"wildcard": "a\\"}]}, "Invalid escape character at pos 2"),
        ({"k": [{"wildcard": "**"}]}, "Consecutive wildcard characters at pos 1"),
        (
            {"$or": [{"a": ["1"]}, {"numeric": ["2"]}]},
            "numeric is Ruler reserved fieldName which cannot be used inside $or.",
        ),
    ],
)
def test_a_pattern_eventbridge_refuses_is_refused_with_its_reason(pattern, reason):
    with pytest.raises(InvalidEventPattern) as refused:
        compile_pattern(pattern)
    assert refused.value.reason == reason
    assert str(refused.value) == INVALID + reason


def test_an_event_that_is_no_json_object_matches_nothing():
    """``matches`` answers a bool, as a rule's TestEventPattern does, even for no event at all."""
    assert matches({"k": [{"exists": False}]}, ["k"]) is False
    assert matches({"k": [{"exists": False}]}, {}) is True


def test_a_pattern_given_as_text_is_no_object():
    """Callers parse the JSON text first; the text itself is no pattern."""
    with pytest.raises(InvalidEventPattern, match="Filter is not an object"):
        compile_pattern(json.dumps({"k": ["a"]}))
