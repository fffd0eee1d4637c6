"""The aggregator offline, as deployed, through API Gateway: one answer from three services called
at once, a failing, throttled or too slow service marked in a 200 (never a 500), and the trace
timings that show the latency is the slowest call within the budget, not the sum.
"""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.e2e

CATALOG = {"name": "Green tea", "description": "Sencha, 100 g", "category": "tea"}
PRICING = {"currency": "USD", "list_price_cents": 350, "discount_percent": 10, "price_cents": 315}
INVENTORY = {"available": 3, "in_stock": True, "low_stock": True}
#: The construct's default budget, which is also the SDK client's read timeout.
BUDGET_S = 1.0
SERVICES = {"catalog": "CatalogService", "pricing": "PricingService", "inventory": "InventoryService"}


def seed(cloud) -> None:
    ddb = cloud.client("dynamodb")
    rows = {
        "CatalogTableName": {
            "name": {"S": "Green tea"},
            "description": {"S": "Sencha, 100 g"},
            "category": {"S": "tea"},
        },
        "PricingTableName": {"price_cents": {"N": "350"}, "discount_percent": {"N": "10"}},
        "InventoryTableName": {"available": {"N": "3"}},
    }
    for output, item in rows.items():
        ddb.put_item(TableName=cloud.outputs[output], Item={"product_id": {"S": "p-1"}, **item})


@pytest.fixture
def cloud(local_cloud):
    cloud = local_cloud("aggregator")
    seed(cloud)
    return cloud


def invoke_span(cloud, construct: str):
    [span] = cloud.trace.find("invoke", target=cloud.function(f"Pattern/{construct}").name)
    return span


def test_one_request_gets_one_answer_merged_from_three_services(cloud):
    answer = cloud.api().get("/products/p-1")
    assert answer.status == 200
    assert answer.json() == {
        "product_id": "p-1",
        "parts": {"catalog": CATALOG, "pricing": PRICING, "inventory": INVENTORY},
        "errors": {},
        "complete": True,
    }
    aggregator = invoke_span(cloud, "Aggregator")
    for construct in SERVICES.values():
        assert invoke_span(cloud, construct).parent == aggregator.id, (
            "each service call hangs under the request"
        )
    assert cloud.trace.find("denied") == []


def test_a_failing_service_is_a_marked_part_of_a_200_never_a_500(cloud):
    cloud.client("dynamodb").delete_table(TableName=cloud.outputs["PricingTableName"])  # its store is down
    answer = cloud.api().get("/products/p-1")
    assert answer.status == 200
    body = answer.json()
    assert body["parts"] == {"catalog": CATALOG, "pricing": None, "inventory": INVENTORY}
    assert body["errors"] == {
        "pricing": {"reason": "failed", "message": "the service failed (ResourceNotFoundException)"}
    }
    assert body["complete"] is False
    assert invoke_span(cloud, "PricingService").outcome == "error: ResourceNotFoundException"


def test_a_throttled_service_is_marked_unavailable(cloud):
    cloud.function("Pattern/InventoryService").reserved_concurrency = 0
    answer = cloud.api().get("/products/p-1")
    assert answer.status == 200
    assert answer.json()["errors"] == {
        "inventory": {
            "reason": "unavailable",
            "message": "the service could not be called (TooManyRequestsException)",
        }
    }
    [throttle] = cloud.trace.find("throttle", target=cloud.function("Pattern/InventoryService").name)
    assert throttle.outcome == "429" and throttle.parent == invoke_span(cloud, "Aggregator").id


def test_when_no_service_answers_it_is_a_503_with_a_message(cloud):
    for construct in SERVICES.values():
        cloud.function(f"Pattern/{construct}").reserved_concurrency = 0
    answer = cloud.api().get("/products/p-1")
    assert answer.status == 503
    assert answer.json()["message"] == "no service answered for product p-1 within 1000 ms"


def test_an_unknown_product_is_404_and_a_malformed_id_400_before_any_service_runs(cloud):
    missing = cloud.api().get("/products/p-9")
    assert (missing.status, missing.json()["message"]) == (404, "product p-9 not found")
    assert len(cloud.trace.find("invoke", target=cloud.function("Pattern/CatalogService").name)) == 1
    malformed = cloud.api().get("/products/-p")
    assert malformed.status == 400 and malformed.json()["message"].startswith("product_id:")
    assert len(cloud.trace.find("invoke", target=cloud.function("Pattern/CatalogService").name)) == 1


# ------------------------------------------------------------------------------------ timings


def test_latency_is_the_slowest_call_not_the_sum(cloud):
    durations = {"CatalogService": 0.2, "PricingService": 0.5, "InventoryService": 0.3}
    for construct, seconds in durations.items():
        cloud.function(f"Pattern/{construct}").duration = seconds
    answer = cloud.api().get("/products/p-1")
    assert (answer.status, answer.json()["complete"]) == (200, True)
    aggregator = invoke_span(cloud, "Aggregator")
    for construct, seconds in durations.items():
        span = invoke_span(cloud, construct)
        assert (span.at, span.ended) == (aggregator.at, pytest.approx(aggregator.at + seconds)), (
            f"{construct} starts with the request and lasts its own duration"
        )
    assert aggregator.ended - aggregator.at == pytest.approx(max(durations.values()))
    assert aggregator.ended - aggregator.at < sum(durations.values())


def test_a_service_slower_than_the_budget_costs_its_part_and_only_the_budget(cloud):
    cloud.function("Pattern/PricingService").duration = 2 * BUDGET_S
    cloud.function("Pattern/InventoryService").duration = 0.4
    answer = cloud.api().get("/products/p-1")
    assert answer.status == 200
    body = answer.json()
    assert body["parts"] == {"catalog": CATALOG, "pricing": None, "inventory": INVENTORY}
    assert body["errors"] == {"pricing": {"reason": "timeout", "message": "no answer within the budget"}}
    aggregator, pricing = invoke_span(cloud, "Aggregator"), invoke_span(cloud, "PricingService")
    assert aggregator.ended - aggregator.at == pytest.approx(BUDGET_S), "the answer waited the budget only"
    assert (pricing.outcome, pricing.ended - pricing.at) == ("ok", pytest.approx(2 * BUDGET_S)), (
        "the service ran on to its end after the aggregator stopped waiting"
    )
    [timeout] = cloud.trace.find("timeout", target=pricing.target)
    assert (timeout.parent, timeout.at, timeout.outcome) == (
        aggregator.id,
        pytest.approx(aggregator.at + BUDGET_S),
        "ReadTimeoutError",
    )


def test_requests_leave_the_test_process_environment_as_it_was(cloud):
    before = dict(os.environ)
    cloud.function("Pattern/PricingService").duration = 2 * BUDGET_S
    assert cloud.api().get("/products/p-1").status == 200
    assert dict(os.environ) == before
