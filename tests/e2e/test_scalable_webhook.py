"""The scalable webhook offline, as deployed: signed webhooks POSTed to the API reach the receiver,
which queues them for the worker at its capped concurrency; a poison message ends in the DLQ; a
forged, unsigned or replayed call is refused with 401 and nothing is queued."""

from __future__ import annotations

import copy
import dataclasses
import json
import math

import pytest

from localcloud.core.assembly import load_stack
from scenarios.scalable_webhook import CONTRACT, Sender

pytestmark = pytest.mark.e2e


def webhook(n: int, **overrides) -> str:
    return json.dumps({"id": f"evt_{n}", "type": "payment.succeeded", "data": {"n": n}, **overrides})


@pytest.fixture
def cloud(local_cloud):
    return local_cloud("scalable_webhook")


def post(cloud, *bodies: str) -> list[int]:
    """Send signed webhooks to the API, as a webhook sender does; the statuses it answered."""
    sender = Sender(cloud)
    return [sender.post(body).status_code for body in bodies]


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
    burst = 60  # three rounds of two concurrent batches of 10
    assert post(cloud, *(webhook(n) for n in range(burst))) == [202] * burst, "within the stage's burst"
    cloud.drain()
    assert len(stored(cloud)) == burst
    invocations = cloud.trace.find("invoke", target=worker.name)
    assert len(invocations) == burst // 10, "batches of 10"
    peak = max(cloud.service("lambda").invoker.concurrency_at(worker, span.at) for span in invocations)
    assert peak == 2, "the event source's maximum concurrency holds"
    rounds = math.ceil(burst / (10 * 2))
    assert cloud.clock.elapsed() == pytest.approx(rounds * worker.duration, abs=0.01)


def test_a_malformed_webhook_is_refused_at_the_api_and_never_queued(cloud):
    assert post(cloud, "{not json", json.dumps({"id": "evt_1"})) == [400, 400]
    response = Sender(cloud).post("{not json")
    assert response.json()["message"].startswith("Invalid request body: [not JSON")
    assert cloud.trace.find("invoke") == [] and cloud.trace.find("send") == []


SIGNATURE, TIMESTAMP = CONTRACT["signature"]["signature_header"], CONTRACT["signature"]["timestamp_header"]
TOLERANCE = CONTRACT["signature"]["tolerance_seconds"]


def refusal(response) -> tuple[int, str]:
    return response.status_code, response.json()["message"]


def test_a_forged_call_is_refused_with_401_and_never_queued(cloud):
    body = webhook(1)
    forged = Sender(cloud, key="guessed").post(body)
    assert refusal(forged) == (401, f"{SIGNATURE}: does not match the body")
    sender = Sender(cloud)
    tampered = cloud.api().post(
        "/webhooks", body=webhook(1, data={"n": 1000}), headers=sender.headers(body.encode())
    )
    assert refusal(tampered) == (401, f"{SIGNATURE}: does not match the body"), (
        "the signature covers the body"
    )
    unsigned = cloud.api().post("/webhooks", body=body, headers={"Content-Type": "application/json"})
    assert refusal(unsigned) == (401, f"{SIGNATURE}: required")
    headers = sender.headers(body.encode())
    del headers[TIMESTAMP]
    assert refusal(cloud.api().post("/webhooks", body=body, headers=headers)) == (
        401,
        f"{TIMESTAMP}: required",
    )
    assert refusal(sender.post(body, headers={TIMESTAMP: "yesterday"}))[1] == (
        f"{TIMESTAMP}: expected Unix time in seconds"
    )
    cloud.drain()
    assert cloud.trace.find("send") == [] and stored(cloud) == {}


def test_a_replayed_call_is_refused_once_its_timestamp_is_older_than_the_tolerance(cloud):
    sender = Sender(cloud)
    body = webhook(2)
    captured = sender.headers(body.encode())
    cloud.advance(TOLERANCE)
    assert cloud.api().post("/webhooks", body=body, headers=captured).status_code == 202, "within tolerance"
    cloud.advance(1)
    replayed = cloud.api().post("/webhooks", body=body, headers=captured)
    assert refusal(replayed) == (401, f"{TIMESTAMP}: more than {TOLERANCE} s from now")
    now = int(cloud.clock.now().timestamp())
    assert sender.post(webhook(3), timestamp=now + TOLERANCE + 1).status_code == 401, "nor from the future"
    assert len(cloud.trace.find("send")) == 1


def test_the_secret_is_read_once_and_again_after_five_minutes(cloud, monkeypatch):
    old = Sender(cloud)
    reads: list[str] = []
    key = ("secretsmanager", "GetSecretValue")
    observers = cloud.kernel.registry.observers
    counter = [*observers.get(key, []), lambda _cloud, params, _response: reads.append(params["SecretId"])]
    monkeypatch.setitem(observers, key, counter)
    assert [old.post(webhook(n)).status_code for n in range(3)] == [202] * 3
    assert reads == [cloud.outputs["SigningSecretArn"]], "one read for three webhooks"
    secrets = cloud.client("secretsmanager")
    secrets.put_secret_value(
        SecretId=cloud.outputs["SigningSecretArn"], SecretString="rotated-with-the-sender"
    )
    new = Sender(cloud)
    assert new.post(webhook(4)).status_code == 401, "the cached secret holds for five minutes"
    cloud.advance(301)
    assert (new.post(webhook(5)).status_code, old.post(webhook(6)).status_code) == (202, 401)


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
    response = Sender(cloud).post(json.loads(webhook(9)))
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


def without_statement(cloud_assembly, run, action: str):
    """The stack with ``action`` removed from every identity policy, running."""
    artifact = load_stack(cloud_assembly.directory, "ScalableWebhookStack")
    template = copy.deepcopy(artifact.template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            statements = resource["Properties"]["PolicyDocument"]["Statement"]
            statements[:] = [s for s in statements if s["Action"] != action]
    return run(dataclasses.replace(artifact, template=template))


def test_without_the_receivers_secret_grant_nothing_is_accepted(cloud_assembly, run):
    cloud = without_statement(cloud_assembly, run, "secretsmanager:GetSecretValue")
    assert post(cloud, webhook(1)) == [503], "the receiver cannot check any signature: retry later"
    denied = cloud.trace.find("denied")
    assert denied and "secretsmanager:GetSecretValue" in denied[0].detail
    assert cloud.trace.find("send") == []


def test_without_the_workers_grant_the_pattern_fails_with_access_denied(cloud_assembly, run):
    """What removing ``table.grant(worker, "dynamodb:PutItem")`` from the construct does offline."""
    cloud = without_statement(cloud_assembly, run, "dynamodb:PutItem")
    assert post(cloud, webhook(1)) == [202], "the sender is answered before the worker runs"
    cloud.drain()
    assert stored(cloud) == {}
    denied = cloud.trace.find("denied")
    assert denied and "dynamodb:PutItem" in denied[0].detail
    dead = cloud.client("sqs").receive_message(QueueUrl=cloud.outputs["DeadLetterQueueUrl"])["Messages"]
    assert len(dead) == 1, "the message is not lost: it reaches the DLQ"


def test_serve_prints_the_signing_secret_for_curl(cloud):
    from localcloud.__main__ import secret_lines

    [line] = secret_lines(cloud)
    assert line.startswith("PatternSigningSecret") and line.endswith(": " + Sender(cloud).key)
