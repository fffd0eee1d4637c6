"""The Frugal Consumer's store (its rate over a sliding second) and consumer (what returns to the
queue), against moto; the consumer's calls to the store go to the store's handler in-process."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from freezegun import freeze_time

from tests.events import sqs_event

pytestmark = pytest.mark.unit
LIMIT = 5


def order(n: int, **extra) -> dict:
    return {"id": f"o-{n}", "customer": "c-1", "total_cents": 100 + n, **extra}


@pytest.fixture
def store(aws, load_handler):
    boto3.client("dynamodb").create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return load_handler("frugal_consumer", "store", TABLE_NAME="orders", WRITES_PER_SECOND=str(LIMIT))


class StoreOverLambda:
    """The consumer's Lambda client, invoking the store's handler as Lambda would (or failing)."""

    def __init__(self, store, context, fail: bool = False) -> None:
        self.store, self.context, self.fail, self.calls = store, context, fail, []

    def invoke(self, FunctionName: str, Payload: bytes) -> dict:
        self.calls.append(json.loads(Payload))
        if self.fail:
            body = {"errorType": "Boom", "errorMessage": "the store is down"}
            return {"FunctionError": "Unhandled", "Payload": io.BytesIO(json.dumps(body).encode())}
        answer = self.store.handler(json.loads(Payload), self.context)
        return {"Payload": io.BytesIO(json.dumps(answer).encode())}


@pytest.fixture
def consumer(store, load_handler, lambda_context, monkeypatch):
    module = load_handler(
        "frugal_consumer", "consumer", STORE_FUNCTION="arn:aws:lambda:us-east-1:1:function:s"
    )
    monkeypatch.setattr(module, "lambda_client", StoreOverLambda(store, lambda_context))
    return module


def stored() -> dict[str, int]:
    items = boto3.client("dynamodb").scan(TableName="orders")["Items"]
    return {i["id"]["S"]: int(i["written_at"]["N"]) for i in items if "written_at" in i}


def failed(answer: dict, event: dict) -> list[int]:
    ids = [r["messageId"] for r in event["Records"]]
    return sorted(ids.index(f["itemIdentifier"]) for f in answer["batchItemFailures"])


def test_the_store_takes_its_rate_in_any_one_second_and_throttles_the_rest(store, lambda_context):
    with freeze_time("2026-01-01 00:00:00") as clock:
        first = store.handler({"writes": [order(n) for n in range(3)]}, lambda_context)
        assert first == {"stored": ["o-0", "o-1", "o-2"], "throttled": []}
        clock.tick(0.5)
        second = store.handler({"writes": [order(n) for n in range(3, 7)]}, lambda_context)
        assert second == {"stored": ["o-3", "o-4"], "throttled": ["o-5", "o-6"]}, "5 in the last second"
        clock.tick(0.5)
        third = store.handler({"writes": [order(n) for n in range(5, 9)]}, lambda_context)
        assert third == {"stored": ["o-5", "o-6", "o-7"], "throttled": ["o-8"]}, (
            "the first three left the window; the two at 0.5 s are still in it"
        )
    assert len(stored()) == 8


def test_a_repeated_write_is_stored_once(store, lambda_context):
    with freeze_time("2026-01-01 00:00:00") as clock:
        store.handler({"writes": [order(1)]}, lambda_context)
        before = stored()
        clock.tick(2)
        again = store.handler({"writes": [order(1, total_cents=999)]}, lambda_context)
    assert again == {"stored": ["o-1"], "throttled": []}
    assert stored() == before, "left as first written"


@pytest.mark.parametrize(
    "event", [{}, {"writes": "o-1"}, {"writes": [{"customer": "c"}]}, {"writes": [{"id": "#limiter"}]}]
)
def test_the_store_refuses_what_is_not_a_list_of_writes(store, lambda_context, event):
    with pytest.raises(store.BadRequest, match="writes"):
        store.handler(event, lambda_context)


def logged_failures(caplog) -> list[str]:
    """The reason the batch processor logged for each failed record, in the order of the batch."""
    return [f"{r.exc_info[0].__name__}: {r.exc_info[1]}" for r in caplog.records if r.exc_info]


def test_throttled_orders_are_reported_failed_and_the_rest_are_not(consumer, lambda_context, emitted_metrics):
    event = sqs_event(*(order(n) for n in range(8)))
    emitted_metrics()
    with freeze_time("2026-01-01 00:00:00"):
        answer = consumer.handler(event, lambda_context)
    assert failed(answer, event) == [5, 6, 7], "the store took 5 this second"
    assert emitted_metrics() == {"StoreWrites": 5, "StoreThrottled": 3, "OrdersThrottled": 3}
    assert set(stored()) == {f"o-{n}" for n in range(5)}
    assert len(consumer.lambda_client.calls) == 1, "one store call per batch"


def test_bad_messages_fail_alone_with_the_field_named(consumer, lambda_context, caplog):
    bad = ["{not json", json.dumps(order(2, total_cents=-1)), json.dumps(order(3, id="a b")), "[]"]
    event = sqs_event(order(1), *bad)
    caplog.clear()
    with freeze_time("2026-01-01 00:00:00"):
        answer = consumer.handler(event, lambda_context)
    assert failed(answer, event) == [1, 2, 3, 4]
    reasons = logged_failures(caplog)
    assert len(reasons) == 4
    assert "total_cents: less than 0" in reasons[1] and "id: only letters" in reasons[2], reasons
    assert all("InvalidInput" in reason for reason in reasons), "each bad message's own problem is logged"
    assert set(stored()) == {"o-1"}
    assert consumer.lambda_client.calls == [{"writes": [order(1)]}], "bad messages never reach the store"
    with pytest.raises(consumer.InvalidInput, match="total_cents: less than 0"):
        consumer.parse_order(bad[1])
    with pytest.raises(consumer.InvalidInput, match="id: only letters"):
        consumer.parse_order(bad[2])


def test_a_failing_store_returns_every_valid_order_and_a_duplicate_is_sent_once(
    consumer, lambda_context, caplog
):
    consumer.lambda_client.fail = True
    event = sqs_event(order(1), order(1), order(2))
    caplog.clear()
    answer = consumer.handler(event, lambda_context)
    assert failed(answer, event) == [0, 1, 2]
    assert [reason.split(": ", 1)[1] for reason in logged_failures(caplog)] == [
        "o-1: the store did not store it",
        "o-1: the store did not store it",
        "o-2: the store did not store it",
    ]
    assert consumer.lambda_client.calls == [{"writes": [order(1), order(2)]}]


def test_a_throttled_order_is_logged_as_throttled_not_as_lost(consumer, lambda_context, caplog):
    with freeze_time("2026-01-01 00:00:00"):
        consumer.handler(sqs_event(*(order(n) for n in range(LIMIT))), lambda_context)
        caplog.clear()
        answer = consumer.handler(sqs_event(order(9)), lambda_context)
    assert len(answer["batchItemFailures"]) == 1
    assert [reason.split(": ", 1)[1] for reason in logged_failures(caplog)] == [
        "o-9: the store is at its rate; tried again later"
    ]


def test_capacity_another_instance_spent_meanwhile_is_read_again(store, lambda_context, monkeypatch):
    """The limiter item is replaced conditionally on its version: when another instance of the store
    replaced it between read and write, the store reads it again; after three such races it throttles."""
    put = store.table.put_item
    races = {"left": 1}

    def racing_put(item, **kwargs):
        if item["id"] == store.LIMITER_KEY and races["left"]:
            races["left"] -= 1
            put({**item, "recent": [store.now_ms()] * (LIMIT - 1), "version": item["version"]})  # the other's
            raise store.table.ConditionalCheckFailed(
                {"Error": {"Code": "ConditionalCheckFailedException"}}, "PutItem"
            )
        return put(item, **kwargs)

    monkeypatch.setattr(store.table, "put_item", racing_put)
    with freeze_time("2026-01-01 00:00:00") as clock:
        answer = store.handler({"writes": [order(n) for n in range(3)]}, lambda_context)
        assert answer == {"stored": ["o-0"], "throttled": ["o-1", "o-2"]}, "the other instance took 4 of 5"
        clock.tick(2)
        races["left"] = 2
        answer = store.handler({"writes": [order(n) for n in range(3, 6)]}, lambda_context)
        assert answer == {"stored": ["o-3"], "throttled": ["o-4", "o-5"]}, "the third attempt wins"
        clock.tick(2)
        races["left"] = 3
        answer = store.handler({"writes": [order(8), order(9)]}, lambda_context)
        assert answer == {"stored": [], "throttled": ["o-8", "o-9"]}


def test_the_window_is_one_second_sliding_full_at_the_limit_and_throttling_one_past(store, lambda_context):
    """At exactly N writes the next is throttled, with nothing stored; 999 ms later the window
    still holds them, at 1000 ms they have left it."""
    with freeze_time("2026-01-01 00:00:00") as clock:
        full = store.handler({"writes": [order(n) for n in range(LIMIT)]}, lambda_context)
        assert full == {"stored": [f"o-{n}" for n in range(LIMIT)], "throttled": []}
        limiter = store.table.get_item({"id": store.LIMITER_KEY})
        assert store.handler({"writes": [order(5), order(6)]}, lambda_context) == {
            "stored": [],
            "throttled": ["o-5", "o-6"],
        }
        assert store.table.get_item({"id": store.LIMITER_KEY}) == limiter, "a throttled call spends nothing"
        clock.tick(0.999)
        assert store.handler({"writes": [order(5)]}, lambda_context)["throttled"] == ["o-5"]
        clock.tick(0.001)
        assert store.handler({"writes": [order(5)]}, lambda_context)["stored"] == ["o-5"]
    assert stored()["o-5"] == stored()["o-0"] + 1000, "written_at is the store's clock in ms"


def test_a_write_is_stamped_with_the_epoch_milliseconds_it_was_stored_at(store, lambda_context):
    with freeze_time("2026-01-01 00:00:00.250"):
        store.handler({"writes": [order(1)]}, lambda_context)
    assert stored() == {"o-1": 1_767_225_600_250}


def test_two_instances_never_spend_the_same_capacity(store, monkeypatch):
    """Another instance spends capacity between this one's read of the limiter and its write: the
    write conditional on the version it read fails, and it grants only what is left."""
    get = store.table.get_item
    other = {"pending": True}

    def read_then_race(key, **kwargs):
        item = get(key, **kwargs)
        if other["pending"]:
            other["pending"] = False
            assert store.admit(LIMIT - 1, at) == LIMIT - 1
        return item

    monkeypatch.setattr(store.table, "get_item", read_then_race)
    with freeze_time("2026-01-01 00:00:00"):
        at = store.now_ms()
        assert store.admit(3, at) == 1
    assert len(get({"id": store.LIMITER_KEY})["recent"]) == LIMIT


def test_the_store_counts_new_repeated_and_throttled_writes(store, lambda_context, emitted_metrics):
    emitted_metrics()
    with freeze_time("2026-01-01 00:00:00") as clock:
        store.handler({"writes": [order(1)]}, lambda_context)
        assert emitted_metrics() == {"StoreWrites": 1}
        clock.tick(2)
        store.handler({"writes": [order(n) for n in range(1, 8)]}, lambda_context)
    assert emitted_metrics() == {"StoreWrites": 4, "StoreRepeatedWrites": 1, "StoreThrottled": 2}


def test_an_order_is_taken_at_each_limit_and_refused_one_past_with_the_field_named(consumer):
    cases = [
        ("id", "a" * 64, "a" * 65, "longer than 64"),
        ("id", "a", "", "shorter than 1"),
        ("customer", "c" * 64, "c" * 65, "longer than 64"),
        ("customer", "c", "", "shorter than 1"),
        ("total_cents", 10**12, 10**12 + 1, "greater than 1000000000000"),
    ]
    for field, limit, past, problem in cases:
        assert consumer.parse_order(json.dumps(order(1, **{field: limit})))[field] == limit
        with pytest.raises(consumer.InvalidInput, match=f"^{field}: {problem}"):
            consumer.parse_order(json.dumps(order(1, **{field: past})))
