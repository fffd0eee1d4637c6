"""A WebSocket route handler that shows what API Gateway gave it and uses the management API."""

import json
import os

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["EVENTS_TABLE"])


def _management(context, stage=None):
    endpoint = f"https://{context['domainName']}/{stage or context['stage']}"
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)


def management_error(context):
    return _management(context).exceptions.ClientError


def handler(event, _context):
    context = event["requestContext"]
    route = context["routeKey"]
    connection = context["connectionId"]
    if route in ("$connect", "$disconnect"):
        query = event.get("queryStringParameters") or {}
        if query.get("refuse"):
            return {"statusCode": int(query["refuse"])}
        if query.get("boom"):
            raise RuntimeError("connect blew up")
        item = {"pk": f"{route}#{connection}", "event": json.dumps(event)}
        if query.get("selfpost"):  # the connection is not open until $connect returns
            try:
                _management(context).post_to_connection(ConnectionId=connection, Data=b"too soon")
            except management_error(context) as error:
                item["selfpost"] = error.response["Error"]["Code"]
        TABLE.put_item(Item=item)
        return {"statusCode": 200}
    if route == "$default":
        return {"statusCode": 200, "body": f"default:{event['body']}"}
    body = json.loads(event["body"])
    management = _management(context)
    if route == "echo":
        management.post_to_connection(ConnectionId=connection, Data=json.dumps(event).encode())
        return {"statusCode": 200, "body": "ack"}
    if route == "whoami":
        found = management.get_connection(ConnectionId=body.get("id", connection))
        return {"statusCode": 200, "body": json.dumps(found, default=str)}
    if route == "post":
        management = _management(context, body.get("stage"))
        try:
            data = body.get("data") or "x" * body.get("size", 0)
            management.post_to_connection(ConnectionId=body["to"], Data=data.encode())
        except management.exceptions.ClientError as error:
            return {"statusCode": 200, "body": error.response["Error"]["Code"]}
        return {"statusCode": 200, "body": "sent"}
    if route == "kick":
        management.delete_connection(ConnectionId=body.get("id", connection))
        return {"statusCode": 200, "body": "kicked"}  # not sent: the route has no route response
    if route == "fail":
        raise RuntimeError("route blew up")
    return {"statusCode": 400, "body": f"no route {route}"}
