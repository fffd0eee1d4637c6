"""REST APIs as real apps define them: OpenAPI bodies (inline and as an asset), resource policies,
private endpoints, custom domains, the payload and timeout limits, and the read calls of
``aws apigateway``, on one stack with one cloud for the module."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aws_cdk import App, Fn, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_iam as iam
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.aws_endpoint.door import aws_door
from localcloud.core.assembly import StackArtifact, load_stack
from localcloud.errors import ApiGatewayError
from localcloud.lib.http import HttpRequest
from localcloud.server import LocalServer
from localcloud.services.apigateway.model import MAX_PAYLOAD
from localcloud.services.apigateway.openapi import Imported
from patterns.stack import SYNTH_METADATA
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud

SPECS = Path(__file__).parent / "specs"
DOMAIN = "api.example.com"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
ALLOWED_NET, DENIED_ADDRESS, OUTSIDER = "192.0.2.0/24", "192.0.2.66", "203.0.113.9"
VPCE = "vpce-0a1b2c3d"


def _lambda_uri(function) -> str:
    """The integration URI as people write it in a body: ``Fn::Sub`` with the function's ARN."""
    return Fn.sub(
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Arn}/invocations",
        {"Arn": function.function_arn},
    )


def _mock(body: str, status: str = "200") -> dict:
    return {
        "type": "mock",
        "requestTemplates": {"application/json": f'{{"statusCode": {status}}}'},
        "responses": {"default": {"statusCode": status, "responseTemplates": {"application/json": body}}},
    }


def _document(echo, plain, token) -> dict:
    proxy = {"type": "aws_proxy", "httpMethod": "POST", "uri": _lambda_uri(echo)}
    return {
        "openapi": "3.0.1",
        "info": {"title": "SpecShop", "version": "1"},
        "x-amazon-apigateway-request-validators": {
            "all": {"validateRequestBody": True, "validateRequestParameters": True}
        },
        "components": {
            "schemas": {
                "Order": {
                    "type": "object",
                    "required": ["sku", "qty"],
                    "properties": {
                        "sku": {"type": "string", "minLength": 1},
                        "qty": {"type": "integer", "minimum": 1},
                        "address": {"$ref": "#/components/schemas/Address"},
                    },
                },
                "Address": {
                    "type": "object",
                    "required": ["city"],
                    "properties": {"city": {"type": "string"}},
                },
            },
            "securitySchemes": {
                "api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"},
                "token": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "x-amazon-apigateway-authtype": "custom",
                    "x-amazon-apigateway-authorizer": {
                        "type": "token",
                        "authorizerUri": _lambda_uri(token),
                        "authorizerResultTtlInSeconds": 0,
                    },
                },
            },
        },
        "paths": {
            "/orders": {
                "post": {
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}
                    },
                    "x-amazon-apigateway-request-validator": "all",
                    "x-amazon-apigateway-integration": proxy,
                }
            },
            "/orders/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True}],
                "get": {
                    "parameters": [{"name": "verbose", "in": "query", "required": True}],
                    "x-amazon-apigateway-request-validator": "all",
                    "x-amazon-apigateway-integration": proxy,
                },
            },
            "/plain": {
                "post": {
                    "x-amazon-apigateway-integration": {
                        "type": "aws",
                        "httpMethod": "POST",
                        "uri": _lambda_uri(plain),
                        "requestTemplates": {"application/json": "{\"sku\": $input.json('$.sku')}"},
                        "responses": {
                            "default": {
                                "statusCode": "200",
                                "responseTemplates": {
                                    "application/json": "{\"got\": $input.json('$.received.sku')}"
                                },
                            },
                            "missing.*": {"statusCode": "404"},
                        },
                    }
                }
            },
            "/mock": {"get": {"x-amazon-apigateway-integration": _mock('{"mocked": true}')}},
            "/keyed": {
                "get": {
                    "security": [{"api_key": []}],
                    "x-amazon-apigateway-integration": _mock('{"keyed": true}'),
                }
            },
            "/guarded": {
                "get": {
                    "security": [{"token": []}],
                    "x-amazon-apigateway-integration": _mock('{"guarded": true}'),
                }
            },
        },
    }


