"""DynamoDB's limits offline: what AWS refuses and moto takes is refused by the local cloud too,
with AWS's code and wording, whoever makes the call (a handler, a state machine task, a test)."""

from __future__ import annotations

import threading

import pytest
from aws_cdk import Stack
from botocore.exceptions import ClientError

from localcloud.services.dynamodb.limits import check_dynamodb_request
from tests.localcloud.conftest import pk_table, python_function
from tests.localcloud.test_stepfunctions import machine

pytestmark = pytest.mark.localcloud

SCHEMAS = {"Simple": {"pk": "HASH"}, "Sorted": {"pk": "HASH", "sk": "RANGE"}}
HASH_TOO_LONG = "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"
RANGE_TOO_LONG = (
    "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size "
    "limit of 1024 bytes"
)
EMPTY_STRING_KEY = (
    "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain "
    "an empty string value. Key: pk"
)
OVERFLOW = "Number overflow. Attempting to store a number with magnitude larger than supported range"
UNDERFLOW = "Number underflow. Attempting to store a number with magnitude smaller than supported range"
PRECISION = "Attempting to store more than 38 significant digits in a Number"
TOO_DEEP = (
    "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond "
    "supported limit"
)
EMPTY_STRING_SET = "One or more parameter values were invalid: An string set  may not be empty"
EMPTY_NUMBER_SET = "One or more parameter values were invalid: An number set  may not be empty"
EMPTY_BINARY_SET = "One or more parameter values were invalid: Binary sets should not be empty"


def refusal(operation: str, **params) -> str | None:
    """AWS's message for the request, or None when DynamoDB takes it."""
    try:
        check_dynamodb_request(operation, params, SCHEMAS.get)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ValidationException"
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error.operation_name == operation
        return error.response["Error"]["Message"]
    return None


def key(pk, **more) -> dict:
    return {"pk": {"S": pk} if isinstance(pk, str) else {"B": pk}, **more}


# ---------------------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("GetItem", lambda k: {"TableName": "Simple", "Key": k}),
        ("DeleteItem", lambda k: {"TableName": "Simple", "Key": k}),
        ("UpdateItem", lambda k: {"TableName": "Simple", "Key": k, "UpdateExpression": "SET a = :a"}),
        ("PutItem", lambda k: {"TableName": "Simple", "Item": {**k, "a": {"S": "x"}}}),
        ("Scan", lambda k: {"TableName": "Simple", "ExclusiveStartKey": k}),
        ("Query", lambda k: {"TableName": "Simple", "ExclusiveStartKey": k}),
        ("BatchGetItem", lambda k: {"RequestItems": {"Simple": {"Keys": [k]}}}),
        ("BatchWriteItem", lambda k: {"RequestItems": {"Simple": [{"DeleteRequest": {"Key": k}}]}}),
        ("BatchWriteItem", lambda k: {"RequestItems": {"Simple": [{"PutRequest": {"Item": k}}]}}),
        ("TransactWriteItems", lambda k: {"TransactItems": [{"Delete": {"TableName": "Simple", "Key": k}}]}),
        ("TransactGetItems", lambda k: {"TransactItems": [{"Get": {"TableName": "Simple", "Key": k}}]}),
    ],
)
def test_every_operation_refuses_an_empty_or_over_long_partition_key(operation, params):
    assert refusal(operation, **params(key(""))) == EMPTY_STRING_KEY
    assert refusal(operation, **params(key("a" * 2049))) == HASH_TOO_LONG
    assert refusal(operation, **params(key("a" * 2048))) is None


