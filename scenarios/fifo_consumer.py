"""FIFOer: entries applied in order per account, a duplicate dropped, a poison entry holding its
own account only until it reaches the FIFO dead-letter queue."""

from __future__ import annotations

from scenarios import Show
from shared.ledger import LedgerPublisher


def entry(account: str, n: int, amount: int) -> dict:
    return {"event_id": f"{account}-{n}", "account_id": account, "amount_cents": amount}


def run(show: Show) -> None:
    cloud = show.cloud
    ledger = LedgerPublisher(cloud.outputs["QueueUrl"], client=cloud.client("sqs"))
    table = cloud.outputs["TableName"]

    def applied(account: str) -> list[str]:
        item = cloud.client("dynamodb").get_item(TableName=table, Key={"account_id": {"S": account}})
        return [e["S"] for e in item.get("Item", {}).get("entries", {}).get("L", [])]

    # Each debit spends the credit just before it: out of order, it would overdraw.
    for n, amount in enumerate((100, -100, 40, -40)):
        ledger.publish(entry("alice", n, amount))
    first = ledger.publish(entry("bob", 0, 500))
    again = ledger.publish(entry("bob", 0, 500))
    show.equal("a duplicate within five minutes is accepted as the first message", again, first)
    ledger.publish(entry("carol", 0, 10))
    ledger.publish(entry("carol", 1, -999))  # overdraws: fails on every receive
    ledger.publish(entry("carol", 2, 5))
    cloud.advance(0)
    show.equal(
        "alice's entries are applied in the order sent", applied("alice"), [f"alice-{n}" for n in range(4)]
    )
    show.equal("bob's entry is applied once", applied("bob"), ["bob-0"])
    show.equal("carol's debit holds her later entry back", applied("carol"), ["carol-0"])

    cloud.drain()
    dead = cloud.client("sqs").receive_message(
        QueueUrl=cloud.outputs["DeadLetterQueueUrl"], MaxNumberOfMessages=10
    )
    show.equal(
        "after 3 receives the debit and the entry held behind it reach the FIFO DLQ, in order",
        [m["Body"].split('"event_id":"')[1].split('"')[0] for m in dead.get("Messages", [])],
        ["carol-1", "carol-2"],
    )
    ledger.publish(entry("carol", 3, 1))
    cloud.drain()
    show.equal("then carol's account goes on", applied("carol"), ["carol-0", "carol-3"])