def build(stack: Stack) -> None:
    echo = python_function(stack, "Echo", "apigw_echo")
    plain = python_function(stack, "Plain", "apigw_plain")
    token = python_function(stack, "Token", "apigw_token")
    policy = iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(
                principals=[iam.AnyPrincipal()],
                actions=["execute-api:Invoke"],
                resources=["execute-api:/*"],
                conditions={"IpAddress": {"aws:SourceIp": ["127.0.0.0/8", ALLOWED_NET]}},
            ),
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["execute-api:Invoke"],
                resources=["execute-api:/*"],
                conditions={"IpAddress": {"aws:SourceIp": f"{DENIED_ADDRESS}/32"}},
            ),
        ]
    )
    spec = apigw.SpecRestApi(
        stack,
        "Spec",
        api_definition=apigw.ApiDefinition.from_inline(_document(echo, plain, token)),
        policy=policy,
        cloud_watch_role=False,
    )
    for function in (echo, plain):
        function.add_permission(
            "FromSpec",
            principal=iam.ServicePrincipal("apigateway.amazonaws.com"),
            source_arn=spec.arn_for_execute_api(),
        )
    token.add_permission("FromSpec", principal=iam.ServicePrincipal("apigateway.amazonaws.com"))
    plan = spec.add_usage_plan(
        "Plan", api_stages=[apigw.UsagePlanPerApiStage(api=spec, stage=spec.deployment_stage)]
    )
    plan.add_api_key(spec.add_api_key("Key", api_key_name="spec-key"))
    domain = spec.add_domain_name(
        "Domain",
        domain_name=DOMAIN,
        certificate=acm.Certificate.from_certificate_arn(stack, "Certificate", CERTIFICATE),
        base_path="shop",
    )
    hidden = apigw.SpecRestApi(
        stack,
        "Hidden",
        api_definition=apigw.ApiDefinition.from_inline(
            {
                "openapi": "3.0.1",
                "info": {"title": "Hidden", "version": "1"},
                "paths": {"/ping": {"get": {"x-amazon-apigateway-integration": _mock('{"pong": true}')}}},
            }
        ),
        disable_execute_api_endpoint=True,
        cloud_watch_role=False,
    )
    domain.add_base_path_mapping(hidden, base_path="hidden")
    apigw.SpecRestApi(
        stack,
        "Private",
        api_definition=apigw.ApiDefinition.from_asset(str(SPECS / "private.yaml")),
        endpoint_types=[apigw.EndpointType.PRIVATE],
        cloud_watch_role=False,
    )


def synth_without_validation(tmp_path_factory: pytest.TempPathFactory, name: str, fill) -> StackArtifact:
    """The stack ``fill`` builds, synthesized without the CDK's CloudFormation schema check, which
    costs seconds per synthesis and is not what these tests are about."""
    outdir = tmp_path_factory.mktemp(f"cdk-{name}")
    app = App(outdir=str(outdir), context=SYNTH_METADATA, builtin_cloud_formation_validation=False)
    fill(Stack(app, name))
    app.synth()
    return load_stack(outdir, name)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with LocalCloud(synth_without_validation(tmp_path_factory, "ApiSpecs", build)) as running:
        yield running


