"""The eventually consistent handlers' own logic: the writer's stamps strictly increase per item even
within one microsecond or behind a stored stamp from a faster clock, bad input is a 400 naming the
field and an unknown or deleted item a 404; the replicator reads each kind of stream record into a
change, refuses what the replica must not take (naming the field), lands the rest of the batch
before failing it, and lets a connection error fail the batch at once. The real PostgreSQL path
runs in tests/e2e/test_eventually_consistent.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import psycopg
import pytest

pytestmark = pytest.mark.unit

TABLE = "items"


@pytest.fixture
def items(aws, load_handler):
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "item_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "item_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return load_handler("eventually_consistent", "items", TABLE_NAME=TABLE)


@pytest.fixture
def replicator(load_handler):
    return load_handler(
        "eventually_consistent", "replicator", DB_SECRET_ARN="arn:aws:secretsmanager:us-east-1:1:secret:db"
    )


def request(items, context, method: str, item_id: str, body: dict | None = None) -> tuple[int, dict]:
    event = {
        "httpMethod": method,
        "path": f"/items/{item_id}",
        "resource": "/items/{id}",
        "pathParameters": {"id": item_id},
        "body": None if body is None else json.dumps(body),
        "headers": {"Content-Type": "application/json"},
    }
    answer = items.handler(event, context)
    return answer["statusCode"], json.loads(answer["body"]) if answer.get("body") else {}


def test_stamps_strictly_increase_per_item_within_one_microsecond_and_past_a_faster_clock(
    items, lambda_context, monkeypatch
):
    monkeypatch.setattr(items, "now_micros", lambda: 1_000)
    stamps = [
        request(items, lambda_context, "PUT", "a", {"name": "a", "quantity": n, "price_cents": 1})[1]
        for n in range(3)
    ]
    assert [s["last_updated"] for s in stamps] == [1_000, 1_001, 1_002]
    # Another writer whose clock runs ahead stored a later stamp: the next write goes past it.
    boto3.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"item_id": {"S": "a"}},
        UpdateExpression="SET last_updated = :s",
        ExpressionAttributeValues={":s": {"N": "5000"}},
    )
    assert (
        request(items, lambda_context, "PUT", "a", {"name": "a", "quantity": 9, "price_cents": 1})[1][
            "last_updated"
        ]
        == 5_001
    )
    assert request(items, lambda_context, "DELETE", "a")[0] == 204
    tombstone = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"item_id": {"S": "a"}})["Item"]
    assert tombstone["deleted"] == {"BOOL": True} and tombstone["last_updated"] == {"N": "5002"}
    assert int(tombstone["expires_at"]["N"]) == 5002 // 1_000_000 + items.TOMBSTONE_SECONDS
    assert request(items, lambda_context, "GET", "a")[0] == 404
    assert request(items, lambda_context, "DELETE", "a")[0] == 404
    again = request(items, lambda_context, "PUT", "a", {"name": "a", "quantity": 1, "price_cents": 1})[1]
    assert again["last_updated"] == 5_003
    assert request(items, lambda_context, "GET", "a")[1] == again


def test_writers_racing_past_every_stamp_get_a_409_not_a_500(items, lambda_context, monkeypatch):
    """Another writer stores a newer stamp before each of this write's tries: the caller is told to
    retry, and the item keeps the other writer's version."""
    assert (
        request(items, lambda_context, "PUT", "a", {"name": "a", "quantity": 1, "price_cents": 1})[0] == 200
    )
    client, put = boto3.client("dynamodb"), items.table.put_item

    def raced(item, **kwargs):
        client.update_item(
            TableName=TABLE,
            Key={"item_id": {"S": "a"}},
            UpdateExpression="SET last_updated = :s",
            ExpressionAttributeValues={":s": {"N": str(item["last_updated"])}},  # it took this one first
        )
        put(item, **kwargs)

    monkeypatch.setattr(items.table, "put_item", raced)
    status, answer = request(
        items, lambda_context, "PUT", "a", {"name": "b", "quantity": 2, "price_cents": 2}
    )
    assert status == 409 and "a" in answer["message"] and "retry" in answer["message"]
    assert request(items, lambda_context, "GET", "a")[1]["name"] == "a"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "quantity": 1, "price_cents": 1}, "name"),
        ({"name": "a", "quantity": -1, "price_cents": 1}, "quantity"),
        ({"name": "a", "quantity": 1.5, "price_cents": 1}, "quantity"),
        ({"name": "a", "quantity": 1, "price_cents": 10**10}, "price_cents"),
        ({"name": "a", "quantity": 1}, "price_cents"),
        ({"name": "a\x00b", "quantity": 1, "price_cents": 1}, "name"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(items, lambda_context, body, field):
    status, answer = request(items, lambda_context, "PUT", "a", body)
    assert status == 400 and field in answer["message"]


def test_an_item_another_writer_stored_unstamped_is_replaced_and_deleted(items, lambda_context):
    boto3.client("dynamodb").put_item(TableName=TABLE, Item={"item_id": {"S": "raw"}, "name": {"S": "raw"}})
    assert request(items, lambda_context, "GET", "raw")[0] == 200
    assert request(items, lambda_context, "DELETE", "raw")[0] == 204
    boto3.client("dynamodb").put_item(TableName=TABLE, Item={"item_id": {"S": "raw2"}, "name": {"S": "raw"}})
    status, _ = request(items, lambda_context, "PUT", "raw2", {"name": "b", "quantity": 1, "price_cents": 1})
    assert status == 200


def test_an_unknown_item_is_a_404_and_an_oversized_key_a_400(items, lambda_context):
    assert request(items, lambda_context, "GET", "missing")[0] == 404
    assert request(items, lambda_context, "DELETE", "missing")[0] == 404
    status, answer = request(items, lambda_context, "GET", "k" * 300)
    assert status == 400 and "item_id" in answer["message"]


def image(item_id: str, stamp: int, **fields) -> dict:
    image = {"item_id": {"S": item_id}, "last_updated": {"N": str(stamp)}}
    for name, value in fields.items():
        image[name] = (
            {"BOOL": value}
            if isinstance(value, bool)
            else {"N": str(value)}
            if isinstance(value, int | float)
            else {"S": value}
        )
    return image


def record(name: str, sequence: str, *, new: dict | None = None, old: dict | None = None) -> dict:
    change = {"SequenceNumber": sequence, "Keys": {"item_id": (new or old)["item_id"]}}
    if new is not None:
        change["NewImage"] = new
    if old is not None:
        change["OldImage"] = old
    return {"eventName": name, "dynamodb": change}


def test_each_kind_of_record_is_read_into_its_change(replicator):
    at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=1_767_225_600_000_007)
    live = replicator.change_of(
        record(
            "MODIFY",
            "1",
            new=image("a", 1_767_225_600_000_007, name="a", quantity=2, price_cents=5, deleted=False),
        )
    )
    assert (live.item_id, live.last_updated, live.deleted, live.quantity, live.price_cents) == (
        "a",
        at,
        False,
        2,
        5,
    )
    tombstone = replicator.change_of(record("MODIFY", "2", new=image("a", 9, deleted=True)))
    assert tombstone.deleted and tombstone.name is None
    removed = replicator.change_of(
        record("REMOVE", "3", old=image("a", 7, name="a", quantity=2, price_cents=5))
    )
    assert removed.deleted and removed.last_updated == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
        microseconds=7
    )


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (record("INSERT", "1", new={"item_id": {"S": "a"}, "name": {"S": "a"}}), "last_updated"),
        (record("INSERT", "1", new=image("a", 1, name="a", quantity=1.5, price_cents=1)), "quantity"),
        (record("INSERT", "1", new=image("a", 1, name=7, quantity=1, price_cents=1)), "name"),
        (record("REMOVE", "1", new=image("a", 1)), "OldImage"),
    ],
)
def test_a_record_the_replica_must_not_take_is_refused_naming_the_field(replicator, bad, field):
    with pytest.raises(ValueError, match=field):
        replicator.change_of(bad)


