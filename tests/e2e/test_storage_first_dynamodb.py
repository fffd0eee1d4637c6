"""Storage-first's DynamoDB variant offline: what API Gateway stores in the requests table (its VTL
template makes the PutItem) reaches the processed table once, through the table's stream; a bad
record ends in the on-failure queue.

The processor reports bad records as batch item failures, so the mapping splits a batch at the
first bad record; a batch in which every record fails raises instead, and the mapping bisects it.
"""

from __future__ import annotations

import json

import pytest

from localcloud import LocalCloud
from patterns.storage_first import DEFAULT_RETRY_ATTEMPTS, DYNAMODB_MAX_ITEM_BYTES

pytestmark = pytest.mark.e2e


@pytest.fixture
def cloud(local_cloud) -> LocalCloud:
    return local_cloud("storage_first", variant="dynamodb")


def post(cloud: LocalCloud, body: str) -> str:
    """POST a request to the API as a client does; the request id API Gateway answers with."""
    response = cloud.api().post("/requests", body=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 202, response.text
    return response.json()["requestId"]


def requests_table(cloud: LocalCloud) -> dict[str, dict]:
    items = cloud.client("dynamodb").scan(TableName=cloud.outputs["RequestsTableName"])["Items"]
    return {item["request_id"]["S"]: item for item in items}


def store(cloud: LocalCloud, request_id: str, body: str) -> None:
    """What the API's DynamoDB integration puts, put by another writer of the table."""
    cloud.client("dynamodb").put_item(
        TableName=cloud.outputs["RequestsTableName"],
        Item={"request_id": {"S": request_id}, "body": {"S": body}, "received_at": {"N": "1767225600000"}},
        ConditionExpression="attribute_not_exists(request_id)",
    )


def stream_arn(cloud: LocalCloud) -> str:
    table = cloud.client("dynamodb").describe_table(TableName=cloud.outputs["RequestsTableName"])
    return table["Table"]["LatestStreamArn"]


def sequence_numbers(cloud: LocalCloud) -> dict[str, str]:
    """The stream's sequence number of each stored request, read as any consumer would."""
    streams, arn = cloud.client("dynamodbstreams"), stream_arn(cloud)
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return {
        r["dynamodb"]["Keys"]["request_id"]["S"]: r["dynamodb"]["SequenceNumber"]
        for r in streams.get_records(ShardIterator=iterator)["Records"]
    }


def order(n: int) -> str:
    return json.dumps({"type": "order.placed", "payload": {"order_id": f"o-{n}"}})


def processed(cloud: LocalCloud) -> list[str]:
    items = cloud.client("dynamodb").scan(TableName=cloud.outputs["ProcessedTableName"])["Items"]
    return sorted(item["request_id"]["S"] for item in items)


def failed_batches(cloud: LocalCloud) -> list[dict]:
    messages = cloud.client("sqs").receive_message(
        QueueUrl=cloud.outputs["DeadLetterQueueUrl"], MaxNumberOfMessages=10
    )
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_stored_requests_are_processed_once_each(cloud):
    ids = [post(cloud, order(n)) for n in range(5)]
    cloud.drain()
    assert processed(cloud) == sorted(ids)
    assert failed_batches(cloud) == []
    assert len(cloud.trace.find("deliver")) == 1, "one batch"


def test_the_api_stores_the_body_its_request_id_and_the_time(cloud):
    body = json.dumps({"type": "feedback.submitted", "payload": {"text": 'it\'s "great" / ü'}})
    request_id = post(cloud, body)
    item = requests_table(cloud)[request_id]
    assert json.loads(item["body"]["S"]) == json.loads(body), "escaped by the template, stored as sent"
    assert item["received_at"] == {"N": "1767225600000"}, "$context.requestTimeEpoch on the virtual clock"


def test_a_bad_request_is_refused_by_api_gateway_and_a_storage_failure_is_a_500(cloud):
    refused = cloud.api().post("/requests", json={"type": "unknown.kind", "payload": {}})
    assert refused.status_code == 400
    assert refused.json()["message"].startswith("Invalid request body: [type: 'unknown.kind' is not one of")
    assert requests_table(cloud) == {}
    cloud.client("dynamodb").delete_table(TableName=cloud.outputs["RequestsTableName"])
    failed = cloud.api().post("/requests", json=json.loads(order(1)))
    assert failed.status_code == 500
    assert failed.json()["message"] == "The request could not be stored; it was not accepted. Retry later."


def test_a_bad_request_ends_in_the_failure_queue_with_its_batch_info(cloud):
    good_1 = post(cloud, order(1))
    store(cloud, "bad", json.dumps({"type": "unknown.kind", "payload": {}}))  # from another writer
    good_2 = post(cloud, order(2))
    cloud.drain()

    assert processed(cloud) == sorted([good_1, good_2]), "the good requests around it are written, once"
    [failure] = failed_batches(cloud)
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == DEFAULT_RETRY_ATTEMPTS + 1
    sequence = sequence_numbers(cloud)
    assert failure["DDBStreamBatchInfo"] == {
        "shardId": failure["DDBStreamBatchInfo"]["shardId"],
        "startSequenceNumber": sequence["bad"],
        "endSequenceNumber": sequence[good_2],
        "approximateArrivalOfFirstRecord": "2026-01-01T00:00:00Z",
        "approximateArrivalOfLastRecord": "2026-01-01T00:00:00Z",
        "batchSize": 2,
        "streamArn": stream_arn(cloud),
    }, "the batch was split at the reported failure: the bad request and what followed it"
    batches = [d.data["sequence_numbers"] for d in cloud.trace.find("deliver")]
    retry = [sequence["bad"], sequence[good_2]]
    assert batches == [list(sequence.values()), *[retry] * DEFAULT_RETRY_ATTEMPTS]


def test_a_batch_of_bad_requests_is_bisected_until_each_fails_alone(cloud):
    bad = json.dumps({"type": "unknown.kind", "payload": {}})
    store(cloud, "bad-1", bad)
    store(cloud, "bad-2", bad)
    cloud.drain()

    [bisect] = cloud.trace.find("bisect")
    assert bisect.detail.endswith("2 -> 1 + 1")
    sequence = sequence_numbers(cloud)
    failures = failed_batches(cloud)
    isolated = sorted(
        (f["DDBStreamBatchInfo"]["startSequenceNumber"], f["DDBStreamBatchInfo"]["batchSize"])
        for f in failures
    )
    assert isolated == [(sequence["bad-1"], 1), (sequence["bad-2"], 1)]
    assert {f["requestContext"]["approximateInvokeCount"] for f in failures} == {DEFAULT_RETRY_ATTEMPTS + 1}
    assert processed(cloud) == []


def test_a_modified_request_is_not_processed_again(cloud):
    request_id = post(cloud, order(1))
    cloud.drain()
    cloud.client("dynamodb").update_item(
        TableName=cloud.outputs["RequestsTableName"],
        Key={"request_id": {"S": request_id}},
        UpdateExpression="SET body = :body",
        ExpressionAttributeValues={":body": {"S": "not json"}},
    )
    cloud.drain()
    assert processed(cloud) == [request_id]
    assert len(cloud.trace.find("invoke")) == 1, "the MODIFY never reaches the processor"
    [skipped] = cloud.trace.find("filter")
    assert skipped.detail.endswith("1 record(s) filtered out")


def test_a_body_larger_than_a_dynamodb_item_is_a_413_naming_the_limit_and_nothing_is_stored(cloud):
    big = {"type": "order.placed", "payload": {"note": "x" * DYNAMODB_MAX_ITEM_BYTES}}
    response = cloud.api().post("/requests", json=big)
    assert response.status_code == 413
    assert "DynamoDB's 409,600-byte item" in response.json()["message"]
    assert requests_table(cloud) == {}
