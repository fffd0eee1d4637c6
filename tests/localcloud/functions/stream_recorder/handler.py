"""Logs every Kinesis or DynamoDB stream record it gets, in the order it gets them.

A record whose body has ``poison`` fails every time, one with ``fail_once`` the first time only:
the whole batch raises, or with ``REPORT_FAILURES`` the record is reported as a batch item failure.
"""

import base64
import itertools
import json
import os

import boto3

dynamodb = boto3.client("dynamodb")
TABLE = os.environ["TABLE_NAME"]
REPORT = os.environ.get("REPORT_FAILURES") == "true"
position = itertools.count()


def body(record):
    if "kinesis" in record:
        return json.loads(base64.b64decode(record["kinesis"]["data"]))
    image = record["dynamodb"].get("NewImage", {})
    return {name: next(iter(value.values())) for name, value in image.items()}


def sequence(record):
    return (
        record["kinesis"]["sequenceNumber"] if "kinesis" in record else record["dynamodb"]["SequenceNumber"]
    )


def first_failure(record_id):
    try:
        dynamodb.put_item(
            TableName=TABLE,
            Item={"pk": {"S": f"failed#{record_id}"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def handler(event, context):
    failures = []
    for record in event["Records"]:
        data = body(record)
        dynamodb.put_item(
            TableName=TABLE,
            Item={
                "pk": {"S": f"{context.function_name}#{next(position):04d}"},
                "id": {"S": data["id"]},
                "sequence": {"S": sequence(record)},
                "record": {"S": json.dumps(record)},
            },
        )
        if data.get("poison") or (data.get("fail_once") and first_failure(data["id"])):
            if not REPORT:
                raise ValueError(f"cannot process {data['id']}")
            failures.append({"itemIdentifier": sequence(record)})
    return {"batchItemFailures": failures}
