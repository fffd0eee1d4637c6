"""What the order-assignment workflow's functions share: the order, the two tables, their errors.

The workflow's input is the order ``{"order_id", "customer_id", "zone"}``. Drivers are items
``{"driver_id", "zone", "status": "available" | "busy", "order_id"?}``, found by zone and status
through the drivers table's index by zone and status, whose name the construct gives in
``DRIVERS_ZONE_STATUS_INDEX`` (the construct that makes the index is its one source). Each function changes a driver or an order
with a conditional write, so a task Step Functions runs twice (a retry after a lost answer) does
its work once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import ClientError

from shared.dynamodb import Table
from shared.validation import Field, InvalidInput, Schema

ORDER = Schema(
    order_id=Field(str, min_length=1, max_length=128),
    customer_id=Field(str, min_length=1, max_length=128),
    zone=Field(str, min_length=1, max_length=64),
    allow_extra=True,  # the workflow adds its own fields (search, assignment, delivery) as it goes
)
AVAILABLE, BUSY = "available", "busy"
#: DynamoDB error codes worth retrying: the workflow's Retry catches them as DriversUnavailable.
THROTTLED = {
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "InternalServerError",
}

client = boto3.client("dynamodb")
drivers_table = Table(os.environ["DRIVERS_TABLE_NAME"], client)
ZONE_STATUS_INDEX = os.environ["DRIVERS_ZONE_STATUS_INDEX"]
orders_table = Table(os.environ["ORDERS_TABLE_NAME"], client)


class InvalidOrder(Exception):
    """The order cannot be assigned as it is: retrying will not help."""


class DriversUnavailable(Exception):
    """The drivers store is throttling or failing for now: the workflow retries with back-off."""


class NoDriverAvailable(Exception):
    """Every candidate driver was taken before this order could claim one."""


def available_driver_ids(zone: str) -> list[str]:
    """Ids of the drivers free in ``zone`` now, from the index (eventually consistent)."""
    found = client.query(
        TableName=drivers_table.name,
        IndexName=ZONE_STATUS_INDEX,
        KeyConditionExpression="#zone = :zone AND #status = :available",
        ExpressionAttributeNames={"#zone": "zone", "#status": "status"},
        ExpressionAttributeValues={":zone": {"S": zone}, ":available": {"S": AVAILABLE}},
        ProjectionExpression="driver_id",
    )
    return [item["driver_id"]["S"] for item in found.get("Items", [])]


def release_driver(driver_id: str, order_id: str) -> bool:
    """Make the driver available again if this order still holds them; whether this call did it."""
    try:
        drivers_table.update_item(
            {"driver_id": driver_id},
            UpdateExpression="SET #status = :available REMOVE order_id",
            ConditionExpression="order_id = :order",
            ExpressionAttributeNames={"#status": "status"},
            values={":available": AVAILABLE, ":order": order_id},
        )
    except drivers_table.ConditionalCheckFailed:
        return False
    return True


@contextmanager
def transient_errors_raised() -> Iterator[None]:
    """Turn the drivers store's throttling into :class:`DriversUnavailable`, which the workflow retries."""
    try:
        yield
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in THROTTLED:
            raise DriversUnavailable(f"the drivers store is unavailable for now: {code}") from None
        raise


def order_of(event: Any) -> dict[str, Any]:
    """The order in a task's input; raises :class:`InvalidOrder` naming every problem."""
    try:
        return ORDER.validate(event)
    except InvalidInput as error:
        raise InvalidOrder(str(error)) from None
