"""Counts a call with Powertools Metrics (cold start included) before and after invoking ``CALLEE``
synchronously, and logs with Powertools' Logger once it has answered, so what its metrics decorator
flushes and what its log line carries show whether the callee's run changed its state; without
``CALLEE`` it only counts ``Served`` and logs it."""

import json
import os

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()
lambda_client = boto3.client("lambda")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event, context):
    if "CALLEE" not in os.environ:
        metrics.add_metric(name="Served", unit=MetricUnit.Count, value=1)
        logger.info("served")
        return {"served": True}
    metrics.add_metric(name="CallStarted", unit=MetricUnit.Count, value=1)
    response = lambda_client.invoke(FunctionName=os.environ["CALLEE"], Payload=json.dumps({}).encode())
    metrics.add_metric(name="CallAnswered", unit=MetricUnit.Count, value=1)
    logger.info("answered")
    return json.loads(response["Payload"].read())
