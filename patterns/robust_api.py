"""Robust API: one REST API whose routes each reach their own function, all sharing one table; one
route calls an internal service synchronously, another hands work off to a function asynchronously.

Unlike the simple web service (one function behind every route), each route here is its own
function with its own role, scoped to the calls that route makes on the shared ``orders`` table:

``POST /orders``
    CreateOrder validates the order, asks the internal shipping-quote service for a quote
    (``InvocationType=RequestResponse``; its answer is needed to store the order) and stores the
    order ``accepted``: 201. The quote service's refusal is a 400, its failure a 502.
``GET /orders/{order_id}``
    GetOrder reads the order: 200, or 404.
``POST /orders/{order_id}/shipment``
    ShipOrder moves the order to ``shipping`` (once: a second request is a 409) and invokes the
    Shipper with ``InvocationType=Event``: 202 at once. The Shipper marks the order ``shipped``
    with a tracking number; Lambda retries a failed event and then sends it, with its error, to
    the shipping failure queue.

Example::

    api = RobustApi(self, "Orders")
    api.table.grant_read_data(reporting_fn)
    api.shipping_failures.metric_approximate_number_of_messages_visible().create_alarm(...)
"""

from __future__ import annotations

import math
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .defaults import (
    MAX_ASYNC_RETRY_ATTEMPTS,
    CodeLocation,
    PatternFunction,
    Props,
    SecureRestApi,
    acknowledge,
    async_failure_destination,
    grant_invoke_latest,
    grant_table,
    json_model,
    merge_props,
    pattern_function_props,
    rest_api_props,
    table_or_new,
)

ORDER_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "Order",
    "type": "object",
    "required": ["customer_id", "country", "weight_grams"],
    "additionalProperties": False,
    "properties": {
        "customer_id": {"type": "string", "minLength": 1, "maxLength": 64},
        # A country the shipping service serves: the default is what a generated example sends.
        "country": {"type": "string", "minLength": 2, "maxLength": 2, "default": "US"},
        "weight_grams": {"type": "integer", "minimum": 1, "maximum": 30000},
        "reference": {"type": "string", "maxLength": 100},
    },
}
_SYNC_REASON = "Invoked synchronously{by}: errors return to the caller, there is no async event to keep."


