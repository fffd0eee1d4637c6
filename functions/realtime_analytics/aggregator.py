"""Aggregate metric values per tumbling window of a Kinesis stream; write each window once and alert
once on an anomaly.

A record is ``{"metric": "checkout.latency_ms", "value": 182}`` put with its metric as partition
key. Lambda hands the records of one shard's window over in several invocations, each with the
``state`` the previous one answered: here ``{"metrics": {metric: [count, sum, min, max]}}``, numbers
as decimal strings so sums are exact (no float rounding, whatever the order of addition). The
window's final invocation (``isFinalInvokeForWindow``; records it carries, if any, are added first)
writes one item per metric, ``{metric, window: "<start>#<shard>", count, sum, min, max, avg, ...}``,
with a put conditional on the item not existing: a replayed final invocation (it failed after some
writes, say) writes only what is missing. A metric that breaks an anomaly rule (a threshold on a
statistic) is written with ``alert: "pending"``; the alert is published, then the item marked
``sent``, so a replay publishes what a failed attempt did not and nothing twice unless the function
dies between the two calls.

A bad record (not JSON, a field missing or out of range, a partition key that is not its metric)
does not fail the batch: a permanently bad record would only be retried and bisected, holding its
shard's window back, before being given up on. It is counted (``RecordsRejected``) and sent to the
failure queue with its reason, shard, sequence number and data, so nothing is dropped unseen.

Example::

    handler(window_event, context)  # {"state": {...}}; at the window's end: writes items, alerts
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
from datetime import datetime
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import KinesisStreamEvent, event_source
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from shared.dynamodb import Table, from_attributes
from shared.observability import instrument, logger, metrics
from shared.validation import InvalidInput, key_value

table = Table(os.environ["TABLE_NAME"])
sns = boto3.client("sns")
sqs = boto3.client("sqs")
TOPIC_ARN = os.environ["TOPIC_ARN"]
FAILURE_QUEUE_URL = os.environ["FAILURE_QUEUE_URL"]
RETENTION_SECONDS = int(os.environ["RETENTION_SECONDS"])

#: Distinct metrics one shard's window keeps; a record of one more is rejected. With names of at most
#: MAX_METRIC_LENGTH and values of at most MAX_DIGITS digits, the state stays far under Lambda's 1 MB.
MAX_METRICS = 1000
MAX_METRIC_LENGTH = 128
#: Values: at most 12 digits before the point and 6 after, so a window's sum stays exact in Decimal.
MAX_MAGNITUDE = Decimal(10) ** 12
MAX_DECIMALS = 6
#: A rejected record's data kept in its failure message (SQS takes 256 KB; a Kinesis record up to 1 MB).
MAX_REJECTED_DATA = 64 * 1024
SQS_BATCH = 10
STATISTICS = ("count", "sum", "min", "max", "avg")


class Rule:
    """A threshold on one window statistic of the metrics ``metric`` matches (``*``, ``?``)."""

    def __init__(self, metric: str, statistic: str, above: float | None, below: float | None) -> None:
        if statistic not in STATISTICS or (above is None and below is None):
            raise ValueError(
                f"ANOMALY_RULES: bad rule for {metric!r}: {statistic}, above={above}, below={below}"
            )
        self.metric, self.statistic = metric, statistic
        self.above = None if above is None else Decimal(str(above))
        self.below = None if below is None else Decimal(str(below))

    def broken_by(self, metric: str, aggregate: dict[str, Any]) -> dict[str, Any] | None:
        """What this rule says of ``metric``'s window, if it breaks the rule."""
        if not fnmatch.fnmatchcase(metric, self.metric):
            return None
        value = aggregate[self.statistic]
        if self.above is not None and value > self.above:
            return {"rule": self.metric, "statistic": self.statistic, "value": value, "above": self.above}
        if self.below is not None and value < self.below:
            return {"rule": self.metric, "statistic": self.statistic, "value": value, "below": self.below}
        return None


RULES = [Rule(**rule) for rule in json.loads(os.environ.get("ANOMALY_RULES", "[]"))]


