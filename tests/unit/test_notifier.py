"""The notifier's schema validator (against the reference ``jsonschema``), its publisher client and
handlers, against moto."""

from __future__ import annotations

import json

import boto3
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.json_schema import SchemaError, check_schema, problems_of, validate
from shared.notifier import MAX_MESSAGE_BYTES, InvalidMessage, NotifierClient
from shared.validation import InvalidInput

pytestmark = pytest.mark.unit

with open("functions/notifier/message.schema.json") as file:
    SCHEMA = json.load(file)
EVENT = {
    "event_id": "e-1",
    "event_type": "order_placed",
    "order": {"order_id": "o-1", "customer_id": "c-1", "total_cents": 1299, "country": "FR"},
}

# ----------------------------------------------------------------------------------------- validator

json_values = st.none() | st.booleans() | st.integers(-1, 2) | st.just(12.5) | st.just([]) | st.just({})


def mostly(valid, *invalid):
    """The valid value nine times in ten, so an event usually breaks the schema in one field at most."""
    wrong = st.sampled_from(invalid) | json_values
    return st.integers(0, 9).flatmap(lambda n: st.just(valid) if n else wrong)


orders = st.fixed_dictionaries(
    {
        "order_id": mostly("o-1", "", "x" * 65),
        "customer_id": mostly("c-1", "", "x" * 65),
        "total_cents": mostly(1299, -1, 10**8 + 1, 12.0, "12", True),
        "country": mostly("FR", "fr", "FRA", ""),
    },
    optional={"extra": json_values},
)
events = st.fixed_dictionaries(
    {
        "event_id": mostly("e-1", "", "x" * 64, "x" * 65),
        "event_type": mostly("order_placed", "order_paid", "ORDER_PLACED"),
        "order": st.integers(0, 9).flatmap(lambda n: orders if n else json_values),
    },
    optional={"extra": json_values},
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(events)
def test_the_validator_agrees_with_the_reference_implementation(event):
    reference = jsonschema.Draft202012Validator(SCHEMA)
    assert (problems_of(SCHEMA, event) == []) == reference.is_valid(event)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda e: e.pop("event_id"), "event_id: required"),
        (lambda e: e.update(event_type="order_paid"), 'event_type: must be one of "order_placed"'),
        (lambda e: e["order"].update(total_cents="12"), "order.total_cents: expected integer, got string"),
        (lambda e: e["order"].update(total_cents=True), "order.total_cents: expected integer, got boolean"),
        (lambda e: e["order"].update(total_cents=-1), "order.total_cents: less than 0"),
        (lambda e: e["order"].update(country="fr"), "order.country: does not match ^[A-Z]{2}$"),
        (lambda e: e["order"].update(coupon="X"), "order.coupon: not a field of this message"),
        (lambda e: e.update(event_id=""), "event_id: shorter than 1 characters"),
        (lambda e: e.update(event_id="x" * 65), "event_id: longer than 64 characters"),
        (lambda e: e["order"].update(total_cents=12.5), "order.total_cents: expected integer, got number"),
    ],
)
def test_each_problem_names_its_field(change, problem):
    event = json.loads(json.dumps(EVENT))
    change(event)
    with pytest.raises(InvalidInput) as raised:
        validate(SCHEMA, event)
    assert problem in str(raised.value)


def test_every_problem_is_reported_at_once_and_arrays_by_index():
    schema = {"type": "array", "items": {"type": "integer"}, "maxItems": 2}
    assert problems_of(schema, [1, "2", 3.5]) == [
        "message: more than 2 items",
        "[1]: expected integer, got string",
        "[2]: expected integer, got number",
    ]
    assert problems_of({"type": "object"}, []) == ["message: expected object, got array"]


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"oneOf": []}, "the schema: oneOf is not supported"),
        ({"properties": {"a": {"format": "email"}}}, "a: format is not supported"),
        ({"type": "decimal"}, "not a JSON Schema type"),
        ({"additionalProperties": {"type": "string"}}, "must be true or false"),
        ({"pattern": "("}, "pattern does not compile"),
    ],
)
def test_a_schema_it_would_not_fully_enforce_is_refused(schema, message):
    with pytest.raises(SchemaError, match=message):
        check_schema(schema)


# ----------------------------------------------------------------------------------------- client


@pytest.fixture
def topic(aws):
    sns = boto3.client("sns", region_name="us-east-1")
    arn = sns.create_topic(Name="orders")["TopicArn"]
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="seen")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    return sns, arn, sqs, url


