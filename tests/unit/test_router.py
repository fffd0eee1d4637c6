"""The router's routing and the three tasks' storage, against moto."""

from __future__ import annotations

import json
import sys

import boto3
import pytest
from botocore.stub import ANY, Stubber

from patterns.router import ROUTES
from tests.unit.limits import case_id, length_limits, number_limits

pytestmark = pytest.mark.unit

TASK_ENV = {
    "ROUTES": json.dumps(ROUTES),
    "TASK_FUNCTION_ORDERS": "orders-fn",
    "TASK_FUNCTION_REFUNDS": "refunds-fn",
    "TASK_FUNCTION_TICKETS": "tickets-fn",
}
MESSAGES = {
    "order.placed": ("orders-fn", {"customer_id": "c-1", "total_cents": 1299}),
    "payment.refunded": ("refunds-fn", {"order_id": "o-1", "amount_cents": 500, "reason": "damaged"}),
    "ticket.opened": ("tickets-fn", {"customer_id": "c-1", "subject": "Where is my order?"}),
}


@pytest.fixture(autouse=True)
def fresh_messages(monkeypatch):
    """``messages`` is a top-level module of this pattern's folder: load ours, not another's."""
    monkeypatch.delitem(sys.modules, "messages", raising=False)


@pytest.fixture
def router(load_handler):
    module = load_handler("router", "router", **TASK_ENV)
    with Stubber(module.lambda_client) as stubber:
        module.stubber = stubber
        yield module
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("message_type", sorted(MESSAGES))
def test_each_type_is_handed_to_its_task_as_an_event(router, lambda_context, message_type):
    function, body = MESSAGES[message_type]
    router.stubber.add_response(
        "invoke", {"StatusCode": 202}, {"FunctionName": function, "InvocationType": "Event", "Payload": ANY}
    )
    message = {"id": "m-1", "type": message_type, "body": body}
    assert router.handler(message, lambda_context) == {"id": "m-1", "task": function.removesuffix("-fn")}


class Captured:
    """Matches any value in a stubbed call's expected parameters, and keeps it."""

    value: bytes = b""

    def __eq__(self, other: object) -> bool:
        self.value = other
        return True


def test_the_routed_message_is_the_message_stamped_with_the_routing_time(router, lambda_context):
    payload = Captured()
    router.stubber.add_response(
        "invoke",
        {"StatusCode": 202},
        {"FunctionName": "tickets-fn", "InvocationType": "Event", "Payload": payload},
    )
    message = {"id": "m-1", "type": "ticket.opened", "body": MESSAGES["ticket.opened"][1]}
    router.handler(message, lambda_context)
    sent = json.loads(payload.value)
    routed_at = sent.pop("routed_at")
    assert sent == message and routed_at.endswith("+00:00")


def test_an_unknown_type_fails_the_invocation_naming_the_known_types(router, lambda_context):
    with pytest.raises(
        router.UnknownMessageType, match=r"'invoice\.sent'; known types: order\.placed, payment"
    ):
        router.handler({"id": "m-2", "type": "invoice.sent", "body": {}}, lambda_context)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"type": "order.placed", "body": {}}, "id: required"),
        ({"id": "m", "type": "order.placed", "body": "text"}, "body: expected object, got string"),
        (None, "body: expected a JSON object, got null"),
    ],
)
def test_a_malformed_message_fails_the_invocation(router, lambda_context, event, message):
    from shared.validation import InvalidInput

    with pytest.raises(InvalidInput, match=message):
        router.handler(event, lambda_context)


def test_the_router_refuses_to_start_without_a_tasks_function(load_handler, monkeypatch):
    for name, value in TASK_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TASK_FUNCTION_REFUNDS")
    with pytest.raises(KeyError, match="TASK_FUNCTION_REFUNDS"):
        load_handler("router", "router")


def test_the_route_table_is_the_one_the_construct_gives(load_handler, lambda_context):
    """The router has no route table of its own: a table given in ROUTES is the one it follows."""
    module = load_handler("router", "router", **{**TASK_ENV, "ROUTES": json.dumps({"refund.v2": "refunds"})})
    with Stubber(module.lambda_client) as stubber:
        stubber.add_response(
            "invoke",
            {"StatusCode": 202},
            {"FunctionName": "refunds-fn", "InvocationType": "Event", "Payload": ANY},
        )
        assert (
            module.handler({"id": "m-1", "type": "refund.v2", "body": {}}, lambda_context)["task"]
            == "refunds"
        )
    with pytest.raises(module.UnknownMessageType, match=r"known types: refund\.v2$"):
        module.handler({"id": "m-2", "type": "payment.refunded", "body": {}}, lambda_context)


# --------------------------------------------------------------------------------------------- tasks


