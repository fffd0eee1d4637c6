"""The order-assignment workflow's cancellation when its driver has moved on, against moto: a driver
now serving another order is left alone, and the answer says no driver was released."""

from __future__ import annotations

import pytest

from tests.unit import test_state_machine as row
from tests.unit.test_state_machine import assigned, driver, get

pytestmark = pytest.mark.unit

#: The row's fixtures: its tables, and a fresh ``workflow`` module for each test.
dynamodb, load, fresh_workflow = row.dynamodb, row.load, row.fresh_workflow


def test_a_cancellation_leaves_a_driver_now_on_another_order_alone(load, dynamodb, lambda_context):
    event = {**assigned(dynamodb), "failure": {"Error": "DeliveryFailed", "Cause": "nobody home"}}
    driver(dynamodb, "d-1", status="busy", order="o-2")
    answer = load("cancel_order").handler(event, lambda_context)
    assert answer == {
        "order_id": "o-1",
        "status": "cancelled",
        "reason": "DeliveryFailed",
        "driver_released": False,
    }
    assert get(dynamodb, "drivers", "driver_id", "d-1") == {
        "driver_id": "d-1",
        "zone": "north",
        "status": "busy",
        "order_id": "o-2",
    }
