"""API Gateway REST APIs: kept as definitions for now, served in the local cloud's next part.

These provisioners create nothing that runs. They give every REST API resource an id, so the
rest of a pattern's stack (functions, queues, tables) provisions and runs offline, and they keep
each definition in ``cloud.api_resources`` for the API Gateway emulation to read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.provisioners import Provisioned, provisions

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud


@provisions("AWS::ApiGateway::RestApi")
def rest_api(cloud: LocalCloud, logical_id: str, props: dict[str, Any]) -> Provisioned:
    api_id = cloud.short_id(logical_id)
    cloud.api_resources[logical_id] = ("AWS::ApiGateway::RestApi", props)
    return Provisioned(api_id, {"RootResourceId": cloud.short_id(f"{logical_id}/root"), "RestApiId": api_id})


@provisions(
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Model",
    "AWS::ApiGateway::RequestValidator",
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Stage",
    "AWS::ApiGateway::Account",
)
def api_part(cloud: LocalCloud, logical_id: str, props: dict[str, Any]) -> Provisioned:
    resource_type = cloud.artifact.template["Resources"][logical_id]["Type"]
    cloud.api_resources[logical_id] = (resource_type, props)
    if resource_type == "AWS::ApiGateway::Stage":
        return Provisioned(props["StageName"])
    if resource_type == "AWS::ApiGateway::Resource":
        return Provisioned(cloud.short_id(logical_id), {"ResourceId": cloud.short_id(logical_id)})
    return Provisioned(cloud.short_id(logical_id))
