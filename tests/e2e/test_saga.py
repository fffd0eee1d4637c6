"""The order saga offline, through its API: a confirmed order; a real failure at each step in turn
(a country the orders service does not deliver to, a card over its limit, too little stock) runs
exactly the compensations of the steps that succeeded, in reverse; a slow inventory service makes a
step and then a compensation time out, and the compensation is retried and changes nothing twice;
an invalid order is refused before any workflow starts. After each, the data of the three services
agrees."""

from __future__ import annotations

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START

pytestmark = pytest.mark.e2e

STOCK = {"lamp": 50, "rare-vase": 1}
CARDS = {"c-ada": 100_000, "c-bob": 2_000}
ORDER = {"customer_id": "c-ada", "sku": "lamp", "quantity": 2, "amount_cents": 5_998, "country": "DE"}


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    """One cloud for the module: each test places orders of its own, with new ids."""
    with LocalCloud(load_stack(cloud_assembly.directory, "SagaStack"), start=FIXED_START) as started:
        dynamodb = started.client("dynamodb")
        for customer, limit in CARDS.items():
            dynamodb.put_item(
                TableName=started.outputs["PaymentsTableName"],
                Item={"pk": {"S": f"card#{customer}"}, "limit_cents": {"N": str(limit)}},
            )
        for sku, available in STOCK.items():
            dynamodb.put_item(
                TableName=started.outputs["InventoryTableName"],
                Item={"sku": {"S": sku}, "available": {"N": str(available)}, "reservations": {"M": {}}},
            )
        yield started


@pytest.fixture(autouse=True)
def consistent_afterwards(cloud):
    yield
    assert_consistent(cloud)


def place(cloud, **changes):
    """POST the order; run its saga to the end; its id and execution."""
    answer = cloud.api().post("/orders", json={**ORDER, **changes})
    assert answer.status == 202, answer.text
    order_id = answer.json()["order_id"]
    cloud.drain()
    return order_id, execution_of(cloud, order_id)


def execution_of(cloud, order_id: str):
    arn = cloud.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:") + f":{order_id}"
    return cloud.execution(arn)


def scan(cloud, table: str) -> list[dict]:
    items = cloud.client("dynamodb").scan(TableName=cloud.outputs[table])["Items"]
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]


def order_record(cloud, order_id: str) -> dict | None:
    return next((o for o in scan(cloud, "OrdersTableName") if o["order_id"] == order_id), None)


def payment(cloud, order_id: str) -> dict | None:
    return next((p for p in scan(cloud, "PaymentsTableName") if p["pk"] == f"payment#{order_id}"), None)


def stock(cloud, sku: str) -> dict:
    [item] = [i for i in scan(cloud, "InventoryTableName") if i["sku"] == sku]
    return {
        "available": int(item["available"]),
        "reservations": {k: int(v["N"]) for k, v in item["reservations"].items()},
    }


def assert_consistent(cloud) -> None:
    """A confirmed order has a charged payment and reserved stock; any other order has neither;
    every unit of stock is either available or reserved by a confirmed order."""
    confirmed = {o["order_id"] for o in scan(cloud, "OrdersTableName") if o["status"] == "CONFIRMED"}
    charged = {p["order_id"] for p in scan(cloud, "PaymentsTableName") if p.get("status") == "CHARGED"}
    assert charged == confirmed
    for sku, initial in STOCK.items():
        held = stock(cloud, sku)
        assert set(held["reservations"]) <= confirmed, sku
        assert held["available"] + sum(held["reservations"].values()) == initial, sku


def test_an_order_is_created_charged_reserved_and_confirmed(cloud):
    order_id, execution = place(cloud)

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.states() == ["CreateOrder", "ChargePayment", "ReserveStock", "ConfirmOrder", "Confirmed"]
    assert order_record(cloud, order_id)["status"] == "CONFIRMED"
    assert (payment(cloud, order_id)["status"], int(payment(cloud, order_id)["amount_cents"])) == (
        "CHARGED",
        5_998,
    )
    assert stock(cloud, "lamp")["reservations"][order_id] == 2
    assert cloud.api().get(f"/orders/{order_id}").json() == {"order_id": order_id, "status": "confirmed"}


