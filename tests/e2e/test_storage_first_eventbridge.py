"""Storage-first's EventBridge variant offline: what the API puts on the bus (its VTL template makes
the PutEvents) is processed once, a bad request ends in the dead-letter queue after the function's
retries, and the archive replays."""

from __future__ import annotations

import json

import pytest

from localcloud import LocalCloud
from patterns.storage_first import EVENT_DETAIL_TYPE, EVENT_SOURCE, EVENTBRIDGE_MAX_ENTRY_BYTES

pytestmark = pytest.mark.e2e


@pytest.fixture
def cloud(local_cloud) -> LocalCloud:
    return local_cloud("storage_first", variant="eventbridge")


def post(cloud: LocalCloud, body: dict) -> str:
    """POST a request to the API as a client does; the request id API Gateway answers with."""
    response = cloud.api().post("/requests", json=body)
    assert response.status_code == 202, response.text
    return response.json()["requestId"]


def store(cloud: LocalCloud, request_id: str, body: dict) -> None:
    """What the API's EventBridge integration puts on the bus, put by another producer."""
    response = cloud.client("events").put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": EVENT_DETAIL_TYPE,
                "EventBusName": cloud.outputs["EventBusName"],
                "Detail": json.dumps({"request_id": request_id, "body": body}),
            }
        ]
    )
    assert response["FailedEntryCount"] == 0


def order(n: int) -> dict:
    return {"type": "order.placed", "payload": {"order_id": f"o-{n}"}}


def processed(cloud: LocalCloud) -> dict[str, dict]:
    items = cloud.client("dynamodb").scan(TableName=cloud.outputs["ProcessedTableName"])["Items"]
    return {item["request_id"]["S"]: item for item in items}


def dead_letters(cloud: LocalCloud) -> list[dict]:
    return (
        cloud.client("sqs")
        .receive_message(
            QueueUrl=cloud.outputs["DeadLetterQueueUrl"], MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        .get("Messages", [])
    )


def invocations(cloud: LocalCloud) -> list[float]:
    return [span.at for span in cloud.trace.find("invoke", target=cloud.function("Processor").name)]


def test_requests_put_on_the_bus_are_processed_once_each(cloud):
    ids = [post(cloud, order(n)) for n in range(5)]
    store(cloud, ids[0], order(0))  # EventBridge delivers at least once: the same request again
    cloud.drain()
    assert sorted(processed(cloud)) == sorted(ids)
    assert processed(cloud)[ids[3]]["payload"]["M"]["order_id"]["S"] == "o-3"
    assert len(invocations(cloud)) == 6, "the duplicate was delivered and acknowledged, not written"
    assert dead_letters(cloud) == []


def test_the_api_puts_the_request_id_and_the_body_on_the_bus(cloud):
    body = {"type": "feedback.submitted", "payload": {"text": 'it\'s "great" / ü'}}
    request_id = post(cloud, body)
    cloud.drain()
    assert processed(cloud)[request_id]["payload"]["M"]["text"]["S"] == body["payload"]["text"]
    [send] = cloud.trace.find("send")
    [integrate] = cloud.trace.find("integrate")
    assert (send.parent, send.source, integrate.target) == (integrate.id, "api:Api", "events:PutEvents")


def test_a_bad_request_is_refused_and_a_bus_that_is_gone_is_a_500(cloud):
    refused = cloud.api().post("/requests", json={"type": "order.placed"})
    assert refused.status_code == 400
    assert refused.json()["message"] == "Invalid request body: [(root): 'payload' is a required property]"
    cloud.client("events").delete_archive(ArchiveName=cloud.physical_id("Archive"))
    for rule in cloud.client("events").list_rules(EventBusName=cloud.outputs["EventBusName"])["Rules"]:
        cloud.client("events").delete_rule(Name=rule["Name"], EventBusName=cloud.outputs["EventBusName"])
    cloud.client("events").delete_event_bus(Name=cloud.outputs["EventBusName"])
    failed = cloud.api().post("/requests", json=order(1))
    assert failed.status_code == 500
    assert failed.json()["message"] == "The request could not be stored; it was not accepted. Retry later."
    assert processed(cloud) == {}


def test_an_invalid_request_ends_in_the_dlq_after_the_functions_retries(cloud):
    good = post(cloud, order(1))
    store(cloud, "bad", {"type": "unknown.kind", "payload": {}})  # from another producer
    cloud.drain()
    assert list(processed(cloud)) == [good]
    assert invocations(cloud) == [0, 0, 60, 180], "the bad one: first try, then Lambda's two retries"
    [dead] = dead_letters(cloud)
    event = json.loads(dead["Body"])
    assert (event["source"], event["detail-type"]) == (EVENT_SOURCE, EVENT_DETAIL_TYPE)
    assert event["detail"] == {"request_id": "bad", "body": {"type": "unknown.kind", "payload": {}}}


def test_replaying_the_archive_reprocesses_without_writing_twice(cloud):
    post(cloud, order(1))
    post(cloud, order(2))
    cloud.drain()
    written = {key: item["processed_at"] for key, item in processed(cloud).items()}
    events = cloud.client("events")
    archive = events.describe_archive(ArchiveName=cloud.physical_id("Archive"))
    assert archive["EventCount"] == 2
    cloud.advance(60)
    events.start_replay(
        ReplayName="again",
        EventSourceArn=archive["ArchiveArn"],
        EventStartTime=cloud.clock.now().replace(hour=0, minute=0),
        EventEndTime=cloud.clock.now(),
        Destination={"Arn": archive["EventSourceArn"]},
    )
    cloud.drain()
    assert len(invocations(cloud)) == 4, "both requests were delivered again"
    assert {key: item["processed_at"] for key, item in processed(cloud).items()} == written
    assert [span.detail for span in cloud.trace.find("replay")] == [
        f"again from {cloud.physical_id('Archive')}"
    ]


def test_a_body_larger_than_an_eventbridge_entry_is_a_413_naming_the_limit_and_nothing_is_put(cloud):
    big = {"type": "order.placed", "payload": {"note": "x" * EVENTBRIDGE_MAX_ENTRY_BYTES}}
    response = cloud.api().post("/requests", json=big)
    assert response.status_code == 413
    assert "EventBridge's 1,048,576-byte entry" in response.json()["message"]
    cloud.drain()
    assert processed(cloud) == {} and not cloud.trace.find("invoke")
