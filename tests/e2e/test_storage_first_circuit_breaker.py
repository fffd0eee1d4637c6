"""Storage-first + circuit breaker offline, as deployed, on the virtual clock: requests stored in SQS
during a counted outage of the fulfilment service wait there, unreceived, while the circuit is open
(the recovery check disables the processor's event source mapping), none reaches the dead-letter
queue however long the outage, and after recovery every one is processed, none twice."""

from __future__ import annotations

import json

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START

pytestmark = pytest.mark.e2e

PROCESSOR, FULFILMENT = "Pattern/Intake/Processor", "Pattern/Fulfilment"
#: Requests sent while the service is down.
DURING_OUTAGE = 12
#: The construct's defaults: failures that open the circuit, the longest it stays open.
THRESHOLD, MAX_OPEN_SECONDS = 5, 600


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    with LocalCloud(
        load_stack(cloud_assembly.directory, "StorageFirstCircuitBreakerStack"), start=FIXED_START
    ) as started:
        yield started


def post(cloud, n: int) -> str:
    answer = cloud.api().post("/requests", json={"type": "order.placed", "payload": {"order_id": f"o-{n}"}})
    assert answer.status == 202, answer.text
    return answer.json()["requestId"]


def outage(cloud, on: bool) -> None:
    ddb, table = cloud.client("dynamodb"), cloud.outputs["FulfilmentTableName"]
    if on:
        ddb.put_item(TableName=table, Item={"request_id": {"S": "OUTAGE"}})
    else:
        ddb.delete_item(TableName=table, Key={"request_id": {"S": "OUTAGE"}})


def deliveries(cloud) -> dict[str, int]:
    """How many times the fulfilment service accepted each request."""
    items = cloud.client("dynamodb").scan(TableName=cloud.outputs["FulfilmentTableName"])["Items"]
    return {i["request_id"]["S"]: int(i["deliveries"]["N"]) for i in items if "deliveries" in i}


def processed(cloud) -> set[str]:
    items = cloud.client("dynamodb").scan(TableName=cloud.outputs["ProcessedTableName"])["Items"]
    return {i["request_id"]["S"] for i in items}


def circuit(cloud) -> str:
    item = cloud.client("dynamodb").get_item(
        TableName=cloud.outputs["CircuitTableName"], Key={"circuit": {"S": "fulfilment-service"}}
    )
    return item["Item"]["state"]["S"] if "Item" in item else "CLOSED"


def mapping(cloud) -> str:
    return cloud.client("lambda").get_event_source_mapping(UUID=cloud.outputs["EventSourceMappingId"])[
        "State"
    ]


def queued(cloud, url_output: str) -> int:
    attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=cloud.outputs[url_output],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def receive_counts(cloud) -> list[int]:
    name = cloud.outputs["QueueUrl"].rsplit("/", 1)[1]
    return sorted(m.approximate_receive_count for m in cloud.service("sqs").moto_queue(name)._messages)


def rejections(cloud) -> list[dict]:
    """The processor's ``rejected request`` log lines, from its log group."""
    group = cloud.function(PROCESSOR).log_group_name
    events = cloud.client("logs").filter_log_events(logGroupName=group)["events"]
    lines = [json.loads(e["message"]) for e in events if e["message"].startswith("{")]
    return [line for line in lines if line.get("message") == "rejected request"]


def calls(cloud, target: str) -> int:
    return len(cloud.trace.find("invoke", target=cloud.function(target).name))


def test_a_healthy_service_gets_each_request_once(cloud):
    ids = {post(cloud, n) for n in range(3)}
    cloud.drain()
    assert ids <= processed(cloud)
    assert {i: deliveries(cloud)[i] for i in ids} == dict.fromkeys(ids, 1)
    assert (circuit(cloud), mapping(cloud)) == ("CLOSED", "Enabled")
    assert cloud.trace.find("denied") == []


