"""Simple Web Service: API Gateway REST -> Lambda -> DynamoDB.

The most common serverless pattern: a synchronous CRUD API. API Gateway throttles and validates
the body against a JSON-schema model before the function runs (400 with API Gateway's message);
the function validates again so it is safe behind any other caller, and answers 404 for an unknown
id. The function may only read and write its one table.

Example::

    service = SimpleWebService(self, "Items")
    service.table.grant_read_data(reporting_fn)
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from .defaults import (
    CodeLocation,
    PatternFunction,
    Props,
    SecureRestApi,
    acknowledge,
    grant_table,
    json_model,
    pattern_function_props,
    rest_api_props,
    table_or_new,
)

ITEM_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "Item",
    "type": "object",
    "required": ["name", "price_cents"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "description": {"type": "string", "maxLength": 1000},
        "price_cents": {"type": "integer", "minimum": 0, "maximum": 1000000000},
    },
}


class SimpleWebService(Construct):
    """CRUD API over one DynamoDB table.

    Each resource takes ``<resource>_props``, the keyword arguments of the CDK construct merged over
    the house defaults (see ``merge_props`` in ``defaults.py``), or an existing resource.

    :param table: an existing table with a string partition key ``id``; one is created if omitted.
    :param table_props: ``dynamodb.Table`` props of the table made here.
    :param function_props: ``PatternFunction`` props of the items function (``memory_size``,
        ``runtime``, ``architecture``, ``shared_dir``...).
    :param api_props: ``SecureRestApi`` props (``default_method_options`` for an authorizer...).
    :param code_dir: the folder of the handler (``items.py``); ``functions/simple_web_service`` by default.
    :param throttling_rate_limit: steady requests per second the stage accepts before answering 429 (100).
    :param throttling_burst_limit: requests the stage accepts at once (50).
    :param memory_size: the function's memory in MB (256).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable | None = None,
        table_props: Props | None = None,
        function_props: Props | None = None,
        api_props: Props | None = None,
        code_dir: CodeLocation = "simple_web_service",
        throttling_rate_limit: float | None = None,
        throttling_burst_limit: int | None = None,
        memory_size: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = table_or_new(
            self,
            "Table",
            name="table",
            existing=table,
            props=table_props,
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        )
        self.function = PatternFunction(
            self,
            "ItemsFunction",
            **pattern_function_props(
                self,
                "function_props",
                {
                    "code_dir": code_dir,
                    "handler": "items.handler",
                    "service": "simple_web_service",
                    "description": "CRUD on items: validates input, reads and writes one table",
                    "environment": {"TABLE_NAME": self.table.table_name},
                    "timeout": Duration.seconds(10),
                },
                function_props,
                keywords={"memory_size": ("memory_size", memory_size)},
            ),
        )
        grant_table(
            self.table,
            self.function,
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
            "dynamodb:Scan",
        )

        self.api = SecureRestApi(
            self,
            "Api",
            **rest_api_props(
                self,
                api_props,
                description="Simple web service: CRUD on /items",
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
            ),
        )
        item_model = json_model(self.api, "ItemModel", ITEM_SCHEMA)
        integration = apigw.LambdaIntegration(self.function)
        with_body = {
            "request_validator": self.api.body_validator,
            "request_models": {"application/json": item_model},
        }
        items = self.api.root.add_resource("items")
        items.add_method("GET", integration)
        items.add_method("POST", integration, **with_body)
        item = items.add_resource("{id}")
        item.add_method("GET", integration)
        item.add_method("PUT", integration, **with_body)
        item.add_method("DELETE", integration)

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
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Invoked synchronously by API Gateway: errors return to the caller, there is no async event to keep.",
        )

    def outputs(self) -> dict[str, Any]:
        return {"ApiUrl": self.api.url_for_path("/items"), "TableName": self.table.table_name}
