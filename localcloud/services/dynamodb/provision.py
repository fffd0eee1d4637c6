"""DynamoDB tables, with streams and time to live."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

_PASSED_THROUGH = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")


@provisions("AWS::DynamoDB::Table")
def table(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    name = props.get("TableName") or cloud.physical_name(logical_id, 255)
    request: dict[str, Any] = {key: props[key] for key in _PASSED_THROUGH if key in props}
    request["BillingMode"] = props.get("BillingMode", "PROVISIONED")
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = props.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    if "StreamSpecification" in props:
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    if "SSESpecification" in props:
        request["SSESpecification"] = {"Enabled": bool(props["SSESpecification"].get("SSEEnabled"))}
    dynamodb = cloud.admin_client("dynamodb")
    description = dynamodb.create_table(TableName=name, **request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )
    attributes = {"Arn": description["TableArn"]}
    if "LatestStreamArn" in description:
        attributes["StreamArn"] = description["LatestStreamArn"]
    return Provisioned(name, attributes)