def echoed(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["event"]


# ---------------------------------------------------------------------------------------- OpenAPI


def test_an_openapi_body_serves_its_paths_through_a_lambda_proxy(cloud: LocalCloud):
    event = echoed(cloud.api("Spec").post("/orders", json={"sku": "a", "qty": 2}))
    assert (event["resource"], event["path"], json.loads(event["body"])) == (
        "/orders",
        "/orders",
        {"sku": "a", "qty": 2},
    )
    event = echoed(cloud.api("Spec").get("/orders/42", query={"verbose": "1"}))
    assert (event["resource"], event["pathParameters"]) == ("/orders/{id}", {"id": "42"})
    assert cloud.api("Spec").get("/nowhere").json() == {"message": "Missing Authentication Token"}
    assert cloud.api("Spec").delete("/orders").status_code == 403


def test_its_validators_check_the_body_against_its_schemas_and_the_required_parameters(cloud: LocalCloud):
    api = cloud.api("Spec")
    refused = api.post("/orders", json={"sku": "a", "qty": 0})
    assert (refused.status_code, refused.json()) == (400, {"message": "Invalid request body"})
    nested = api.post("/orders", json={"sku": "a", "qty": 1, "address": {"street": "x"}})
    assert nested.status_code == 400, "the $ref to Address is followed"
    assert api.post("/orders", json={"sku": "a", "qty": 1, "address": {"city": "Lyon"}}).status_code == 200
    missing = api.get("/orders/42")
    assert (missing.status_code, missing.json()) == (
        400,
        {"message": "Missing required request parameters: [verbose]"},
    )


def test_aws_and_mock_integrations_map_requests_and_responses_as_their_templates_say(cloud: LocalCloud):
    api = cloud.api("Spec")
    assert api.post("/plain", json={"sku": "b7"}).json() == {"got": "b7"}
    assert api.get("/mock").json() == {"mocked": True}


def test_security_schemes_become_api_keys_and_lambda_authorizers(cloud: LocalCloud):
    api = cloud.api("Spec")
    assert api.get("/keyed").status_code == 403
    key = cloud.apigateway.api_key_value("Key")
    assert api.get("/keyed", headers={"x-api-key": key}).json() == {"keyed": True}
    assert api.get("/guarded").status_code == 401
    assert api.get("/guarded", headers={"Authorization": "deny"}).status_code == 403
    assert api.get("/guarded", headers={"Authorization": "allow"}).json() == {"guarded": True}


def test_a_body_naming_what_it_does_not_define_is_refused_naming_it():
    ids = lambda seed: seed  # noqa: E731
    undefined_validator = {"paths": {"/a": {"get": {"x-amazon-apigateway-request-validator": "strict"}}}}
    with pytest.raises(ApiGatewayError, match="request validator 'strict'"):
        Imported("api", undefined_validator, ids, "Spec").run("root")
    undefined_schema = {
        "paths": {
            "/a": {
                "post": {
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Nope"}}}
                    }
                }
            }
        }
    }
    with pytest.raises(ApiGatewayError, match="undefined schema"):
        Imported("api", undefined_schema, ids, "Spec").run("root")
    with pytest.raises(ApiGatewayError, match="security scheme 'basic'"):
        Imported("api", {"paths": {"/a": {"get": {"security": [{"basic": []}]}}}}, ids, "Spec").run("root")


def test_swagger_2_and_the_other_extensions_import_as_their_template_properties_would():
    pool = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_X"
    swagger = {
        "swagger": "2.0",
        "x-amazon-apigateway-api-key-source": "authorizer",
        "x-amazon-apigateway-binary-media-types": ["image/png"],
        "x-amazon-apigateway-gateway-responses": {
            "DEFAULT_4XX": {"statusCode": 418, "responseTemplates": {"application/json": '{"teapot": true}'}}
        },
        "definitions": {
            "Pet": {"type": "object", "items": {"$ref": "#/definitions/Tag"}},
            "Tag": {"type": "string"},
        },
        "securityDefinitions": {
            "pool": {
                "type": "apiKey",
                "name": "Authorization",
                "in": "header",
                "x-amazon-apigateway-authtype": "cognito_user_pools",
                "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools", "providerARNs": [pool]},
            },
            "request": {
                "type": "apiKey",
                "name": "Unused",
                "in": "header",
                "x-amazon-apigateway-authorizer": {
                    "type": "request",
                    "authorizerUri": "arn:fn",
                    "identitySource": "method.request.header.X-Token, method.request.querystring.t",
                },
            },
        },
        "paths": {
            "/pets/{proxy+}": {
                "x-amazon-apigateway-any-method": {
                    "parameters": [{"name": "pet", "in": "body", "schema": {"$ref": "#/definitions/Pet"}}],
                    "security": [{"pool": ["pets/read"]}],
                    "x-amazon-apigateway-integration": {
                        "type": "http_proxy",
                        "httpMethod": "ANY",
                        "uri": "https://backend.example/{proxy}",
                        "requestParameters": {"integration.request.path.proxy": "method.request.path.proxy"},
                        "passthroughBehavior": "when_no_templates",
                        "timeoutInMillis": 5000,
                    },
                },
            },
            "/checked": {
                "get": {"security": [{"request": []}], "x-amazon-apigateway-integration": {"type": "mock"}}
            },
        },
    }
    imported = Imported("abc", swagger, lambda seed: seed, "Swagger").run("root")
    assert (imported.api_key_source, imported.binary_media_types) == ("AUTHORIZER", ["image/png"])
    assert imported.gateway_responses["DEFAULT_4XX"]["StatusCode"] == 418
    assert imported.models["Pet"]["items"] == {
        "$ref": "https://apigateway.amazonaws.com/restapis/abc/models/Tag"
    }
    assert imported.resources == [
        ("resource/pets", "root", "pets"),
        ("resource/pets/{proxy+}", "resource/pets", "{proxy+}"),
        ("resource/checked", "root", "checked"),
    ]
    (_, _, pets), (_, _, checked) = imported.methods
    assert pets["HttpMethod"] == "ANY" and pets["RequestModels"] == {"application/json": "Pet"}
    assert (pets["AuthorizationType"], pets["AuthorizationScopes"]) == ("COGNITO_USER_POOLS", ["pets/read"])
    assert pets["Integration"] == {
        "Type": "HTTP_PROXY",
        "Uri": "https://backend.example/{proxy}",
        "IntegrationHttpMethod": "ANY",
        "RequestParameters": {"integration.request.path.proxy": "method.request.path.proxy"},
        "RequestTemplates": {},
        "PassthroughBehavior": "WHEN_NO_TEMPLATES",
        "IntegrationResponses": [],
        "TimeoutInMillis": 5000,
    }
    assert imported.authorizers[pets["AuthorizerId"]]["ProviderARNs"] == [pool]
    assert (
        imported.authorizers[pets["AuthorizerId"]]["IdentitySource"] == "method.request.header.Authorization"
    )
    request = imported.authorizers[checked["AuthorizerId"]]
    assert (checked["AuthorizationType"], request["Type"]) == ("CUSTOM", "REQUEST")
    assert request["IdentitySource"] == "method.request.header.X-Token, method.request.querystring.t"


