"""The order-assignment workflow offline: a delivered order, a throttled assignment retried with
back-off, no driver within the bounded wait, and failures that cancel the order and free the driver."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

ORDER = {"order_id": "o-1", "customer_id": "c-1", "zone": "north"}


def seed(cloud, *driver_ids: str, zone: str = "north") -> None:
    for driver_id in driver_ids:
        cloud.client("dynamodb").put_item(
            TableName=cloud.outputs["DriversTableName"],
            Item={"driver_id": {"S": driver_id}, "zone": {"S": zone}, "status": {"S": "available"}},
        )


def item(cloud, table: str, key: str, value: str) -> dict:
    found = cloud.client("dynamodb").get_item(TableName=cloud.outputs[table], Key={key: {"S": value}})
    return {name: next(iter(attribute.values())) for name, attribute in found.get("Item", {}).items()}


def start(cloud, order: dict):
    return cloud.start_execution(cloud.outputs["StateMachineArn"], order)


def report(cloud, **delivery) -> dict:
    return cloud.invoke(cloud.outputs["ConfirmDeliveryFunctionName"], delivery)["Payload"]


def test_an_order_is_assigned_notified_delivered_and_receipted(local_cloud):
    cloud = local_cloud("state_machine")
    seed(cloud, "d-1")
    execution = start(cloud, ORDER)
    cloud.drain()

    assert execution.status == "RUNNING"  # waiting for the driver's report, for nothing
    assert execution.states() == [
        "LoadDrivers",
        "DriverAvailable?",
        "AssignDriver",
        "NotifyCustomer",
        "AwaitDelivery",
    ]
    assert item(cloud, "OrdersTableName", "order_id", "o-1")["status"] == "en_route"
    assert item(cloud, "DriversTableName", "driver_id", "d-1")["status"] == "busy"
    [scheduled] = [
        e["taskScheduledEventDetails"]
        for e in execution.history()
        if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resourceType"] == "sns"
    ]
    assert json.loads(scheduled["parameters"])["Message"] == {
        "order_id": "o-1",
        "customer_id": "c-1",
        "driver_id": "d-1",
        "status": "on_the_way",
    }
    topic = cloud.outputs["NotificationTopicArn"].rsplit(":", 1)[-1]
    assert cloud.trace.find("send", target=f"sns:{topic}")

    assert report(cloud, order_id="o-1", delivered=True) == {"statusCode": 202}
    cloud.drain()

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["driver_id"] == "d-1"
    order = item(cloud, "OrdersTableName", "order_id", "o-1")
    assert (order["status"], order["receipt"]["driver_id"]["S"]) == ("delivered", "d-1")
    assert "task_token" not in order
    assert item(cloud, "DriversTableName", "driver_id", "d-1")["status"] == "available"


def test_the_execution_is_logged_without_the_customers_data(local_cloud):
    cloud = local_cloud("state_machine")
    seed(cloud, "d-1")
    start(cloud, ORDER)
    cloud.drain()
    events = cloud.client("logs").filter_log_events(logGroupName=cloud.outputs["ExecutionLogGroupName"])[
        "events"
    ]
    assert [json.loads(e["message"])["type"] for e in events][:2] == ["ExecutionStarted", "TaskStateEntered"]
    assert not any("c-1" in e["message"] for e in events)


def test_a_throttled_assignment_is_retried_with_back_off_and_succeeds(local_cloud):
    """The assigner runs one at a time (reserved concurrency 1). While it works on one order for
    3 s, the other order's assignment is throttled, retried 2 s later (still busy), then 4 s after
    that, and succeeds."""
    cloud = local_cloud("state_machine")
    seed(cloud, "d-1", "d-2")
    assigner = cloud.function("Pattern/AssignDriver")
    assigner.duration = 3
    first, second = start(cloud, ORDER), start(cloud, {**ORDER, "order_id": "o-2"})
    cloud.drain()

    assert [s.at for s in cloud.trace.find("throttle", target=assigner.name)] == [0, 2]
    assert [s.at for s in cloud.trace.find("invoke", target=assigner.name)] == [0, 6]
    throttled = [e["taskFailedEventDetails"]["error"] for e in second.history() if e["type"] == "TaskFailed"]
    assert throttled == ["Lambda.TooManyRequestsException"] * 2
    assert {item(cloud, "OrdersTableName", "order_id", o)["driver_id"] for o in ("o-1", "o-2")} == {
        "d-1",
        "d-2",
    }
    assert (first.status, second.states()[-1]) == ("RUNNING", "AwaitDelivery")


def test_without_a_driver_the_workflow_looks_again_then_cancels_after_its_last_look(local_cloud):
    cloud = local_cloud("state_machine")
    execution = start(cloud, ORDER)
    cloud.advance(239)
    assert execution.status == "RUNNING"
    cloud.advance(1)

    loads = cloud.trace.find("invoke", target=cloud.function("Pattern/LoadDrivers").name)
    assert [s.at for s in loads] == [0, 60, 120, 180, 240]  # five looks, a minute apart
    assert (execution.status, execution.error, execution.cause) == (
        "FAILED",
        "OrderCancelled",
        "NoDriverAvailable",
    )
    assert execution.states()[-3:] == ["NoDriverFound", "CancelOrder", "Cancelled"]
    order = item(cloud, "OrdersTableName", "order_id", "o-1")
    assert (order["status"], order["reason"]) == ("cancelled", "NoDriverAvailable")


def test_a_driver_who_comes_free_during_the_wait_gets_the_order(local_cloud):
    cloud = local_cloud("state_machine")
    execution = start(cloud, ORDER)
    cloud.advance(30)
    seed(cloud, "d-7")
    cloud.advance(30)
    assert execution.states()[-1] == "AwaitDelivery"
    assert item(cloud, "OrdersTableName", "order_id", "o-1")["driver_id"] == "d-7"


def test_a_failed_delivery_cancels_the_order_and_frees_the_driver(local_cloud):
    cloud = local_cloud("state_machine")
    seed(cloud, "d-1")
    execution = start(cloud, ORDER)
    cloud.drain()

    assert report(cloud, order_id="o-1", delivered=False, reason="nobody at the door") == {"statusCode": 202}
    cloud.drain()

    assert (execution.status, execution.error, execution.cause) == (
        "FAILED",
        "OrderCancelled",
        "DeliveryFailed",
    )
    assert execution.states()[-3:] == ["AwaitDelivery", "CancelOrder", "Cancelled"]
    order = item(cloud, "OrdersTableName", "order_id", "o-1")
    assert (order["status"], order["reason"]) == ("cancelled", "DeliveryFailed")
    assert item(cloud, "DriversTableName", "driver_id", "d-1")["status"] == "available"
    assert report(cloud, order_id="o-1", delivered=True)["statusCode"] == 404  # no longer out for delivery


def test_a_delivery_never_reported_times_out_and_is_compensated(local_cloud):
    cloud = local_cloud("state_machine")
    seed(cloud, "d-1")
    execution = start(cloud, ORDER)
    cloud.advance(2 * 3600 - 1)
    assert execution.status == "RUNNING"
    cloud.advance(1)

    assert (execution.status, execution.cause) == ("FAILED", "States.Timeout")
    assert item(cloud, "DriversTableName", "driver_id", "d-1")["status"] == "available"
    assert item(cloud, "OrdersTableName", "order_id", "o-1")["status"] == "cancelled"


def test_an_invalid_order_is_cancelled_at_once_without_retries(local_cloud):
    cloud = local_cloud("state_machine")
    execution = start(cloud, {"order_id": "o-9", "zone": "north"})
    cloud.drain()

    assert (execution.status, execution.cause) == ("FAILED", "InvalidOrder")
    assert len(cloud.trace.find("invoke", target=cloud.function("Pattern/LoadDrivers").name)) == 1
    assert cloud.clock.elapsed() == 0
    assert item(cloud, "OrdersTableName", "order_id", "o-9") == {}  # nothing recorded for a malformed order


def test_the_driver_app_gets_clear_answers_for_bad_reports(local_cloud):
    cloud = local_cloud("state_machine")
    assert report(cloud, order_id="o-404", delivered=True)["statusCode"] == 404
    refused = report(cloud, order_id="o-1", delivered="yes")
    assert refused == {
        "statusCode": 400,
        "error": {"code": "InvalidReport", "message": "delivered: expected boolean, got string"},
    }
