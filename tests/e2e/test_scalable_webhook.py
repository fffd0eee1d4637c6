"""The scalable webhook offline, as deployed: webhooks POSTed to the API reach the receiver, which
queues them for the worker at its capped concurrency; a poison message ends in the DLQ."""

from __future__ import annotations

import copy
import dataclasses
import json
import math

import pytest

from localcloud.assembly import load_stack

pytestmark = pytest.mark.e2e


def webhook(n: int, **overrides) -> str:
    return json.dumps({"id": f"evt_{n}", "type": "payment.succeeded", "data": {"n": n}, **overrides})


@pytest.fixture
def cloud(local_cloud):
    return local_cloud("scalable_webhook")


def post(cloud, *bodies: str) -> list[int]:
    """Send webhooks to the API, as a webhook sender does; the statuses it answered."""
    api = cloud.api()
    return [
        api.post("/webhooks", body=body, headers={"Content-Type": "application/json"}).status_code
        for body in bodies
    ]


def enqueue(cloud, *bodies: str) -> None:
    """Put messages on the queue directly, as another producer of the queue would."""
    for body in bodies:
        cloud.client("sqs").send_message(QueueUrl=cloud.outputs["QueueUrl"], MessageBody=body)


def stored(cloud) -> dict[str, dict]:
    items = cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"]
    return {item["id"]["S"]: item for item in items}


def test_a_burst_drains_at_the_throttle(cloud):
    worker = cloud.function("Pattern/Worker")
    worker.duration = 2.0
    assert post(cloud, *(webhook(n) for n in range(100))) == [202] * 100, "within the stage's burst"
    cloud.drain()
    assert len(stored(cloud)) == 100
    invocations = cloud.trace.find("invoke", target=worker.name)
    assert len(invocations) == 10, "batches of 10"
    peak = max(cloud.invoker.concurrency_at(worker, span.at) for span in invocations)
    assert peak == 2, "the event source's maximum concurrency holds"
    rounds = math.ceil(100 / (10 * 2))
    assert cloud.clock.elapsed() == pytest.approx(rounds * worker.duration, abs=0.01)


def test_a_malformed_webhook_is_refused_at_the_api_and_never_queued(cloud):
    assert post(cloud, "{not json", json.dumps({"id": "evt_1"})) == [400, 400]
    response = cloud.api().post("/webhooks", body="{not json", headers={"Content-Type": "application/json"})
    assert response.json()["message"].startswith("Invalid request body: [not JSON")
    assert cloud.trace.find("invoke") == [] and cloud.trace.find("send") == []


def test_a_poison_message_lands_in_the_dlq_and_the_rest_are_stored(cloud):
    assert post(cloud, webhook(1)) == [202]
    enqueue(cloud, "{not json")
    assert post(cloud, webhook(2)) == [202]
    cloud.drain()
    assert set(stored(cloud)) == {"evt_1", "evt_2"}
    dead = cloud.client("sqs").receive_message(QueueUrl=cloud.outputs["DeadLetterQueueUrl"])["Messages"]
    assert [m["Body"] for m in dead] == ["{not json"]
    worker = cloud.function("Pattern/Worker").name
    assert len(cloud.trace.find("invoke", target=worker)) == 3, (
        "one batch, then the poison message alone twice"
    )
    assert [r.outcome for r in cloud.trace.find("request")] == ["202", "202"]


def test_a_duplicate_webhook_is_written_once(cloud):
    assert post(cloud, webhook(7)) == [202]
    cloud.drain()
    first = stored(cloud)["evt_7"]
    assert post(cloud, webhook(7, data={"n": "changed"})) == [202], "the sender's retry is accepted"
    cloud.drain()
    assert stored(cloud) == {"evt_7": first}


def test_the_receiver_enqueues_what_the_worker_stores(cloud):
    response = cloud.api().post("/webhooks", json=json.loads(webhook(9)))
    assert (response.status_code, response.json()) == (202, {"accepted": "evt_9"})
    cloud.drain()
    assert json.loads(stored(cloud)["evt_9"]["data"]["S"]) == {"n": 9}
    [request] = cloud.trace.find("request")
    [receive] = cloud.trace.find("invoke", target=cloud.function("Pattern/Receiver").name)
    [send] = cloud.trace.find("send")
    assert send.source == cloud.function("Pattern/Receiver").name, (
        "the trace links the receiver to the delivery"
    )
    assert (receive.parent, send.parent) == (request.id, receive.id), "and the request to the receiver"


def test_without_the_workers_grant_the_pattern_fails_with_access_denied(cloud_assembly, run):
    """What removing ``table.grant(worker, "dynamodb:PutItem")`` from the construct does offline."""
    artifact = load_stack(cloud_assembly.directory, "ScalableWebhookStack")
    template = copy.deepcopy(artifact.template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            statements = resource["Properties"]["PolicyDocument"]["Statement"]
            statements[:] = [s for s in statements if s["Action"] != "dynamodb:PutItem"]
    cloud = run(dataclasses.replace(artifact, template=template))
    assert post(cloud, webhook(1)) == [202], "the sender is answered before the worker runs"
    cloud.drain()
    assert stored(cloud) == {}
    denied = cloud.trace.find("denied")
    assert denied and "dynamodb:PutItem" in denied[0].detail
    dead = cloud.client("sqs").receive_message(QueueUrl=cloud.outputs["DeadLetterQueueUrl"])["Messages"]
    assert len(dead) == 1, "the message is not lost: it reaches the DLQ"
