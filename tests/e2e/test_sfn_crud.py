"""Step Functions CRUD through its front door: API Gateway runs the Express state machine
synchronously; a missing item is a 404, an invalid body a 400; no Lambda runs."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from localcloud.services.apigateway.vtl import render
from patterns.sfn_crud import MAX_PRICE, _response_template

pytestmark = pytest.mark.e2e

ITEM = {"name": "espresso cup", "price": 7.5}


@pytest.fixture(scope="module")
def shared_cloud(cloud_assembly):
    """One cloud for the whole file: each test works on ids of its own and counts what it caused
    (starting a cloud per case was a third of this file's time)."""
    with LocalCloud(load_stack(cloud_assembly.directory, "SfnCrudStack"), start=FIXED_START) as started:
        yield started


@pytest.fixture
def cloud(shared_cloud):
    shared_cloud.advance(1)  # a second of its own, so the stage's throttle lets each test's requests in
    return shared_cloud


def test_an_item_is_put_read_replaced_and_deleted(cloud):
    api = cloud.api()

    stored = api.put("/items/cup-1", json=ITEM)
    assert (stored.status, stored.json()) == (200, {"id": "cup-1", **ITEM})
    assert api.get("/items/cup-1").json() == {"id": "cup-1", **ITEM}
    assert api.put("/items/cup-1", json={"name": "espresso cup", "price": 8}).status == 200
    assert api.get("/items/cup-1").json()["price"] == 8

    deleted = api.delete("/items/cup-1")
    assert (deleted.status, deleted.json()) == (200, {"deleted": "cup-1"})
    assert api.get("/items/cup-1").status == 404

    assert "Item" not in stored_item(cloud, "cup-1")
    assert not cloud.service("lambda").functions, "no Lambda function in this pattern"


def test_each_request_is_one_synchronous_express_execution_as_the_apis_role(cloud):
    before = len(cloud.trace.find("sync-execution"))
    cloud.api().put("/items/cup-2", json=ITEM)
    [execution] = cloud.trace.find("sync-execution")[before:]
    run = cloud.execution(execution.data["execution_arn"])
    assert run.states() == ["ValidId?", "Method?", "ValidBody?", "PutItem", "Stored"]
    assert json.loads(run.history()[0]["executionStartedEventDetails"]["input"]) == {
        "method": "PUT",
        "id": "cup-2",
        "body": ITEM,
    }
    assert execution.outcome == "SUCCEEDED"
    assert execution.source != "test", "API Gateway starts it, under the request's span"


def test_a_missing_item_is_a_404_for_reads_and_deletes(cloud):
    api = cloud.api()
    for answer in (api.get("/items/nothing"), api.delete("/items/nothing")):
        assert answer.status == 404
        assert answer.json() == {"error": "NotFound", "message": "There is no item with this id."}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "cup"}, "price"),
        ({"name": 3, "price": 1}, "name"),
        ({"name": "cup", "price": "cheap"}, "price"),
        ({"name": "cup", "price": -1}, "price"),
        ({"name": "cup", "price": 1e308}, "price"),
        ({"name": "cup", "price": 1e-200}, "price"),
        ({"name": "cup", "price": 5e-324}, "price"),
        ({"name": "cup", "price": 1e-131}, "price"),
        ({"name": "cup", "price": 1e-130}, "price"),
        ({"name": "cup", "price": 0.009}, "price"),
        ({"name": "", "price": 1}, "name"),
        ({"name": "x" * 201, "price": 1}, "name"),
        ({"name": "\ud800", "price": 1}, "name"),
        ({"name": "cup", "price": 1, "extra": "x" * 1_000_000}, "extra"),
        ('{"name": "cup", "price": NaN}', "not JSON"),
        ('{"name": "cup", "price": Infinity}', "not JSON"),
    ],
)
def test_an_item_the_table_would_refuse_is_a_400_naming_the_field(cloud, body, field):
    raw = body if isinstance(body, str) else json.dumps(body)
    executions = len(cloud.trace.find("sync-execution"))
    answer = cloud.api().put("/items/cup-3", body=raw, headers={"Content-Type": "application/json"})
    assert answer.status == 400
    assert field in answer.json()["message"]
    assert len(cloud.trace.find("sync-execution")) == executions, "refused before the workflow runs"


def test_the_workflow_refuses_an_invalid_item_itself_when_started_directly(cloud):
    for body in ({"name": "cup"}, {"name": "cup", "price": 1e308}, {"name": "cup", "price": 1e-200}):
        started = cloud.client("stepfunctions").start_sync_execution(
            stateMachineArn=cloud.outputs["StateMachineArn"],
            input=json.dumps({"method": "PUT", "id": "direct-3", "body": body}),
        )
        assert (started["status"], started["error"]) == ("FAILED", "InvalidBody")
    assert "Item" not in stored_item(cloud, "direct-3")


def test_a_price_is_zero_or_at_least_one_cent(cloud):
    api = cloud.api()
    for price in (0, 0.01, 0.5, MAX_PRICE):
        stored = api.put("/items/cup-5", json={"name": "cup", "price": price})
        assert (stored.status, stored.json()["price"]) == (200, price)