def test_the_client_publishes_a_valid_message_with_its_attribute_fields(topic):
    sns, arn, sqs, url = topic
    client = NotifierClient(arn, SCHEMA, attribute_fields=("event_type",), sns_client=sns)
    message_id = client.publish(EVENT)
    [received] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert message_id and json.loads(received["Body"]) == EVENT
    assert received["MessageAttributes"]["event_type"]["StringValue"] == "order_placed"


def test_the_client_refuses_an_invalid_message_before_publishing(topic):
    sns, arn, sqs, url = topic
    client = NotifierClient(arn, SCHEMA, sns_client=sns)
    with pytest.raises(InvalidMessage, match="order: required"):
        client.publish({"event_id": "e-1", "event_type": "order_placed"})
    big = {"type": "object", "properties": {"text": {"type": "string"}}}
    with pytest.raises(InvalidMessage, match=f"larger than {MAX_MESSAGE_BYTES} bytes"):
        NotifierClient(arn, big, sns_client=sns).publish({"text": "x" * MAX_MESSAGE_BYTES})
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []


def test_an_attribute_field_must_be_a_required_string():
    with pytest.raises(ValueError, match="'order' must be a required string field"):
        NotifierClient("arn", SCHEMA, attribute_fields=("order",), sns_client=object())


# ----------------------------------------------------------------------------------------- handlers


def test_the_publisher_answers_202_or_400_naming_the_field(topic, load_handler, lambda_context):
    _, arn, sqs, url = topic
    publisher = load_handler("notifier", "publisher", TOPIC_ARN=arn)
    assert publisher.handler(EVENT, lambda_context)["statusCode"] == 202
    answer = publisher.handler({**EVENT, "event_type": 7}, lambda_context)
    assert answer == {
        "statusCode": 400,
        "error": {"code": "InvalidMessage", "message": "event_type: expected string, got integer"},
    }
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 1


def test_the_subscriber_stores_each_event_once_and_reports_a_bad_record_alone(
    aws, load_handler, lambda_context, emitted_metrics
):
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(
        TableName="inbox",
        KeySchema=[{"AttributeName": "event_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "event_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    subscriber = load_handler("notifier", "subscriber", SUBSCRIBER_NAME="Invoicing", INBOX_TABLE_NAME="inbox")
    records = [
        {"messageId": "m1", "body": json.dumps(EVENT)},
        {"messageId": "m2", "body": json.dumps(EVENT)},
        {"messageId": "m3", "body": json.dumps({**EVENT, "event_id": ""})},
    ]
    answer = subscriber.handler({"Records": records}, lambda_context)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m3"}]}
    assert emitted_metrics() == {"EventsReceived": 2}, "each valid delivery, the duplicate included"
    [item] = dynamodb.scan(TableName="inbox")["Items"]
    assert item["event_id"] == {"S": "e-1"} and item["total_cents"] == {"N": "1299"}
    with pytest.raises(subscriber.BatchProcessingError):
        subscriber.handler({"Records": records[2:]}, lambda_context)


def test_a_message_of_exactly_256_kib_with_its_attributes_is_published_and_one_byte_more_is_refused(topic):
    """SNS's limit, 262,144 bytes, counts the body in UTF-8 plus each attribute's name, type and value."""
    sns_limit = 256 * 1024
    sns, arn, sqs, url = topic
    schema = {
        "type": "object",
        "properties": {"kind": {"type": "string"}, "text": {"type": "string"}},
        "required": ["kind"],
    }
    client = NotifierClient(arn, schema, attribute_fields=("kind",), sns_client=sns)
    overhead = len('{"kind":"k","text":"é"}'.encode()) + len("kind") + len("k") + len("String")
    at_limit = {"kind": "k", "text": "é" + "x" * (sns_limit - overhead)}
    assert client.publish(at_limit)
    [received] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert received["Body"] == json.dumps(at_limit, separators=(",", ":"), ensure_ascii=False)
    with pytest.raises(InvalidMessage, match=r"^message: larger than 262144 bytes"):
        client.publish({**at_limit, "text": at_limit["text"] + "x"})


def test_a_schema_the_validator_would_not_fully_enforce_is_refused_by_the_client():
    with pytest.raises(SchemaError, match="oneOf is not supported"):
        NotifierClient("arn", {"oneOf": []}, sns_client=object())


def test_the_publisher_counts_published_and_refused_messages(
    topic, load_handler, lambda_context, emitted_metrics
):
    publisher = load_handler("notifier", "publisher", TOPIC_ARN=topic[1])
    publisher.handler(EVENT, lambda_context)
    assert emitted_metrics() == {"MessagesPublished": 1}
    publisher.handler({**EVENT, "event_type": 7}, lambda_context)
    assert emitted_metrics() == {"MessagesRefused": 1}
