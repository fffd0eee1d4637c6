"""Circuit Breaker: an API whose function calls a flaky dependency through a breaker kept in DynamoDB.

The circuit's state (closed, open, half-open) lives in one item of a table, so every instance of
every function that calls the dependency shares it, and changes it only with conditional writes
(``shared/circuit_breaker.py``). ``failure_threshold`` failures within ``window`` open the circuit;
while open, callers answer 503 with ``Retry-After`` without calling the dependency; after
``open_timeout`` one probe goes through; a failed probe doubles the timeout up to
``max_open_timeout``, a successful one closes the circuit.

By default the construct builds a sample dependency too: an exchange-rate service with its own
table, which fails while that table holds the item ``{"currency": "OUTAGE"}``. Pass ``dependency``
to call your own function instead (it must follow the contract in
``functions/circuit_breaker/rates.py``), and :meth:`add_breaker` to give any other function of
yours a circuit in the same table.

Example::

    rates = CircuitBreaker(self, "Rates", failure_threshold=10, open_timeout=Duration.seconds(15))
    rates.add_breaker(checkout_fn, "payments-provider")  # CIRCUIT_* env and a grant on the table
"""

from __future__ import annotations

import math
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
    table_or_new,
)

DEFAULT_DEPENDENCY_TIMEOUT = Duration.seconds(3)
#: API Gateway ends a Lambda integration after 29 seconds; the caller waits the dependency out plus this.
CALLER_MARGIN = Duration.seconds(5)
MAX_DEPENDENCY_TIMEOUT = Duration.seconds(20)
SYNC_INVOKED = "Invoked synchronously: an error returns to the caller, there is no async event to keep."


