"""Step Functions CRUD through its front door: API Gateway runs the Express state machine
synchronously; a missing item is a 404, an invalid body a 400; no Lambda runs."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

ITEM = {"name": "espresso cup", "price": 7.5}


def test_an_item_is_put_read_replaced_and_deleted(local_cloud):
    cloud = local_cloud("sfn_crud")
    api = cloud.api()

    stored = api.put("/items/cup-1", json=ITEM)
    assert (stored.status, stored.json()) == (200, {"id": "cup-1", **ITEM})
    assert api.get("/items/cup-1").json() == {"id": "cup-1", **ITEM}
    assert api.put("/items/cup-1", json={"name": "espresso cup", "price": 8}).status == 200
    assert api.get("/items/cup-1").json()["price"] == 8

    deleted = api.delete("/items/cup-1")
    assert (deleted.status, deleted.json()) == (200, {"deleted": "cup-1"})
    assert api.get("/items/cup-1").status == 404

    item = cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"]
    assert item == []
    assert not cloud.functions, "no Lambda function in this pattern"


def test_each_request_is_one_synchronous_express_execution_as_the_apis_role(local_cloud):
    cloud = local_cloud("sfn_crud")
    cloud.api().put("/items/cup-2", json=ITEM)
    [execution] = cloud.trace.find("sync-execution")
    run = cloud.execution(execution.data["execution_arn"])
    assert run.states() == ["Method?", "ValidBody?", "PutItem", "Stored"]
    assert json.loads(run.history()[0]["executionStartedEventDetails"]["input"]) == {
        "method": "PUT",
        "id": "cup-2",
        "body": ITEM,
    }
    assert execution.outcome == "SUCCEEDED"
    assert execution.source != "test", "API Gateway starts it, under the request's span"


def test_a_missing_item_is_a_404_for_reads_and_deletes(local_cloud):
    api = local_cloud("sfn_crud").api()
    for answer in (api.get("/items/nothing"), api.delete("/items/nothing")):
        assert answer.status == 404
        assert answer.json() == {"error": "NotFound", "message": "There is no item with this id."}


@pytest.mark.parametrize(
    "body",
    [
        {"name": "cup"},
        {"name": 3, "price": 1},
        {"name": "cup", "price": "cheap"},
        {"name": "cup", "price": -1},
    ],
)
def test_an_item_without_a_name_and_a_price_is_a_400_from_the_workflow(local_cloud, body):
    cloud = local_cloud("sfn_crud")
    answer = cloud.api().put("/items/cup-3", json=body)
    assert answer.status == 400
    assert answer.json()["error"] == "InvalidBody"
    assert cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"] == []


def test_a_body_that_is_not_a_json_object_is_refused_by_api_gateway_itself(local_cloud):
    cloud = local_cloud("sfn_crud")
    answer = cloud.api().put("/items/cup-4", body="{not json", headers={"Content-Type": "application/json"})
    assert answer.status == 400
    assert not cloud.trace.find("sync-execution"), "the workflow never ran"


def test_quotes_in_ids_and_names_survive_the_mapping_templates(local_cloud):
    api = local_cloud("sfn_crud").api()
    odd = {"name": 'the "best" cup\'s lid / 1', "price": 0}
    assert api.put("/items/o'brien", json=odd).status == 200
    assert api.get("/items/o'brien").json() == {"id": "o'brien", **odd}


def test_an_id_that_closes_its_string_cannot_turn_a_get_into_a_delete(local_cloud):
    cloud = local_cloud("sfn_crud")
    api = cloud.api()
    assert api.put("/items/victim", json=ITEM).status == 200

    attack = api.get("/items/victim%22%2C%22method%22%3A%22DELETE")
    assert attack.status == 404, attack.json()
    assert api.get("/items/victim").json() == {"id": "victim", **ITEM}
    [_, execution, _] = cloud.trace.find("sync-execution")
    started = cloud.execution(execution.data["execution_arn"]).history()[0]["executionStartedEventDetails"]
    assert json.loads(started["input"]) == {"method": "GET", "id": 'victim","method":"DELETE', "body": None}


@pytest.mark.parametrize(
    "item_id",
    ['say "hi"', "back\\slash", "tab\there", "new\nline", "nul\u0000", "caf\u00e9 \U0001f600", "it's", "}{"],
)
def test_ids_with_quotes_backslashes_control_characters_and_unicode_round_trip(local_cloud, item_id):
    from urllib.parse import quote

    api = local_cloud("sfn_crud").api()
    path = "/items/" + quote(item_id, safe="")
    stored = api.put(path, json=ITEM)
    assert (stored.status, stored.json()) == (200, {"id": item_id, **ITEM})
    assert api.get(path).json() == {"id": item_id, **ITEM}
    assert api.delete(path).json() == {"deleted": item_id}
