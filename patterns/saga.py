"""Saga (orchestration): an order placed across three services, each step undone if a later one fails.

``POST /orders`` validates the order (a 400 naming the field before anything starts) and starts a
Standard workflow named by the new order id, answering 202 with the id; ``GET /orders/{order_id}``
answers the saga's progress from the execution. The workflow creates the order (orders service),
charges the customer's card (payments service), reserves the stock (inventory service) and confirms
the order. Each service owns one table and its function may touch only that table.

When a step fails, the compensations of the steps that succeeded run in reverse order: release the
stock, refund the payment, cancel the order. A business refusal (``OrderRejected``,
``PaymentDeclined``, ``OutOfStock``) is known to have changed nothing, so its own step is not
undone; any other failure (a timeout, a crash) may have left the step done, so it is undone too.
Every compensation is a conditional write that does nothing the second time, and is retried on
any error with back-off, so a compensation that fails (or times out) once is simply run again.

Example::

    saga = Saga(self, "Checkout", delivery_countries=["DE", "FR"], step_timeout=Duration.seconds(5))
    saga.inventory_table.grant_read_write_data(stock_admin_fn)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .defaults import (
    LOG_RETENTION,
    CodeLocation,
    PatternFunction,
    Props,
    SecureRestApi,
    acknowledge,
    acknowledge_workflow_grants,
    grant_table,
    json_model,
    merge_props,
    pattern_function_props,
    rest_api_props,
    secure_state_machine,
    table_or_new,
)

#: The services: construct id, handler module, table key, description.
SERVICES = {
    "Orders": ("orders", "order_id", "Orders service: creates, confirms and cancels orders"),
    "Payments": ("payments", "pk", "Payments service: charges the card on file, refunds"),
    "Inventory": ("inventory", "sku", "Inventory service: reserves and releases stock"),
}
#: The business refusals: the step changed nothing, so only the steps before it are undone.
REFUSALS = {"CreateOrder": "OrderRejected", "ChargePayment": "PaymentDeclined", "ReserveStock": "OutOfStock"}
#: Errors of the Lambda service itself, worth another try of a forward step.
LAMBDA_TRANSIENT = [
    "Lambda.TooManyRequestsException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
]
DEFAULT_COUNTRIES = ("AT", "BE", "DE", "FR", "NL")
#: The order API Gateway accepts, the same rules as the API function's (functions/saga/saga_order.py):
#: a body that breaks it is a 400 naming the field before any code runs.
ORDER_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "Order",
    "type": "object",
    "required": ["customer_id", "sku", "quantity", "amount_cents", "country"],
    "additionalProperties": False,
    "properties": {
        "customer_id": {"type": "string", "minLength": 1, "maxLength": 128},
        "sku": {"type": "string", "minLength": 1, "maxLength": 64},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 100},
        "amount_cents": {"type": "integer", "minimum": 1, "maximum": 10_000_000},
        # What a generated example sends: a country the orders service delivers to by default.
        "country": {"type": "string", "minLength": 2, "maxLength": 2, "default": "DE"},
    },
}


class Saga(Construct):
    """The order saga: its API, its workflow, three services with a table each.

    :param delivery_countries: ISO country codes the orders service delivers to; an order for
        another country is refused by that service (``OrderRejected``), so nothing is undone.
    :param step_timeout: how long a step (and a compensation) may take before the workflow treats
        it as failed; each function's own timeout too. 10 seconds by default.
    :param compensation_retry_interval: the first retry of a failed compensation; each next doubles.
    :param compensation_retry_attempts: retries of a compensation before the saga stops as
        ``CompensationFailed`` for an operator (1 to 20; 8 by default: about 4 minutes of tries).
    :param include_execution_data: log each state's input and output too (they hold customer ids).
    :param throttling_rate_limit: steady requests per second the stage accepts before answering 429.
    :param throttling_burst_limit: requests the stage accepts at once.
    :param orders_table: an existing table, string partition key ``order_id``; likewise
        ``payments_table`` (``pk``) and ``inventory_table`` (``sku``). Made if omitted, with
        ``orders_table_props``, ``payments_table_props``, ``inventory_table_props``.
    :param functions_props: ``PatternFunction`` props of every function; ``function_props`` maps a
        handler module (``api``, ``orders``, ``payments``, ``inventory``) to its own.
    :param state_machine_props: ``sfn.StateMachine`` props (``timeout``...); the definition is the pattern's.
    :param api_props: ``SecureRestApi`` props.
    :param code_dir: the folder of the handlers; ``functions/saga`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        delivery_countries: Sequence[str] = DEFAULT_COUNTRIES,
        step_timeout: Duration | None = None,
        compensation_retry_interval: Duration | None = None,
        compensation_retry_attempts: int = 8,
        include_execution_data: bool | None = None,
        throttling_rate_limit: float | None = None,
        throttling_burst_limit: int | None = None,
        orders_table: dynamodb.ITable | None = None,
        payments_table: dynamodb.ITable | None = None,
        inventory_table: dynamodb.ITable | None = None,
        orders_table_props: Props | None = None,
        payments_table_props: Props | None = None,
        inventory_table_props: Props | None = None,
        functions_props: Props | None = None,
        function_props: Mapping[str, Props] | None = None,
        state_machine_props: Props | None = None,
        api_props: Props | None = None,
        code_dir: CodeLocation = "saga",
    ) -> None:
        super().__init__(scope, construct_id)
        step_timeout = step_timeout or Duration.seconds(10)
        compensation_retry_interval = compensation_retry_interval or Duration.seconds(1)
        function_props = dict(function_props or {})
        modules = {"api"} | {module for module, _, _ in SERVICES.values()}
        unknown = sorted(set(function_props) - modules)
        if unknown:
            raise ValueError(
                f"{construct_id}: function_props names no function {unknown}; known: {sorted(modules)}"
            )
        countries = list(delivery_countries)
        if not countries or any(not (len(c) == 2 and c.isascii() and c.isupper()) for c in countries):
            raise ValueError(
                f"{construct_id}: delivery_countries must be ISO codes such as 'DE'; got {countries}"
            )
        if not 1 <= compensation_retry_attempts <= 20:
            raise ValueError(f"{construct_id}: compensation_retry_attempts must be from 1 to 20")
        if not 1 <= step_timeout.to_seconds() <= 900:
            raise ValueError(f"{construct_id}: step_timeout must be from 1 to 900 seconds")

        given_tables = {"Orders": orders_table, "Payments": payments_table, "Inventory": inventory_table}
        given_props = {
            "Orders": orders_table_props,
            "Payments": payments_table_props,
            "Inventory": inventory_table_props,
        }
        tables: dict[str, dynamodb.ITable] = {}
        functions: dict[str, PatternFunction] = {}
        for name, (module, key, description) in SERVICES.items():
            tables[name] = table_or_new(
                self,
                f"{name}Table",
                name=f"{module}_table",
                existing=given_tables[name],
                props=given_props[name],
                partition_key=dynamodb.Attribute(name=key, type=dynamodb.AttributeType.STRING),
            )
            environment = {"TABLE_NAME": tables[name].table_name}
            if module == "orders":
                environment["DELIVERY_COUNTRIES"] = ",".join(countries)
            functions[name] = self._function(
                name,
                module,
                description,
                environment,
                step_timeout,
                code_dir,
                functions_props,
                function_props,
            )
        self.orders_table, self.payments_table, self.inventory_table = (
            tables["Orders"],
            tables["Payments"],
            tables["Inventory"],
        )
        self.orders, self.payments, self.inventory = (
            functions["Orders"],
            functions["Payments"],
            functions["Inventory"],
        )
        # Each service touches its own table only, with exactly the calls its handler makes.
        grant_table(self.orders_table, self.orders, "dynamodb:PutItem", "dynamodb:UpdateItem")
        grant_table(
            self.payments_table, self.payments, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"
        )
        grant_table(self.inventory_table, self.inventory, "dynamodb:UpdateItem")

        self.log_group = logs.LogGroup(
            self, "ExecutionLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        definition = self._definition(step_timeout, compensation_retry_interval, compensation_retry_attempts)
        self.state_machine = secure_state_machine(
            self,
            "Workflow",
            log_group=self.log_group,
            include_execution_data=include_execution_data,
            **merge_props(
                self,
                "state_machine_props",
                {
                    "definition_body": sfn.DefinitionBody.from_chainable(definition),
                    "state_machine_type": sfn.StateMachineType.STANDARD,
                    "comment": "Order saga: create the order, charge, reserve, confirm; compensate in reverse",
                },
                state_machine_props,
                fixed=("definition_body", "definition", "state_machine_type"),
            ),
        )
        acknowledge_workflow_grants(self.state_machine, functions.values())

        self.api_function = self._function(
            "ApiHandler",
            "api",
            "Validates an order and starts its saga; answers the saga's progress",
            {"STATE_MACHINE_ARN": self.state_machine.state_machine_arn},
            Duration.seconds(10),
            code_dir,
            functions_props,
            function_props,
        )
        self.state_machine.grant_start_execution(self.api_function)
        stack = Stack.of(self)
        machine_id = stack.resolve(stack.get_logical_id(self.state_machine.node.default_child))
        self.state_machine.grant_execution(self.api_function, "states:DescribeExecution")
        acknowledge(
            self.api_function.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5",
            "DescribeExecution names an execution; the grant covers this state machine's executions only "
            "(execution:<name>:*), whose names are the order ids.",
            applies_to="Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            + json.dumps(
                {"Fn::Select": [6, {"Fn::Split": [":", {"Ref": machine_id}]}]}, separators=(",", ":")
            )
            + ":*",
        )
        self.api = SecureRestApi(
            self,
            "Api",
            **rest_api_props(
                self,
                api_props,
                description="Saga: POST /orders starts an order's saga; GET polls it",
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
            ),
        )
        orders = self.api.root.add_resource("orders")
        integration = apigw.LambdaIntegration(self.api_function)
        for method in (
            orders.add_method(
                "POST",
                integration,
                request_validator=self.api.body_validator,
                request_models={"application/json": json_model(self.api, "OrderModel", ORDER_SCHEMA)},
            ),
            orders.add_resource("{order_id}").add_method("GET", integration),
        ):
            acknowledge(
                method,
                "AwsSolutions-APIG4",
                "The pattern shows the saga; put an authorizer in front (see the gatekeeper pattern).",
            )
            acknowledge(
                method,
                "AwsSolutions-COG4",
                "No Cognito user pool: the pattern shows the saga; see the secured SPA pattern.",
            )

    def _function(
        self,
        name: str,
        module: str,
        description: str,
        environment: dict[str, str],
        timeout: Duration,
        code_dir: CodeLocation,
        functions_props: Props | None,
        function_props: Mapping[str, Props],
    ) -> PatternFunction:
        created = PatternFunction(
            self,
            name,
            **pattern_function_props(
                self,
                f"function_props[{module!r}]",
                {
                    "code_dir": code_dir,
                    "handler": f"{module}.handler",
                    "service": "saga",
                    "description": description,
                    "environment": environment,
                    "timeout": timeout,
                },
                function_props.get(module),
                functions_props=functions_props,
            ),
        )
        acknowledge(
            created,
            "Serverless-LambdaDLQ",
            "Invoked synchronously (by Step Functions or API Gateway): a failure returns to the caller, "
            "whose Retry and Catch (or the client) decide what happens next.",
        )
        return created

    def _definition(
        self, step_timeout: Duration, retry_interval: Duration, retry_attempts: int
    ) -> sfn.IChainable:
        steps = Construct(self, "Steps")  # the states, apart from the functions they share names with

        def step(state_id: str, function: PatternFunction, action: str) -> tasks.LambdaInvoke:
            return tasks.LambdaInvoke(
                steps,
                state_id,
                lambda_function=function,
                payload=sfn.TaskInput.from_object({"action": action, "order.$": "$.order"}),
                result_selector={"result.$": "$.Payload"},
                result_path=f"$.steps.{state_id}",
                task_timeout=sfn.Timeout.duration(step_timeout),
                retry_on_service_exceptions=False,  # each task's Retry is the pattern's, below
            )

        # A Fail state's error may not be one of Step Functions' own (States.Timeout): the failed step's
        # error becomes the cause, the reason the API answers.
        cancelled = sfn.Fail(steps, "Cancelled", error="OrderCancelled", cause_path="$.failure.Error")
        stuck = sfn.Fail(
            steps,
            "CompensationFailed",
            error="CompensationFailed",
            cause="a compensation failed after all its retries: the order needs an operator",
        )

        def compensation(state_id: str, function: PatternFunction, action: str) -> tasks.LambdaInvoke:
            task = step(state_id, function, action)
            task.add_retry(
                errors=["States.ALL"],
                interval=retry_interval,
                backoff_rate=2,
                max_attempts=retry_attempts,
            )
            task.add_catch(stuck, errors=["States.ALL"], result_path="$.compensation_failure")
            return task

        cancel = compensation("CancelOrder", self.orders, "cancel").next(cancelled)
        refund = compensation("RefundPayment", self.payments, "refund").next(cancel)
        release = compensation("ReleaseStock", self.inventory, "release").next(refund)

        create = step("CreateOrder", self.orders, "create")
        charge = step("ChargePayment", self.payments, "charge")
        reserve = step("ReserveStock", self.inventory, "reserve")
        confirm = step("ConfirmOrder", self.orders, "confirm")
        # What undoes each step once it may have happened, and what undoes the steps before it only.
        undo_from = {
            "CreateOrder": cancel,
            "ChargePayment": refund,
            "ReserveStock": release,
            "ConfirmOrder": release,
        }
        undo_before = {"CreateOrder": cancelled, "ChargePayment": cancel, "ReserveStock": refund}
        for task in (create, charge, reserve, confirm):
            name = task.node.id
            task.add_retry(
                errors=LAMBDA_TRANSIENT, interval=Duration.seconds(1), backoff_rate=2, max_attempts=3
            )
            if name in REFUSALS:
                task.add_catch(undo_before[name], errors=[REFUSALS[name]], result_path="$.failure")
            task.add_catch(undo_from[name], errors=["States.ALL"], result_path="$.failure")
        return create.next(charge).next(reserve).next(confirm).next(sfn.Succeed(steps, "Confirmed"))

    def outputs(self) -> dict[str, Any]:
        return {
            "ApiUrl": self.api.url_for_path("/orders"),
            "StateMachineArn": self.state_machine.state_machine_arn,
            "OrdersTableName": self.orders_table.table_name,
            "PaymentsTableName": self.payments_table.table_name,
            "InventoryTableName": self.inventory_table.table_name,
            "ExecutionLogGroupName": self.log_group.log_group_name,
        }
