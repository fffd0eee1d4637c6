"""Eventually consistent offline, on the real PostgreSQL the local cloud starts behind Aurora: the
replica converges on what the API wrote (a query on the replica answers it); the whole stream
replayed, newest first, regresses nothing; a deletion is a tombstone an older change cannot undo;
a change the replica refuses reaches the failure queue as AWS's batch info while the rest of its
batch lands; the cluster refuses a connection without TLS. One cloud for the module."""

from __future__ import annotations

import json

import psycopg
import pytest
from hypothesis import example, given, settings

from localcloud.core.clock import FIXED_START
from localcloud.testing import cloud_for
from patterns.eventually_consistent import ITEM_SCHEMA
from scenarios.eventually_consistent import connect, live, put_directly, stream_records
from tests.e2e.fuzz import FUZZ, assert_no_5xx, bodies, content_types, ids, segment

pytestmark = pytest.mark.e2e

STACK = "EventuallyConsistentStack"


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    with cloud_for(cloud_assembly.directory, STACK, start=FIXED_START) as running:
        yield running


@pytest.fixture(scope="module")
def replica(cloud):
    """The test's own connection to the replica, over TLS as the cluster requires (as psql would)."""
    put(cloud, "warmup", name="warmup", quantity=0, price_cents=0)
    cloud.drain()  # starts the server and lets the replicator migrate the schema
    with connect(cloud) as connection:
        yield connection


def put(cloud, item_id: str, **body) -> dict:
    response = cloud.api().request("PUT", f"/items/{item_id}", json=body)
    assert response.status_code == 200, response.body
    return response.json()


def replay(cloud, records: list[dict]) -> dict:
    return cloud.invoke("Pattern/Replicator", {"Records": records})["Payload"]


def test_the_replica_converges_on_what_the_api_wrote(cloud, replica):
    put(cloud, "lamp", name="lamp", quantity=3, price_cents=1299)
    newest = put(cloud, "lamp", name="lamp", quantity=2, price_cents=1099)
    desk = put(cloud, "desk", name="desk", quantity=1, price_cents=25000)
    assert newest["last_updated"] > 0 and live(replica, "lamp") is None  # nothing before the stream runs
    cloud.drain()
    read = cloud.api().request("GET", "/items/lamp").json()
    assert live(replica, "lamp") == read == newest
    assert live(replica, "desk") == desk
    total = replica.execute(
        "SELECT sum(quantity * price_cents) FROM live_items WHERE item_id IN ('lamp', 'desk')"
    ).fetchone()[0]
    assert total == 2 * 1099 + 25000


def test_the_whole_stream_replayed_newest_first_regresses_nothing(cloud, replica):
    before = replica.execute("SELECT item_id, last_updated, deleted FROM items ORDER BY item_id").fetchall()
    records = stream_records(cloud)
    assert len(records) >= 4
    answer = replay(cloud, list(reversed(records)))
    assert answer == {"applied": 0, "skipped": len(records)}
    assert (
        replica.execute("SELECT item_id, last_updated, deleted FROM items ORDER BY item_id").fetchall()
        == before
    )


def test_a_deletion_is_a_tombstone_that_an_older_change_cannot_undo(cloud, replica):
    put(cloud, "chair", name="chair", quantity=4, price_cents=4500)
    cloud.drain()
    older = [r for r in stream_records(cloud) if r["dynamodb"]["Keys"]["item_id"]["S"] == "chair"]
    assert cloud.api().request("DELETE", "/items/chair").status_code == 204
    assert cloud.api().request("DELETE", "/items/chair").status_code == 404
    cloud.drain()
    assert live(replica, "chair") is None
    assert replica.execute("SELECT deleted FROM items WHERE item_id = 'chair'").fetchone() == (True,)
    assert replay(cloud, older) == {"applied": 0, "skipped": 1}
    assert live(replica, "chair") is None
    again = put(cloud, "chair", name="chair", quantity=1, price_cents=5000)
    cloud.drain()
    assert live(replica, "chair") == again