def test_a_counted_outage_loses_nothing_burns_no_receive_and_processes_each_request_once(cloud):
    before = set(processed(cloud))
    outage(cloud, True)
    ids = {post(cloud, 100 + n) for n in range(DURING_OUTAGE)}
    cloud.advance(1)
    fulfilment_calls = calls(cloud, FULFILMENT)
    assert circuit(cloud) == "OPEN", "the first failures open the circuit"
    assert receive_counts(cloud) == [1] * DURING_OUTAGE, "each received once, the held ones unsent"

    cloud.advance(60)  # the recovery check: circuit open, so it disables the mapping, then probes
    assert mapping(cloud) == "Disabled"
    processor_calls = calls(cloud, PROCESSOR)
    cloud.advance(390)  # longer than maxReceiveCount (3) visibility timeouts (120 s) together
    assert calls(cloud, PROCESSOR) == processor_calls, "nothing is received while the circuit is open"
    assert receive_counts(cloud) == [1] * DURING_OUTAGE, "no receive burned, however long the outage"
    assert queued(cloud, "DeadLetterQueueUrl") == 0
    assert queued(cloud, "QueueUrl") == DURING_OUTAGE
    assert not ids & processed(cloud)
    probes = calls(cloud, FULFILMENT) - fulfilment_calls
    assert 1 <= probes <= 8, "the probes back off, doubling up to the maximum"
    assert circuit(cloud) == "OPEN" and mapping(cloud) == "Disabled"

    outage(cloud, False)
    waited = 0
    while circuit(cloud) != "CLOSED":  # the next probe is due within the longest open timeout
        assert waited <= MAX_OPEN_SECONDS, "a probe of the healthy service closes the circuit"
        cloud.advance(60)
        waited += 60
    assert mapping(cloud) == "Enabled", "the check that closed the circuit enabled the mapping"
    cloud.drain()
    assert processed(cloud) == before | ids, "everything stored is processed after recovery"
    accepted = deliveries(cloud)
    assert {i: accepted[i] for i in ids} == dict.fromkeys(ids, 1), "none twice"
    assert queued(cloud, "DeadLetterQueueUrl") == 0 and queued(cloud, "QueueUrl") == 0
    switched = [s.detail.rsplit(" ", 1)[1] for s in cloud.trace.find("mapping")]
    assert switched == ["disabled", "enabled"]
    assert cloud.trace.find("denied") == []


def test_a_malformed_request_reaches_the_dead_letter_queue_without_opening_the_circuit(cloud):
    api = cloud.api()
    refused = api.post("/requests", json={"type": "order.shipped", "payload": {}})
    assert refused.status == 400
    # Another producer sends to the queue directly, past the API's model.
    cloud.client("sqs").send_message(
        QueueUrl=cloud.outputs["QueueUrl"], MessageBody='{"type": "order.placed"}'
    )
    cloud.advance(3 * 130)
    dead = cloud.client("sqs").receive_message(
        QueueUrl=cloud.outputs["DeadLetterQueueUrl"], VisibilityTimeout=0
    )
    assert [json.loads(m["Body"]) for m in dead["Messages"]] == [{"type": "order.placed"}]
    assert (circuit(cloud), mapping(cloud)) == ("CLOSED", "Enabled")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"order_id": "o-big", "total": 10**40}, "payload.total: more than 38 significant digits"),
        (
            {"order_id": "o-deep", "tags": json.loads("[" * 40 + "]" * 40)},
            "payload: nested deeper than 32 levels",
        ),
    ],
    ids=["number", "nesting"],
)
def test_a_payload_the_table_cannot_store_is_dead_lettered_before_the_service_sees_it(cloud, payload, reason):
    """The API stores any JSON object; the processed table cannot hold a number of more than 38
    digits or nesting deeper than 32 levels. Such a request is refused before the call, as a
    malformed one is: the service must not accept it on each receive and then see it dead-lettered."""
    request_id = (
        cloud.api().post("/requests", json={"type": "order.placed", "payload": payload}).json()["requestId"]
    )
    cloud.advance(3 * 130)
    assert request_id not in deliveries(cloud), "the service never saw it"
    assert request_id not in processed(cloud)
    sqs = cloud.client("sqs")
    dead = sqs.receive_message(
        QueueUrl=cloud.outputs["DeadLetterQueueUrl"],
        VisibilityTimeout=0,
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
    )["Messages"]
    ids = [m.get("MessageAttributes", {}).get("requestId", {}).get("StringValue") for m in dead]
    assert request_id in ids
    for message in dead:
        sqs.delete_message(
            QueueUrl=cloud.outputs["DeadLetterQueueUrl"], ReceiptHandle=message["ReceiptHandle"]
        )
    assert any(r["reason"].startswith(reason) for r in rejections(cloud)), rejections(cloud)[-1:]
    assert (circuit(cloud), mapping(cloud)) == ("CLOSED", "Enabled")
