"""The simple web service offline: its function and table as deployed, driven with the proxy events
API Gateway sends (serving the API itself over HTTP is the local cloud's next part)."""

from __future__ import annotations

import json

import pytest

from tests.events import api_event

pytestmark = pytest.mark.e2e


@pytest.fixture
def cloud(local_cloud):
    return local_cloud("simple_web_service")


def call(cloud, method: str, path: str, **kwargs) -> tuple[int, dict | None]:
    answer = cloud.invoke("Pattern/ItemsFunction", api_event(method, path, **kwargs))
    assert "FunctionError" not in answer, answer["Payload"]
    response = answer["Payload"]
    return response["statusCode"], json.loads(response["body"]) if response["body"] else None


def test_crud_with_pagination_against_the_deployed_table(cloud):
    ids = [call(cloud, "POST", "/items", body={"name": f"n{i}", "price_cents": i})[1]["id"] for i in range(5)]
    status, item = call(cloud, "GET", f"/items/{ids[0]}")
    assert (status, item["name"]) == (200, "n0")
    assert (
        call(cloud, "PUT", f"/items/{ids[0]}", body={"name": "renamed", "price_cents": 9})[1]["name"]
        == "renamed"
    )
    seen, query = [], {"limit": "2"}
    while True:
        page = call(cloud, "GET", "/items", query=query)[1]
        seen += [i["id"] for i in page["items"]]
        if "next_token" not in page:
            break
        query = {"limit": "2", "next_token": page["next_token"]}
    assert sorted(seen) == sorted(ids)
    assert call(cloud, "DELETE", f"/items/{ids[0]}")[0] == 204
    stored = cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"]
    assert len(stored) == 4


def test_bad_body_is_400_and_unknown_id_is_404(cloud):
    status, body = call(cloud, "POST", "/items", body={"price_cents": -1})
    assert (
        status == 400
        and "name: required" in body["message"]
        and "price_cents: less than 0" in body["message"]
    )
    assert call(cloud, "GET", "/items/missing")[0] == 404
    assert call(cloud, "DELETE", "/items/missing")[0] == 404
    assert cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"] == []


def test_the_function_uses_exactly_the_grants_it_needs(cloud):
    item = call(cloud, "POST", "/items", body={"name": "tea", "price_cents": 350})[1]
    call(cloud, "GET", f"/items/{item['id']}")
    call(cloud, "GET", "/items")
    call(cloud, "PUT", f"/items/{item['id']}", body={"name": "tea", "price_cents": 300})
    call(cloud, "DELETE", f"/items/{item['id']}")
    unused = [line for line in cloud.unused_grants() if "dynamodb:" in line]
    assert unused == [], "every DynamoDB action the construct grants is one a route uses"
    assert cloud.trace.find("denied") == []