# ---------------------------------------------------------------------------------------- policies


def test_a_resource_policy_lets_in_only_the_addresses_it_allows(cloud: LocalCloud):
    api = cloud.api("Spec")
    assert api.get("/mock", source_ip="192.0.2.5").status_code == 200
    arn = f"arn:aws:execute-api:{cloud.kernel.region}:********{cloud.kernel.account[-4:]}:{api.api_id}/prod/GET/mock"
    outsider = api.get("/mock", source_ip=OUTSIDER)
    assert (outsider.status_code, outsider.header("x-amzn-ErrorType")) == (403, "AccessDeniedException")
    assert outsider.json() == {
        "Message": f"User: anonymous is not authorized to perform: execute-api:Invoke on resource: {arn}"
    }
    denied = api.get("/mock", source_ip=DENIED_ADDRESS)
    assert denied.json() == {
        "Message": f"User: anonymous is not authorized to perform: execute-api:Invoke on resource: {arn} with an explicit deny"
    }


def test_a_lambda_authorizer_lets_in_what_the_policy_is_silent_on_but_not_what_it_denies(cloud: LocalCloud):
    api = cloud.api("Spec")
    allow = {"Authorization": "allow"}
    assert api.get("/guarded", headers=allow, source_ip=OUTSIDER).status_code == 200
    assert api.get("/guarded", headers=allow, source_ip=DENIED_ADDRESS).status_code == 403


def test_a_private_api_from_an_asset_answers_only_through_its_vpc_endpoint(cloud: LocalCloud):
    api = cloud.api("Private")
    public = api.get("/status")
    assert (public.status_code, public.json()) == (403, {"message": "Forbidden"})
    other = api.get("/status", source_vpce="vpce-99999999", source_vpc="vpc-1")
    assert other.json()["Message"].startswith("User: anonymous is not authorized"), (
        "the policy says which endpoint"
    )
    assert api.get("/status", source_vpce=VPCE).json() == {"private": True}


# ---------------------------------------------------------------------------------------- domains


def test_a_custom_domain_routes_its_base_path_to_the_mapped_stage(cloud: LocalCloud):
    domain = cloud.api(domain=DOMAIN)
    event = echoed(domain.post("/shop/orders", json={"sku": "a", "qty": 1}))
    assert (event["resource"], event["path"]) == ("/orders", "/shop/orders")
    assert event["requestContext"]["domainName"] == DOMAIN
    unmapped = domain.get("/elsewhere/orders")
    assert (unmapped.status_code, unmapped.json()) == (403, {"message": "Forbidden"})
    assert domain.get("/hidden/ping").json() == {"pong": True}
    hidden = cloud.api("Hidden").get("/ping")
    assert (hidden.status_code, hidden.json()) == (403, {"message": "Forbidden"})
    by_host = HttpRequest.build("GET", "/shop/mock", headers={"Host": f"{DOMAIN}:4566"})
    assert cloud.apigateway.dispatch("anything", by_host).json() == {"mocked": True}
    with pytest.raises(ApiGatewayError, match="not a custom domain"):
        cloud.api(domain="other.example.com")


