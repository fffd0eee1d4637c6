"""HTTP API parameter mapping and AWS service subtype parameters, as pure functions."""

from __future__ import annotations

import pytest

from localcloud.lib.integration_subtypes import BadParameter, call_of
from localcloud.lib.parameter_mapping import (
    MappedRequest,
    MappingError,
    Sources,
    map_request,
    map_response,
    service_parameters,
    value,
)

SOURCES = Sources(
    headers={"X-Token": ["a", "b"], "Accept": ["*/*"]},
    query={"page": ["2"], "tag": ["x", "y"]},
    path_parameters={"id": "42"},
    path="/prod/items/42",
    body=b'{"order": {"id": "o-1", "lines": [{"sku": "s"}]}, "n": 3}',
    context={"requestId": "r-1", "authorizer": {"claims": {"sub": "u-1"}}},
    stage_variables={"backend": "legacy"},
    response_headers={"X-Upstream": ["v1"]},
    response_body=b'{"status": "ok"}',
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("$request.header.x-token", "a,b"),
        ("$request.querystring.tag", "x,y"),
        ("$request.path.id", "42"),
        ("$request.path", "/prod/items/42"),
        ("$request.body.order.id", "o-1"),
        ("$request.body.order.lines[0].sku", "s"),
        ("$request.body.order", '{"id":"o-1","lines":[{"sku":"s"}]}'),
        ("$request.body.n", "3"),
        ("$context.requestId", "r-1"),
        ("$context.authorizer.claims.sub", "u-1"),
        ("$stageVariables.backend", "legacy"),
        ("Bearer ${request.querystring.page}!", "Bearer 2!"),
        ("/v2/$request.path.id/lines", "/v2/42/lines"),
        ("$request.header.missing", ""),
        ("$response.header.x-upstream", "v1"),
        ("$response.body.status", "ok"),
        ("static", "static"),
    ],
)
def test_a_value_reads_what_its_references_name(expression, expected):
    assert value(expression, SOURCES) == expected


def test_a_body_nested_deeper_than_the_parser_goes_is_no_json_not_a_crash():
    deep = Sources(**{**SOURCES.__dict__, "body": b'{"order": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"})
    assert value("$request.body.order", deep) == ""
    with pytest.raises(BadParameter, match="MessageAttributes must be JSON"):
        call_of("SQS-SendMessage", {"QueueUrl": "u", "MessageBody": "m", "MessageAttributes": "[" * 50_000})


def test_request_mapping_overwrites_appends_and_removes():
    request = MappedRequest("/items", {"x-keep": ["1"], "X-Drop": ["s"], "X-Over": ["old"]}, {"q": ["1"]})
    mapped = map_request(
        {
            "overwrite:header.x-over": "$request.path.id",
            "append:header.x-keep": "2",
            "remove:header.x-drop": "''",
            "append:querystring.q": "$request.querystring.page",
            "overwrite:querystring.fresh": "yes",
            "remove:querystring.absent": "''",
            "overwrite:path": "/orders/$request.path.id",
        },
        request,
        SOURCES,
    )
    assert mapped.headers == {"x-keep": ["1", "2"], "x-over": ["42"]}
    assert mapped.query == {"q": ["1", "2"], "fresh": ["yes"]}
    assert mapped.path == "/orders/42"
    assert request.headers["X-Over"] == ["old"]


@pytest.mark.parametrize("key", ["rewrite:header.x", "overwrite:body.x", "append:path", "overwrite:header."])
def test_a_mapping_key_api_gateway_does_not_know_is_refused(key):
    with pytest.raises(MappingError, match="request parameter"):
        map_request({key: "v"}, MappedRequest("/", {}, {}), SOURCES)


def test_response_mapping_is_chosen_by_status_and_may_change_it():
    mappings = {"200": {"overwrite:statuscode": "201", "append:header.x-upstream": "$response.body.status"}}
    assert map_response(mappings, 200, {"X-Upstream": ["v1"]}, SOURCES) == (201, {"X-Upstream": ["v1", "ok"]})
    assert map_response(mappings, 500, {"a": ["b"]}, SOURCES) == (500, {"a": ["b"]})
    with pytest.raises(MappingError, match="not an HTTP status"):
        map_response({"200": {"overwrite:statuscode": "soon"}}, 200, {}, SOURCES)


def test_service_parameters_leave_out_references_to_nothing():
    found = service_parameters(
        {
            "QueueUrl": "https://q",
            "MessageBody": "$request.body.order.id",
            "DelaySeconds": "$request.header.none",
        },
        SOURCES,
    )
    assert found == {"QueueUrl": "https://q", "MessageBody": "o-1"}


def test_subtype_parameters_become_the_calls():
    subtype, params = call_of(
        "EventBridge-PutEvents",
        {"Detail": "{}", "DetailType": "t", "Source": "s", "Resources": '["a", "b"]', "Time": "0"},
    )
    assert (subtype.client, subtype.operation) == ("events", "PutEvents")
    assert params["Entries"][0]["Resources"] == ["a", "b"]
    assert (
        call_of("SQS-SendMessage", {"QueueUrl": "u", "MessageBody": "m", "DelaySeconds": "5"})[1][
            "DelaySeconds"
        ]
        == 5
    )
    assert call_of("StepFunctions-StartExecution", {"StateMachineArn": "arn", "Input": "{}"})[1] == {
        "stateMachineArn": "arn",
        "input": "{}",
    }


@pytest.mark.parametrize(
    ("subtype", "values", "named"),
    [
        ("SQS-SendMessage", {"QueueUrl": "u"}, "MessageBody"),
        ("SQS-SendMessage", {"QueueUrl": "u", "MessageBody": "m", "Colour": "red"}, "Colour"),
        ("SQS-SendMessage", {"QueueUrl": "u", "MessageBody": "m", "DelaySeconds": "x"}, "DelaySeconds"),
        ("Kinesis-PutRecord", {"StreamName": "s", "Data": "%%", "PartitionKey": "k"}, "Data"),
        ("AppConfig-GetConfiguration", {"Application": "a"}, "Environment"),
    ],
)
def test_a_bad_parameter_is_refused_naming_it(subtype, values, named):
    with pytest.raises(BadParameter, match=named):
        call_of(subtype, values)
