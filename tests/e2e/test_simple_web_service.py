"""The simple web service offline, through its front door: HTTP requests to the API Gateway stage,
which validates bodies against the model and invokes the function with the proxy event."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def cloud(local_cloud):
    return local_cloud("simple_web_service")


def call(cloud, method: str, path: str, **kwargs) -> tuple[int, dict | None]:
    response = cloud.api().request(method, path, **kwargs)
    return response.status_code, response.json() if response.body else None


def test_crud_with_pagination_against_the_deployed_table(cloud):
    ids = [call(cloud, "POST", "/items", json={"name": f"n{i}", "price_cents": i})[1]["id"] for i in range(5)]
    status, item = call(cloud, "GET", f"/items/{ids[0]}")
    assert (status, item["name"]) == (200, "n0")
    assert (
        call(cloud, "PUT", f"/items/{ids[0]}", json={"name": "renamed", "price_cents": 9})[1]["name"]
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


def test_a_bad_body_is_400_from_api_gateway_before_the_function_runs(cloud):
    status, body = call(cloud, "POST", "/items", json={"price_cents": -1})
    assert status == 400
    assert body["message"].startswith("Invalid request body: ["), "the house gateway response lists problems"
    assert "'name' is a required property" in body["message"]
    assert "price_cents: -1 is less than the minimum of 0" in body["message"]
    assert cloud.trace.find("invoke") == [], "the model refused it: no invocation, no cost"
    assert cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"] == []


def test_a_huge_value_the_model_refuses_is_named_not_echoed_whole(cloud):
    status, body = call(cloud, "POST", "/items", json={"name": "x" * 1_000_000, "price_cents": 1})
    assert status == 400
    assert body["message"].startswith("Invalid request body: [name: 'xxx"), body["message"][:200]
    assert body["message"].endswith("is too long]"), "the problem is still named"
    assert len(body["message"]) < 1_000, "a megabyte refused is not sent back"


def test_a_body_the_model_does_not_see_is_400_from_the_function(cloud):
    """A body sent as another content type has no model to break, so the handler's own rules answer."""
    status, body = call(
        cloud, "POST", "/items", body='{"price_cents": -1}', headers={"Content-Type": "text/plain"}
    )
    assert (
        status == 400
        and "name: required" in body["message"]
        and "price_cents: less than 0" in body["message"]
    )
    assert cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"] == []


def test_a_trailing_slash_answers_as_the_path_without_it(cloud):
    """API Gateway routes /items/ to /items and passes the path as sent; the function must too."""
    item = call(cloud, "POST", "/items", json={"name": "cup", "price_cents": 5})[1]
    assert call(cloud, "GET", "/items/") == call(cloud, "GET", "/items") == (200, {"items": [item]})
    assert call(cloud, "GET", f"/items/{item['id']}/") == (200, item)
    assert call(cloud, "GET", "/items/missing/")[0] == 404


def test_an_unknown_id_is_404_and_an_unknown_route_is_403(cloud):
    assert call(cloud, "GET", "/items/missing")[0] == 404
    assert call(cloud, "DELETE", "/items/missing")[0] == 404
    assert call(cloud, "GET", "/nothing") == (403, {"message": "Missing Authentication Token"})
    assert call(cloud, "PATCH", "/items/x") == (403, {"message": "Missing Authentication Token"})


def test_the_function_uses_exactly_the_grants_it_needs(cloud):
    item = call(cloud, "POST", "/items", json={"name": "tea", "price_cents": 350})[1]
    call(cloud, "GET", f"/items/{item['id']}")
    call(cloud, "GET", "/items")
    call(cloud, "PUT", f"/items/{item['id']}", json={"name": "tea", "price_cents": 300})
    call(cloud, "DELETE", f"/items/{item['id']}")
    unused = [line for line in cloud.unused_grants() if "dynamodb:" in line]
    assert unused == [], "every DynamoDB action the construct grants is one a route uses"
    assert cloud.trace.find("denied") == []
    requests = cloud.trace.find("request")
    assert [r.outcome for r in requests] == ["201", "200", "200", "200", "204"]
    assert all(span.parent in {r.id for r in requests} for span in cloud.trace.find("invoke"))