@pytest.fixture
def tasks(aws, load_handler):
    boto3.client("dynamodb").create_table(
        TableName="records",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return load_handler("router", "tasks", TABLE_NAME="records")


def routed(message_type: str, body: dict, message_id: str = "m-1") -> dict:
    return {
        "id": message_id,
        "type": message_type,
        "body": body,
        "routed_at": "2026-01-01T00:00:00.000+00:00",
    }


def stored() -> list[dict]:
    return boto3.client("dynamodb").scan(TableName="records")["Items"]


@pytest.mark.parametrize(
    ("entry", "message_type"),
    [
        ("orders_handler", "order.placed"),
        ("refunds_handler", "payment.refunded"),
        ("tickets_handler", "ticket.opened"),
    ],
)
def test_each_task_stores_its_message_once(tasks, lambda_context, entry, message_type):
    handler = getattr(tasks, entry)
    message = routed(message_type, MESSAGES[message_type][1])
    assert handler(message, lambda_context) == {"id": "m-1", "stored": True}
    assert handler(message, lambda_context) == {"id": "m-1", "stored": False}, "a redelivery is a no-op"
    [item] = stored()
    assert item["type"] == {"S": message_type} and item["routed_at"]["S"].startswith("2026-01-01")


@pytest.mark.parametrize(
    ("entry", "body", "message"),
    [
        ("orders_handler", {"customer_id": "c-1", "total_cents": -1}, "total_cents: less than 0"),
        ("refunds_handler", {"order_id": "o-1"}, "amount_cents: required"),
        ("tickets_handler", {"customer_id": "c-1", "subject": ""}, "subject: shorter than 1"),
        ("tickets_handler", {"customer_id": "c-1", "subject": "s", "priority": 1}, "priority: unknown field"),
    ],
)
def test_a_task_refuses_a_body_it_does_not_handle_and_stores_nothing(
    tasks, lambda_context, entry, body, message
):
    from shared.validation import InvalidInput

    with pytest.raises(InvalidInput, match=message):
        getattr(tasks, entry)(routed("any", body), lambda_context)
    assert stored() == []


def test_a_task_refuses_a_message_that_did_not_come_through_the_router(tasks, lambda_context):
    from shared.validation import InvalidInput

    unrouted = {"id": "m-1", "type": "order.placed", "body": MESSAGES["order.placed"][1]}
    with pytest.raises(InvalidInput, match="routed_at: required"):
        tasks.orders_handler(unrouted, lambda_context)


# --------------------------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [*length_limits("id", 1, 128), *length_limits("type", 1, 128)],
    ids=case_id,
)
def test_the_envelope_takes_ids_and_types_of_1_to_128_characters(
    router, lambda_context, field, value, problem
):
    from shared.validation import InvalidInput

    message = {"id": "m-1", "type": "unknown", "body": {}, field: value}
    expected = (InvalidInput, problem) if problem else (router.UnknownMessageType, "no task for")
    with pytest.raises(expected[0], match=expected[1]):
        router.handler(message, lambda_context)


def test_each_routed_or_unroutable_message_counts_once(router, lambda_context, emitted_metrics):
    router.stubber.add_response(
        "invoke",
        {"StatusCode": 202},
        {"FunctionName": "orders-fn", "InvocationType": "Event", "Payload": ANY},
    )
    router.handler({"id": "m-1", "type": "order.placed", "body": {}}, lambda_context)
    assert emitted_metrics() == {"MessagesRouted": 1}
    with pytest.raises(router.UnknownMessageType):
        router.handler({"id": "m-2", "type": "invoice.sent", "body": {}}, lambda_context)
    assert emitted_metrics() == {"UnroutableMessages": 1}


BODY_LIMITS = [
    *[("orders_handler", *case) for case in length_limits("customer_id", 1, 128)],
    *[("orders_handler", *case) for case in number_limits("total_cents", minimum=0)],
    *[("refunds_handler", *case) for case in length_limits("order_id", 1, 128)],
    *[("refunds_handler", *case) for case in number_limits("amount_cents", minimum=1)],
    *[("refunds_handler", *case) for case in length_limits("reason", 0, 500)],
    *[("tickets_handler", *case) for case in length_limits("customer_id", 1, 128)],
    *[("tickets_handler", *case) for case in length_limits("subject", 1, 200)],
]


@pytest.mark.parametrize(("entry", "field", "value", "problem"), BODY_LIMITS, ids=case_id)
def test_each_task_body_field_has_its_documented_limits(tasks, lambda_context, entry, field, value, problem):
    from shared.validation import InvalidInput

    message_type = {"orders_handler": "order.placed", "refunds_handler": "payment.refunded"}.get(
        entry, "ticket.opened"
    )
    body = {**MESSAGES[message_type][1], field: value}
    handler = getattr(tasks, entry)
    if problem:
        with pytest.raises(InvalidInput, match=problem):
            handler(routed(message_type, body), lambda_context)
        assert stored() == []
    else:
        assert handler(routed(message_type, body), lambda_context) == {"id": "m-1", "stored": True}


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        *length_limits("id", 1, 128),
        *length_limits("type", 1, 128),
        ("routed_at", "", "routed_at: shorter than 1"),
    ],
    ids=case_id,
)
def test_a_task_checks_the_envelope_the_router_checked(tasks, lambda_context, field, value, problem):
    from shared.validation import InvalidInput

    message = {**routed("order.placed", MESSAGES["order.placed"][1]), field: value}
    if problem:
        with pytest.raises(InvalidInput, match=problem):
            tasks.orders_handler(message, lambda_context)
    else:
        assert tasks.orders_handler(message, lambda_context)["stored"] is True


def test_a_refund_needs_no_reason(tasks, lambda_context):
    body = {"order_id": "o-1", "amount_cents": 1}
    assert tasks.refunds_handler(routed("payment.refunded", body), lambda_context)["stored"] is True


def test_only_the_delivery_that_stores_a_message_counts_it(tasks, lambda_context, emitted_metrics):
    message = routed("order.placed", MESSAGES["order.placed"][1])
    tasks.orders_handler(message, lambda_context)
    assert emitted_metrics() == {"MessagesStored": 1}
    tasks.orders_handler(message, lambda_context)
    assert emitted_metrics() == {}
