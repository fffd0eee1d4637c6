"""The FIFOer offline, as deployed: ledger entries published per account are applied in the order
sent, a duplicate within five minutes is delivered once, and a poison entry holds its own account
(behind it, nothing of that account is applied) until it reaches the FIFO dead-letter queue, while
other accounts go on. One cloud for the module: each test uses accounts of its own."""

from __future__ import annotations

import json

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from patterns.registry import get
from shared.ledger import LedgerPublisher

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    cloud = LocalCloud(
        load_stack(cloud_assembly.directory, get("fifo_consumer").stack_name), start=FIXED_START
    )
    cloud.start()
    yield cloud
    cloud.stop()


@pytest.fixture
def ledger(cloud) -> LedgerPublisher:
    return LedgerPublisher(cloud.outputs["QueueUrl"], client=cloud.client("sqs"))


def entry(account: str, n: int, amount: int, **extra) -> dict:
    return {"event_id": f"{account}-{n}", "account_id": account, "amount_cents": amount, **extra}


def account(cloud, account_id: str) -> dict:
    item = cloud.client("dynamodb").get_item(
        TableName=cloud.outputs["TableName"], Key={"account_id": {"S": account_id}}
    )
    return item.get("Item", {})


def applied(cloud, account_id: str) -> list[str]:
    return [e["S"] for e in account(cloud, account_id).get("entries", {}).get("L", [])]


def delivered(cloud, message_id: str) -> int:
    return sum(message_id in span.data["message_ids"] for span in cloud.trace.find("deliver"))


def queued_bodies(cloud, output: str) -> list[str]:
    name = cloud.outputs[output].rsplit("/", 1)[1]
    return [m.body for m in cloud.service("sqs").moto_queue(name)._messages]


def test_entries_are_applied_in_the_order_sent_within_each_account(cloud, ledger):
    # Every debit spends the credit just before it: applied out of order, one would overdraw.
    sent: dict[str, list[str]] = {"ord-a": [], "ord-b": []}
    for n in range(12):
        for account_id in sent:
            amount = 100 + n if n % 2 == 0 else -(100 + n - 1)
            ledger.publish(entry(account_id, n, amount))
            sent[account_id].append(f"{account_id}-{n}")
    cloud.drain()
    for account_id, event_ids in sent.items():
        assert applied(cloud, account_id) == event_ids
        assert account(cloud, account_id)["balance_cents"] == {"N": "0"}
    assert not queued_bodies(cloud, "DeadLetterQueueUrl")
    batches = [len(span.data["message_ids"]) for span in cloud.trace.find("deliver")]
    assert max(batches) == 10, "batches of up to 10"


def test_a_duplicate_within_five_minutes_is_delivered_once(cloud, ledger):
    first = ledger.publish(entry("dup-a", 1, 500))
    cloud.drain()
    cloud.advance(299)
    assert ledger.publish(entry("dup-a", 1, 500)) == first, "content-based: the same body is the same entry"
    cloud.drain()
    assert delivered(cloud, first) == 1
    cloud.advance(1)
    after = ledger.publish(entry("dup-a", 1, 500))
    cloud.drain()
    assert after != first and delivered(cloud, after) == 1, "five minutes on, SQS delivers it again"
    assert applied(cloud, "dup-a") == ["dup-a-1"], "and the consumer writes it once"
    assert account(cloud, "dup-a")["balance_cents"] == {"N": "500"}

    explicit = ledger.publish(entry("dup-b", 1, 70, memo="first try"), deduplication_id="dup-b-1")
    retried = ledger.publish(entry("dup-b", 1, 70, memo="retried"), deduplication_id="dup-b-1")
    cloud.drain()
    assert retried == explicit, "an explicit id deduplicates bodies that differ"
    assert applied(cloud, "dup-b") == ["dup-b-1"] and delivered(cloud, explicit) == 1


def test_a_poison_entry_holds_its_account_until_it_reaches_the_dlq_while_others_go_on(cloud, ledger):
    ledger.publish(entry("poison-a", 1, 100))
    ledger.publish(entry("poison-a", 2, -500))  # overdraws: fails every time
    ledger.publish(entry("poison-a", 3, 50))  # in the poison entry's batch
    for n in range(3):
        ledger.publish(entry("poison-b", n, 10))
    cloud.client("sqs").send_message(
        QueueUrl=cloud.outputs["QueueUrl"], MessageBody="{not json", MessageGroupId="poison-c"
    )
    cloud.advance(0)
    assert applied(cloud, "poison-b") == ["poison-b-0", "poison-b-1", "poison-b-2"], "group B goes on"
    assert applied(cloud, "poison-a") == ["poison-a-1"]
    # A credit that would let the debit through if it overtook it.
    ledger.publish(entry("poison-a", 4, 1000))
    poison = json.dumps(entry("poison-a", 2, -500), separators=(",", ":"), sort_keys=True)
    for _ in range(60):
        if poison not in queued_bodies(cloud, "QueueUrl"):
            break
        assert "poison-a-4" not in applied(cloud, "poison-a"), "nothing of group A overtakes the poison entry"
        cloud.advance(30)
    cloud.drain()
    assert applied(cloud, "poison-a") == ["poison-a-1", "poison-a-4"]
    assert account(cloud, "poison-a")["balance_cents"] == {"N": "1100"}
    dead = queued_bodies(cloud, "DeadLetterQueueUrl")
    assert [json.loads(b)["event_id"] for b in dead if b.startswith('{"')] == ["poison-a-2", "poison-a-3"], (
        "the batch's later entry of the group was held back with it, and both reach the DLQ in order"
    )
    assert "{not json" in dead, "a malformed message reaches the DLQ too"
    redrives = cloud.trace.find("redrive")
    assert len(redrives) == 3 and all(r.detail.endswith("after 3 receives") for r in redrives)
