"""A custom resource handler written without the provider framework: it PUTs its answer to the
ResponseURL with urllib3, as AWS's cfnresponse module does."""

import json

import urllib3


def handler(event, context):
    mode = event["ResourceProperties"]["Mode"]
    if mode == "silent":
        return
    body = {
        "Status": "FAILED" if mode == "fail" else "SUCCESS",
        "Reason": "the quota service said no" if mode == "fail" else "",
        "PhysicalResourceId": f"plain-{event['LogicalResourceId']}",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Seen": event["RequestType"], "Mode": mode},
    }
    # As AWS's cfnresponse module sends it.
    urllib3.PoolManager().request(
        "PUT", event["ResponseURL"], body=json.dumps(body), headers={"content-type": ""}
    )