def test_the_rest_of_the_batch_lands_before_a_refused_change_fails_it(
    replicator, lambda_context, monkeypatch
):
    applied = []

    def run(work):
        return work("connection")

    def apply(connection, change):
        if change.quantity is not None and change.quantity < 0:
            raise psycopg.errors.CheckViolation("new row violates check constraint")
        applied.append(change.item_id)
        return change.item_id != "stale"

    monkeypatch.setattr(replicator.database, "run", run)
    monkeypatch.setattr(replicator, "apply", apply)
    batch = [
        record("INSERT", "1", new=image("a", 1, name="a", quantity=1, price_cents=1)),
        record("INSERT", "2", new=image("bad", 1, name="b", quantity=-1, price_cents=1)),
        record("INSERT", "3", new=image("stale", 1, name="s", quantity=1, price_cents=1)),
        record("INSERT", "4", new={"item_id": {"S": "nostamp"}}),
    ]
    with pytest.raises(replicator.ChangesRefused, match=r"2: new row violates.*; 4: last_updated"):
        replicator.handler({"Records": batch}, lambda_context)
    assert applied == ["a", "stale"]
    assert replicator.handler({"Records": batch[:1] + batch[2:3]}, lambda_context) == {
        "applied": 1,
        "skipped": 1,
    }


def test_a_connection_error_fails_the_batch_at_once(replicator, lambda_context, monkeypatch):
    def run(work):
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(replicator.database, "run", run)
    with pytest.raises(psycopg.OperationalError):
        replicator.handler(
            {"Records": [record("INSERT", "1", new=image("a", 1, name="a", quantity=1, price_cents=1))]},
            lambda_context,
        )


# Each limit at its edge and one past, the metrics, the stamp's clock and unit, and the replicator's
# counts (issue 17: mutation testing found them unpinned).

TWO_DAYS = 2 * 24 * 3600


