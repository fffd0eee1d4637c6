"""The order-assignment workflow's functions, each on its own against moto."""

from __future__ import annotations

import sys

import boto3
import pytest
from botocore.stub import Stubber

from patterns.state_machine import ZONE_STATUS_INDEX
from tests.unit.limits import case_id, length_limits, refused

pytestmark = pytest.mark.unit

ORDER = {"order_id": "o-1", "customer_id": "c-1", "zone": "north"}
TABLES = {
    "DRIVERS_TABLE_NAME": "drivers",
    "DRIVERS_ZONE_STATUS_INDEX": ZONE_STATUS_INDEX,
    "ORDERS_TABLE_NAME": "orders",
}


@pytest.fixture(autouse=True)
def fresh_workflow(monkeypatch):
    """``workflow`` is a top-level module of this pattern's folder: load ours, not another's."""
    monkeypatch.delitem(sys.modules, "workflow", raising=False)


@pytest.fixture
def dynamodb(aws):
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName="drivers",
        KeySchema=[{"AttributeName": "driver_id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("driver_id", "zone", "status")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": ZONE_STATUS_INDEX,
                "KeySchema": [
                    {"AttributeName": "zone", "KeyType": "HASH"},
                    {"AttributeName": "status", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def driver(
    dynamodb, driver_id: str, zone: str = "north", status: str = "available", order: str | None = None
):
    item = {"driver_id": {"S": driver_id}, "zone": {"S": zone}, "status": {"S": status}}
    if order:
        item["order_id"] = {"S": order}
    dynamodb.put_item(TableName="drivers", Item=item)


def get(dynamodb, table: str, key: str, value: str) -> dict:
    found = dynamodb.get_item(TableName=table, Key={key: {"S": value}}).get("Item", {})
    return {name: next(iter(attribute.values())) for name, attribute in found.items()}


@pytest.fixture
def load(load_handler, dynamodb):
    return lambda module: load_handler("state_machine", module, **TABLES)


# --------------------------------------------------------------------------------------------- load drivers


def test_load_drivers_counts_the_available_drivers_of_the_zone_and_the_looks(load, dynamodb, lambda_context):
    driver(dynamodb, "d-1")
    driver(dynamodb, "d-2", status="busy", order="o-0")
    driver(dynamodb, "d-3", zone="south")
    handler = load("load_drivers").handler
    assert handler(ORDER, lambda_context) == {"available": 1, "attempt": 1}
    assert handler({**ORDER, "search": {"available": 0, "attempt": 3}}, lambda_context) == {
        "available": 1,
        "attempt": 4,
    }


def test_load_drivers_refuses_an_invalid_order_naming_every_problem(load, lambda_context):
    module = load("load_drivers")
    with pytest.raises(
        module.order_of.__globals__["InvalidOrder"], match="customer_id: required; zone: required"
    ):
        module.handler({"order_id": "o-1"}, lambda_context)


def test_a_throttled_drivers_store_is_a_transient_error(load, lambda_context):
    module = load("load_drivers")
    workflow = sys.modules["workflow"]
    with Stubber(workflow.client) as stubber:
        stubber.add_client_error("query", "ProvisionedThroughputExceededException", http_status_code=400)
        with pytest.raises(workflow.DriversUnavailable, match="ProvisionedThroughputExceededException"):
            module.handler(ORDER, lambda_context)
        stubber.add_client_error("query", "AccessDeniedException", http_status_code=400)
        with pytest.raises(workflow.client.exceptions.ClientError, match="AccessDenied"):
            module.handler(ORDER, lambda_context)  # not transient: the workflow cancels the order


def test_drivers_are_found_through_the_index_the_construct_names(load_handler, lambda_context):
    """The functions have no index name of their own: the one in DRIVERS_ZONE_STATUS_INDEX is queried."""
    module = load_handler(
        "state_machine", "load_drivers", **{**TABLES, "DRIVERS_ZONE_STATUS_INDEX": "ByArea"}
    )
    with Stubber(sys.modules["workflow"].client) as stubber:
        stubber.add_response(
            "query",
            {"Items": []},
            {
                "TableName": "drivers",
                "IndexName": "ByArea",
                "KeyConditionExpression": "#zone = :zone AND #status = :available",
                "ExpressionAttributeNames": {"#zone": "zone", "#status": "status"},
                "ExpressionAttributeValues": {":zone": {"S": "north"}, ":available": {"S": "available"}},
                "ProjectionExpression": "driver_id",
            },
        )
        assert module.handler(ORDER, lambda_context) == {"available": 0, "attempt": 1}


# --------------------------------------------------------------------------------------------- assign


def test_assign_claims_one_driver_and_records_the_order(load, dynamodb, lambda_context):
    driver(dynamodb, "d-1")
    handler = load("assign_driver").handler
    assert handler(ORDER, lambda_context) == {"driver_id": "d-1"}
    assert get(dynamodb, "drivers", "driver_id", "d-1") == {
        "driver_id": "d-1",
        "zone": "north",
        "status": "busy",
        "order_id": "o-1",
    }
    order = get(dynamodb, "orders", "order_id", "o-1")
    assert (order["status"], order["driver_id"], order["customer_id"]) == ("assigned", "d-1", "c-1")


def test_a_retried_assignment_answers_the_same_driver_without_claiming_another(
    load, dynamodb, lambda_context
):
    driver(dynamodb, "d-1")
    driver(dynamodb, "d-2")
    handler = load("assign_driver").handler
    first = handler(ORDER, lambda_context)
    assert handler(ORDER, lambda_context) == first
    statuses = {d: get(dynamodb, "drivers", "driver_id", d)["status"] for d in ("d-1", "d-2")}
    assert sorted(statuses.values()) == ["available", "busy"]


def test_a_driver_taken_meanwhile_is_skipped_and_none_left_is_no_driver(
    load, dynamodb, lambda_context, monkeypatch
):
    module = load("assign_driver")
    driver(dynamodb, "d-1", status="busy", order="o-0")  # taken after the index was read
    driver(dynamodb, "d-2")
    monkeypatch.setattr(module, "available_driver_ids", lambda zone: ["d-1", "d-2"])
    assert module.handler(ORDER, lambda_context) == {"driver_id": "d-2"}
    with pytest.raises(module.NoDriverAvailable, match="every available driver in zone north was taken"):
        module.handler({**ORDER, "order_id": "o-2"}, lambda_context)


# --------------------------------------------------------------------------------------------- delivery


def test_await_delivery_stores_the_token_on_the_order(load, dynamodb, lambda_context):
    dynamodb.put_item(TableName="orders", Item={"order_id": {"S": "o-1"}, "driver_id": {"S": "d-1"}})
    handler = load("await_delivery").handler
    handover = {"order_id": "o-1", "driver_id": "d-1", "task_token": "token-1"}
    assert handler(handover, lambda_context) == {"order_id": "o-1", "status": "en_route"}
    order = get(dynamodb, "orders", "order_id", "o-1")
    assert (order["status"], order["task_token"]) == ("en_route", "token-1")
    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        handler({**handover, "driver_id": "d-9"}, lambda_context)  # not this order's driver


@pytest.fixture
def confirm(load, dynamodb):
    dynamodb.put_item(
        TableName="orders",
        Item={"order_id": {"S": "o-1"}, "status": {"S": "en_route"}, "task_token": {"S": "token-1"}},
    )
    module = load("confirm_delivery")
    with Stubber(module.states) as stubber:
        module.stubber = stubber
        yield module
        stubber.assert_no_pending_responses()


def test_a_delivered_report_sends_the_token_back_with_success(confirm, lambda_context):
    confirm.stubber.add_response(
        "send_task_success",
        {},
        {"taskToken": "token-1", "output": '{"delivered_at": "2026-01-01T00:00:00+00:00"}'},
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(confirm, "datetime", _FixedNow)
        assert confirm.handler({"order_id": "o-1", "delivered": True}, lambda_context) == {"statusCode": 202}


def test_a_failed_delivery_sends_the_token_back_with_the_reason(confirm, lambda_context):
    confirm.stubber.add_response(
        "send_task_failure", {}, {"taskToken": "token-1", "error": "DeliveryFailed", "cause": "nobody home"}
    )
    report = {"order_id": "o-1", "delivered": False, "reason": "nobody home"}
    assert confirm.handler(report, lambda_context) == {"statusCode": 202}


def test_a_report_the_workflow_no_longer_waits_for_is_a_409(confirm, lambda_context):
    confirm.stubber.add_client_error("send_task_success", "TaskTimedOut", http_status_code=400)
    answer = confirm.handler({"order_id": "o-1", "delivered": True}, lambda_context)
    assert answer["statusCode"] == 409
    assert answer["error"]["code"] == "NoLongerAwaited"


@pytest.mark.parametrize(
    ("report", "status", "code"),
    [
        ({"order_id": "o-404", "delivered": True}, 404, "NotOutForDelivery"),
        ({"order_id": "o-1"}, 400, "InvalidReport"),
        ({"order_id": "o-1", "delivered": True, "extra": 1}, 400, "InvalidReport"),
    ],
)
def test_bad_reports_get_clear_answers_and_send_nothing(confirm, lambda_context, report, status, code):
    answer = confirm.handler(report, lambda_context)
    assert (answer["statusCode"], answer["error"]["code"]) == (status, code)


class _FixedNow:
    @staticmethod
    def now(tz=None):
        from datetime import datetime

        return datetime(2026, 1, 1, tzinfo=tz)


# --------------------------------------------------------------------------------------------- receipt and cancel


def assigned(dynamodb, order_id: str = "o-1", driver_id: str = "d-1") -> dict:
    driver(dynamodb, driver_id, status="busy", order=order_id)
    dynamodb.put_item(
        TableName="orders",
        Item={
            "order_id": {"S": order_id},
            "status": {"S": "en_route"},
            "driver_id": {"S": driver_id},
            "task_token": {"S": "token-1"},
        },
    )
    return {**ORDER, "order_id": order_id, "assignment": {"driver_id": driver_id}}


def test_the_receipt_marks_the_order_delivered_and_frees_the_driver(load, dynamodb, lambda_context):
    event = {**assigned(dynamodb), "delivery": {"delivered_at": "2026-01-01T00:30:00+00:00"}}
    receipt = load("issue_receipt").handler(event, lambda_context)
    assert (receipt["order_id"], receipt["driver_id"], receipt["delivered_at"]) == (
        "o-1",
        "d-1",
        "2026-01-01T00:30:00+00:00",
    )
    order = get(dynamodb, "orders", "order_id", "o-1")
    assert (order["status"], order["receipt"]["issued_at"]["S"]) == ("delivered", receipt["issued_at"])
    assert "task_token" not in order
    assert get(dynamodb, "drivers", "driver_id", "d-1") == {
        "driver_id": "d-1",
        "zone": "north",
        "status": "available",
    }


def test_a_retried_receipt_leaves_a_driver_now_on_another_order_alone(load, dynamodb, lambda_context):
    event = {**assigned(dynamodb), "delivery": {"delivered_at": "2026-01-01T00:30:00+00:00"}}
    handler = load("issue_receipt").handler
    handler(event, lambda_context)
    driver(dynamodb, "d-1", status="busy", order="o-2")
    handler(event, lambda_context)
    assert get(dynamodb, "drivers", "driver_id", "d-1")["order_id"] == "o-2"


def test_cancel_frees_the_driver_and_records_the_reason(load, dynamodb, lambda_context):
    event = {**assigned(dynamodb), "failure": {"Error": "DeliveryFailed", "Cause": "nobody home"}}
    assert load("cancel_order").handler(event, lambda_context) == {
        "order_id": "o-1",
        "status": "cancelled",
        "reason": "DeliveryFailed",
        "driver_released": True,
    }
    order = get(dynamodb, "orders", "order_id", "o-1")
    assert (order["status"], order["reason"]) == ("cancelled", "DeliveryFailed")
    assert "task_token" not in order
    assert get(dynamodb, "drivers", "driver_id", "d-1")["status"] == "available"


def test_cancel_before_any_assignment_only_records_the_cancellation(load, dynamodb, lambda_context):
    event = {**ORDER, "failure": {"Error": "NoDriverAvailable", "Cause": "no driver after 5 searches"}}
    answer = load("cancel_order").handler(event, lambda_context)
    assert (answer["driver_released"], answer["reason"]) == (False, "NoDriverAvailable")
    assert get(dynamodb, "orders", "order_id", "o-1")["status"] == "cancelled"


def test_cancel_of_a_malformed_order_reports_it_without_writing(load, dynamodb, lambda_context):
    event = {"order_id": "o-9", "failure": {"Error": "InvalidOrder", "Cause": "zone: required"}}
    answer = load("cancel_order").handler(event, lambda_context)
    assert answer == {
        "order_id": "o-9",
        "status": "cancelled",
        "reason": "InvalidOrder",
        "driver_released": False,
    }
    assert get(dynamodb, "orders", "order_id", "o-9") == {}


# --------------------------------------------------------------------------------------------- limits and metrics


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        *length_limits("order_id", 1, 128),
        *length_limits("customer_id", 1, 128),
        *length_limits("zone", 1, 64),
    ],
    ids=case_id,
)
def test_an_order_takes_ids_of_1_to_128_characters_and_a_zone_of_1_to_64(
    load, lambda_context, field, value, problem
):
    module = load("load_drivers")
    if problem:
        with pytest.raises(sys.modules["workflow"].InvalidOrder, match=problem):
            module.handler({**ORDER, field: value}, lambda_context)
    else:
        assert module.handler({**ORDER, field: value}, lambda_context)["attempt"] == 1


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        *length_limits("order_id", 1, 128),
        *length_limits("driver_id", 1, 128),
        *length_limits("task_token", 1, 1024),
    ],
    ids=case_id,
)
def test_a_handover_takes_ids_of_1_to_128_characters_and_a_token_of_1_to_1024(
    load, dynamodb, lambda_context, field, value, problem
):
    from shared.validation import InvalidInput

    handover = {"order_id": "o-1", "driver_id": "d-1", "task_token": "token-1", field: value}
    dynamodb.put_item(
        TableName="orders",
        Item={"order_id": {"S": handover["order_id"] or "o-1"}, "driver_id": {"S": handover["driver_id"]}},
    )
    handler = load("await_delivery").handler
    if problem:
        with pytest.raises(InvalidInput, match=problem):
            handler(handover, lambda_context)
    else:
        assert handler(handover, lambda_context)["status"] == "en_route"


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [*refused(length_limits("order_id", 1, 128)), *length_limits("reason", 1, 256)],
    ids=case_id,
)
def test_a_report_takes_an_order_id_of_up_to_128_characters_and_a_reason_of_1_to_256(
    confirm, lambda_context, field, value, problem
):
    report = {"order_id": "o-1", "delivered": False, "reason": "nobody home", field: value}
    if problem:
        answer = confirm.handler(report, lambda_context)
        assert answer["statusCode"] == 400 and problem in answer["error"]["message"]
    else:
        cause = report["reason"]
        confirm.stubber.add_response(
            "send_task_failure", {}, {"taskToken": "token-1", "error": "DeliveryFailed", "cause": cause}
        )
        assert confirm.handler(report, lambda_context) == {"statusCode": 202}


