"""Delivers each request API Gateway stored in SQS to the fulfilment service, through a circuit breaker.

The breaker (``shared/circuit_breaker.py``) keeps the service's circuit in DynamoDB
(``CIRCUIT_TABLE_NAME``, circuit ``CIRCUIT_NAME``), shared with the recovery check
(``recovery.py``). For each SQS record of a batch, in order:

=====================================  ==============================================================
What happened                          the record
=====================================  ==============================================================
already processed (a redelivery)       acknowledged; the service is not called again
request malformed, or its payload      reported failed: the dead-letter queue after maxReceiveCount;
more than the processed table stores   the service is not called
service refused it (400)               reported failed, as malformed; not counted against the circuit
service failed or unreachable          reported failed, counted against the circuit
circuit open, or a probe in flight     reported failed with every record after it, none of them
                                       sent: held in the queue while the recovery check disables
                                       this function's event source mapping
service accepted it                    written once into the processed table (a conditional put)
=====================================  ==============================================================

So an outage costs each stored request at most the receive that found the circuit open: once the
mapping is disabled, SQS keeps the requests with no receive counted, and the recovery check
enables it again when a probe finds the service healthy.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from fulfilment_client import ServiceFailed, breaker, call_fulfilment, dynamodb
from shared.circuit_breaker import CircuitOpen
from shared.dynamodb import Table
from shared.observability import instrument, logger, metrics
from shared.validation import Field, InvalidInput, Schema, parse_json_body, storable

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

CONTRACT = json.loads(Path(__file__).with_name("contract.json").read_text())
REQUEST = Schema(type=Field(str, choices=tuple(CONTRACT["request_types"])), payload=Field(dict))
MAX_REQUEST_ID_LENGTH = 128

processed = Table(os.environ["PROCESSED_TABLE_NAME"], dynamodb)
#: A batch held whole (the circuit open at its first record) is an answer, every record reported, not
#: an invocation error: the function's error metric stays for faults, not for requests waiting.
sqs_processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class HeldBack(Exception):
    """Not sent: the circuit is open, so the request waits in the queue."""


class Batch:
    """One batch's handling: once the circuit is found open, the rest of the batch is held unsent."""

    def __init__(self) -> None:
        self.held = False

    def record(self, record: SQSRecord) -> None:
        if self.held:
            raise HeldBack("held: the circuit is open")
        attribute = record.message_attributes["requestId"]
        # A message another producer sent has no attribute: its message id is stable across redeliveries.
        request_id = attribute.string_value if attribute is not None else record.message_id
        try:
            if not isinstance(request_id, str) or not 0 < len(request_id) <= MAX_REQUEST_ID_LENGTH:
                raise InvalidInput(
                    f"request_id: expected a string of 1 to {MAX_REQUEST_ID_LENGTH} characters"
                )
            request = REQUEST.validate(parse_json_body(record.body))
            # DynamoDB takes no floats: JSON numbers as Decimal, refused before the call if the
            # processed table could not store them (the service would accept it on every receive).
            payload = storable("payload", json.loads(json.dumps(request["payload"]), parse_float=Decimal))
            if processed.get_item({"request_id": request_id}, ConsistentRead=True) is not None:
                logger.info("request already processed", extra={"request_id": request_id})
                metrics.add_metric(name="DuplicateRequests", unit=MetricUnit.Count, value=1)
                return
            breaker.call(lambda: call_fulfilment({"request_id": request_id, **request}))
        except CircuitOpen as open_:
            self.held = True
            logger.info(
                "circuit open: holding the batch", extra={"request_id": request_id, "reason": str(open_)}
            )
            metrics.add_metric(name="RequestsHeld", unit=MetricUnit.Count, value=1)
            raise
        except InvalidInput as error:
            logger.warning("rejected request", extra={"request_id": request_id, "reason": str(error)})
            metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
            raise
        except ServiceFailed as failure:
            logger.warning("fulfilment failed", extra={"request_id": request_id, "reason": str(failure)})
            raise
        item = {
            "request_id": request_id,
            "type": request["type"],
            "payload": payload,
            "processed_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        try:
            processed.put_item(item, ConditionExpression="attribute_not_exists(request_id)")
        except processed.ConditionalCheckFailed:
            logger.info("request already processed", extra={"request_id": request_id})
            return
        logger.info("request processed", extra={"request_id": request_id, "type": request["type"]})
        metrics.add_metric(name="RequestsProcessed", unit=MetricUnit.Count, value=1)


@instrument
def sqs_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batch: failed and held messages are reported as batch item failures and stay in the queue."""
    return process_partial_response(
        event=event, record_handler=Batch().record, processor=sqs_processor, context=context
    )
