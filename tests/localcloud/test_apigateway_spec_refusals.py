"""REST API definitions AWS refuses to deploy are refused offline too, naming why (a cloud of its
own each: the refusal is the whole account's)."""

from __future__ import annotations

import pytest
from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigw

from localcloud import LocalCloud
from localcloud.errors import ApiGatewayError
from tests.localcloud.test_apigateway_spec import synth_without_validation

pytestmark = pytest.mark.localcloud

MOCK = {
    "type": "mock",
    "requestTemplates": {"application/json": '{"statusCode": 200}'},
    "responses": {"default": {"statusCode": "200"}},
}


def _spec(paths: dict) -> apigw.ApiDefinition:
    return apigw.ApiDefinition.from_inline(
        {"openapi": "3.0.1", "info": {"title": "T", "version": "1"}, "paths": paths}
    )


def build_unguarded(stack: Stack) -> None:
    apigw.SpecRestApi(
        stack,
        "Unguarded",
        api_definition=_spec({"/a": {"get": {"x-amazon-apigateway-integration": MOCK}}}),
        endpoint_types=[apigw.EndpointType.PRIVATE],
        cloud_watch_role=False,
    )


def build_unintegrated(stack: Stack) -> None:
    apigw.SpecRestApi(
        stack, "Unintegrated", api_definition=_spec({"/a": {"get": {}}}), cloud_watch_role=False
    )


@pytest.mark.parametrize(
    ("name", "build", "why"),
    [
        ("ApiSpecUnguarded", build_unguarded, "PRIVATE REST API needs a resource policy"),
        ("ApiSpecUnintegrated", build_unintegrated, "GET /a has no integration"),
    ],
    ids=["private-without-policy", "method-without-integration"],
)
def test_a_definition_aws_would_not_deploy_is_an_error_naming_it(tmp_path_factory, name, build, why):
    with (
        LocalCloud(synth_without_validation(tmp_path_factory, name, build)) as running,
        pytest.raises(ApiGatewayError, match=why),
    ):
        running.api()