# ---------------------------------------------------------------------------------------- limits


def test_a_body_over_10_mb_is_refused_with_413(cloud: LocalCloud):
    api = cloud.api("Spec")
    too_large = api.request("GET", "/mock", body=b"x" * (MAX_PAYLOAD + 1))
    assert (too_large.status_code, too_large.json()) == (413, {"message": "Request Too Long"})
    assert api.request("GET", "/mock", body=b"x" * MAX_PAYLOAD).status_code == 200


def test_a_lambda_integration_running_past_29_seconds_times_out_with_504(cloud: LocalCloud):
    function = cloud.function("Echo")
    try:
        function.duration = 29.5
        late = cloud.api("Spec").get("/orders/1", query={"verbose": "1"})
        assert (late.status_code, late.json()) == (504, {"message": "Endpoint request timed out"})
        function.duration = 28.0
        assert cloud.api("Spec").get("/orders/1", query={"verbose": "1"}).status_code == 200
    finally:
        function.duration = 0.0


# ---------------------------------------------------------------------------------------- reads


def test_the_apigateway_read_calls_see_the_served_apis_with_their_ids(cloud: LocalCloud):
    client = cloud.client("apigateway")
    apis = {api["name"]: api for api in client.get_rest_apis()["items"]}
    assert {name: api["id"] for name, api in apis.items()} == {
        endpoint.name: endpoint.api_id for endpoint in cloud.apigateway.endpoints()
    }
    assert apis["Private"]["endpointConfiguration"]["types"] == ["PRIVATE"]
    spec_id = apis["Spec"]["id"]
    paths = {r["path"] for r in client.get_resources(restApiId=spec_id)["items"]}
    assert {"/", "/orders", "/orders/{id}", "/keyed"} <= paths
    assert [s["stageName"] for s in client.get_stages(restApiId=spec_id)["item"]] == ["prod"]
    [key] = client.get_api_keys(includeValues=True)["items"]
    assert (key["name"], key["value"]) == ("spec-key", cloud.apigateway.api_key_value("Key"))
    assert client.get_base_path_mappings(domainName=DOMAIN)["items"] == [
        {"basePath": "shop", "restApiId": spec_id, "stage": "prod"},
        {"basePath": "hidden", "restApiId": apis["Hidden"]["id"], "stage": "prod"},
    ]
    assert apis["Hidden"]["disableExecuteApiEndpoint"] is True
    with pytest.raises(ClientError, match="NotFoundException"):
        client.get_resources(restApiId="nope")
    with pytest.raises(ClientError, match="BadRequestException"):
        client.create_rest_api(name="new")


def test_the_aws_endpoint_answers_get_rest_apis_and_get_api_keys_on_the_wire(cloud: LocalCloud):
    """What ``aws --endpoint-url ... apigateway get-rest-apis`` sends, under ``serve --aws-port``."""
    signed = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20260101/us-east-1/apigateway/aws4_request, "
        "SignedHeaders=host, Signature=0",
        "Accept": "application/json",
    }
    with LocalServer(cloud, port=0, real_time=False, extra_doors=[aws_door(0)]) as server:
        server.start()
        [door] = [d for d in server.front_doors if d.kind == "aws"]
        parts = urlsplit(door.url)

        def get(path: str) -> tuple[int, dict]:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            try:
                connection.request("GET", path, headers=signed)
                response = connection.getresponse()
                return response.status, json.loads(response.read())
            finally:
                connection.close()

        status, apis = get("/restapis")
        assert status == 200, apis
        assert sorted(api["id"] for api in apis["item"]) == sorted(
            e.api_id for e in cloud.apigateway.endpoints()
        )
        status, keys = get("/apikeys?includeValues=true")
        assert [key["value"] for key in keys["item"]] == [cloud.apigateway.api_key_value("Key")]
        status, missing = get("/restapis/nope/resources")
        assert status == 404, missing
