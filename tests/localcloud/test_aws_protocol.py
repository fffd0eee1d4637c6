"""The AWS endpoint's wire protocols: what botocore puts on the wire parses back to the call it made,
for each protocol the endpoint serves; what it cannot parse is a 4xx naming why; and its answers read
back with botocore's own parsers."""

from __future__ import annotations

import io
import types
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from localcloud.__main__ import _printer
from localcloud.aws_endpoint.door import aws_call_name
from localcloud.aws_endpoint.protocol import (
    ProtocolError,
    error_response,
    parse_request,
    service_model,
    success_response,
)
from localcloud.lib.http import HttpRequest, HttpResponse

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

CALLS = [
    (
        "sqs",
        "SendMessage",
        {
            "QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/q",
            "MessageBody": '{"a": 1}',
            "DelaySeconds": 3,
            "MessageAttributes": {"kind": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}},
        },
    ),
    (
        "dynamodb",
        "PutItem",
        {
            "TableName": "t",
            "Item": {"pk": {"S": "1"}, "n": {"N": "2.5"}, "b": {"B": b"\x01"}, "l": {"L": [{"BOOL": True}]}},
            "ConditionExpression": "attribute_not_exists(pk)",
        },
    ),
    ("events", "PutEvents", {"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}", "Time": WHEN}]}),
    (
        "sns",
        "Publish",
        {
            "TopicArn": "arn:aws:sns:us-east-1:1:t",
            "Message": "hi & bye",
            "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}},
        },
    ),
    (
        "cloudformation",
        "CreateStack",
        {
            "StackName": "s",
            "Parameters": [{"ParameterKey": "A", "ParameterValue": "1"}],
            "Capabilities": ["CAPABILITY_IAM"],
            "DisableRollback": True,
        },
    ),
    (
        "sts",
        "AssumeRole",
        {"RoleArn": "arn:aws:iam::1:role/r", "RoleSessionName": "cli", "DurationSeconds": 900},
    ),
    (
        "lambda",
        "Invoke",
        {"FunctionName": "fn", "InvocationType": "Event", "Payload": b'{"x": 1}', "Qualifier": "live"},
    ),
    (
        "lambda",
        "CreateEventSourceMapping",
        {
            "FunctionName": "fn",
            "EventSourceArn": "arn:aws:sqs:us-east-1:1:q",
            "BatchSize": 5,
            "Enabled": False,
        },
    ),
    (
        "scheduler",
        "CreateSchedule",
        {
            "Name": "nightly",
            "ScheduleExpression": "rate(1 day)",
            "StartDate": WHEN,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {"Arn": "arn:aws:lambda:us-east-1:1:function:f", "RoleArn": "arn:aws:iam::1:role/r"},
            "ClientToken": "token",
        },
    ),
    (
        "s3",
        "PutObject",
        {"Bucket": "b", "Key": "dir/a file+.json", "Body": b"data", "Metadata": {"owner": "me"}},
    ),
    ("s3", "GetObject", {"Bucket": "b", "Key": "dir/x", "Range": "bytes=0-1"}),
    ("s3", "HeadObject", {"Bucket": "b", "Key": "dir/x"}),
    ("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "dir/", "MaxKeys": 5}),
    ("s3", "PutBucketTagging", {"Bucket": "b", "Tagging": {"TagSet": [{"Key": "k", "Value": "v"}]}}),
    (
        "s3",
        "DeleteObjects",
        {"Bucket": "b", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b"}], "Quiet": True}},
    ),
]


def wire(service: str, operation: str, params: dict, region: str = "us-east-1") -> HttpRequest:
    """The HTTP request botocore makes for a call, signed (in form) for ``service``."""
    model = service_model(service)
    operation_model = model.operation_model(operation)
    request = create_serializer(model.protocol).serialize_to_request(params, operation_model)
    body = request["body"]
    if isinstance(body, dict):
        body = urlencode(body)
    path, _, literal = request["url_path"].partition("?")
    query_string = request["query_string"] if isinstance(request["query_string"], dict) else {}
    query = {k: v if isinstance(v, list) else [v] for k, v in query_string.items()}
    query.update({k: [v] for k, _, v in (part.partition("=") for part in literal.split("&") if part)})
    headers = {name: [str(value)] for name, value in request["headers"].items()}
    scope = f"AKIAEXAMPLE/20260101/{region}/{model.signing_name or model.endpoint_prefix}/aws4_request"
    headers["Authorization"] = [f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"]
    raw = body.encode() if isinstance(body, str) else body or b""
    return HttpRequest(request["method"], path, headers, query, raw)


@pytest.mark.parametrize(("service", "operation", "params"), CALLS, ids=[f"{s}.{o}" for s, o, _ in CALLS])
def test_what_botocore_sends_parses_back_to_the_call(service, operation, params):
    call = parse_request(wire(service, operation, params))
    assert (call.service.service_name, call.operation.name) == (service, operation)
    assert call.params == params
    assert call.signature.access_key == "AKIAEXAMPLE"


def test_an_unsigned_request_is_a_403_naming_the_missing_token():
    request = HttpRequest("POST", "/", {"X-Amz-Target": ["AmazonSQS.SendMessage"]}, {}, b"{}")
    with pytest.raises(ProtocolError, match="missing Authentication Token") as refused:
        parse_request(request)
    assert refused.value.status == 403


def test_a_service_not_served_is_a_400_naming_it_and_what_is_served():
    request = wire("sqs", "ListQueues", {})
    request.headers["Authorization"] = [request.headers["Authorization"][0].replace("/sqs/", "/ec2/")]
    with pytest.raises(ProtocolError, match=r"'ec2' is not served .* it serves: .*dynamodb") as refused:
        parse_request(request)
    assert (refused.value.status, refused.value.code) == (400, "UnsupportedService")


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"X-Amz-Target": ["AmazonSQS.Teleport"]}, "UnknownOperation", "target AmazonSQS.Teleport"),
        ({"X-Amz-Target": ["DynamoDB_20120810.PutItem"]}, "UnknownOperation", "names no sqs operation"),
        ({"body": b"{not json"}, "SerializationException", "SendMessage: the request body is not valid json"),
        ({"body": b"[1]"}, "SerializationException", "not a JSON object"),
        ({"body": b'{"DelaySeconds": "soon"}'}, "SerializationException", "soon"),
    ],
)
def test_a_request_that_names_no_operation_or_has_a_bad_body_is_a_400(change, code, message):
    request = wire("sqs", "SendMessage", {"QueueUrl": "q", "MessageBody": "m"})
    request.body = change.pop("body", request.body)
    request.headers.update(change)
    with pytest.raises(ProtocolError) as refused:
        parse_request(request)
    assert (refused.value.status, refused.value.code) == (400, code)
    assert message in refused.value.message