def test_another_writers_delete_wins_the_tie_with_the_version_it_removed(cloud, replica):
    """A REMOVE carries the removed version's stamp, equal to the replica's live row: the tombstone
    must win that tie, and a replay of the removed version must not bring it back."""
    kept = put(cloud, "stool", name="stool", quantity=1, price_cents=900)
    cloud.drain()
    assert live(replica, "stool") == kept
    cloud.client("dynamodb").delete_item(
        TableName=cloud.outputs["TableName"], Key={"item_id": {"S": "stool"}}
    )
    cloud.drain()
    row = replica.execute("SELECT deleted, last_updated FROM items WHERE item_id = 'stool'").fetchone()
    assert row[0] is True and live(replica, "stool") is None, "the deletion reached the replica"
    stool = [r for r in stream_records(cloud) if r["dynamodb"]["Keys"]["item_id"]["S"] == "stool"]
    assert [r["eventName"] for r in stool] == ["INSERT", "REMOVE"]
    assert replay(cloud, stool) == {"applied": 0, "skipped": 2}
    assert live(replica, "stool") is None


def test_a_change_the_replica_refuses_goes_to_the_destination_while_the_rest_lands(cloud, replica):
    # Another writer of the table puts three items at once; one breaks the replica's CHECK.
    for item_id, quantity in (("rug", 2), ("broken", -5), ("vase", 7)):
        put_directly(cloud, item_id, quantity)
    cloud.drain()
    assert (live(replica, "rug") or {}).get("quantity") == 2
    assert (live(replica, "vase") or {}).get("quantity") == 7
    assert replica.execute("SELECT 1 FROM items WHERE item_id = 'broken'").fetchone() is None
    [bad] = [r for r in stream_records(cloud) if r["dynamodb"]["Keys"]["item_id"]["S"] == "broken"]
    messages = (
        cloud.client("sqs")
        .receive_message(QueueUrl=cloud.outputs["FailureQueueUrl"], MaxNumberOfMessages=10)
        .get("Messages", [])
    )
    [record] = [json.loads(message["Body"]) for message in messages]
    info = record["DDBStreamBatchInfo"]
    assert (info["batchSize"], info["startSequenceNumber"], info["endSequenceNumber"]) == (
        1,
        bad["dynamodb"]["SequenceNumber"],
        bad["dynamodb"]["SequenceNumber"],
    )
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["responseContext"]["functionError"] == "Unhandled"


def test_bad_input_is_a_400_naming_the_field_and_an_unknown_item_a_404(cloud):
    response = cloud.api().request("PUT", "/items/x", json={"name": "x", "quantity": -1, "price_cents": 1})
    assert response.status_code == 400 and "quantity" in response.json()["message"]
    # The table would take a NUL character; the replica's text cannot, so the API refuses it first.
    response = cloud.api().request(
        "PUT", "/items/x", json={"name": "a\u0000b", "quantity": 1, "price_cents": 1}
    )
    assert response.status_code == 400 and "name" in response.json()["message"]
    assert cloud.api().request("GET", "/items/nothing-here").status_code == 404
    assert cloud.api().request("DELETE", "/items/nothing-here").status_code == 404


def test_the_cluster_refuses_a_connection_without_tls(cloud, replica):
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        connect(cloud, "disable")


@settings(FUZZ, max_examples=3)
@given(body=bodies(ITEM_SCHEMA), content_type=content_types, item_id=ids())
@example(
    body=b'{"name": "\\u0000", "quantity": 1, "price_cents": 1}',
    content_type="text/plain",
    item_id="k" * 2049,
)
def test_no_hostile_body_or_id_gets_a_5xx(cloud, body, content_type, item_id):
    cloud.advance(1)
    response = cloud.api().request(
        "PUT", f"/items/{segment(item_id)}", body=body, headers={"Content-Type": content_type}
    )
    assert_no_5xx(response, f"PUT /items/{segment(item_id)[:100]} {content_type} {body[:200]!r}")
    for method in ("GET", "DELETE"):
        cloud.advance(1)
        answer = cloud.api().request(method, f"/items/{segment(item_id)}")
        assert_no_5xx(answer, f"{method} /items/{segment(item_id)[:200]}")


def test_a_change_the_replica_lacks_is_applied_once_and_then_skipped(cloud, replica):
    put(cloud, "shade", name="shade", quantity=1, price_cents=900)
    [fresh] = [r for r in stream_records(cloud) if r["dynamodb"]["Keys"]["item_id"]["S"] == "shade"]
    assert replay(cloud, [fresh]) == {"applied": 1, "skipped": 0}
    assert replay(cloud, [fresh]) == {"applied": 0, "skipped": 1}, "a redelivery is skipped"
    cloud.drain()
    assert (live(replica, "shade") or {}).get("quantity") == 1
