"""Saga: a confirmed order; a failure at each step undone in reverse; a slow inventory service whose
timed-out reservation and release are undone and retried; an invalid order refused at the door."""

from __future__ import annotations

from scenarios import Show


def run(show: Show) -> None:
    cloud = show.cloud
    dynamodb = cloud.client("dynamodb")
    outputs = cloud.outputs
    api = cloud.api()
    dynamodb.put_item(
        TableName=outputs["PaymentsTableName"],
        Item={"pk": {"S": "card#c-ada"}, "limit_cents": {"N": "100000"}},
    )
    dynamodb.put_item(
        TableName=outputs["InventoryTableName"],
        Item={"sku": {"S": "lamp"}, "available": {"N": "10"}, "reservations": {"M": {}}},
    )
    order = {"customer_id": "c-ada", "sku": "lamp", "quantity": 2, "amount_cents": 5_998, "country": "DE"}
    prefix = outputs["StateMachineArn"].replace(":stateMachine:", ":execution:") + ":"

    def place(**changes) -> tuple[str, list[str]]:
        answer = api.post("/orders", json={**order, **changes})
        order_id = answer.json()["order_id"]
        cloud.drain()
        return order_id, cloud.execution(prefix + order_id).states()

    def status(order_id: str) -> dict:
        return {k: v for k, v in api.get(f"/orders/{order_id}").json().items() if k != "order_id"}

    def available() -> int:
        item = dynamodb.get_item(TableName=outputs["InventoryTableName"], Key={"sku": {"S": "lamp"}})["Item"]
        return int(item["available"]["N"])

    def payment(order_id: str) -> str | None:
        item = dynamodb.get_item(
            TableName=outputs["PaymentsTableName"], Key={"pk": {"S": f"payment#{order_id}"}}
        )
        return item.get("Item", {}).get("status", {}).get("S")

    confirmed, states = place()
    show.equal(
        "an order is created, charged, reserved and confirmed",
        states,
        ["CreateOrder", "ChargePayment", "ReserveStock", "ConfirmOrder", "Confirmed"],
    )
    show.equal("polling it answers confirmed", status(confirmed), {"status": "confirmed"})

    rejected, states = place(country="US")
    show.equal("polling it answers why", status(rejected), {"status": "cancelled", "reason": "OrderRejected"})
    show.equal("an order the orders service refuses undoes nothing", states, ["CreateOrder", "Cancelled"])
    declined, states = place(amount_cents=250_000)
    show.equal(
        "a declined card cancels the order",
        (states[-2:], status(declined)),
        (["CancelOrder", "Cancelled"], {"status": "cancelled", "reason": "PaymentDeclined"}),
    )
    short, states = place(quantity=20)
    show.equal(
        "too little stock refunds the payment, then cancels the order",
        (states[-3:], payment(short)),
        (["RefundPayment", "CancelOrder", "Cancelled"], "REFUNDED"),
    )

    inventory = cloud.function("Pattern/Inventory")
    inventory.duration = 12  # past the 10 s a step may take
    answer = api.post("/orders", json={**order, "quantity": 5})
    slow = answer.json()["order_id"]
    cloud.advance(20)
    inventory.duration = 0
    cloud.drain()
    history = cloud.execution(prefix + slow).history()
    show.equal(
        "a reservation that timed out is released; the release timed out once, was retried and succeeded",
        [e["type"] for e in history if e["type"] in ("TaskTimedOut", "TaskSucceeded")][-4:],
        ["TaskTimedOut", "TaskSucceeded", "TaskSucceeded", "TaskSucceeded"],
    )
    show.equal(
        "the stock is back exactly once: only the confirmed order holds any",
        (available(), payment(slow), payment(confirmed)),
        (8, "REFUNDED", "CHARGED"),
    )

    refused = api.post("/orders", json={**order, "quantity": 0})
    show.equal(
        "an invalid order is refused, naming the field, before any saga starts",
        (refused.status, refused.json()["message"]),
        (400, "Invalid request body: [quantity: 0 is less than the minimum of 1]"),
    )
