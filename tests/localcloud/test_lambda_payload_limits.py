"""Lambda's invocation payload limits offline, as AWS enforces them (localcloud/services/lambda_/
payload_limits.py): 6 MB each way for a synchronous invocation, 1 MB for an asynchronous event,
whoever invokes (a test's client, a handler's boto3 call, API Gateway).

AWS's answers: the Invoke API's 413 ``RequestEntityTooLargeException`` "Request must be smaller
than 6291456 bytes for the InvokeFunction operation" and "N byte payload is too large for the Event
invocation type (limit L bytes)" (as real clients have logged them); an oversized response is a
function error ``Function.ResponseSizeTooLarge`` with status 200 (localstack's snapshot
``test_lambda_too_large_response``, recorded against AWS); API Gateway's REST API answers a body
Lambda refuses 413 ``{"message": "Request Too Long"}`` and an oversized answer 502.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START
from localcloud.services.lambda_.payload_limits import event_size
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud

SYNC_LIMIT = 6 * 1024 * 1024
ASYNC_LIMIT = 1024 * 1024
RESPONSE_LIMIT = SYNC_LIMIT + 100
TOO_LARGE_RESPONSE = {
    "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    "errorType": "Function.ResponseSizeTooLarge",
}


def build(stack: Stack) -> None:
    sizes = python_function(stack, "Sizes", "payload_sizes", timeout=None)
    caller = python_function(stack, "Caller", "payload_sizes", environment={"TARGET": sizes.function_name})
    sizes.grant_invoke(caller)
    apigw.LambdaRestApi(stack, "Rest", handler=sizes)
    apigwv2.HttpApi(stack, "Http", default_integration=integrations.HttpLambdaIntegration("ToSizes", sizes))


@pytest.fixture(scope="module")
def cloud(synth):
    with LocalCloud(synth("PayloadLimits", build), start=FIXED_START) as started:
        yield started


def sized(size: int) -> bytes:
    """A JSON string of exactly ``size`` bytes, quotes included."""
    return b'"' + b"a" * (size - 2) + b'"'


def runs(cloud: LocalCloud) -> int:
    return len(cloud.trace.find("invoke", target=cloud.function("Sizes").name))


def test_a_synchronous_event_over_6_mb_is_refused_before_the_function_runs(cloud):
    client = cloud.client("lambda")
    name = cloud.function("Sizes").name
    answer = client.invoke(FunctionName=name, Payload=sized(SYNC_LIMIT))
    assert answer["StatusCode"] == 200 and json.load(answer["Payload"]) == {"received": SYNC_LIMIT}

    before = runs(cloud)
    with pytest.raises(ClientError) as refused:
        client.invoke(FunctionName=name, Payload=sized(SYNC_LIMIT + 1))
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert refused.value.response["Error"] == {
        "Code": "RequestEntityTooLargeException",
        "Message": "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
    }
    assert runs(cloud) == before


def test_an_asynchronous_event_over_1_mb_is_refused_and_never_queued(cloud):
    client = cloud.client("lambda")
    name = cloud.function("Sizes").name
    assert (
        client.invoke(FunctionName=name, InvocationType="Event", Payload=sized(ASYNC_LIMIT))["StatusCode"]
        == 202
    )
    with pytest.raises(ClientError) as refused:
        client.invoke(FunctionName=name, InvocationType="Event", Payload=sized(ASYNC_LIMIT + 1))
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert refused.value.response["Error"] == {
        "Code": "RequestEntityTooLargeException",
        "Message": "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)",
    }
    cloud.drain()
    assert cloud.kernel.service("lambda").invoker.pending_async == 0


def test_a_response_over_the_limit_is_a_function_error_after_the_function_ran(cloud):
    fits = cloud.invoke("Sizes", {"answer_bytes": RESPONSE_LIMIT})
    assert "FunctionError" not in fits and len(fits["Payload"]) == RESPONSE_LIMIT - 2

    before = runs(cloud)
    answer = cloud.client("lambda").invoke(
        FunctionName=cloud.function("Sizes").name, Payload=json.dumps({"answer_bytes": RESPONSE_LIMIT + 1})
    )
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    assert json.load(answer["Payload"]) == TOO_LARGE_RESPONSE
    assert runs(cloud) == before + 1


def test_a_handlers_own_invoke_is_held_to_the_limits(cloud):
    over = cloud.invoke("Caller", {"send_bytes": SYNC_LIMIT + 1})["Payload"]
    assert over == {
        "status": 413,
        "Code": "RequestEntityTooLargeException",
        "Message": "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
    }
    assert cloud.invoke("Caller", {"send_bytes": ASYNC_LIMIT, "type": "Event"})["Payload"] == {"status": 202}
    over_async = cloud.invoke("Caller", {"send_bytes": ASYNC_LIMIT + 1, "type": "Event"})["Payload"]
    assert over_async["status"] == 413 and over_async["Code"] == "RequestEntityTooLargeException"


def test_a_rest_api_answers_413_for_a_body_lambda_refuses_and_502_for_an_answer_too_large(cloud):
    """API Gateway takes a body up to 10 MB; its proxy event with a 7 MB body is over Lambda's 6 MB."""
    api = cloud.api("Rest")
    assert api.post("/", body=b"x" * 1000).json() == {"received": 1000}
    refused = api.post("/", body=b"x" * (7 * 1024 * 1024))
    assert refused.status_code == 413 and refused.json() == {"message": "Request Too Long"}

    assert len(api.post("/", body=b"answer 6000000").body) == 6_000_000
    too_large = api.post("/", body=f"answer {RESPONSE_LIMIT}".encode())
    assert too_large.status_code == 502 and too_large.json() == {"message": "Internal server error"}


def test_an_http_api_answers_413_for_a_body_lambda_refuses(cloud):
    api = cloud.http_api("Http")
    text = {"Content-Type": "text/plain"}
    assert api.post("/", body=b"x" * 1000, headers=text).json() == {"received": 1000}
    refused = api.post("/", body=b"x" * (7 * 1024 * 1024), headers=text)
    assert refused.status_code == 413 and refused.json() == {"message": "Request Entity Too Large"}


def test_an_event_is_measured_in_utf8_bytes_and_a_lone_surrogate_does_not_crash_the_count():
    """Compact UTF-8 JSON, the least a service could send; a fuzzer's lone surrogate in a query
    string counts its three bytes instead of failing the invocation."""
    assert event_size({"q": "é"}) == len('{"q":""}') + 2
    assert event_size({"q": "\ud800"}) == len('{"q":""}') + 3