def measurement(record: KinesisStreamRecord) -> tuple[str, Decimal]:
    """The record's metric and value, or :class:`InvalidInput` naming what is wrong."""
    try:
        data = json.loads(base64.b64decode(record.kinesis.data).decode("utf-8"), parse_float=Decimal)
    except UnicodeDecodeError:
        raise InvalidInput("data: not UTF-8 text") from None
    except ValueError as error:
        raise InvalidInput(f"data: not valid JSON ({error})") from None
    except RecursionError:  # nesting deeper than the parser follows: a bad record, not a failed batch
        raise InvalidInput("data: not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise InvalidInput("data: expected a JSON object")
    unknown = sorted(set(data) - {"metric", "value"})
    if unknown:
        raise InvalidInput(f"{unknown[0][:64]}: unknown field")
    metric, value = data.get("metric"), data.get("value")
    if not isinstance(metric, str) or not 1 <= len(metric) <= MAX_METRIC_LENGTH:
        raise InvalidInput(f"metric: required, a string of 1 to {MAX_METRIC_LENGTH} characters")
    key_value("metric", metric)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise InvalidInput("value: required, a number")
    value = Decimal(value)
    if not value.is_finite() or abs(value) >= MAX_MAGNITUDE:
        raise InvalidInput(f"value: must be less than {MAX_MAGNITUDE:,} in magnitude")
    if value.as_tuple().exponent < -MAX_DECIMALS:  # type: ignore[operator]
        raise InvalidInput(f"value: at most {MAX_DECIMALS} decimal places")
    if record.kinesis.partition_key != metric:
        raise InvalidInput(
            f"partitionKey: {record.kinesis.partition_key[:64]!r} is not the record's metric; a metric's "
            "values must share its partition key so one shard's window holds all of them"
        )
    return metric, value


def add(state: dict[str, Any], metric: str, value: Decimal) -> None:
    """Count ``value`` in ``metric``'s aggregate: ``[count, sum, min, max]``, numbers as strings."""
    known = state.setdefault("metrics", {})
    if metric not in known and len(known) >= MAX_METRICS:
        raise InvalidInput(f"metric: this window already holds {MAX_METRICS} metrics")
    count, total, low, high = known.get(metric, [0, "0", str(value), str(value)])
    known[metric] = [
        count + 1,
        str(Decimal(total) + value),
        str(min(Decimal(low), value)),
        str(max(Decimal(high), value)),
    ]


def aggregate(metric_state: list[Any]) -> dict[str, Any]:
    count, total, low, high = metric_state
    total = Decimal(total)
    average = (total / count).quantize(Decimal(1).scaleb(-MAX_DECIMALS))
    return {"count": count, "sum": total, "min": Decimal(low), "max": Decimal(high), "avg": average}


def reject(record: KinesisStreamRecord, shard: str, reason: str) -> dict[str, Any]:
    raw = record.kinesis.data
    return {
        "rejected": {
            "reason": reason,
            "shardId": shard,
            "sequenceNumber": record.kinesis.sequence_number,
            "partitionKey": record.kinesis.partition_key,
            "approximateArrivalTimestamp": record.kinesis.approximate_arrival_timestamp,
            "data": raw[:MAX_REJECTED_DATA],
            "dataTruncated": len(raw) > MAX_REJECTED_DATA,
        }
    }


def send_rejected(messages: list[dict[str, Any]]) -> None:
    """Hand bad records to the failure queue, ten at a time; a refused entry fails the batch."""
    for start in range(0, len(messages), SQS_BATCH):
        entries = [
            {"Id": str(n), "MessageBody": json.dumps(m)}
            for n, m in enumerate(messages[start : start + SQS_BATCH])
        ]
        answer = sqs.send_message_batch(QueueUrl=FAILURE_QUEUE_URL, Entries=entries)
        if answer.get("Failed"):
            raise RuntimeError(f"the failure queue refused {len(answer['Failed'])} rejected record(s)")


def accumulate(event: KinesisStreamEvent) -> dict[str, Any]:
    """Add the batch's good records to the window's state; count and hand on the bad ones."""
    state = dict(event.state or {})
    state["metrics"] = dict(state.get("metrics", {}))
    rejected = []
    records = list(event.records)
    for record in records:
        try:
            add(state, *measurement(record))
        except InvalidInput as error:
            logger.warning(
                "rejected record", extra={"reason": str(error), "sequence": record.kinesis.sequence_number}
            )
            rejected.append(reject(record, event.shard_id or "", str(error)))
    if rejected:
        send_rejected(rejected)
        metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=len(rejected))
    metrics.add_metric(name="RecordsAggregated", unit=MetricUnit.Count, value=len(records) - len(rejected))
    return state


