"""TransactWriteItems offline: all of it or none of it, its conditions read before any write, its
cancellation reasons in AWS's order, and a cost that does not grow with the table."""

from __future__ import annotations

import pytest
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from botocore.exceptions import ClientError

from localcloud import LocalCloud

pytestmark = pytest.mark.localcloud


def build(stack: Stack) -> None:
    dynamodb.Table(
        stack,
        "Jobs",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        removal_policy=RemovalPolicy.DESTROY,
    )


@pytest.fixture(scope="module")
def cloud(synth) -> LocalCloud:
    with LocalCloud(synth("TransactionSemantics", build)) as started:
        yield started


@pytest.fixture
def table(cloud) -> str:
    return cloud.physical_id("Jobs")


def put(table: str, sk: str, condition: str | None = None, **more) -> dict:
    request = {"TableName": table, "Item": {"pk": {"S": "job"}, "sk": {"S": sk}, **more}}
    return {"Put": {**request, **({"ConditionExpression": condition} if condition else {})}}


def count_up(table: str, by: int = 1, value: dict | None = None) -> dict:
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": "job"}, "sk": {"S": "total"}},
            "UpdateExpression": "ADD settled :n",
            "ExpressionAttributeValues": {":n": value or {"N": str(by)}},
        }
    }


def items(cloud, table: str) -> dict[str, dict]:
    found = cloud.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return {item["sk"]["S"]: item for item in found}


def stream_records(cloud, table: str) -> int:
    streams = cloud.client("dynamodbstreams")
    arn = cloud.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )
    return len(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"])


def cancelled(cloud, *transact_items) -> list[dict]:
    with pytest.raises(ClientError) as raised:
        cloud.client("dynamodb").transact_write_items(TransactItems=list(transact_items))
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    return raised.value.response["CancellationReasons"]


def test_a_transaction_writes_every_item(cloud, table):
    cloud.client("dynamodb").transact_write_items(TransactItems=[put(table, "chunk#1"), count_up(table)])
    assert items(cloud, table)["total"]["settled"] == {"N": "1"}
    assert "chunk#1" in items(cloud, table)


def test_a_failed_condition_cancels_the_whole_transaction_before_any_write(cloud, table):
    cloud.client("dynamodb").transact_write_items(TransactItems=[put(table, "chunk#2")])
    before, records = items(cloud, table), stream_records(cloud, table)
    reasons = cancelled(
        cloud,
        count_up(table, 5),
        put(table, "chunk#2", "attribute_not_exists(sk)", extra={"S": "x"}),
    )
    assert [reason["Code"] for reason in reasons] == ["None", "ConditionalCheckFailed"], "in the items' order"
    assert items(cloud, table) == before, "the update listed first was not applied"
    assert stream_records(cloud, table) == records, "a cancelled transaction leaves no stream record"


def test_a_failed_condition_returns_the_item_when_asked(cloud, table):
    cloud.client("dynamodb").transact_write_items(TransactItems=[put(table, "chunk#3", size={"N": "7"})])
    check = put(table, "chunk#3", "attribute_not_exists(sk)")
    check["Put"]["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    [reason] = cancelled(cloud, check)
    assert reason["Code"] == "ConditionalCheckFailed"
    assert reason["Item"]["size"] == {"N": "7"}


def test_an_error_while_writing_restores_the_items_written_before_it(cloud, table):
    cloud.client("dynamodb").transact_write_items(TransactItems=[put(table, "label", name={"S": "text"})])
    before, records = items(cloud, table), stream_records(cloud, table)
    adding_to_text = {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": "job"}, "sk": {"S": "label"}},
            "UpdateExpression": "ADD #name :n",
            "ExpressionAttributeNames": {"#name": "name"},
            "ExpressionAttributeValues": {":n": {"N": "1"}},
        }
    }
    with pytest.raises(ClientError):
        cloud.client("dynamodb").transact_write_items(
            TransactItems=[put(table, "chunk#4"), count_up(table), adding_to_text]
        )
    assert items(cloud, table) == before
    assert stream_records(cloud, table) == records


def test_two_operations_on_one_item_are_refused(cloud, table):
    with pytest.raises(ClientError) as raised:
        cloud.client("dynamodb").transact_write_items(TransactItems=[put(table, "same"), put(table, "same")])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "same" not in items(cloud, table)


def test_a_cancelled_transaction_keeps_the_table_itself(cloud, table):
    """moto swapped a deep copy of the whole table in on a cancellation; the copy cost grew with the table."""
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[cloud.account][cloud.region]
    held = backend.get_table(table)
    cancelled(cloud, put(table, "chunk#2", "attribute_not_exists(sk)"))
    assert backend.get_table(table) is held


#: How long a rival transaction is given to land between two reads of one TransactGetItems.
RIVAL_CHANCE_SECONDS = 0.2


def test_a_transactional_read_never_sees_half_of_a_transaction(cloud, table, monkeypatch):
    """TransactGetItems is serializable with TransactWriteItems on DynamoDB: a transaction writing two
    items lands wholly before or wholly after it, never between its reads of them."""
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    dynamodb = cloud.client("dynamodb")
    dynamodb.transact_write_items(
        TransactItems=[put(table, "left", side={"N": "0"}), put(table, "right", side={"N": "0"})]
    )
    rival = threading.Thread(
        target=dynamodb.transact_write_items,
        kwargs={"TransactItems": [put(table, "left", side={"N": "1"}), put(table, "right", side={"N": "1"})]},
    )
    get_item = DynamoDBBackend.get_item

    def rival_between_reads(backend, table_name, key, *args, **kwargs):
        found = get_item(backend, table_name, key, *args, **kwargs)
        if (
            key.get("sk") == {"S": "left"}
            and not rival.is_alive()
            and threading.current_thread() is not rival
        ):
            rival.start()
            rival.join(RIVAL_CHANCE_SECONDS)
        return found

    monkeypatch.setattr(DynamoDBBackend, "get_item", rival_between_reads)
    read = dynamodb.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": table, "Key": {"pk": {"S": "job"}, "sk": {"S": side}}}}
            for side in ("left", "right")
        ]
    )
    rival.join(5)
    monkeypatch.undo()

    left, right = (response["Item"]["side"] for response in read["Responses"])
    assert left == right, "both items as before the rival's transaction, or both as after it"
    assert items(cloud, table)["right"]["side"] == {"N": "1"}, "the rival's transaction landed after"


