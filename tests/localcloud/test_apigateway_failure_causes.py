"""The line the local cloud logs when a function behind API Gateway fails, and the headers of an
answer whose integration response sets some: a client sees the same 500 or 502 whatever the cause,
so only the logged cause tells a developer which function broke and how."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.core.clock import FIXED_START
from localcloud.lib.http import HttpRequest
from localcloud.services.apigateway.authorizers import AuthorizerCache, authorize
from localcloud.services.apigateway.integrations import integrate
from localcloud.services.apigateway.model import IntegrationResponse
from tests.localcloud import test_apigateway_semantics as semantics
from tests.localcloud.test_apigateway_semantics import (
    TEMPLATE,
    answer,
    call,
    integration,
    json_request,
    proxy_call,
    refused,
    token_call,
    uri,
)

pytestmark = pytest.mark.localcloud

#: A function whose error carries no message (``raise ValueError()``).
BLANK = "def handler(event, context):\n    raise ValueError()\n"

#: The semantics module's per-test reset, on this module's cloud.
fresh = semantics.fresh


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    resources = {
        **TEMPLATE["Resources"],
        "Blank": semantics._function(BLANK),
        "BlankPermission": semantics._permission("Blank", "*/*/*"),
    }
    artifact = StackArtifact("ApiFailureCauses", {"Resources": resources}, Path("."))
    with LocalCloud(artifact, start=FIXED_START) as started:
        yield started


def test_a_crashing_authorizer_is_logged_with_its_own_error(fresh: LocalCloud) -> None:
    error, response = refused(authorize, token_call(fresh, "crash"), AuthorizerCache())
    assert answer(response) == (500, {"message": None})
    assert error.cause == "authorizer Gate failed: RuntimeError: the authorizer crashed"


def test_a_failing_proxy_function_is_logged_with_its_own_error(fresh: LocalCloud) -> None:
    error, response = refused(integrate, proxy_call(fresh, "fail"))
    assert answer(response) == (502, {"message": "Internal server error"})
    name = fresh.function("Backend").name
    assert error.cause == f"Lambda function {name} failed: ValueError: the backend failed"


def test_a_lambda_error_without_a_message_matching_no_response_is_logged_with_the_200_it_got(
    fresh: LocalCloud,
) -> None:
    wired = integration(
        "AWS", uri(fresh, "Blank"), responses=[IntegrationResponse("400", "Invalid.*", {}, {})]
    )
    error, response = refused(integrate, call(fresh, json_request(body={}), wired=wired))
    assert answer(response) == (500, {"message": "Internal server error"})
    assert error.cause.startswith("no integration response matches 200 and there is no default")


def test_a_content_type_the_response_parameters_set_is_kept_else_json_is_added(fresh: LocalCloud) -> None:
    def headers(parameters: dict[str, str]) -> dict[str, list[str]]:
        wired = integration(responses=[IntegrationResponse("200", None, parameters, {})])
        return integrate(call(fresh, json_request(body={}), wired=wired)).headers

    typed = headers({"method.response.header.Content-Type": "'text/html'"})
    assert typed["Content-Type"] == ["text/html"]
    other = headers({"method.response.header.X-Fixed": "'y'"})
    assert (other["X-Fixed"], other["Content-Type"]) == (["y"], ["application/json"])


def test_a_payload_that_is_not_json_is_logged_by_its_first_120_characters(fresh: LocalCloud) -> None:
    text = "x" * 119 + "yz"
    request = HttpRequest.build("POST", "/items/7", body=text, headers={"Content-Type": "application/json"})
    error, _ = refused(integrate, call(fresh, request, wired=integration("AWS", uri(fresh, "Backend"))))
    assert error.cause.endswith(f"is not JSON: {'x' * 119 + 'y'!r}")