def test_a_query_is_held_to_the_limits_on_its_key_equalities():
    def query(expression, names=None, **values):
        params = {"TableName": "Sorted", "KeyConditionExpression": expression}
        params["ExpressionAttributeValues"] = {f":{k}": {"S": v} for k, v in values.items()}
        if names:
            params["ExpressionAttributeNames"] = names
        return refusal("Query", **params)

    assert query("pk = :p", p="") == EMPTY_STRING_KEY
    assert query("#k = :p", {"#k": "pk"}, p="a" * 2049) == HASH_TOO_LONG
    assert query(":p = pk AND sk = :s", p="p", s="s" * 1025) == RANGE_TOO_LONG
    assert query("pk = :p AND begins_with(sk, :s)", p="p", s="s" * 2000) is None  # only equalities
    assert query("pk = :p", p="a" * 2048) is None
    assert (
        refusal(
            "Query",
            TableName="Sorted",
            IndexName="ByOther",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": ""}},
        )
        is None
    )


def test_key_limits_count_utf8_bytes_not_characters():
    emoji = "\N{GRINNING FACE}"  # four bytes
    assert refusal("GetItem", TableName="Simple", Key=key(emoji * 512)) is None
    assert refusal("GetItem", TableName="Simple", Key=key(emoji * 512 + "a")) == HASH_TOO_LONG


def test_the_sort_key_has_its_own_smaller_limit_and_binary_keys_count_their_bytes():
    sorted_key = key("p", sk={"S": "s" * 1024})
    assert refusal("GetItem", TableName="Sorted", Key=sorted_key) is None
    assert refusal("GetItem", TableName="Sorted", Key=key("p", sk={"S": "s" * 1025})) == RANGE_TOO_LONG
    assert refusal("GetItem", TableName="Simple", Key=key(b"\x00" * 2049)) == HASH_TOO_LONG
    assert refusal("GetItem", TableName="Simple", Key=key(b"")).endswith("empty binary value. Key: pk")


def test_non_key_attributes_may_be_empty_and_unknown_tables_are_left_to_moto():
    assert refusal("PutItem", TableName="Simple", Item=key("p", note={"S": ""})) is None
    assert refusal("GetItem", TableName="Elsewhere", Key=key("")) is None


# ---------------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("9.9999999999999999999999999999999999999E+125", None),
        ("1E+126", OVERFLOW),
        ("-1e126", OVERFLOW),
        ("1E-130", None),
        ("1e-131", UNDERFLOW),
        ("0", None),
        ("1" * 38, None),
        ("1" * 39, PRECISION),
        ("-0.000" + "1" * 39, PRECISION),
        ("1" + "0" * 100, None),  # one significant digit
    ],
)
def test_numbers_outside_dynamodb_range_or_precision_are_refused(number, message):
    assert refusal("PutItem", TableName="Simple", Item=key("p", n={"N": number})) == message


def test_numbers_are_checked_wherever_a_request_carries_them():
    huge = {"N": "1e200"}
    assert refusal("PutItem", TableName="Simple", Item=key("p", n={"L": [huge]})) == OVERFLOW
    assert (
        refusal("PutItem", TableName="Simple", Item=key("p", n={"M": {"a": {"M": {"b": huge}}}})) == OVERFLOW
    )
    assert refusal("PutItem", TableName="Simple", Item=key("p", n={"NS": ["1", "1" * 39]})) == PRECISION
    assert (
        refusal(
            "UpdateItem",
            TableName="Simple",
            Key=key("p"),
            UpdateExpression="SET n = :n",
            ExpressionAttributeValues={":n": huge},
        )
        == OVERFLOW
    )
    batch = {"Simple": [{"PutRequest": {"Item": key("p", n=huge)}}]}
    assert refusal("BatchWriteItem", RequestItems=batch) == OVERFLOW


def test_a_string_utf8_cannot_carry_is_refused_not_a_crash():
    message = refusal("PutItem", TableName="Simple", Item=key("p", note={"S": "ok \ud800"}))
    assert message and "lone surrogate" in message
    assert refusal("PutItem", TableName="Simple", Item=key("p", tags={"SS": ["\udfff"]})) == message
    assert refusal("PutItem", TableName="Simple", Item=key("p", doc={"M": {"\ud800": {"S": "x"}}})) == message
    assert refusal("GetItem", TableName="Simple", Key=key("\ud800")) == message


# ------------------------------------------------------------------------------ nesting and sets