def test_a_rest_path_no_operation_has_is_a_400():
    request = wire("lambda", "Invoke", {"FunctionName": "fn"})
    request.path = "/2015-03-31/teleport"
    with pytest.raises(ProtocolError, match=r"POST /2015-03-31/teleport names no lambda operation"):
        parse_request(request)


@pytest.mark.parametrize(
    ("service", "operation"),
    [("sqs", "SendMessage"), ("sns", "Publish"), ("lambda", "Invoke"), ("s3", "GetObject")],
)
def test_errors_read_back_with_botocore_in_each_protocol(service, operation):
    model = service_model(service)
    answer = error_response(model, 403, "AccessDenied", "User: x is not authorized")
    parsed = create_parser(model.protocol).parse(
        {
            "status_code": answer.status,
            "headers": {k: v[-1] for k, v in answer.headers.items()},
            "body": answer.body,
        },
        model.operation_model(operation).output_shape,
    )
    assert parsed["Error"]["Code"] == "AccessDenied"
    assert parsed["Error"]["Message"] == "User: x is not authorized"


@pytest.mark.parametrize(
    ("service", "operation", "answer"),
    [
        (
            "lambda",
            "Invoke",
            {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "ExecutedVersion": "$LATEST",
                "Payload": b'{"a": 1}',
            },
        ),
        (
            "stepfunctions",
            "StartSyncExecution",
            {"executionArn": "arn", "status": "SUCCEEDED", "startDate": WHEN},
        ),
        (
            "cloudformation",
            "DescribeStacks",
            {
                "Stacks": [
                    {
                        "StackName": "s",
                        "StackId": "id",
                        "CreationTime": WHEN,
                        "StackStatus": "CREATE_COMPLETE",
                        "DisableRollback": False,
                        "Outputs": [{"OutputKey": "Url", "OutputValue": "https://x/?a=1&b=<2>"}],
                    }
                ]
            },
        ),
    ],
)
def test_answers_the_local_cloud_makes_read_back_with_botocore(service, operation, answer):
    model = service_model(service)
    operation_model = model.operation_model(operation)
    response = success_response(model, operation_model, answer)
    parsed = create_parser(model.protocol).parse(
        {
            "status_code": response.status,
            "headers": {k: v[-1] for k, v in response.headers.items()},
            "body": response.body,
        },
        operation_model.output_shape,
    )
    parsed.pop("ResponseMetadata", None)
    # botocore reads a blob payload parsed outside a client as text.
    assert parsed == {k: v.decode() if isinstance(v, bytes) else v for k, v in answer.items()}


