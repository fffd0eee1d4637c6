"""Counts a call with Powertools Metrics (cold start included) before and after invoking ``CALLEE``
synchronously, so what its decorator flushes on the way out shows whose metrics the callee's flush
took; without ``CALLEE`` it only counts ``Served``."""

import json
import os

import boto3
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics(namespace="Shop")
lambda_client = boto3.client("lambda")


@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event, context):
    if "CALLEE" not in os.environ:
        metrics.add_metric(name="Served", unit=MetricUnit.Count, value=1)
        return {"served": True}
    metrics.add_metric(name="CallStarted", unit=MetricUnit.Count, value=1)
    response = lambda_client.invoke(FunctionName=os.environ["CALLEE"], Payload=json.dumps({}).encode())
    metrics.add_metric(name="CallAnswered", unit=MetricUnit.Count, value=1)
    return json.loads(response["Payload"].read())
