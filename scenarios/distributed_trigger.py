"""Distributed trigger: the payment service's matching log line reaches every subscriber's queue and a
non-matching one none; a malformed line is reported; a failed publish is kept with its error."""

from __future__ import annotations

import json

from scenarios import Show

SUBSCRIBERS = ("FraudReview", "CustomerCare")


def run(show: Show) -> None:
    cloud = show.cloud
    sqs = cloud.client("sqs")

    def pay(payment_id: str, amount_cents: int, card_last4: str) -> str:
        request = {
            "payment_id": payment_id,
            "customer_id": "c-1",
            "amount_cents": amount_cents,
            "currency": "EUR",
            "card_last4": card_last4,
        }
        return cloud.invoke("Pattern/Producer", request)["Payload"].get("outcome", "")

    def take(output: str) -> list[dict]:
        url, taken = cloud.outputs[output], []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                taken.append(json.loads(message["Body"]))
        return taken

    outcomes = [pay("p1", 25_000, "0002"), pay("p2", 25_000, "4242"), pay("p3", 5_000, "0002")]
    show.equal(
        "the payment service declines p1 and p3, captures p2", outcomes, ["declined", "captured", "declined"]
    )
    cloud.drain()
    for subscriber in SUBSCRIBERS:
        show.equal(
            f"{subscriber} gets only the declined payment of 100.00 or more, as a payment event",
            [(e["event_type"], e["payment"]["payment_id"]) for e in take(f"{subscriber}QueueUrl")],
            [("payment_declined", "p1")],
        )

    logs, group = cloud.client("logs"), cloud.outputs["LogGroupName"]
    logs.create_log_stream(logGroupName=group, logStreamName="legacy")
    line = {"event": "payment_declined", "payment_id": "p4", "amount_cents": 30_000, "currency": "EUR"}
    now = int(cloud.clock.now().timestamp() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="legacy",
        logEvents=[{"timestamp": now, "message": json.dumps(line)}],
    )
    cloud.drain()
    show.equal(
        "a matching line without a customer is reported with the field named",
        [r["reason"] for r in take("FailureQueueUrl")],
        ["payment.customer_id: required"],
    )
    show.equal("and reaches no subscriber", [take(f"{s}QueueUrl") for s in SUBSCRIBERS], [[], []])

    kms = cloud.client("kms")
    key_id = cloud.physical_id("Pattern/TopicKey")
    kms.disable_key(KeyId=key_id)
    try:
        pay("p5", 40_000, "0002")
        cloud.drain()
    finally:
        kms.enable_key(KeyId=key_id)
    failures = take("FailureQueueUrl")
    show.equal(
        "when SNS refuses to publish, Lambda retries twice and keeps the log payload with its error",
        [(f["requestContext"]["condition"], f["requestContext"]["approximateInvokeCount"]) for f in failures],
        [("RetriesExhausted", 3)],
    )
