"""The saga's services and front door at their edges, against moto: each step's metric counts the
work it did (once, not on a retried step), limits are inclusive (a charge of exactly the card's
limit, a reservation of every unit left), a retried step answers what the first did, and the poll's
404 and cancelled answers say what AWS's execution says."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from tests.unit.test_saga import MACHINE, ORDER, request, run, stock, table

pytestmark = pytest.mark.unit


@pytest.fixture
def dynamodb(aws):
    return boto3.client("dynamodb", region_name="us-east-1")


def test_orders_count_what_they_created_confirmed_and_cancelled(
    dynamodb, load_handler, lambda_context, emitted_metrics
):
    table(dynamodb, "orders", "order_id")
    orders = load_handler("saga", "orders", TABLE_NAME="orders", DELIVERY_COUNTRIES="DE,FR")
    run(orders, "create", lambda_context, country="FR")
    run(orders, "create", lambda_context, country="FR")
    assert emitted_metrics() == {"OrdersCreated": 1}
    assert run(orders, "confirm", lambda_context) == {"order_id": "o-1", "status": "CONFIRMED"}
    assert emitted_metrics() == {"OrdersConfirmed": 1}
    assert run(orders, "create", lambda_context, country="FR") == {
        "order_id": "o-1",
        "status": "CONFIRMED",
        "created": False,
    }, "a retried create answers the order as it is now"
    assert run(orders, "cancel", lambda_context) == {"order_id": "o-1", "cancelled": True}
    run(orders, "cancel", lambda_context)
    assert emitted_metrics() == {"OrdersCancelled": 1}


def test_payments_count_charges_and_refunds_and_a_charge_of_the_whole_limit_passes(
    dynamodb, load_handler, lambda_context, emitted_metrics
):
    table(dynamodb, "payments", "pk")
    dynamodb.put_item(TableName="payments", Item={"pk": {"S": "card#c-ada"}, "limit_cents": {"N": "5998"}})
    payments = load_handler("saga", "payments", TABLE_NAME="payments")
    assert run(payments, "charge", lambda_context) == {
        "payment_id": "payment#o-1",
        "status": "CHARGED",
        "charged": True,
    }
    assert run(payments, "charge", lambda_context) == {
        "payment_id": "payment#o-1",
        "status": "CHARGED",
        "charged": False,
    }
    assert emitted_metrics() == {"PaymentsCharged": 1}
    with pytest.raises(payments.PaymentConflict, match="payment of order o-1 is CHARGED"):
        run(payments, "charge", lambda_context, amount_cents=5_000)
    assert run(payments, "refund", lambda_context) == {"payment_id": "payment#o-1", "refunded": True}
    run(payments, "refund", lambda_context)
    assert emitted_metrics() == {"PaymentsRefunded": 1}


def test_inventory_counts_units_and_a_reservation_may_take_every_unit_left(
    dynamodb, load_handler, lambda_context, emitted_metrics
):
    table(dynamodb, "inventory", "sku")
    dynamodb.put_item(
        TableName="inventory",
        Item={"sku": {"S": "lamp"}, "available": {"N": "3"}, "reservations": {"M": {}}},
    )
    inventory = load_handler("saga", "inventory", TABLE_NAME="inventory")
    assert run(inventory, "reserve", lambda_context, quantity=3) == {"sku": "lamp", "reserved": 3}
    assert run(inventory, "reserve", lambda_context, quantity=3) == {"sku": "lamp", "reserved": 3}
    assert stock(dynamodb) == (0, {"o-1": 3})
    assert emitted_metrics() == {"StockReserved": 3}
    with pytest.raises(inventory.OutOfStock, match=r"^fewer than 1 of lamp available$"):
        run(inventory, "reserve", lambda_context, order_id="o-2", quantity=1)
    assert run(inventory, "release", lambda_context, quantity=3) == {"sku": "lamp", "released": 3}
    run(inventory, "release", lambda_context, quantity=3)
    assert emitted_metrics() == {"StockReleased": 3}


def test_a_task_without_an_order_or_with_an_overlong_id_is_invalid(load_handler, aws, lambda_context):
    saga_order = load_handler("saga", "saga_order")
    done = []
    actions = {"go": lambda order: done.append(order) or {"ok": True}}
    with pytest.raises(saga_order.InvalidTask, match=r"^action: must be one of go$"):
        saga_order.dispatch(["go"], actions)
    with pytest.raises(saga_order.InvalidTask, match=r"^body: expected a JSON object, got null$"):
        saga_order.dispatch({"action": "go"}, actions)
    with pytest.raises(saga_order.InvalidTask, match=r"^order_id: longer than 80$"):
        saga_order.dispatch({"action": "go", "order": {**ORDER, "order_id": "o" * 81}}, actions)
    with pytest.raises(saga_order.InvalidTask, match=r"^order_id: shorter than 1$"):
        saga_order.dispatch({"action": "go", "order": {**ORDER, "order_id": ""}}, actions)
    for order_id in ("o", "o" * 80):
        assert saga_order.dispatch({"action": "go", "order": {**ORDER, "order_id": order_id}}, actions) == {
            "ok": True
        }
    assert done == [{**ORDER, "order_id": "o"}, {**ORDER, "order_id": "o" * 80}]


@pytest.fixture
def api(load_handler):
    return load_handler("saga", "api", STATE_MACHINE_ARN=MACHINE, AWS_DEFAULT_REGION="us-east-1")


def test_a_started_saga_is_counted(api, lambda_context, monkeypatch, emitted_metrics):
    monkeypatch.setattr(api.states, "start_execution", lambda **call: {})
    order = {k: v for k, v in ORDER.items() if k != "order_id"}
    assert request(api, lambda_context, "POST", "/orders", order)[0] == 202
    assert emitted_metrics() == {"SagasStarted": 1}


def test_a_404_names_the_order_and_quotes_at_most_40_characters_of_a_malformed_id(api, lambda_context):
    order_id = "o-" + "b" * 32
    with Stubber(api.states) as stubber:
        stubber.add_client_error("describe_execution", "ExecutionDoesNotExist", http_status_code=400)
        assert request(api, lambda_context, "GET", f"/orders/{order_id}") == (
            404,
            {"statusCode": 404, "message": f"order {order_id} not found"},
        )
        malformed = "x" * 50
        assert request(api, lambda_context, "GET", f"/orders/{malformed}") == (
            404,
            {"statusCode": 404, "message": f"order {'x' * 40} not found"},
        )


def test_a_cancelled_saga_without_a_cause_has_an_empty_reason(api, lambda_context):
    order_id = "o-" + "c" * 32
    arn = MACHINE.replace(":stateMachine:", ":execution:") + ":" + order_id
    with Stubber(api.states) as stubber:
        stubber.add_response(
            "describe_execution",
            {
                "executionArn": arn,
                "stateMachineArn": MACHINE,
                "startDate": 0,
                "status": "FAILED",
                "error": "OrderCancelled",
            },
            {"executionArn": arn},
        )
        status, body = request(api, lambda_context, "GET", f"/orders/{order_id}")
    assert (status, body) == (200, {"order_id": order_id, "status": "cancelled", "reason": ""})