def test_an_item_dynamodb_refuses_is_a_400_from_the_workflow_not_a_500(cloud):
    """The Catch on PutItem: a body the checks let through but DynamoDB refuses (a lone surrogate
    in a direct execution) ends in InvalidBody, never in DynamoDB's own message."""
    started = cloud.client("stepfunctions").start_sync_execution(
        stateMachineArn=cloud.outputs["StateMachineArn"],
        input=json.dumps({"method": "PUT", "id": "cup-6", "body": {"name": "\ud800", "price": 1}}),
    )
    assert (started["status"], started["error"]) == ("FAILED", "InvalidBody")
    assert "DynamoDB" not in started["cause"]


def stored_item(cloud: LocalCloud, item_id: str) -> dict:
    return cloud.client("dynamodb").get_item(TableName=cloud.outputs["TableName"], Key={"id": {"S": item_id}})


def _answer(execution: dict) -> tuple[int | None, dict]:
    context = {"responseOverride": {"status": None, "header": {}}, "requestId": "req-1"}
    text = render(
        _response_template(), body=json.dumps(execution), params={}, context=context, stage_variables={}
    )
    return context["responseOverride"]["status"], json.loads(text)


def test_the_answer_to_a_mapped_error_is_json_whatever_its_cause_holds():
    cause = 'it\'s "quoted" \\ and caf\u00e9'
    status, body = _answer({"status": "FAILED", "error": "NotFound", "cause": cause})
    assert (status, body["error"], body["message"]) == (404, "NotFound", cause)


def test_an_unmapped_error_is_a_500_without_the_cause():
    cause = "DynamoDB.ValidationException: Number underflow (Service: DynamoDb, Request ID: ABC123, it's)"
    status, body = _answer({"status": "FAILED", "error": "States.Runtime", "cause": cause})
    assert status == 500
    assert "ABC123" not in json.dumps(body) and "Number" not in json.dumps(body)
    assert body["error"] == "InternalError" and body["message"]


EMOJI = "\U0001f600"


def test_an_id_is_stored_as_requested_however_many_utf16_units_it_takes(cloud):
    """API Gateway's VTL counts an emoji as two UTF-16 units: a valid id must not be cut for that,
    or 😀 * 128 + "AB" and 😀 * 128 + "AC" would both be stored as 😀 * 128 + "A"."""
    api = cloud.api()
    for item_id in (EMOJI * 128, EMOJI * 129, EMOJI * 256, EMOJI * 128 + "AB", EMOJI * 128 + "AC"):
        stored = api.put("/items/" + quote(item_id), json={**ITEM, "name": item_id[-2:]})
        assert (stored.status, stored.json()["id"]) == (200, item_id)
    assert api.get("/items/" + quote(EMOJI * 128 + "AB")).json()["name"] == "AB"


def test_a_long_id_of_emoji_is_refused_not_cut_into_a_valid_one(cloud):
    items = cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"]
    for item_id in (EMOJI * 257, EMOJI * 256 + "A", EMOJI * 255 + "AB", EMOJI * 300):
        answer = cloud.api().put("/items/" + quote(item_id), json=ITEM)
        assert (answer.status, answer.json()["error"]) == (400, "InvalidId"), len(item_id)
    assert cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"] == items


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_an_id_longer_than_256_characters_is_a_400_before_dynamodb(cloud, method):
    answer = cloud.api().request(method, "/items/" + "\u00e9" * 257, json=ITEM)
    assert (answer.status, answer.json()["error"]) == (400, "InvalidId")
    assert "id" in answer.json()["message"]
    assert cloud.api().put("/items/" + "\u00e9" * 256, json=ITEM).status == 200, "256 is the limit"


def test_a_body_that_is_not_a_json_object_is_refused_by_api_gateway_itself(cloud):
    executions = len(cloud.trace.find("sync-execution"))
    answer = cloud.api().put("/items/cup-4", body="{not json", headers={"Content-Type": "application/json"})
    assert answer.status == 400
    assert len(cloud.trace.find("sync-execution")) == executions, "the workflow never ran"


def test_quotes_in_ids_and_names_survive_the_mapping_templates(cloud):
    api = cloud.api()
    odd = {"name": 'the "best" cup\'s lid / 1', "price": 0}
    assert api.put("/items/o'brien", json=odd).status == 200
    assert api.get("/items/o'brien").json() == {"id": "o'brien", **odd}


def test_an_id_that_closes_its_string_cannot_turn_a_get_into_a_delete(cloud):
    api = cloud.api()
    before = len(cloud.trace.find("sync-execution"))
    assert api.put("/items/victim", json=ITEM).status == 200

    attack = api.get("/items/victim%22%2C%22method%22%3A%22DELETE")
    assert attack.status == 404, attack.json()
    assert api.get("/items/victim").json() == {"id": "victim", **ITEM}
    [_, execution, _] = cloud.trace.find("sync-execution")[before:]
    started = cloud.execution(execution.data["execution_arn"]).history()[0]["executionStartedEventDetails"]
    assert json.loads(started["input"]) == {"method": "GET", "id": 'victim","method":"DELETE', "body": None}


@pytest.mark.parametrize(
    "item_id",
    ['say "hi"', "back\\slash", "tab\there", "new\nline", "nul\u0000", "caf\u00e9 \U0001f600", "it's", "}{"],
)
def test_ids_with_quotes_backslashes_control_characters_and_unicode_round_trip(cloud, item_id):
    api = cloud.api()
    path = "/items/" + quote(item_id, safe="")
    stored = api.put(path, json=ITEM)
    assert (stored.status, stored.json()) == (200, {"id": item_id, **ITEM})
    assert api.get(path).json() == {"id": item_id, **ITEM}
    assert api.delete(path).json() == {"deleted": item_id}
