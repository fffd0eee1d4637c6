"""Counts an order with Powertools Metrics (embedded metric format) in the ``Shop`` namespace,
under its ``POWERTOOLS_SERVICE_NAME``: ``OrderPlaced``, or ``OrderFailed`` and then fails (the
decorator flushes on the way out), so its error metric and Lambda's own ``Errors`` both move."""

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics(namespace="Shop")


@metrics.log_metrics
def handler(event, context):
    if event.get("fail"):
        metrics.add_metric(name="OrderFailed", unit=MetricUnit.Count, value=1)
        raise RuntimeError("order failed")
    metrics.add_metric(name="OrderPlaced", unit=MetricUnit.Count, value=1)
    return {"placed": True}
