"""The router offline: each type reaches its task and table; what cannot be routed or stored is kept."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

MESSAGES = {
    "order.placed": ("Orders", {"customer_id": "c-1", "total_cents": 1299}),
    "payment.refunded": ("Refunds", {"order_id": "o-1", "amount_cents": 500}),
    "ticket.opened": ("Tickets", {"customer_id": "c-1", "subject": "Where is my order?"}),
}


@pytest.fixture
def cloud(local_cloud):
    return local_cloud("router")


def send(cloud, message: dict) -> None:
    assert cloud.invoke("Pattern/Router", message, "Event") == {"StatusCode": 202}


def stored(cloud, task: str) -> dict[str, dict]:
    items = cloud.client("dynamodb").scan(TableName=cloud.outputs[f"{task}TableName"])["Items"]
    return {item["id"]["S"]: item for item in items}


def failures(cloud, output: str) -> list[dict]:
    messages = cloud.client("sqs").receive_message(QueueUrl=cloud.outputs[output], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def runs(cloud, name: str):
    return cloud.trace.find("invoke", target=cloud.function(f"Pattern/{name}").name)


def test_each_type_reaches_its_task_and_only_its_tasks_table(cloud):
    for n, (message_type, (_, body)) in enumerate(MESSAGES.items()):
        send(cloud, {"id": f"m-{n}", "type": message_type, "body": body})
    cloud.drain()
    for n, (message_type, (task, _)) in enumerate(MESSAGES.items()):
        items = stored(cloud, task)
        assert list(items) == [f"m-{n}"], f"{task} holds exactly its own message"
        assert items[f"m-{n}"]["type"]["S"] == message_type
        assert items[f"m-{n}"]["routed_at"]["S"], "stamped by the router"
        [task_run] = runs(cloud, f"{task}Task")
        [handoff] = [s for s in cloud.trace.spans if s.id == task_run.parent]
        assert handoff.kind == "enqueue" and handoff.source == cloud.function("Pattern/Router").name
    for output in (
        "RouterFailureQueueUrl",
        "OrdersFailureQueueUrl",
        "RefundsFailureQueueUrl",
        "TicketsFailureQueueUrl",
    ):
        assert failures(cloud, output) == []


def test_an_unknown_type_reaches_the_routers_failure_destination(cloud):
    unknown = {"id": "m-9", "type": "invoice.sent", "body": {"invoice_id": "i-1"}}
    send(cloud, unknown)
    cloud.drain()
    router_runs = runs(cloud, "Router")
    assert [r.at for r in router_runs] == [0, 60, 180], "Lambda's two retries, then the destination"
    assert {r.outcome for r in router_runs} == {"error: UnknownMessageType"}
    [record] = failures(cloud, "RouterFailureQueueUrl")
    assert record["requestPayload"] == unknown
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert "no task for message type 'invoice.sent'" in record["responsePayload"]["errorMessage"]
    for task in ("Orders", "Refunds", "Tickets"):
        assert runs(cloud, f"{task}Task") == [] and stored(cloud, task) == {}


def test_a_message_its_task_cannot_store_reaches_that_tasks_failure_destination(cloud):
    bad_refund = {"id": "m-5", "type": "payment.refunded", "body": {"order_id": "o-1", "amount_cents": 0}}
    send(cloud, bad_refund)
    cloud.drain()
    assert [r.outcome for r in runs(cloud, "Router")] == ["ok"], "routing it was right"
    assert len(runs(cloud, "RefundsTask")) == 3
    [record] = failures(cloud, "RefundsFailureQueueUrl")
    assert record["requestPayload"]["body"] == bad_refund["body"]
    assert record["responsePayload"]["errorType"] == "InvalidInput"
    assert failures(cloud, "RouterFailureQueueUrl") == []


def test_a_message_delivered_twice_is_stored_once(cloud):
    message = {"id": "m-7", "type": "order.placed", "body": MESSAGES["order.placed"][1]}
    send(cloud, message)
    send(cloud, message)
    cloud.drain()
    assert len(runs(cloud, "OrdersTask")) == 2
    assert list(stored(cloud, "Orders")) == ["m-7"]