class RobustApi(Construct):
    """An orders API: a function per route over one shared table, with a sync and an async call onward.

    :param table: an existing orders table with a string partition key ``order_id``; one is
        created if omitted.
    :param quote_service: an existing internal shipping-quote function following the contract in
        ``functions/robust_api/shipping_quote.py``; the sample one is built if omitted.
    :param quote_timeout: how long the quote service may run; CreateOrder's SDK waits two seconds
        more. The sample service gets this timeout.
    :param shipping_failure_queue: an existing queue for shipping events that failed every retry;
        one is created (kept 14 days) if omitted.
    :param shipping_retry_attempts: Lambda's retries of a failed shipping event (0 to 2).
    :param shipping_max_event_age: the oldest shipping event Lambda still tries (1 minute to 6 hours).
    :param throttling_rate_limit: steady requests per second the stage accepts before answering 429.
    :param throttling_burst_limit: requests the stage accepts at once.
    :param table_props: ``dynamodb.Table`` props of the orders table made here.
    :param functions_props: ``PatternFunction`` props of every function made here (``runtime``,
        ``architecture``, ``shared_dir``...); ``create_order_props``, ``get_order_props``,
        ``ship_order_props``, ``shipper_props`` and ``quote_service_props`` (the sample service's;
        its timeout is ``quote_timeout``) of each.
    :param shipping_failure_queue_props: ``sqs.Queue`` props of the shipping failure queue made here.
    :param api_props: ``SecureRestApi`` props.
    :param code_dir: the folder of the handlers; ``functions/robust_api`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable | None = None,
        quote_service: lambda_.IFunction | None = None,
        quote_timeout: Duration | None = None,
        shipping_failure_queue: sqs.IQueue | None = None,
        shipping_retry_attempts: int = MAX_ASYNC_RETRY_ATTEMPTS,
        shipping_max_event_age: Duration | None = None,
        memory_size: int | None = None,
        throttling_rate_limit: float | None = None,
        throttling_burst_limit: int | None = None,
        table_props: Props | None = None,
        functions_props: Props | None = None,
        quote_service_props: Props | None = None,
        create_order_props: Props | None = None,
        get_order_props: Props | None = None,
        shipper_props: Props | None = None,
        ship_order_props: Props | None = None,
        shipping_failure_queue_props: Props | None = None,
        api_props: Props | None = None,
        code_dir: CodeLocation = "robust_api",
    ) -> None:
        super().__init__(scope, construct_id)
        quote_timeout = quote_timeout or Duration.seconds(3)
        quote_seconds = quote_timeout.to_seconds(integral=False)
        if not 1 <= quote_seconds <= 10:
            raise ValueError(
                f"{construct_id}: quote_timeout must be from 1 to 10 seconds; got {quote_seconds}"
            )
        merge_props(
            self, "quote_service_props", {}, quote_service_props, existing=("quote_service", quote_service)
        )

        self.table = table_or_new(
            self,
            "Orders",
            name="table",
            existing=table,
            props=table_props,
            partition_key=dynamodb.Attribute(name="order_id", type=dynamodb.AttributeType.STRING),
        )
        table_env = {"TABLE_NAME": self.table.table_name}

        def route_function(
            construct: str,
            props_name: str,
            props: Props | None,
            handler: str,
            description: str,
            *,
            fixed: tuple[str, ...] = (),
            **options: Any,
        ) -> PatternFunction:
            return PatternFunction(
                self,
                construct,
                **pattern_function_props(
                    self,
                    props_name,
                    {
                        "code_dir": code_dir,
                        "handler": handler,
                        "service": "robust_api",
                        "description": description,
                        **options,
                    },
                    props,
                    functions_props=functions_props,
                    keywords={"memory_size": ("memory_size", memory_size)},
                    fixed=("handler", *fixed),
                ),
            )

        self.quote_service: lambda_.IFunction = quote_service or route_function(
            "QuoteService",
            "quote_service_props",
            quote_service_props,
            "shipping_quote.handler",
            "Internal API: shipping cost and delivery days by destination and weight",
            fixed=("timeout",),
            timeout=Duration.seconds(math.ceil(quote_seconds)),
        )
        # The SDK waits two seconds longer than the service may run and tries twice at most.
        create_timeout = math.ceil(2 * (quote_seconds + 2)) + 1
        self.create_order = route_function(
            "CreateOrder",
            "create_order_props",
            create_order_props,
            "create_order.handler",
            "POST /orders: quotes shipping synchronously, stores the order",
            fixed=("timeout",),
            environment={
                **table_env,
                "QUOTE_FUNCTION_NAME": self.quote_service.function_arn,
                "QUOTE_FUNCTION_TIMEOUT_SECONDS": f"{quote_seconds:g}",
            },
            timeout=Duration.seconds(create_timeout),
        )
        grant_table(self.table, self.create_order, "dynamodb:PutItem")
        grant_invoke_latest(self.quote_service, self.create_order)

        self.get_order = route_function(
            "GetOrder",
            "get_order_props",
            get_order_props,
            "get_order.handler",
            "GET /orders/{order_id}: reads one order",
            environment=table_env,
        )
        grant_table(self.table, self.get_order, "dynamodb:GetItem")

        self.shipper = route_function(
            "Shipper",
            "shipper_props",
            shipper_props,
            "shipper.handler",
            "Invoked asynchronously: ships an order and marks it shipped",
            environment=table_env,
        )
        grant_table(self.table, self.shipper, "dynamodb:UpdateItem")
        self.shipping_failures = async_failure_destination(
            self.shipper,
            what="shipping events that failed every retry",
            queue=shipping_failure_queue,
            queue_props=shipping_failure_queue_props,
            queue_props_name="shipping_failure_queue_props",
            retry_attempts=shipping_retry_attempts,
            **({"max_event_age": shipping_max_event_age} if shipping_max_event_age else {}),
        )

        self.ship_order = route_function(
            "ShipOrder",
            "ship_order_props",
            ship_order_props,
            "ship_order.handler",
            "POST /orders/{order_id}/shipment: hands the order to the shipper asynchronously",
            environment={**table_env, "SHIPPER_FUNCTION_NAME": self.shipper.function_arn},
        )
        grant_table(self.table, self.ship_order, "dynamodb:UpdateItem")
        grant_invoke_latest(self.shipper, self.ship_order)

        self.api = SecureRestApi(
            self,
            "Api",
            **rest_api_props(
                self,
                api_props,
                description="Robust API: orders, each route to its own function over one table",
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
            ),
        )
        orders = self.api.root.add_resource("orders")
        orders.add_method(
            "POST",
            apigw.LambdaIntegration(self.create_order),
            request_validator=self.api.body_validator,
            request_models={"application/json": json_model(self.api, "OrderModel", ORDER_SCHEMA)},
        )
        order = orders.add_resource("{order_id}")
        order.add_method("GET", apigw.LambdaIntegration(self.get_order))
        order.add_resource("shipment").add_method("POST", apigw.LambdaIntegration(self.ship_order))

        for method in self.api.methods:
            acknowledge(
                method,
                "AwsSolutions-APIG4",
                "The pattern is a public API by design; put an authorizer in front (see the gatekeeper pattern).",
            )
            acknowledge(
                method,
                "AwsSolutions-COG4",
                "No Cognito user pool: the pattern is a public API by design; see the secured SPA pattern.",
            )
        for function in (self.create_order, self.get_order, self.ship_order):
            acknowledge(function, "Serverless-LambdaDLQ", _SYNC_REASON.format(by=" by API Gateway"))
        if isinstance(self.quote_service, PatternFunction):
            acknowledge(self.quote_service, "Serverless-LambdaDLQ", _SYNC_REASON.format(by=" by CreateOrder"))

    def outputs(self) -> dict[str, Any]:
        return {
            "ApiUrl": self.api.url_for_path("/orders"),
            "TableName": self.table.table_name,
            "ShippingFailureQueueUrl": self.shipping_failures.queue_url,
        }
