"""A provider framework's handlers: record each request in a table, complete on the third ask."""

import os
import time

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE"])


def on_event(event, context):
    properties = event["ResourceProperties"]
    if properties.get("Fail"):
        raise ValueError(f"refusing {properties['Fail']}")
    name = properties["Name"]
    if event["RequestType"] == "Delete":
        TABLE.delete_item(Key={"pk": name})
        return {}
    TABLE.put_item(
        Item={
            "pk": name,
            "request": event["RequestType"],
            "size": properties["Size"],
            "asked": [],
            "seen": event,
        }
    )
    data = {
        "Name": name,
        "Stage": "created",
        **({"Pad": "x" * int(properties["Pad"])} if "Pad" in properties else {}),
    }
    return {"PhysicalResourceId": f"thing-{name}", "Data": data}


def is_complete(event, context):
    name = event["ResourceProperties"]["Name"]
    asked = TABLE.get_item(Key={"pk": name})["Item"]["asked"] if event["RequestType"] != "Delete" else []
    asked = [*asked, int(time.time())]
    if event["RequestType"] != "Delete":
        TABLE.update_item(
            Key={"pk": name}, UpdateExpression="SET asked = :a", ExpressionAttributeValues={":a": asked}
        )
    done = event["RequestType"] == "Delete" or (
        len(asked) >= 3 and not event["ResourceProperties"].get("Never")
    )
    return {"IsComplete": done, "Data": {"Stage": "ready", "Asks": str(len(asked))} if done else {}}
