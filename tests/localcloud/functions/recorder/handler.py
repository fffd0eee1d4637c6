"""Records every SQS message it gets; a body starting with "poison" fails (alone, or the batch), one
starting with "unknown" is reported failed under an identifier that is no message's.

On a FIFO queue, a failure also fails the rest of its message group in the batch, unprocessed, as
AWS asks of FIFO consumers (so the group's order is kept).
"""

import os

import boto3

table = boto3.client("dynamodb")
TABLE = os.environ["TABLE_NAME"]
REPORT = os.environ.get("REPORT_FAILURES") == "true"


def handler(event, context):
    failures = []
    failed_groups = set()
    for record in event["Records"]:
        body = record["body"]
        group = record["attributes"].get("MessageGroupId", "-")
        if group in failed_groups:
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        table.put_item(
            TableName=TABLE,
            Item={
                "pk": {"S": f"{body}#{record['attributes']['ApproximateReceiveCount']}"},
                "body": {"S": body},
                "group": {"S": group},
            },
        )
        if body.startswith("poison"):
            if not REPORT:
                raise ValueError(f"cannot process {body}")
            failures.append({"itemIdentifier": record["messageId"]})
            if group != "-":
                failed_groups.add(group)
        if body.startswith("unknown"):
            failures.append({"itemIdentifier": f"not-{record['messageId']}"})
    return {"batchItemFailures": failures}
