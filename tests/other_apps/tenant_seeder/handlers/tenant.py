import os
import time

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def on_event(event, context):
    props = event["ResourceProperties"]
    tenant_id = props["TenantId"]
    if event["RequestType"] == "Create":
        defaults = table.get_item(Key={"id": "defaults"})["Item"]
        table.put_item(
            Item={
                "id": tenant_id,
                "plan": props.get("Plan", defaults["plan"]),
                "seats": defaults["seats"],
                "status": "PENDING",
                "requested_at": int(time.time()),
            }
        )
        return {"PhysicalResourceId": f"tenant-{tenant_id}"}
    if event["RequestType"] == "Delete":
        table.delete_item(Key={"id": tenant_id})
    return {"PhysicalResourceId": event["PhysicalResourceId"]}


def is_complete(event, context):
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}
    tenant_id = event["ResourceProperties"]["TenantId"]
    tenant = table.get_item(Key={"id": tenant_id})["Item"]
    if tenant["status"] == "PENDING":
        table.update_item(
            Key={"id": tenant_id},
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": "PROVISIONING"},
        )
        return {"IsComplete": False}
    table.update_item(
        Key={"id": tenant_id},
        UpdateExpression="SET #s = :s, ready_at = :t",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "ACTIVE", ":t": int(time.time())},
    )
    return {"IsComplete": True, "Data": {"Status": "ACTIVE"}}