def nested(levels: int, container: str = "M") -> dict:
    """A value whose leaf sits at ``levels`` when it is an item's attribute (level 1)."""
    value: dict = {"S": "leaf"}
    for _ in range(levels - 1):
        value = {"M": {"n": value}} if container == "M" else {"L": [value]}
    return value


@pytest.mark.parametrize("container", ["M", "L"])
def test_an_attribute_may_nest_32_levels_and_no_deeper(container):
    """DynamoDB counts an item's attribute as level 1; a leaf at level 33 is refused."""
    deepest, too_deep = nested(32, container), nested(33, container)
    assert refusal("PutItem", TableName="Simple", Item=key("p", doc=deepest)) is None
    assert refusal("PutItem", TableName="Simple", Item=key("p", doc=too_deep)) == TOO_DEEP
    update = {"TableName": "Simple", "Key": key("p"), "UpdateExpression": "SET d = :d"}
    assert refusal("UpdateItem", **update, ExpressionAttributeValues={":d": too_deep}) == TOO_DEEP
    batch = {"Simple": [{"PutRequest": {"Item": key("p", doc=too_deep)}}]}
    assert refusal("BatchWriteItem", RequestItems=batch) == TOO_DEEP
    put = {"Put": {"TableName": "Simple", "Item": key("p", doc=too_deep)}}
    assert refusal("TransactWriteItems", TransactItems=[put]) == TOO_DEEP


def test_a_set_may_not_be_empty_at_any_depth_nor_in_any_write():
    for kind, message in (("SS", EMPTY_STRING_SET), ("NS", EMPTY_NUMBER_SET), ("BS", EMPTY_BINARY_SET)):
        empty = {kind: []}
        assert refusal("PutItem", TableName="Simple", Item=key("p", tags=empty)) == message
        assert refusal("PutItem", TableName="Simple", Item=key("p", doc={"L": [empty]})) == message
        assert refusal("PutItem", TableName="Simple", Item=key("p", doc={"M": {"t": empty}})) == message
        batch = {"Simple": [{"PutRequest": {"Item": key("p", tags=empty)}}]}
        assert refusal("BatchWriteItem", RequestItems=batch) == message
        update = {"TableName": "Simple", "Key": key("p"), "UpdateExpression": "SET t = :t"}
        assert refusal("UpdateItem", **update, ExpressionAttributeValues={":t": empty}) == (
            f"ExpressionAttributeValues contains invalid value: {message} for key :t"
        )
        condition = {"TableName": "Simple", "Key": key("p"), "ConditionExpression": "t = :t"}
        transact = [{"ConditionCheck": {**condition, "ExpressionAttributeValues": {":t": empty}}}]
        assert refusal("TransactWriteItems", TransactItems=transact) == (
            f"ExpressionAttributeValues contains invalid value: {message} for key :t"
        )
    assert refusal("PutItem", TableName="Simple", Item=key("p", tags={"SS": ["a"]})) is None


# ---------------------------------------------------------------------------------------- in a cloud


def build_callers(stack: Stack) -> None:
    table = pk_table(stack, "Items")
    caller = python_function(stack, "Caller", "dynamodb_caller", environment={"TABLE_NAME": table.table_name})
    table.grant_read_write_data(caller)
    reader = machine(
        stack,
        "Reader",
        {
            "StartAt": "Get",
            "States": {
                "Get": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::dynamodb:getItem",
                    "Parameters": {"TableName": table.table_name, "Key": {"pk": {"S.$": "$.id"}}},
                    "End": True,
                }
            },
        },
    )
    table.grant_read_data(reader)


def test_a_handler_reading_an_over_long_key_fails_as_it_would_on_aws(synth, run):
    """Moto answers such a GetItem with no item; AWS refuses it."""
    cloud = run(synth("DynamoLimits", build_callers))
    fine = cloud.invoke("Caller", {"operation": "get_item", "params": {"Key": key("k" * 2048)}})
    assert fine["Payload"] == {"found": False}

    answer = cloud.invoke("Caller", {"operation": "get_item", "params": {"Key": key("k" * 2049)}})
    assert answer["FunctionError"] == "Unhandled"
    message = answer["Payload"]["errorMessage"]
    assert "(ValidationException) when calling the GetItem operation" in message and HASH_TOO_LONG in message