def test_a_transaction_over_4_mb_is_refused_before_any_write(cloud, table):
    """Each item under DynamoDB's 400 KB, eleven of them over the 4 MB a transaction may carry."""
    dynamodb, big = cloud.client("dynamodb"), "x" * 390_000
    keys = [{"pk": {"S": "job"}, "sk": {"S": f"big#{n}"}} for n in range(11)]

    def stored() -> int:
        return sum("Item" in dynamodb.get_item(TableName=table, Key=key) for key in keys)

    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[put(table, f"big#{n}", blob={"S": big}) for n in range(11)]
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert raised.value.response["Error"]["Message"] == "Transaction request cannot be larger than 4 MB"
    assert stored() == 0
    dynamodb.transact_write_items(TransactItems=[put(table, f"big#{n}", blob={"S": big}) for n in range(10)])
    assert stored() == 10, "3.9 MB is taken"
    dynamodb.transact_write_items(
        TransactItems=[{"Delete": {"TableName": table, "Key": key}} for key in keys]
    )


def test_a_write_the_item_s_data_refuses_cancels_with_a_validation_error_reason(cloud, table):
    """What only the item's data makes wrong (an ADD to a string) cancels the transaction, that
    item's reason ``ValidationError``; a malformed request is refused whole (``ValidationException``)."""
    dynamodb = cloud.client("dynamodb")
    dynamodb.transact_write_items(TransactItems=[put(table, "tag", name={"S": "text"})])
    adding_to_text = {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": "job"}, "sk": {"S": "tag"}},
            "UpdateExpression": "ADD #name :n",
            "ExpressionAttributeNames": {"#name": "name"},
            "ExpressionAttributeValues": {":n": {"N": "1"}},
        }
    }
    reasons = cancelled(cloud, put(table, "chunk#5"), adding_to_text)
    assert [reason["Code"] for reason in reasons] == ["None", "ValidationError"]
    assert reasons[1]["Message"] == "An operand in the update expression has an incorrect data type"
    assert "chunk#5" not in items(cloud, table)

    malformed = {"Update": {**adding_to_text["Update"], "UpdateExpression": "ADD ADD"}}
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=[put(table, "chunk#5"), malformed])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "chunk#5" not in items(cloud, table)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (
            {"Put": {"Item": {"pk": {"S": "job"}, "size": {"N": "1"}}}},
            "One or more parameter values were invalid: Missing the key sk in the item",
        ),
        ({"Update": {"Key": {"pk": {"S": "job"}}, "UpdateExpression": "REMOVE size"}}, "KEY_MISMATCH"),
        ({"Delete": {"Key": {"pk": {"S": "job"}, "sk": {"S": "a"}, "size": {"N": "1"}}}}, "KEY_MISMATCH"),
    ],
    ids=["put-without-its-sort-key", "update-with-half-a-key", "delete-with-more-than-the-key"],
)
def test_an_action_whose_key_does_not_match_the_table_is_refused_whole(cloud, table, action, message):
    """DynamoDB refuses the request (ValidationException), naming the key; it cancels nothing."""
    ((kind, fields),) = action.items()
    with pytest.raises(ClientError) as raised:
        cloud.client("dynamodb").transact_write_items(
            TransactItems=[put(table, "chunk#6"), {kind: {"TableName": table, **fields}}]
        )
    expected = "The provided key element does not match the schema" if message == "KEY_MISMATCH" else message
    assert raised.value.response["Error"] == {"Code": "ValidationException", "Message": expected}
    assert "chunk#6" not in items(cloud, table)
