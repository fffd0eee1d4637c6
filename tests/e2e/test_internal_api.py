"""The internal API offline: a caller invokes the quote service synchronously; no one else may."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from localcloud.core.assembly import load_stack
from patterns.defaults import PatternFunction, acknowledge
from patterns.registry import get
from patterns.stack import PatternStack, new_app

pytestmark = pytest.mark.e2e

STRANGER_STACK = "InternalApiWithStranger"


@pytest.fixture
def cloud(local_cloud):
    cloud = local_cloud("internal_api")
    seed_prices(cloud)
    return cloud


@pytest.fixture(scope="module")
def stranger_stack(tmp_path_factory):
    """The pattern's stack plus a function of another team that runs the caller's code, ungranted."""
    outdir = tmp_path_factory.mktemp("cdk-internal-api-stranger")
    app = new_app(builtin_validation=False, outdir=str(outdir))
    stack = PatternStack(app, get("internal_api"), stack_name=STRANGER_STACK)
    stranger = PatternFunction(
        stack,
        "Stranger",
        code_dir="internal_api",
        handler="caller.handler",
        environment={"QUOTE_FUNCTION_NAME": stack.construct.service.function_name},
    )
    acknowledge(stranger, "Serverless-LambdaDLQ", "A test function invoked synchronously by the test only.")
    app.synth()
    return load_stack(outdir, STRANGER_STACK)


def seed_prices(cloud) -> None:
    for sku, cents in (("A-1", 999), ("B-2", 250)):
        cloud.client("dynamodb").put_item(
            TableName=cloud.outputs["PricesTableName"],
            Item={"sku": {"S": sku}, "unit_price_cents": {"N": str(cents)}, "currency": {"S": "USD"}},
        )


def cart(*lines) -> dict:
    return {"items": [{"sku": sku, "quantity": quantity} for sku, quantity in lines]}


def service_invocations(cloud):
    return cloud.trace.find("invoke", target=cloud.function("Pattern/Service").name)


def test_the_caller_gets_the_services_answer(cloud):
    answer = cloud.invoke("Pattern/Caller", cart(("A-1", 2), ("B-2", 4)))
    assert "FunctionError" not in answer
    assert answer["Payload"]["statusCode"] == 200
    assert answer["Payload"]["cart"]["totals"] == {"USD": 2 * 999 + 4 * 250}
    [caller_span] = cloud.trace.find("invoke", target=cloud.function("Pattern/Caller").name)
    calls = service_invocations(cloud)
    assert len(calls) == 2, "one synchronous call per line"
    assert all(span.parent == caller_span.id and span.source == caller_span.target for span in calls)


def test_a_service_refusal_is_a_function_error_the_caller_maps_to_its_own(cloud):
    direct = cloud.invoke("Pattern/Service", {"sku": "Z-9", "quantity": 1})
    assert direct["StatusCode"] == 200 and direct["FunctionError"] == "Unhandled"
    assert direct["Payload"]["errorType"] == "UnknownSku"
    assert direct["Payload"]["errorMessage"] == "no price for sku 'Z-9'"

    answer = cloud.invoke("Pattern/Caller", cart(("A-1", 1), ("Z-9", 1)))["Payload"]
    assert answer == {
        "statusCode": 404,
        "error": {"code": "UnknownProduct", "message": "no price for sku 'Z-9'"},
    }
    assert service_invocations(cloud)[-1].outcome == "error: UnknownSku"


def test_a_bad_cart_is_refused_without_calling_the_service(cloud):
    answer = cloud.invoke("Pattern/Caller", cart(("A-1", 1001)))["Payload"]
    assert answer == {
        "statusCode": 400,
        "error": {"code": "InvalidCart", "message": "items[0]: quantity: greater than 1000"},
    }
    assert service_invocations(cloud) == []


def test_a_broken_price_row_is_a_fault_the_caller_does_not_pass_off_as_an_answer(cloud):
    cloud.client("dynamodb").put_item(
        TableName=cloud.outputs["PricesTableName"],
        Item={"sku": {"S": "C-3"}, "unit_price_cents": {"S": "cheap"}},
    )
    answer = cloud.invoke("Pattern/Caller", cart(("C-3", 1)))["Payload"]
    assert answer == {
        "statusCode": 502,
        "error": {"code": "PricingFailed", "message": "the pricing service failed; try again later"},
    }
    assert service_invocations(cloud)[-1].outcome == "error: InvalidInput"


def test_a_role_without_the_grant_is_denied(cloud):
    service = cloud.function("Pattern/Service")
    outsider = cloud.client_as(service.role_arn, "lambda", "outsider")
    with pytest.raises(ClientError) as denied:
        outsider.invoke(FunctionName=service.name, Payload=b'{"sku": "A-1", "quantity": 1}')
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "lambda:InvokeFunction" in denied.value.response["Error"]["Message"]
    assert service_invocations(cloud) == [], "a denied call never runs the service"


def test_only_the_granted_caller_may_invoke_another_function_gets_access_denied(run, stranger_stack):
    cloud = run(stranger_stack)
    seed_prices(cloud)
    refused = cloud.invoke("Stranger", cart(("A-1", 1)))["Payload"]
    assert refused == {
        "statusCode": 502,
        "error": {"code": "PricingUnavailable", "message": "the pricing service failed; try again later"},
    }
    [denied] = cloud.trace.find("denied")
    assert denied.source == cloud.function("Stranger").name
    assert denied.detail.startswith("lambda:InvokeFunction on ")
    assert denied.detail.endswith(cloud.function("Pattern/Service").arn)
    assert service_invocations(cloud) == []

    granted = cloud.invoke("Pattern/Caller", cart(("A-1", 1)))["Payload"]
    assert granted["statusCode"] == 200, "the same code with the caller's role gets through"