def test_body_and_key_limits_hold_at_the_edge_and_one_past_and_writes_are_counted(
    items, lambda_context, emitted_metrics
):
    import time

    edge = {"name": "n" * 100, "quantity": 1_000_000, "price_cents": 10**9}
    before = time.time_ns() // 1000
    status, written = request(items, lambda_context, "PUT", "k" * 256, edge)
    assert status == 200 and before <= written["last_updated"] <= time.time_ns() // 1000, "microseconds now"
    assert request(items, lambda_context, "PUT", "free", {**edge, "price_cents": 0})[0] == 200
    for field, past in (("name", "n" * 101), ("quantity", 1_000_001), ("price_cents", 10**9 + 1)):
        status, answer = request(items, lambda_context, "PUT", "a", {**edge, field: past})
        assert status == 400 and answer["message"].startswith(field), (field, answer)
    status, answer = request(items, lambda_context, "PUT", "a", {**edge, "price_cents": -1})
    assert status == 400 and answer["message"].startswith("price_cents")
    for method in ("PUT", "GET", "DELETE"):
        status, answer = request(items, lambda_context, method, "k" * 257, edge)
        assert status == 400 and "item_id" in answer["message"], (method, answer)
    assert request(items, lambda_context, "GET", "k" * 256)[0] == 200
    assert request(items, lambda_context, "DELETE", "k" * 256)[0] == 204
    assert emitted_metrics() == {"ItemsWritten": 2, "ItemsDeleted": 1}


def test_a_tombstone_expires_two_days_after_its_stamp(items, lambda_context, monkeypatch):
    stamp = 1_767_225_600_250_000  # 2026-01-01T00:00:00.25Z
    monkeypatch.setattr(items, "now_micros", lambda: stamp)
    request(items, lambda_context, "PUT", "a", {"name": "a", "quantity": 1, "price_cents": 1})
    assert request(items, lambda_context, "DELETE", "a")[0] == 204
    tombstone = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"item_id": {"S": "a"}})["Item"]
    assert tombstone["last_updated"] == {"N": str(stamp + 1)}
    assert int(tombstone["expires_at"]["N"]) == 1_767_225_600 + TWO_DAYS


def test_a_writer_outrun_at_every_try_gives_up_after_three(items, monkeypatch):
    monkeypatch.setattr(items, "now_micros", lambda: 1_000)
    client = boto3.client("dynamodb")
    client.put_item(TableName=TABLE, Item={"item_id": {"S": "a"}, "last_updated": {"N": "1"}})
    tried = []

    def write(stamp: int) -> None:
        tried.append(stamp)
        client.put_item(  # another writer gets in first, a little ahead
            TableName=TABLE, Item={"item_id": {"S": "a"}, "last_updated": {"N": str(stamp + 5)}}
        )
        items.table.put_item(
            {"item_id": "a", "last_updated": stamp},
            ConditionExpression=items.NEWER,
            ExpressionAttributeValues={":stamp": {"N": str(stamp)}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    from shared.http import HttpError

    with pytest.raises(
        HttpError, match="item a: other writers changed it during each of 3 tries; retry"
    ) as given_up:
        items.stamped_write("a", write)
    assert given_up.value.status == 409
    assert tried == [1_000, 1_006, 1_012], "each try past the stamp the conflict showed"


def test_the_replicator_counts_what_it_applied_skipped_and_refused(
    replicator, lambda_context, monkeypatch, emitted_metrics
):
    seen = []

    def apply(connection, change):
        if change.quantity == 13:
            raise psycopg.errors.CheckViolation(
                'new row for relation "items" violates check constraint\nDETAIL:  Failing row contains (b).'
            )
        seen.append((change.item_id, change.name))
        return change.item_id != "stale"

    monkeypatch.setattr(replicator.database, "run", lambda work: work("connection"))
    monkeypatch.setattr(replicator, "apply", apply)
    good = [
        record("INSERT", str(n), new=image(item_id, 1, name=f"{item_id} name", quantity=1, price_cents=1))
        for n, item_id in enumerate(("a", "b", "stale"))
    ]
    assert replicator.handler({"Records": good}, lambda_context) == {"applied": 2, "skipped": 1}
    assert seen == [("a", "a name"), ("b", "b name"), ("stale", "stale name")]
    assert emitted_metrics() == {"ChangesApplied": 2, "StaleChangesSkipped": 1}

    refused = [
        record("INSERT", "7", new=image("c", 1, name="c", quantity=13, price_cents=1)),
        record("INSERT", "8", new={"last_updated": {"N": "1"}, "item_id": {"S": ""}}),
        record("INSERT", "9", new={"last_updated": {"N": "1"}, "item_id": {"N": "5"}}),
    ]
    with pytest.raises(replicator.ChangesRefused) as failed:
        replicator.handler({"Records": [good[0], *refused]}, lambda_context)
    assert str(failed.value) == (
        '7: new row for relation "items" violates check constraint; 8: item_id: missing; 9: item_id: missing'
    ), "each refusal by its sequence number, first line only"
    assert emitted_metrics() == {"ChangesApplied": 1, "StaleChangesSkipped": 0, "ChangesRefused": 3}