class CircuitBreaker(Construct):
    """GET /rates/{currency}, answered by calling a dependency through a circuit breaker.

    :param failure_threshold: failures within ``window`` that open the circuit (5).
    :param window: how long failures are counted together, from the first of them (60 s).
    :param open_timeout: how long the circuit stays open before one probe goes through (30 s).
    :param max_open_timeout: the cap of the open timeout, which each failed probe doubles (10 min).
    :param circuit_table: an existing table with string partition key ``circuit``; one is created if omitted.
    :param circuit_table_props: ``dynamodb.Table`` props of the circuit table made here.
    :param dependency: your function to call through the breaker, following the contract of
        ``functions/circuit_breaker/rates.py``; the sample rate service and its table are built if omitted.
    :param dependency_timeout: how long a call may take (3 s; at most 20 s): the sample service's
        timeout, the SDK's read timeout, and with 5 s more the caller's own timeout, which is also
        how long a probe that never reports holds the half-open circuit.
    :param functions_props: ``PatternFunction`` props of every function made here; ``api_function_props``
        of the API's function, ``dependency_props`` of the sample service.
    :param rates_table_props: ``dynamodb.Table`` props of the sample service's table.
    :param api_props: ``SecureRestApi`` props.
    :param code_dir: the folder of ``api.py`` and ``rates.py``; ``functions/circuit_breaker`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        failure_threshold: int = 5,
        window: Duration | None = None,
        open_timeout: Duration | None = None,
        max_open_timeout: Duration | None = None,
        circuit_table: dynamodb.ITable | None = None,
        circuit_table_props: Props | None = None,
        dependency: lambda_.IFunction | None = None,
        dependency_timeout: Duration | None = None,
        memory_size: int | None = None,
        throttling_rate_limit: float | None = None,
        throttling_burst_limit: int | None = None,
        functions_props: Props | None = None,
        api_function_props: Props | None = None,
        dependency_props: Props | None = None,
        rates_table_props: Props | None = None,
        api_props: Props | None = None,
        code_dir: CodeLocation = "circuit_breaker",
    ) -> None:
        super().__init__(scope, construct_id)
        for name, props in (("dependency_props", dependency_props), ("rates_table_props", rates_table_props)):
            merge_props(self, name, {}, props, existing=("dependency", dependency))
        window = window or Duration.seconds(60)
        open_timeout = open_timeout or Duration.seconds(30)
        max_open_timeout = max_open_timeout or Duration.minutes(10)
        dependency_timeout = dependency_timeout or DEFAULT_DEPENDENCY_TIMEOUT
        if failure_threshold < 1:
            raise ValueError(f"{construct_id}: failure_threshold must be 1 or more; got {failure_threshold}")
        for name, duration in (("window", window), ("open_timeout", open_timeout)):
            if duration.to_seconds() < 1:
                raise ValueError(f"{construct_id}: {name} must be at least 1 second")
        if max_open_timeout.to_seconds() < open_timeout.to_seconds():
            raise ValueError(
                f"{construct_id}: max_open_timeout ({max_open_timeout.to_seconds():g} s) must be at least "
                f"open_timeout ({open_timeout.to_seconds():g} s)"
            )
        if not 1 <= dependency_timeout.to_seconds() <= MAX_DEPENDENCY_TIMEOUT.to_seconds():
            raise ValueError(
                f"{construct_id}: dependency_timeout must be from 1 to 20 s, so the caller answers within "
                "API Gateway's 29 s"
            )
        self.failure_threshold = failure_threshold
        self.window, self.open_timeout, self.max_open_timeout = window, open_timeout, max_open_timeout
        memory = {"memory_size": ("memory_size", memory_size)}

        self.circuit_table = new_circuit_table(self, circuit_table, circuit_table_props)

        self.rates_table: dynamodb.Table | None = None
        """The sample service's table (``None`` when you pass ``dependency``)."""
        if dependency is None:
            self.rates_table, dependency = sample_dependency(
                self,
                code_dir,
                dependency_props,
                rates_table_props,
                timeout=dependency_timeout,
                functions_props=functions_props,
                keywords=memory,
            )
        self.dependency: lambda_.IFunction = dependency

        caller_timeout = Duration.seconds(dependency_timeout.to_seconds() + CALLER_MARGIN.to_seconds())
        self.function = PatternFunction(
            self,
            "Caller",
            **pattern_function_props(
                self,
                "api_function_props",
                {
                    "code_dir": code_dir,
                    "handler": "api.handler",
                    "service": "circuit_breaker",
                    "description": "GET /rates/{currency}: calls the rate service through a circuit breaker kept in DynamoDB",
                    "environment": {
                        "RATES_FUNCTION_NAME": dependency.function_name,
                        "RATES_FUNCTION_TIMEOUT_SECONDS": f"{dependency_timeout.to_seconds():g}",
                    },
                    "timeout": caller_timeout,
                },
                api_function_props,
                functions_props=functions_props,
                keywords=memory,
            ),
        )
        grant_invoke_latest(dependency, self.function)
        self.add_breaker(self.function, "rates-service")
        acknowledge(self.function, "Serverless-LambdaDLQ", SYNC_INVOKED)

        self.api = SecureRestApi(
            self,
            "Api",
            **rest_api_props(
                self,
                api_props,
                description="Circuit breaker: GET /rates/{currency} through a breaker kept in DynamoDB",
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
            ),
        )
        rate = self.api.root.add_resource("rates").add_resource("{currency}")
        method = rate.add_method("GET", apigw.LambdaIntegration(self.function))
        acknowledge_public_read(method)

    def add_breaker(self, function: lambda_.Function, circuit: str) -> None:
        """Give ``function`` the circuit ``circuit`` in this table, with this construct's thresholds
        (see :func:`add_breaker`)."""
        add_breaker(
            function,
            self.circuit_table,
            circuit,
            failure_threshold=self.failure_threshold,
            window=self.window,
            open_timeout=self.open_timeout,
            max_open_timeout=self.max_open_timeout,
        )

    def outputs(self) -> dict[str, Any]:
        outputs: dict[str, Any] = {
            "ApiUrl": self.api.url_for_path("/rates"),
            "CircuitTableName": self.circuit_table.table_name,
        }
        if self.rates_table is not None:
            outputs["RatesTableName"] = self.rates_table.table_name
        return outputs