@pytest.mark.parametrize(
    ("failing", "changes", "error", "compensations"),
    [
        ("order", {"country": "US"}, "OrderRejected", []),
        ("payment", {"customer_id": "c-bob"}, "PaymentDeclined", ["CancelOrder"]),
        ("inventory", {"sku": "rare-vase", "quantity": 3}, "OutOfStock", ["RefundPayment", "CancelOrder"]),
    ],
)
def test_a_failure_at_each_step_runs_exactly_the_compensations_of_the_steps_before_it(
    cloud, failing, changes, error, compensations
):
    before = {sku: stock(cloud, sku) for sku in STOCK}
    order_id, execution = place(cloud, **changes)

    assert (execution.status, execution.error, execution.cause) == ("FAILED", "OrderCancelled", error)
    steps = ["CreateOrder", "ChargePayment", "ReserveStock"]
    done = steps[
        : steps.index(
            {"order": "CreateOrder", "payment": "ChargePayment", "inventory": "ReserveStock"}[failing]
        )
        + 1
    ]
    assert execution.states() == [*done, *compensations, "Cancelled"]
    record = order_record(cloud, order_id)
    assert (record or {}).get("status") == (None if failing == "order" else "CANCELLED")
    assert (payment(cloud, order_id) or {}).get("status") == ("REFUNDED" if failing == "inventory" else None)
    assert {sku: stock(cloud, sku) for sku in STOCK} == before
    assert cloud.api().get(f"/orders/{order_id}").json() == {
        "order_id": order_id,
        "status": "cancelled",
        "reason": error,
    }


def test_a_step_and_a_compensation_that_time_out_are_undone_and_retried_without_doing_anything_twice(cloud):
    """The inventory service answers in 12 s, past the 10 s a step may take: the reservation
    (done, but unanswered) is treated as unknown and released too; the release times out as well,
    is retried 1 s later against a recovered service, and finds nothing left to release."""
    inventory = cloud.function("Pattern/Inventory")
    inventory.duration = 12
    started = cloud.clock.elapsed()
    earlier = len(cloud.trace.find("invoke", target=inventory.name))
    try:
        answer = cloud.api().post("/orders", json={**ORDER, "quantity": 5})
        order_id = answer.json()["order_id"]
        cloud.advance(20)
    finally:
        inventory.duration = 0
    cloud.drain()
    execution = execution_of(cloud, order_id)

    assert (execution.status, execution.error, execution.cause) == (
        "FAILED",
        "OrderCancelled",
        "States.Timeout",
    )
    assert execution.states() == [
        "CreateOrder",
        "ChargePayment",
        "ReserveStock",
        "ReleaseStock",
        "RefundPayment",
        "CancelOrder",
        "Cancelled",
    ]
    timed_out = [
        e["type"] for e in execution.history() if e["type"] in ("TaskTimedOut", "LambdaFunctionTimedOut")
    ]
    assert len(timed_out) == 2  # the reservation, and the release's first try
    calls = [s.at - started for s in cloud.trace.find("invoke", target=inventory.name)[earlier:]]
    assert calls == [0, 10, 21]  # the reservation; its release, timed out at 20 s; the release retried
    assert order_id not in stock(cloud, "lamp")["reservations"]
    assert payment(cloud, order_id)["status"] == "REFUNDED"
    assert order_record(cloud, order_id)["status"] == "CANCELLED"


def test_an_invalid_order_is_refused_naming_its_fields_and_starts_no_saga(cloud):
    sfn = cloud.client("stepfunctions")
    machine = cloud.outputs["StateMachineArn"]
    started = len(sfn.list_executions(stateMachineArn=machine)["executions"])
    handler = cloud.function("Pattern/ApiHandler").name
    invoked = len(cloud.trace.find("invoke", target=handler))

    answer = cloud.api().post("/orders", json={**ORDER, "quantity": 0, "sku": None, "coupon": "x"})

    assert answer.status == 400
    assert answer.json()["message"] == (
        "Invalid request body: [(root): Additional properties are not allowed ('coupon' was unexpected), "
        "quantity: 0 is less than the minimum of 1, sku: None is not of type 'string']"
    )
    assert len(cloud.trace.find("invoke", target=handler)) == invoked, "refused before any code runs"
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == started
    assert cloud.api().get("/orders/o-" + "0" * 32).status == 404
    assert cloud.api().get("/orders/nonsense").status == 404
