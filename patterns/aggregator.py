"""Aggregator: API Gateway -> one Lambda calling several internal services at once -> one merged answer.

A client that would otherwise make one call per microservice makes one call here. The aggregator
invokes every internal service RequestResponse at the same moment and waits for them together for
at most ``budget``; the answer takes as long as the slowest service within the budget, not the sum.
A service that fails, is throttled or misses the budget costs only its part: the caller gets a 200
with the parts that arrived and that part marked in ``errors``, never a 500.

By default the construct also builds three sample internal services, each an Internal API with a
table of its own: ``catalog`` (what the product is), ``pricing`` (what it costs now) and
``inventory`` (whether it can ship). Pass ``services`` to aggregate your own functions instead;
each must follow the contract in ``functions/aggregator/services.py``.

Example::

    page = Aggregator(self, "ProductPage", budget=Duration.millis(800))
    page.tables["pricing"].grant_read_write_data(price_admin_fn)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .defaults import (
    CodeLocation,
    PatternFunction,
    Props,
    SecureRestApi,
    acknowledge,
    acknowledge_public_read,
    grant_invoke_latest,
    grant_table,
    merge_props,
    pattern_function_props,
    rest_api_props,
    secure_table,
)

#: The sample services: their part's name and the handler in functions/aggregator/services.py.
SAMPLE_SERVICES = {
    "catalog": "what the product is: name, description, category",
    "pricing": "what the product costs now: list price and sale price",
    "inventory": "whether the product can ship: units available, low-stock flag",
}
SERVICE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
MIN_BUDGET = Duration.millis(50)
#: API Gateway ends a Lambda integration after 29 seconds.
MAX_BUDGET = Duration.seconds(28)
DEFAULT_LOW_STOCK_THRESHOLD = 5


class Aggregator(Construct):
    """GET /products/{product_id} answered by calling several internal services concurrently.

    :param services: your internal services, by the name of the part each answers (``^[a-z][a-z0-9_]*$``),
        each following the contract in ``functions/aggregator/services.py``; the three sample
        services (with their tables) are built if omitted.
    :param budget: the most time the aggregator waits for the services together (50 ms to 28 s);
        a service still working then is marked ``timeout``. The aggregator's own timeout is the
        budget plus two seconds.
    :param max_concurrent_calls: how many service calls run at once; all of them by default. Lower
        it only to spare a downstream: with 1 the calls run one after another and the latency
        becomes their sum.
    :param low_stock_threshold: units at or under which the sample inventory service flags low
        stock (sample services only).
    :param throttling_rate_limit: steady requests per second the stage accepts before answering 429.
    :param throttling_burst_limit: requests the stage accepts at once.
    :param functions_props: ``PatternFunction`` props of every function made here (``runtime``,
        ``architecture``, ``shared_dir``...); ``aggregator_props`` of the aggregator alone.
    :param sample_services_props: ``PatternFunction`` props of each sample service, and
        ``sample_tables_props`` ``dynamodb.Table`` props of each sample table (not with ``services``).
    :param api_props: ``SecureRestApi`` props.
    :param code_dir: the folder of ``aggregator.py`` and ``services.py``; ``functions/aggregator`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        services: Mapping[str, lambda_.IFunction] | None = None,
        budget: Duration | None = None,
        max_concurrent_calls: int | None = None,
        low_stock_threshold: int | None = None,
        memory_size: int | None = None,
        throttling_rate_limit: float | None = None,
        throttling_burst_limit: int | None = None,
        functions_props: Props | None = None,
        aggregator_props: Props | None = None,
        sample_services_props: Props | None = None,
        sample_tables_props: Props | None = None,
        api_props: Props | None = None,
        code_dir: CodeLocation = "aggregator",
    ) -> None:
        super().__init__(scope, construct_id)
        for name, props in (
            ("sample_services_props", sample_services_props),
            ("sample_tables_props", sample_tables_props),
        ):
            merge_props(self, name, {}, props, existing=("services", services))
        self._code_dir = code_dir
        self._functions_props = functions_props
        self._sample_services_props = sample_services_props
        self._sample_tables_props = sample_tables_props
        budget = budget or Duration.seconds(1)
        budget_ms = budget.to_milliseconds()
        if not MIN_BUDGET.to_milliseconds() <= budget_ms <= MAX_BUDGET.to_milliseconds():
            raise ValueError(f"{construct_id}: budget must be from 50 ms to 28 s; got {budget_ms} ms")
        if services is not None:
            if low_stock_threshold is not None:
                raise ValueError(
                    f"{construct_id}: low_stock_threshold configures the sample services; "
                    "it cannot apply to the services you pass"
                )
            if not services:
                raise ValueError(f"{construct_id}: services must name at least one service")
            bad = sorted(name for name in services if not SERVICE_NAME.fullmatch(name))
            if bad:
                raise ValueError(
                    f"{construct_id}: service names must match {SERVICE_NAME.pattern}; got {bad}"
                )
        if low_stock_threshold is not None and low_stock_threshold < 0:
            raise ValueError(f"{construct_id}: low_stock_threshold must be 0 or more")
        service_count = len(services) if services is not None else len(SAMPLE_SERVICES)
        if max_concurrent_calls is not None and not 1 <= max_concurrent_calls <= service_count:
            raise ValueError(
                f"{construct_id}: max_concurrent_calls must be from 1 to the number of services "
                f"({service_count}); got {max_concurrent_calls}"
            )

        self.tables: dict[str, dynamodb.Table] = {}
        """The sample services' tables by part name (empty when you pass ``services``)."""
        self.services: dict[str, lambda_.IFunction] = (
            dict(services)
            if services is not None
            else self._sample_services(
                budget, DEFAULT_LOW_STOCK_THRESHOLD if low_stock_threshold is None else low_stock_threshold
            )
        )

        self.budget = budget
        environment = {
            "SERVICES": ",".join(self.services),
            "BUDGET_MS": str(int(budget_ms)),
            **{f"SERVICE_{name.upper()}_ARN": fn.function_arn for name, fn in self.services.items()},
        }
        if max_concurrent_calls is not None:
            environment["MAX_CONCURRENT_CALLS"] = str(max_concurrent_calls)
        self.function = PatternFunction(
            self,
            "Aggregator",
            **pattern_function_props(
                self,
                "aggregator_props",
                {
                    "code_dir": code_dir,
                    "handler": "aggregator.handler",
                    "service": "aggregator",
                    "description": f"Calls {', '.join(self.services)} at once within {budget_ms} ms; merges their parts",
                    "environment": environment,
                    "timeout": Duration.seconds(math.ceil(budget.to_seconds(integral=False)) + 2),
                },
                aggregator_props,
                functions_props=functions_props,
                keywords={"memory_size": ("memory_size", memory_size)},
            ),
        )
        for service in self.services.values():
            grant_invoke_latest(service, self.function)

        self.api = SecureRestApi(
            self,
            "Api",
            **rest_api_props(
                self,
                api_props,
                description="Aggregator: GET /products/{product_id} merged from several services",
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
            ),
        )
        product = self.api.root.add_resource("products").add_resource("{product_id}")
        method = product.add_method("GET", apigw.LambdaIntegration(self.function))
        acknowledge_public_read(method)
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Invoked synchronously by API Gateway: errors return to the caller, there is no async event to keep.",
        )

    def _sample_services(self, budget: Duration, low_stock_threshold: int) -> dict[str, lambda_.IFunction]:
        services: dict[str, lambda_.IFunction] = {}
        for name, what in SAMPLE_SERVICES.items():
            partition_key = dynamodb.Attribute(name="product_id", type=dynamodb.AttributeType.STRING)
            table = secure_table(
                self,
                f"{name.capitalize()}Table",
                **merge_props(
                    self,
                    "sample_tables_props",
                    {"partition_key": partition_key},
                    self._sample_tables_props,
                    fixed=("partition_key",),
                ),
            )
            environment = {"TABLE_NAME": table.table_name}
            if name == "inventory":
                environment["LOW_STOCK_THRESHOLD"] = str(low_stock_threshold)
            function = PatternFunction(
                self,
                f"{name.capitalize()}Service",
                **pattern_function_props(
                    self,
                    "sample_services_props",
                    {
                        "code_dir": self._code_dir,
                        "handler": f"services.{name}",
                        "service": name,
                        "description": f"Internal API: {what}",
                        "environment": environment,
                        # Work the aggregator has stopped waiting for is not worth paying for much longer.
                        "timeout": Duration.seconds(max(1, math.ceil(budget.to_seconds(integral=False)))),
                    },
                    self._sample_services_props,
                    functions_props=self._functions_props,
                ),
            )
            grant_table(table, function, "dynamodb:GetItem")
            acknowledge(
                function,
                "Serverless-LambdaDLQ",
                "An internal API invoked synchronously by the aggregator: a failure returns to it as a "
                "function error and becomes a marked part; there is no async event to keep.",
            )
            self.tables[name] = table
            services[name] = function
        return services

    def outputs(self) -> dict[str, Any]:
        outputs: dict[str, Any] = {"ApiUrl": self.api.url_for_path("/products")}
        for name, table in self.tables.items():
            outputs[f"{name.capitalize()}TableName"] = table.table_name
        return outputs