def test_a_tests_own_client_is_held_to_the_limits_too(synth, run):
    cloud = run(synth("DynamoLimits", build_callers))
    dynamodb = cloud.client("dynamodb")
    with pytest.raises(ClientError, match="Key: pk"):
        dynamodb.scan(TableName=cloud.physical_id("Items"), ExclusiveStartKey={"pk": {"S": ""}})
    with pytest.raises(ClientError, match="38 significant digits"):
        dynamodb.put_item(TableName=cloud.physical_id("Items"), Item=key("p", n={"N": "1" * 39}))
    # Moto stores both of these; DynamoDB refuses them.
    with pytest.raises(ClientError, match="Nesting Levels have exceeded supported limits"):
        dynamodb.put_item(TableName=cloud.physical_id("Items"), Item=key("p", doc=nested(33)))
    with pytest.raises(ClientError, match="Binary sets should not be empty"):
        batch = {cloud.physical_id("Items"): [{"PutRequest": {"Item": key("p", blobs={"BS": []})}}]}
        dynamodb.batch_write_item(RequestItems=batch)


def test_a_state_machine_task_is_held_to_the_limits(synth, run):
    cloud = run(synth("DynamoLimits", build_callers))
    execution = cloud.start_execution("Reader", {"id": "o" * 2049})
    cloud.drain()

    assert execution.status == "FAILED"
    assert HASH_TOO_LONG in execution.cause


# ------------------------------------------------------------------------------------ atomic writes
# A conditional write is atomic offline, as on DynamoDB: a rival write cannot land between the check
# of the condition and the write it guards (localcloud/services/dynamodb/atomic.py), so of two writers
# that read one version exactly one succeeds, what an optimistic lock relies on.

#: How long the first writer, its condition passed, gives the rival to write before it writes itself.
RIVAL_CHANCE_SECONDS = 0.2


def test_of_two_writers_that_read_one_version_exactly_one_wins(synth, run, monkeypatch):
    import moto.dynamodb.models as moto_models

    cloud = run(synth("DynamoLimits", build_callers))
    dynamodb, table = cloud.client("dynamodb"), cloud.physical_id("Items")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "counter"}, "version": {"N": "0"}})
    outcomes: dict[str, str] = {}

    def write(writer: str) -> None:
        try:
            dynamodb.update_item(
                TableName=table,
                Key={"pk": {"S": "counter"}},
                UpdateExpression="SET version = :next, writer = :writer",
                ConditionExpression="version = :read",
                ExpressionAttributeValues={
                    ":read": {"N": "0"},
                    ":next": {"N": "1"},
                    ":writer": {"S": writer},
                },
            )
            outcomes[writer] = "written"
        except ClientError as error:
            outcomes[writer] = error.response["Error"]["Code"]

    rival = threading.Thread(target=write, args=("rival",))
    parser_of = moto_models.create_condition_expression_parser

    def rival_between_check_and_write(*args, **kwargs):
        parser = parser_of(*args, **kwargs)
        parse = parser.parse

        def parsed():
            condition = parse()
            check = condition.expr

            def checked(item):
                passed = check(item)
                if (
                    not rival.is_alive()
                    and "rival" not in outcomes
                    and threading.current_thread() is not rival
                ):
                    rival.start()  # the first writer's condition held: now the rival writes
                    rival.join(RIVAL_CHANCE_SECONDS)
                return passed

            condition.expr = checked
            return condition

        parser.parse = parsed
        return parser

    monkeypatch.setattr(moto_models, "create_condition_expression_parser", rival_between_check_and_write)
    write("first")
    rival.join(5)

    assert outcomes == {"first": "written", "rival": "ConditionalCheckFailedException"}
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "counter"}})["Item"]
    assert item["writer"] == {"S": "first"} and item["version"] == {"N": "1"}
