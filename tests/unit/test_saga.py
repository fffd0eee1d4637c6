"""The saga's services and front door, each on its own against moto: every step and compensation
is a conditional write that does its work once, refusals write nothing, bad input is named."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

pytestmark = pytest.mark.unit

ORDER = {
    "order_id": "o-1",
    "customer_id": "c-ada",
    "sku": "lamp",
    "quantity": 2,
    "amount_cents": 5_998,
    "country": "DE",
}


def table(client, name: str, key: str) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def dynamodb(aws):
    return boto3.client("dynamodb", region_name="us-east-1")


def items(dynamodb, name: str) -> list[dict]:
    return [
        {k: next(iter(v.values())) for k, v in item.items()}
        for item in dynamodb.scan(TableName=name)["Items"]
    ]


@pytest.fixture
def orders(dynamodb, load_handler):
    table(dynamodb, "orders", "order_id")
    return load_handler("saga", "orders", TABLE_NAME="orders", DELIVERY_COUNTRIES="DE,FR")


@pytest.fixture
def payments(dynamodb, load_handler):
    table(dynamodb, "payments", "pk")
    dynamodb.put_item(TableName="payments", Item={"pk": {"S": "card#c-ada"}, "limit_cents": {"N": "10000"}})
    return load_handler("saga", "payments", TABLE_NAME="payments")


@pytest.fixture
def inventory(dynamodb, load_handler):
    table(dynamodb, "inventory", "sku")
    dynamodb.put_item(
        TableName="inventory",
        Item={"sku": {"S": "lamp"}, "available": {"N": "3"}, "reservations": {"M": {}}},
    )
    return load_handler("saga", "inventory", TABLE_NAME="inventory")


def run(module, action: str, lambda_context, **changes) -> dict:
    return module.handler({"action": action, "order": {**ORDER, **changes}}, lambda_context)


def test_an_order_is_created_once_confirmed_and_cancelled_once(orders, dynamodb, lambda_context):
    assert run(orders, "create", lambda_context)["created"] is True
    assert run(orders, "create", lambda_context) == {"order_id": "o-1", "status": "PENDING", "created": False}
    with pytest.raises(orders.OrderConflict, match="other content"):
        run(orders, "create", lambda_context, quantity=3)
    assert run(orders, "confirm", lambda_context)["status"] == "CONFIRMED"
    assert run(orders, "cancel", lambda_context)["cancelled"] is True
    assert run(orders, "cancel", lambda_context)["cancelled"] is False
    with pytest.raises(orders.OrderConflict, match="not pending"):
        run(orders, "confirm", lambda_context)
    assert [o["status"] for o in items(dynamodb, "orders")] == ["CANCELLED"]


def test_an_order_for_a_country_not_delivered_to_is_rejected_unwritten(orders, dynamodb, lambda_context):
    with pytest.raises(orders.OrderRejected, match="no delivery to US"):
        run(orders, "create", lambda_context, country="US")
    assert run(orders, "cancel", lambda_context) == {"order_id": "o-1", "cancelled": False}
    assert items(dynamodb, "orders") == [], "cancelling an order never made makes none"


def test_a_charge_is_made_once_and_refunded_once(payments, dynamodb, lambda_context):
    assert run(payments, "charge", lambda_context)["charged"] is True
    assert run(payments, "charge", lambda_context)["charged"] is False
    assert run(payments, "refund", lambda_context)["refunded"] is True
    assert run(payments, "refund", lambda_context)["refunded"] is False
    with pytest.raises(payments.PaymentConflict, match="REFUNDED"):
        run(payments, "charge", lambda_context)
    [payment] = [p for p in items(dynamodb, "payments") if p["pk"] == "payment#o-1"]
    assert (payment["status"], payment["amount_cents"]) == ("REFUNDED", "5998")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [({"customer_id": "c-bob"}, "no card on file"), ({"amount_cents": 10_001}, "over the card's limit")],
)
def test_a_declined_charge_writes_nothing(payments, dynamodb, lambda_context, changes, reason):
    with pytest.raises(payments.PaymentDeclined, match=reason):
        run(payments, "charge", lambda_context, **changes)
    assert run(payments, "refund", lambda_context)["refunded"] is False
    assert [p["pk"] for p in items(dynamodb, "payments")] == ["card#c-ada"]


def stock(dynamodb) -> tuple[int, dict]:
    [item] = dynamodb.scan(TableName="inventory")["Items"]
    return int(item["available"]["N"]), {k: int(v["N"]) for k, v in item["reservations"]["M"].items()}


def test_stock_is_reserved_once_and_released_once(inventory, dynamodb, lambda_context):
    assert run(inventory, "reserve", lambda_context) == {"sku": "lamp", "reserved": 2}
    assert run(inventory, "reserve", lambda_context) == {"sku": "lamp", "reserved": 2}
    assert stock(dynamodb) == (1, {"o-1": 2})
    assert run(inventory, "release", lambda_context)["released"] == 2
    assert run(inventory, "release", lambda_context)["released"] == 0
    assert stock(dynamodb) == (3, {})


@pytest.mark.parametrize("changes", [{"quantity": 4}, {"sku": "unknown"}])
def test_too_little_stock_or_an_unknown_sku_is_out_of_stock_and_changes_nothing(
    inventory, dynamodb, lambda_context, changes
):
    run(inventory, "reserve", lambda_context, order_id="o-0", quantity=1)
    with pytest.raises(inventory.OutOfStock):
        run(inventory, "reserve", lambda_context, **changes)
    assert stock(dynamodb) == (2, {"o-0": 1})
    assert [i["sku"] for i in items(dynamodb, "inventory")] == ["lamp"]


def test_a_task_input_the_workflow_never_sends_is_refused_naming_the_problem(inventory, lambda_context):
    import saga_order

    with pytest.raises(saga_order.InvalidTask, match="action: must be one of reserve, release"):
        inventory.handler({"action": "restock", "order": ORDER}, lambda_context)
    with pytest.raises(saga_order.InvalidTask, match="quantity: expected integer"):
        run(inventory, "reserve", lambda_context, quantity="2")


MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Saga"


@pytest.fixture
def api(load_handler):
    return load_handler("saga", "api", STATE_MACHINE_ARN=MACHINE, AWS_DEFAULT_REGION="us-east-1")


def request(api, lambda_context, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    event = {"httpMethod": method, "path": path, "body": None if body is None else json.dumps(body)}
    answer = api.handler(event, lambda_context)
    return answer["statusCode"], json.loads(answer["body"])


def test_a_valid_order_starts_a_saga_named_by_its_new_id(api, lambda_context, monkeypatch):
    order = {k: v for k, v in ORDER.items() if k != "order_id"}
    started = []
    monkeypatch.setattr(api.states, "start_execution", lambda **call: started.append(call))
    status, body = request(api, lambda_context, "POST", "/orders", order)
    assert status == 202
    order_id = body["order_id"]
    assert body == {"order_id": order_id, "status": "processing", "poll": f"/orders/{order_id}"}
    assert api.ORDER_ID.fullmatch(order_id)
    assert started == [
        {
            "stateMachineArn": MACHINE,
            "name": order_id,
            "input": json.dumps({"order": {"order_id": order_id, **order}}),
        }
    ]


def test_an_invalid_order_is_a_400_naming_each_field_and_starts_nothing(api, lambda_context):
    with Stubber(api.states):  # any call would fail: none is expected
        status, body = request(
            api, lambda_context, "POST", "/orders", {"sku": "", "quantity": 101, "country": 49}
        )
    assert status == 400
    assert body["message"] == (
        "customer_id: required; sku: shorter than 1; quantity: greater than 100; amount_cents: required; "
        "country: expected string, got integer"
    )


@pytest.mark.parametrize(
    ("execution", "expected"),
    [
        ({"status": "RUNNING"}, {"status": "processing"}),
        ({"status": "SUCCEEDED"}, {"status": "confirmed"}),
        (
            {"status": "FAILED", "error": "OrderCancelled", "cause": "OutOfStock"},
            {"status": "cancelled", "reason": "OutOfStock"},
        ),
        (
            {"status": "FAILED", "error": "CompensationFailed"},
            {"status": "failed", "reason": "CompensationFailed"},
        ),
        ({"status": "ABORTED"}, {"status": "failed", "reason": "ABORTED"}),
    ],
)
def test_polling_answers_the_sagas_progress_from_its_execution(api, lambda_context, execution, expected):
    order_id = "o-" + "a" * 32
    arn = MACHINE.replace(":stateMachine:", ":execution:") + ":" + order_id
    with Stubber(api.states) as stubber:
        stubber.add_response(
            "describe_execution",
            {"executionArn": arn, "stateMachineArn": MACHINE, "startDate": 0, **execution},
            {"executionArn": arn},
        )
        assert request(api, lambda_context, "GET", f"/orders/{order_id}") == (
            200,
            {"order_id": order_id, **expected},
        )


def test_an_unknown_or_malformed_order_id_is_a_404(api, lambda_context):
    with Stubber(api.states) as stubber:
        stubber.add_client_error("describe_execution", "ExecutionDoesNotExist", http_status_code=400)
        assert request(api, lambda_context, "GET", "/orders/o-" + "b" * 32)[0] == 404
        assert request(api, lambda_context, "GET", "/orders/../../x")[0] == 404


def test_the_api_model_and_the_functions_schema_have_the_same_rules(load_handler):
    """API Gateway refuses by the model, the function by its schema: one order, two places."""
    from patterns.saga import ORDER_SCHEMA

    fields = load_handler("saga", "saga_order").ORDER.fields
    model = ORDER_SCHEMA["properties"]
    assert set(model) == set(fields) and set(ORDER_SCHEMA["required"]) == set(fields)
    for name, field in fields.items():
        bounds = (
            model[name].get("minLength", model[name].get("minimum")),
            model[name].get("maxLength", model[name].get("maximum")),
        )
        assert bounds == (field.min_length or field.minimum, field.max_length or field.maximum), name
