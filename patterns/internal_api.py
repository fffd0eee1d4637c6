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

from patterns.defaults import PatternFunction, acknowledge, grant_invoke_latest, secure_table

DEFAULT_SERVICE_TIMEOUT = Duration.seconds(3)
DEFAULT_CALLER_TIMEOUT = Duration.seconds(10)
SYNC_INVOKED = "Invoked synchronously (RequestResponse): an error returns to the caller, there is no async event to keep."


class InternalApi(Construct):
    """A quote service callable only by the functions granted to call it.

    :param prices_table: an existing table with string partition key ``sku``; one is created if omitted.
    :param callers: your own functions that call the service; without it a demo caller (``Caller``,
        a cart pricer) is created. Each caller gets a grant on this one function and the service's
        name and timeout in its environment.
    :param caller_timeout: timeout of the demo caller; it must be longer than ``service_timeout``.
        Not for ``callers`` (set their own timeouts).
    :param service_timeout: the service's timeout; keep it short, a caller waits for it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prices_table: dynamodb.ITable | None = None,
        callers: Sequence[lambda_.Function] | None = None,
        caller_timeout: Duration | None = None,
        service_timeout: Duration = DEFAULT_SERVICE_TIMEOUT,
        memory_size: int = 256,
    ) -> None:
        super().__init__(scope, construct_id)
        if callers is not None and caller_timeout is not None:
            raise ValueError(
                f"{construct_id}: caller_timeout sets the demo caller's timeout; with callers, set theirs"
            )
        if callers is not None and not callers:
            raise ValueError(f"{construct_id}: callers is empty; omit it to create the demo caller")
        self.service_timeout = service_timeout

        self.prices_table = prices_table or secure_table(
            self,
            "PricesTable",
            partition_key=dynamodb.Attribute(name="sku", type=dynamodb.AttributeType.STRING),
        )
        self.service = PatternFunction(
            self,
            "Service",
            code_dir="internal_api",
            handler="service.handler",
            service="internal_api",
            description="Quote service: prices a SKU and quantity; invoked synchronously by its callers only",
            environment={"PRICES_TABLE_NAME": self.prices_table.table_name},
            memory_size=memory_size,
            timeout=service_timeout,
        )
        self.prices_table.grant(self.service, "dynamodb:GetItem")
        acknowledge(self.service, "Serverless-LambdaDLQ", SYNC_INVOKED)

        self.callers: list[lambda_.Function] = []
        self.caller: PatternFunction | None = None
        if callers is None:
            self.caller = PatternFunction(
                self,
                "Caller",
                code_dir="internal_api",
                handler="caller.handler",
                service="internal_api",
                description="Prices a cart by calling the quote service synchronously, one line at a time",
                memory_size=memory_size,
                timeout=caller_timeout or DEFAULT_CALLER_TIMEOUT,
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