def test_the_serve_console_names_an_aws_call_and_only_those():
    assert (
        aws_call_name(wire("sqs", "SendMessage", {"QueueUrl": "q", "MessageBody": "m"}))
        == "aws sqs SendMessage"
    )
    assert aws_call_name(HttpRequest("POST", "/prod/items", {}, {}, b"{}")) is None
    unknown = wire("sqs", "ListQueues", {})
    unknown.headers["X-Amz-Target"] = ["AmazonSQS.Teleport"]
    assert aws_call_name(unknown) == "aws sqs (UnknownOperation)"
    not_served = wire("sqs", "ListQueues", {})
    not_served.headers["Authorization"] = [
        "AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/ec2/aws4_request, Signature=0"
    ]
    assert aws_call_name(not_served) == "aws ec2 (UnsupportedService)", "not POST / -> 400"


@pytest.mark.parametrize(
    ("doors", "hint"),
    [
        ([("api", 4580), ("aws", 4599)], "the AWS API is at http://127.0.0.1:4599/"),
        ([("api", 4580)], "serve with --aws-port PORT"),
    ],
)
def test_the_serve_console_says_where_the_aws_api_is_when_a_call_reaches_an_api_port(doors, hint):
    """The CLI pointed at an API's port gets API Gateway's 403 Missing Authentication Token, which
    does not say the port is wrong: the console does."""
    server = types.SimpleNamespace(
        front_doors=[
            types.SimpleNamespace(kind=kind, url=f"http://127.0.0.1:{port}/") for kind, port in doors
        ],
        cloud=types.SimpleNamespace(trace=types.SimpleNamespace(spans=[])),
    )
    console = io.StringIO()
    call = wire("dynamodb", "ListTables", {})
    answer = HttpResponse(403, {}, b'{"message":"Missing Authentication Token"}')
    call.headers["Host"] = ["127.0.0.1:4580"]
    _printer(console, server)(call, answer, [])
    assert console.getvalue().splitlines()[0] == "aws dynamodb ListTables -> 403"
    assert "an AWS API call sent to the port of api" in console.getvalue() and hint in console.getvalue()
    if len(doors) == 2:
        console.truncate(0)
        call.headers["Host"] = ["127.0.0.1:4599"]
        _printer(console, server)(call, HttpResponse(200, {}, b"{}"), [])
        assert "AWS API" not in console.getvalue(), "a call to the AWS API's own port is fine"
