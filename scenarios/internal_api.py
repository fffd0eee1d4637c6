"""Internal API: a caller prices a cart by invoking the quote service synchronously; no one else may."""

from __future__ import annotations

from botocore.exceptions import ClientError

from scenarios import Show


def run(show: Show) -> None:
    cloud = show.cloud
    for sku, cents in (("A-1", 999), ("B-2", 250)):
        cloud.client("dynamodb").put_item(
            TableName=cloud.outputs["PricesTableName"],
            Item={"sku": {"S": sku}, "unit_price_cents": {"N": str(cents)}, "currency": {"S": "USD"}},
        )
    service = cloud.function("Pattern/Service")

    priced = cloud.invoke(
        "Pattern/Caller", {"items": [{"sku": "A-1", "quantity": 2}, {"sku": "B-2", "quantity": 1}]}
    )
    show.equal(
        "the caller gets the service's answer", priced["Payload"].get("cart", {}).get("totals"), {"USD": 2248}
    )
    calls = cloud.trace.find("invoke", target=service.name)
    show.equal(
        "each line is one synchronous call from the caller",
        [span.source for span in calls],
        [cloud.function("Pattern/Caller").name] * 2,
    )

    direct = cloud.invoke("Pattern/Service", {"sku": "Z-9", "quantity": 1})
    show.equal(
        "a service refusal comes back as a function error",
        (direct.get("FunctionError"), direct["Payload"].get("errorType")),
        ("Unhandled", "UnknownSku"),
    )
    mapped = cloud.invoke("Pattern/Caller", {"items": [{"sku": "Z-9", "quantity": 1}]})["Payload"]
    show.equal(
        "the caller maps it to its own error",
        (mapped["statusCode"], mapped.get("error", {}).get("code")),
        (404, "UnknownProduct"),
    )
    invalid = cloud.invoke("Pattern/Caller", {"items": [{"sku": "A-1", "quantity": 0}]})["Payload"]
    show.equal("a bad cart is refused with 400 before any call", invalid["statusCode"], 400)

    try:
        # Any role but the caller's: here the service's own.
        cloud.client_as(service.role_arn, "lambda", "another-function").invoke(
            FunctionName=service.name, Payload=b'{"sku": "A-1", "quantity": 1}'
        )
        code = "allowed"
    except ClientError as error:
        code = error.response["Error"]["Code"]
    show.equal("another function's role gets AccessDenied", code, "AccessDeniedException")
