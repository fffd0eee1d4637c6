"""API Gateway REST APIs: each part gets its id, and its definition is kept for the gateway.

Nothing here runs: :mod:`localcloud.services.apigateway` reads the definitions in ``cloud.service("apigateway").definitions``
(resolved properties by logical id) and serves them. Ids are what ``Ref`` returns, as in
CloudFormation: a model's name, a stage's name, an id for everything else. API keys without a
``Value`` get a deterministic one (``cloud.apigateway.api_key_value(...)`` tells it).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions
from localcloud.errors import ApiGatewayError
from localcloud.services.apigateway.openapi import parse, read_asset

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


@provisions("AWS::ApiGateway::RestApi")
def rest_api(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    api_id = cloud.short_id(logical_id)
    if "BodyS3Location" in props and "Body" not in props:
        metadata = cloud.artifact.template["Resources"][logical_id].get("Metadata", {})
        body = read_asset(cloud.artifact.directory, metadata, props["BodyS3Location"], logical_id)
        props = {**props, "Body": body}
    elif isinstance(props.get("Body"), str):
        props = {**props, "Body": parse(props["Body"], logical_id)}
    cloud.service("apigateway").definitions[logical_id] = ("AWS::ApiGateway::RestApi", props)
    return Provisioned(api_id, {"RootResourceId": cloud.short_id(f"{logical_id}/root"), "RestApiId": api_id})


@provisions(
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Model",
    "AWS::ApiGateway::RequestValidator",
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Stage",
    "AWS::ApiGateway::Account",
    "AWS::ApiGateway::Authorizer",
    "AWS::ApiGateway::GatewayResponse",
    "AWS::ApiGateway::UsagePlan",
    "AWS::ApiGateway::UsagePlanKey",
)
def api_part(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    resource_type = cloud.artifact.template["Resources"][logical_id]["Type"]
    cloud.service("apigateway").definitions[logical_id] = (resource_type, props)
    part_id = cloud.short_id(logical_id)
    if resource_type == "AWS::ApiGateway::Stage":
        return Provisioned(props["StageName"])
    if resource_type == "AWS::ApiGateway::Model":
        return Provisioned(props.get("Name") or _NOT_ALPHANUMERIC.sub("", logical_id) + part_id[:6])
    if resource_type == "AWS::ApiGateway::Resource":
        return Provisioned(part_id, {"ResourceId": part_id})
    if resource_type == "AWS::ApiGateway::Authorizer":
        return Provisioned(part_id, {"AuthorizerId": part_id})
    if resource_type == "AWS::ApiGateway::Deployment":
        return Provisioned(part_id, {"DeploymentId": part_id})
    if resource_type == "AWS::ApiGateway::UsagePlan":
        return Provisioned(part_id, {"Id": part_id})
    return Provisioned(part_id)


@provisions("AWS::ApiGateway::ApiKey")
def api_key(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    key_id = cloud.short_id(logical_id)
    value = props.get("Value") or cloud.short_id(f"{logical_id}/value", 40)
    cloud.service("apigateway").definitions[logical_id] = (
        "AWS::ApiGateway::ApiKey",
        {**props, "Value": value},
    )
    return Provisioned(key_id, {"APIKeyId": key_id})


@provisions("AWS::ApiGateway::DomainName")
def domain_name(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """A custom domain: its regional and edge (CloudFront) target names, as Route 53 aliases use them."""
    name = props.get("DomainName")
    if not name:
        raise ApiGatewayError(f"{logical_id}: a custom domain needs a DomainName")
    cloud.service("apigateway").definitions[logical_id] = ("AWS::ApiGateway::DomainName", props)
    suffix = cloud.short_id(f"{logical_id}/target")
    return Provisioned(
        name,
        {
            "DistributionDomainName": f"d{suffix}.cloudfront.net",
            "DistributionHostedZoneId": "Z2FDTNDATAQYW2",
            "RegionalDomainName": f"d-{suffix}.execute-api.{cloud.region}.amazonaws.com",
            "RegionalHostedZoneId": "Z1UJRXOUMOOFQ8",
            "DomainNameArn": f"arn:{cloud.partition}:apigateway:{cloud.region}::/domainnames/{name}",
        },
    )


@provisions("AWS::ApiGateway::BasePathMapping")
def base_path_mapping(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    cloud.service("apigateway").definitions[logical_id] = ("AWS::ApiGateway::BasePathMapping", props)
    return Provisioned(cloud.short_id(logical_id))