def sample_dependency(
    scope: Construct,
    code_dir: CodeLocation,
    dependency_props: Props | None,
    rates_table_props: Props | None,
    *,
    timeout: Duration,
    **function_props_options: Any,
) -> tuple[dynamodb.Table, PatternFunction]:
    """The sample flaky service both breakers guard: a rates table (``RatesTable``) and the
    ``Dependency`` function reading it, which fails while the table holds OUTAGE.
    ``function_props_options`` go to :func:`pattern_function_props` (``functions_props``, ``keywords``)."""
    rates_table = secure_table(
        scope,
        "RatesTable",
        **merge_props(
            scope,
            "rates_table_props",
            {"partition_key": dynamodb.Attribute(name="currency", type=dynamodb.AttributeType.STRING)},
            rates_table_props,
            fixed=("partition_key",),
        ),
    )
    sample = PatternFunction(
        scope,
        "Dependency",
        **pattern_function_props(
            scope,
            "dependency_props",
            {
                "code_dir": code_dir,
                "handler": "rates.handler",
                "service": "rates",
                "description": "Sample flaky dependency: exchange rates; fails while its table holds OUTAGE",
                "environment": {"RATES_TABLE_NAME": rates_table.table_name},
                "timeout": timeout,
            },
            dependency_props,
            **function_props_options,
        ),
    )
    grant_table(rates_table, sample, "dynamodb:GetItem")
    acknowledge(sample, "Serverless-LambdaDLQ", SYNC_INVOKED)
    return rates_table, sample


def new_circuit_table(
    scope: Construct, existing: dynamodb.ITable | None, props: dict[str, Any] | None
) -> dynamodb.ITable:
    """The table circuits live in, one item per circuit keyed by ``circuit``: ``existing`` if given."""
    return table_or_new(
        scope,
        "CircuitTable",
        name="circuit_table",
        existing=existing,
        props=props,
        partition_key=dynamodb.Attribute(name="circuit", type=dynamodb.AttributeType.STRING),
    )


def add_breaker(
    function: lambda_.Function,
    circuit_table: dynamodb.ITable,
    circuit: str,
    *,
    failure_threshold: int,
    window: Duration,
    open_timeout: Duration,
    max_open_timeout: Duration,
) -> None:
    """Give ``function`` the circuit ``circuit`` in ``circuit_table``: ``CircuitBreaker(Table(
    os.environ["CIRCUIT_TABLE_NAME"]), os.environ["CIRCUIT_NAME"], Settings.from_environ())``.

    It gets the thresholds in ``CIRCUIT_*``, its own timeout as the probe timeout, and
    ``dynamodb:GetItem`` and ``dynamodb:UpdateItem`` on that one table.
    """
    if not circuit or len(circuit.encode()) > 1024:
        raise ValueError(f"{function.node.path}: a circuit name is 1 to 1,024 bytes; got {circuit!r}")
    probe_timeout = function.timeout.to_seconds() if function.timeout is not None else 3
    environment = {
        "CIRCUIT_TABLE_NAME": circuit_table.table_name,
        "CIRCUIT_NAME": circuit,
        "CIRCUIT_FAILURE_THRESHOLD": str(failure_threshold),
        "CIRCUIT_WINDOW_SECONDS": f"{window.to_seconds():g}",
        "CIRCUIT_OPEN_SECONDS": f"{open_timeout.to_seconds():g}",
        "CIRCUIT_MAX_OPEN_SECONDS": f"{max_open_timeout.to_seconds():g}",
        "CIRCUIT_PROBE_TIMEOUT_SECONDS": f"{math.ceil(probe_timeout):g}",
    }
    for name, value in environment.items():
        function.add_environment(name, value)
    grant_table(circuit_table, function, "dynamodb:GetItem", "dynamodb:UpdateItem")
