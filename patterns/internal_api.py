"""Internal API: a service function that other functions invoke synchronously through the Lambda API.

No API Gateway: the service is reached with ``lambda:InvokeFunction`` and ``InvocationType=
RequestResponse``, so only principals granted that action on this one function can call it, and
the caller waits for the answer. The service here is a quote service over a prices table; the
contract (``functions/internal_api/contract.py``) is validated on both sides, and the service's
refusals come back as function errors that each caller maps to an error of its own.

A caller's SDK client must wait longer than the service may run, so every caller gets the
service's timeout in its environment (``QUOTE_FUNCTION_TIMEOUT_SECONDS``) and must itself run
longer than the service (checked at synth).

Example::

    quotes = InternalApi(self, "Quotes", callers=[checkout_fn])
    quotes.prices_table.grant_write_data(price_loader_fn)
    quotes.add_caller(invoicing_fn)  # a resource-scoped invoke grant and the service's name in its env
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .defaults import (
    CodeLocation,
    PatternFunction,
    Props,
    acknowledge,
    grant_invoke_latest,
    grant_table,
    pattern_function_props,
    table_or_new,
)

DEFAULT_SERVICE_TIMEOUT = Duration.seconds(3)
DEFAULT_CALLER_TIMEOUT = Duration.seconds(10)
SYNC_INVOKED = "Invoked synchronously (RequestResponse): an error returns to the caller, there is no async event to keep."


class InternalApi(Construct):
    """A quote service callable only by the functions granted to call it.

    :param prices_table: an existing table with string partition key ``sku``; one is created if omitted.
    :param prices_table_props: ``dynamodb.Table`` props of the table made here.
    :param callers: your own functions that call the service; without it a demo caller (``Caller``,
        a cart pricer) is created. Each caller gets a grant on this one function and the service's
        name and timeout in its environment.
    :param caller_timeout: timeout of the demo caller; it must be longer than ``service_timeout``.
        Not for ``callers`` (set their own timeouts).
    :param service_timeout: the service's timeout (3 s); keep it short, a caller waits for it.
    :param functions_props: ``PatternFunction`` props of both functions (``runtime``, ``architecture``,
        ``shared_dir``...); ``service_props`` and ``caller_props`` (the demo caller's) of each.
    :param code_dir: the folder of ``service.py`` and ``caller.py``; ``functions/internal_api`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prices_table: dynamodb.ITable | None = None,
        prices_table_props: Props | None = None,
        callers: Sequence[lambda_.Function] | None = None,
        caller_timeout: Duration | None = None,
        service_timeout: Duration | None = None,
        memory_size: int | None = None,
        functions_props: Props | None = None,
        service_props: Props | None = None,
        caller_props: Props | None = None,
        code_dir: CodeLocation = "internal_api",
    ) -> None:
        super().__init__(scope, construct_id)
        if callers is not None and caller_timeout is not None:
            raise ValueError(
                f"{construct_id}: caller_timeout sets the demo caller's timeout; with callers, set theirs"
            )
        if callers is not None and caller_props:
            raise ValueError(
                f"{construct_id}: caller_props configure the demo caller; with callers, configure yours"
            )
        if callers is not None and not callers:
            raise ValueError(f"{construct_id}: callers is empty; omit it to create the demo caller")
        memory = {"memory_size": ("memory_size", memory_size)}
        function_defaults = {"code_dir": code_dir, "service": "internal_api"}

        self.prices_table = table_or_new(
            self,
            "PricesTable",
            name="prices_table",
            existing=prices_table,
            props=prices_table_props,
            partition_key=dynamodb.Attribute(name="sku", type=dynamodb.AttributeType.STRING),
        )
        service = pattern_function_props(
            self,
            "service_props",
            {
                **function_defaults,
                "handler": "service.handler",
                "description": "Quote service: prices a SKU and quantity; invoked synchronously by its callers only",
                "environment": {"PRICES_TABLE_NAME": self.prices_table.table_name},
                "timeout": DEFAULT_SERVICE_TIMEOUT,
            },
            service_props,
            functions_props=functions_props,
            keywords={**memory, "timeout": ("service_timeout", service_timeout)},
        )
        self.service_timeout: Duration = service["timeout"]
        self.service = PatternFunction(self, "Service", **service)
        grant_table(self.prices_table, self.service, "dynamodb:GetItem")
        acknowledge(self.service, "Serverless-LambdaDLQ", SYNC_INVOKED)

        self.callers: list[lambda_.Function] = []
        self.caller: PatternFunction | None = None
        if callers is None:
            self.caller = PatternFunction(
                self,
                "Caller",
                **pattern_function_props(
                    self,
                    "caller_props",
                    {
                        **function_defaults,
                        "handler": "caller.handler",
                        "description": "Prices a cart by calling the quote service synchronously, one line at a time",
                        "timeout": DEFAULT_CALLER_TIMEOUT,
                    },
                    caller_props,
                    functions_props=functions_props,
                    keywords={**memory, "timeout": ("caller_timeout", caller_timeout)},
                ),
            )
            acknowledge(self.caller, "Serverless-LambdaDLQ", SYNC_INVOKED)
            callers = [self.caller]
        for caller in callers:
            self.add_caller(caller)

    def add_caller(self, caller: lambda_.Function) -> None:
        """Let ``caller`` invoke the service (a grant on this one function) and tell it where it is."""
        if caller.timeout is not None and caller.timeout.to_seconds() <= self.service_timeout.to_seconds():
            raise ValueError(
                f"{caller.node.path}: a caller's timeout ({caller.timeout.to_seconds():g} s) must be longer "
                f"than the service's ({self.service_timeout.to_seconds():g} s), or it dies waiting"
            )
        grant_invoke_latest(self.service, caller)
        caller.add_environment("QUOTE_FUNCTION_NAME", self.service.function_name)
        caller.add_environment("QUOTE_FUNCTION_TIMEOUT_SECONDS", f"{self.service_timeout.to_seconds():g}")
        self.callers.append(caller)

    def outputs(self) -> dict[str, Any]:
        outputs = {
            "ServiceFunctionName": self.service.function_name,
            "PricesTableName": self.prices_table.table_name,
        }
        if self.caller is not None:
            outputs["CallerFunctionName"] = self.caller.function_name
        return outputs
