"""Scalable webhook: only signed calls get in; 202 at once, a queue absorbs the burst, a throttled
worker stores each webhook once; a forged or replayed call is refused with 401 and never queued."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scenarios import Show

if TYPE_CHECKING:
    from localcloud import LocalCloud
    from localcloud.lib.http import HttpResponse

#: The webhook contract the construct and the handlers read: header names, tolerance, body limit.
CONTRACT: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "functions/scalable_webhook/webhook_contract.json").read_text()
)


class Sender:
    """A webhook provider configured with the stack's signing secret, as its operator would set it up.

    The secret is read through the Secrets Manager API (``SigningSecretArn`` output); each call is
    signed at the cloud's current (virtual) time unless ``timestamp`` says otherwise.
    """

    def __init__(self, cloud: LocalCloud, key: str | None = None) -> None:
        self.cloud = cloud
        if key is None:
            secrets = cloud.client("secretsmanager")
            key = secrets.get_secret_value(SecretId=cloud.outputs["SigningSecretArn"])["SecretString"]
        self.key = key

    def headers(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        signature = CONTRACT["signature"]
        stamp = str(int(self.cloud.clock.now().timestamp()) if timestamp is None else timestamp)
        digest = hmac.new(self.key.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json",
            signature["timestamp_header"]: stamp,
            signature["signature_header"]: signature["prefix"] + digest,
        }

    def post(
        self, webhook: Any, *, timestamp: int | None = None, headers: dict[str, str] | None = None
    ) -> HttpResponse:
        """POST ``webhook`` (an object to send as JSON, or the raw body text), signed."""
        body = webhook if isinstance(webhook, str) else json.dumps(webhook)
        signed = {**self.headers(body.encode(), timestamp=timestamp), **(headers or {})}
        return self.cloud.api().post("/webhooks", body=body, headers=signed)


def run(show: Show) -> None:
    cloud = show.cloud
    sender = Sender(cloud)
    accepted = [
        sender.post({"id": f"evt_{n}", "type": "payment.succeeded", "data": {"n": n}}).status
        for n in range(25)
    ]
    show.equal("every signed webhook is accepted with 202", set(accepted), {202})
    sender.post({"id": "evt_1", "type": "payment.succeeded", "data": {"n": "again"}})
    refused = sender.post("{not json")
    show.equal("a body that is not JSON is refused with 400", refused.status, 400)

    queued_before = len(cloud.trace.find("send"))
    forged = Sender(cloud, key="not-the-secret").post({"id": "evt_f", "type": "refund.created", "data": {}})
    show.equal("a call signed with another secret is refused with 401", forged.status, 401)
    replay_body = json.dumps({"id": "evt_r", "type": "refund.created", "data": {}})
    captured = sender.headers(replay_body.encode())
    cloud.advance(CONTRACT["signature"]["tolerance_seconds"] + 1)
    replayed = cloud.api().post("/webhooks", body=replay_body, headers=captured)
    show.equal("a captured call replayed after the tolerance is refused with 401", replayed.status, 401)
    show.equal("nothing refused was queued", len(cloud.trace.find("send")), queued_before)

    cloud.drain()
    table = cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"]
    show.equal("the worker stores each webhook once, the duplicate included", len(table), 25)
    worker = cloud.function("Pattern/Worker")
    peak = max(
        cloud.service("lambda").invoker.concurrency_at(worker, span.at)
        for span in cloud.trace.find("invoke", target=worker.name)
    )
    show.that("the worker never runs more than 2 at a time", peak <= 2, f"peak concurrency {peak}")
    cloud.client("sqs").send_message(QueueUrl=cloud.outputs["QueueUrl"], MessageBody="{poison")
    cloud.drain()
    dead = (
        cloud.client("sqs").receive_message(QueueUrl=cloud.outputs["DeadLetterQueueUrl"]).get("Messages", [])
    )
    show.equal("a poison message ends in the dead-letter queue", [m["Body"] for m in dead], ["{poison"])
    show.that("nothing else was lost", json.dumps(dead).count("evt_") == 0, dead)