def test_a_failed_delivery_without_a_reason_is_sent_back_as_not_delivered(confirm, lambda_context):
    confirm.stubber.add_response(
        "send_task_failure", {}, {"taskToken": "token-1", "error": "DeliveryFailed", "cause": "not delivered"}
    )
    assert confirm.handler({"order_id": "o-1", "delivered": False}, lambda_context) == {"statusCode": 202}


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ({"status": {"S": "assigned"}, "task_token": {"S": "token-1"}}, "not en route yet"),
        ({"status": {"S": "en_route"}}, "no token stored"),
    ],
)
def test_a_report_before_the_order_is_en_route_with_a_token_is_a_404(
    confirm, dynamodb, lambda_context, order, expected
):
    dynamodb.put_item(TableName="orders", Item={"order_id": {"S": "o-1"}, **order})
    answer = confirm.handler({"order_id": "o-1", "delivered": True}, lambda_context)
    assert (answer["statusCode"], answer["error"]["code"]) == (404, "NotOutForDelivery"), expected


@pytest.mark.parametrize(
    ("delivered", "operation", "metric"),
    [(True, "send_task_success", "DeliveriesConfirmed"), (False, "send_task_failure", "DeliveriesFailed")],
)
def test_each_report_counts_as_confirmed_or_failed(
    confirm, lambda_context, emitted_metrics, delivered, operation, metric
):
    confirm.stubber.add_response(operation, {})
    confirm.handler({"order_id": "o-1", "delivered": delivered}, lambda_context)
    assert emitted_metrics() == {metric: 1}
    confirm.handler({"order_id": "o-1"}, lambda_context)
    assert emitted_metrics() == {}, "a refused report counts nothing"


def test_a_search_that_finds_no_driver_counts_it(load, dynamodb, lambda_context, emitted_metrics):
    handler = load("load_drivers").handler
    handler(ORDER, lambda_context)
    assert emitted_metrics() == {"NoDriverYet": 1}
    driver(dynamodb, "d-1")
    handler(ORDER, lambda_context)
    assert emitted_metrics() == {}


def test_assignments_receipts_and_cancellations_count_once_each(
    load, dynamodb, lambda_context, emitted_metrics
):
    driver(dynamodb, "d-1")
    load("assign_driver").handler(ORDER, lambda_context)
    assert emitted_metrics() == {"DriversAssigned": 1}
    load("assign_driver").handler(ORDER, lambda_context)
    assert emitted_metrics() == {}, "a retried assignment claims no one"
    event = {**assigned(dynamodb, "o-2", "d-2"), "delivery": {"delivered_at": "2026-01-01T00:30:00+00:00"}}
    load("issue_receipt").handler(event, lambda_context)
    assert emitted_metrics() == {"OrdersDelivered": 1}
    load("cancel_order").handler({**ORDER, "failure": {"Error": "X", "Cause": "y"}}, lambda_context)
    assert emitted_metrics() == {"OrdersCancelled": 1}