def window_item(metric: str, metric_state: list[Any], event: KinesisStreamEvent) -> dict[str, Any]:
    window = event.window
    end = datetime.fromisoformat(window.end.replace("Z", "+00:00"))
    figures = aggregate(metric_state)
    item = {
        "metric": metric,
        "window": f"{window.start}#{event.shard_id}",
        "window_start": window.start,
        "window_end": window.end,
        "shard_id": event.shard_id,
        **figures,
        "expires_at": int(end.timestamp()) + RETENTION_SECONDS,
    }
    anomalies = [found for rule in RULES if (found := rule.broken_by(metric, figures))]
    if anomalies:
        item.update(anomalies=anomalies, alert="pending")
    return item


def write_once(item: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Put the window's item unless it is there; the item as stored, and whether this put wrote it."""
    try:
        table.put_item(
            item,
            ConditionExpression="attribute_not_exists(#metric)",
            ExpressionAttributeNames={"#metric": "metric"},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except table.ConditionalCheckFailed as error:
        return from_attributes(error.response["Item"]), False
    return item, True


def alert(item: dict[str, Any]) -> None:
    """Publish the item's anomaly, then mark it sent, so a replay publishes only what is pending."""
    message = {
        "metric": item["metric"],
        "windowStart": item["window_start"],
        "windowEnd": item["window_end"],
        "shardId": item["shard_id"],
        "anomalies": item["anomalies"],
        **{name: item[name] for name in STATISTICS},
    }
    sns.publish(
        TopicArn=TOPIC_ARN,
        Subject=f"Anomaly in {item['metric']}"[:100],
        Message=json.dumps(message, default=str),
        MessageAttributes={"metric": {"DataType": "String", "StringValue": item["metric"]}},
    )
    table.update_item(
        {"metric": item["metric"], "window": item["window"]},
        UpdateExpression="SET #alert = :sent",
        ConditionExpression="#alert = :pending",
        ExpressionAttributeNames={"#alert": "alert"},
        values={":sent": "sent", ":pending": "pending"},
    )
    metrics.add_metric(name="AnomalyAlerts", unit=MetricUnit.Count, value=1)


def close(event: KinesisStreamEvent, state: dict[str, Any]) -> None:
    """Write the window's items once each and raise each pending alert once."""
    written = 0
    for metric, metric_state in sorted(state.get("metrics", {}).items()):
        item, wrote = write_once(window_item(metric, metric_state, event))
        written += wrote
        if item.get("alert") == "pending":
            alert(item)
    replayed = len(state.get("metrics", {})) - written
    if replayed:
        logger.info("window already written", extra={"window": event.window.start, "items": replayed})
        metrics.add_metric(name="WindowItemsReplayed", unit=MetricUnit.Count, value=replayed)
    metrics.add_metric(name="WindowItemsWritten", unit=MetricUnit.Count, value=written)
    logger.info(
        "window closed", extra={"window": event.window.start, "shard": event.shard_id, "items": written}
    )


@instrument
@event_source(data_class=KinesisStreamEvent)
def handler(event: KinesisStreamEvent, context: Any) -> dict[str, Any]:
    """Aggregate a batch into the window's state, or, at the window's end, write and alert."""
    if event.is_final_invoke_for_window:
        # The final invocation normally carries no records; any it does carry still count.
        close(event, accumulate(event) if event.raw_event.get("Records") else event.state or {})
        return {}
    return {"state": accumulate(event)}
