"""shared/dynamodb.py: the small table layer every handler uses, plain values in and out."""

from __future__ import annotations

from decimal import Decimal

import boto3
import pytest

from shared.dynamodb import Table

pytestmark = pytest.mark.unit


@pytest.fixture
def table(aws) -> Table:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName="balances",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return Table("balances", client)


def test_update_item_takes_plain_values_and_answers_plain_attributes(table):
    table.put_item({"id": "c-1", "points": 5})
    updated = table.update_item(
        {"id": "c-1"},
        UpdateExpression="ADD points :n SET receipt = :receipt",
        ConditionExpression="attribute_exists(id)",
        values={":n": 7, ":receipt": {"by": "test"}},
        ReturnValues="ALL_NEW",
    )
    assert updated == {"id": "c-1", "points": Decimal(12), "receipt": {"by": "test"}}
    assert table.get_item({"id": "c-1"}) == updated


def test_update_item_answers_nothing_unless_asked_and_keeps_the_condition(table):
    assert table.update_item({"id": "c-2"}, UpdateExpression="SET points = :n", values={":n": 1}) == {}
    with pytest.raises(table.ConditionalCheckFailed):
        table.update_item(
            {"id": "c-3"},
            UpdateExpression="SET points = :n",
            ConditionExpression="attribute_exists(id)",
            values={":n": 1},
        )
    assert table.get_item({"id": "c-3"}) is None
