"""Eventually consistent: what the API writes reaches the PostgreSQL replica, where a query answers
it; the stream replayed newest first regresses nothing; a deletion becomes a tombstone; a change the
replica refuses ends in the failure queue as its batch info while the rest of its batch lands."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from scenarios import Show

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def connect(cloud: Any, sslmode: str = "require") -> Any:
    """A connection to the replica with the cluster secret's credentials, over TLS (as psql would)."""
    import psycopg

    secret = json.loads(
        cloud.client("secretsmanager").get_secret_value(SecretId=cloud.outputs["DatabaseSecretArn"])[
            "SecretString"
        ]
    )
    return psycopg.connect(
        host="127.0.0.1",
        port=secret["port"],
        user=secret["username"],
        password=secret["password"],
        dbname=secret["dbname"],
        sslmode=sslmode,
        autocommit=True,
    )


def stream_records(cloud: Any) -> list[dict[str, Any]]:
    """Every record the table's stream holds, as Lambda hands them to the replicator."""
    streams = cloud.client("dynamodbstreams")
    arn = cloud.client("dynamodb").describe_table(TableName=cloud.outputs["TableName"])["Table"][
        "LatestStreamArn"
    ]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for raw in streams.get_records(ShardIterator=iterator)["Records"]:
            change = dict(raw["dynamodb"])
            change["ApproximateCreationDateTime"] = int(change["ApproximateCreationDateTime"].timestamp())
            records.append({**raw, "eventSource": "aws:dynamodb", "eventSourceARN": arn, "dynamodb": change})
    return records


def live(replica: Any, item_id: str) -> dict[str, Any] | None:
    """The replica's live row of ``item_id``, shaped as the API answers it."""
    row = replica.execute(
        "SELECT name, quantity, price_cents, last_updated FROM live_items WHERE item_id = %s", (item_id,)
    ).fetchone()
    if row is None:
        return None
    name, quantity, price_cents, stamp = row
    micros = (stamp - EPOCH) // timedelta(microseconds=1)
    return {
        "item_id": item_id,
        "name": name,
        "quantity": quantity,
        "price_cents": price_cents,
        "last_updated": micros,
    }


def put_directly(cloud: Any, item_id: str, quantity: int) -> None:
    """Another writer of the table (an import job), bypassing the API's validation."""
    stamp = (cloud.clock.now() - EPOCH) // timedelta(microseconds=1)
    cloud.client("dynamodb").put_item(
        TableName=cloud.outputs["TableName"],
        Item={
            "item_id": {"S": item_id},
            "name": {"S": item_id},
            "quantity": {"N": str(quantity)},
            "price_cents": {"N": "100"},
            "deleted": {"BOOL": False},
            "last_updated": {"N": str(stamp)},
        },
    )


def run(show: Show) -> None:
    cloud = show.cloud
    api = cloud.api()
    api.put("/items/lamp", json={"name": "lamp", "quantity": 3, "price_cents": 1299})
    newest = api.put("/items/lamp", json={"name": "lamp", "quantity": 2, "price_cents": 1099}).json()
    api.put("/items/desk", json={"name": "desk", "quantity": 1, "price_cents": 25000})
    show.equal("GET /items/{id} reads the newest write", api.get("/items/lamp").json(), newest)
    cloud.drain()
    with connect(cloud) as replica:
        show.equal("the replica converges on what the API wrote", live(replica, "lamp"), newest)
        value = replica.execute("SELECT sum(quantity * price_cents) FROM live_items").fetchone()[0]
        show.equal("a query on the replica answers from it: stock value in cents", value, 2 * 1099 + 25000)

        records = stream_records(cloud)
        replayed = cloud.invoke("Pattern/Replicator", {"Records": records[::-1]})["Payload"]
        show.equal(
            "the whole stream replayed newest first is skipped by the last_updated guard",
            replayed,
            {"applied": 0, "skipped": len(records)},
        )
        show.equal("and the replica keeps the newest version", live(replica, "lamp"), newest)

        show.equal("DELETE /items/{id} answers 204", api.delete("/items/desk").status, 204)
        cloud.drain()
        show.equal(
            "the deletion reaches the replica as a tombstone",
            replica.execute("SELECT deleted FROM items WHERE item_id = 'desk'").fetchone(),
            (True,),
        )
        bad = api.put("/items/lamp", json={"name": "lamp", "quantity": -1, "price_cents": 1})
        show.that(
            "a bad body gets 400 naming the field", bad.status == 400 and "quantity" in bad.text, bad.text
        )

        put_directly(cloud, "rug", 2)
        put_directly(cloud, "broken", -5)
        put_directly(cloud, "vase", 7)
        cloud.drain()
        show.equal(
            "the rest of the batch lands around a change the replica refuses",
            [(live(replica, i) or {}).get("quantity") for i in ("rug", "broken", "vase")],
            [2, None, 7],
        )
    messages = (
        cloud.client("sqs")
        .receive_message(QueueUrl=cloud.outputs["FailureQueueUrl"], MaxNumberOfMessages=10)
        .get("Messages", [])
    )
    [sequence] = [
        r["dynamodb"]["SequenceNumber"]
        for r in stream_records(cloud)
        if r["dynamodb"]["Keys"]["item_id"]["S"] == "broken"
    ]
    infos = [json.loads(m["Body"])["DDBStreamBatchInfo"] for m in messages]
    show.equal(
        "the refused change reaches the failure queue alone, as its batch info",
        [(i["batchSize"], i["startSequenceNumber"], i["endSequenceNumber"]) for i in infos],
        [(1, sequence, sequence)],
    )
