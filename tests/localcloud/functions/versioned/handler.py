"""Answers which version of it ran, with what configuration: a version is a snapshot of both."""

import json
import os


def handler(event, context):
    answer = {
        "version": context.function_version,
        "env_version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
        "colour": os.environ["COLOUR"],
        "memory": context.memory_limit_in_mb,
    }
    if "httpMethod" in event:
        return {"statusCode": 200, "body": json.dumps(answer)}
    return answer
