"""State Machine: a food-delivery order-assignment workflow in Step Functions over Lambda tasks.

Load the drivers available in the order's zone; if there is none yet, wait and look again, a
bounded number of times, then cancel. Assign one (a conditional claim; the assigner's concurrency
is capped so assignments do not race, and a throttled one is retried with back-off); tell the
customer their food is on the way (SNS, straight from the workflow); wait, paying for nothing,
until the driver reports the delivery (a task token, with a timeout); issue the receipt and free
the driver. Any failure the workflow cannot retry away goes to one compensation step that
releases the driver and cancels the order, and the execution ends as ``OrderCancelled``.

Example::

    flow = StateMachine(self, "Orders", max_driver_searches=10, delivery_timeout=Duration.hours(1))
    flow.state_machine.grant_start_execution(order_service)
    flow.confirm_delivery.grant_invoke(driver_app_role)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .defaults import (
    LOG_RETENTION,
    CodeLocation,
    PatternFunction,
    Props,
    acknowledge,
    acknowledge_workflow_grants,
    grant_table,
    grant_topic_key,
    merge_props,
    pattern_function_props,
    secure_state_machine,
    secure_topic,
    table_or_new,
)

#: Errors worth another try: the drivers store throttling, and Lambda throttling the assigner.
TRANSIENT_ERRORS = ["DriversUnavailable", "Lambda.TooManyRequestsException"]
#: The drivers table's index by zone and status; the functions get its name in ``DRIVERS_ZONE_STATUS_INDEX``.
ZONE_STATUS_INDEX = "ByZoneStatus"
#: The workflow's functions: construct id, handler module, description.
FUNCTIONS = {
    "LoadDrivers": ("load_drivers", "Counts the drivers available in an order's zone"),
    "AssignDriver": ("assign_driver", "Claims one available driver for an order, once"),
    "AwaitDelivery": ("await_delivery", "Stores the delivery's task token on the order"),
    "ConfirmDelivery": ("confirm_delivery", "The driver's report: resumes the order's workflow"),
    "IssueReceipt": ("issue_receipt", "Issues the receipt and frees the driver"),
    "CancelOrder": ("cancel_order", "Compensation: frees the driver, cancels the order"),
}


class StateMachine(Construct):
    """The order-assignment workflow, its six functions, its two tables and its notification topic.

    :param driver_search_interval: how long to wait before looking for drivers again.
    :param max_driver_searches: looks for a driver before the order is cancelled (the bound on waiting).
    :param delivery_timeout: how long the workflow waits for the driver's report before cancelling.
    :param assignment_concurrency: most assignments at once (reserved concurrency of the assigner).
    :param retry_interval: the first retry's delay after a transient error; each next one doubles.
    :param retry_attempts: retries of a transient error before the order is cancelled.
    :param include_execution_data: log each state's input and output too (they hold customer ids);
        not with ``state_machine_props["logs"]``.
    :param drivers_table: an existing table: partition key ``driver_id``, index ``ByZoneStatus``
        (partition ``zone``, sort ``status``); one is created if omitted.
    :param orders_table: an existing table with string partition key ``order_id``.
    :param notification_topic: an existing topic for the customer notifications.
    :param drivers_table_props: ``dynamodb.Table`` props of the drivers table made here (its index
        is the pattern's); ``orders_table_props`` of the orders table.
    :param notification_topic_props: ``sns.Topic`` props of the topic made here (``master_key``...).
    :param functions_props: ``PatternFunction`` props of the six functions (``runtime``,
        ``architecture``, ``shared_dir``...); ``function_props`` maps a function's handler module
        (``load_drivers``, ``assign_driver``, ``await_delivery``, ``confirm_delivery``,
        ``issue_receipt``, ``cancel_order``) to its own props.
    :param state_machine_props: ``sfn.StateMachine`` props (``timeout``...); the definition is the pattern's.
    :param code_dir: the folder of the handlers; ``functions/state_machine`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        driver_search_interval: Duration | None = None,
        max_driver_searches: int = 5,
        delivery_timeout: Duration | None = None,
        assignment_concurrency: int | None = None,
        retry_interval: Duration | None = None,
        retry_attempts: int = 3,
        include_execution_data: bool | None = None,
        drivers_table: dynamodb.ITable | None = None,
        orders_table: dynamodb.ITable | None = None,
        notification_topic: sns.ITopic | None = None,
        drivers_table_props: Props | None = None,
        orders_table_props: Props | None = None,
        notification_topic_props: Props | None = None,
        functions_props: Props | None = None,
        function_props: Mapping[str, Props] | None = None,
        state_machine_props: Props | None = None,
        code_dir: CodeLocation = "state_machine",
    ) -> None:
        super().__init__(scope, construct_id)
        driver_search_interval = driver_search_interval or Duration.minutes(1)
        delivery_timeout = delivery_timeout or Duration.hours(2)
        retry_interval = retry_interval or Duration.seconds(2)
        function_props = dict(function_props or {})
        unknown = sorted(set(function_props) - {module for module, _ in FUNCTIONS.values()})
        if unknown:
            known = ", ".join(module for module, _ in FUNCTIONS.values())
            raise ValueError(f"{construct_id}: function_props names no function {unknown}; known: {known}")
        if not 1 <= max_driver_searches <= 100:
            raise ValueError(f"{construct_id}: max_driver_searches must be from 1 to 100")
        if assignment_concurrency is not None and "reserved_concurrent_executions" in function_props.get(
            "assign_driver", {}
        ):
            raise ValueError(
                f"{construct_id}: assignment_concurrency and function_props['assign_driver']"
                "['reserved_concurrent_executions'] both set the assigner's concurrency; give one of them"
            )
        assignment_concurrency = function_props.get("assign_driver", {}).get(
            "reserved_concurrent_executions", 1 if assignment_concurrency is None else assignment_concurrency
        )
        if not 1 <= assignment_concurrency <= 1000:
            raise ValueError(f"{construct_id}: assignment_concurrency must be from 1 to 1000")
        if not 0 <= retry_attempts <= 10:
            raise ValueError(f"{construct_id}: retry_attempts must be from 0 to 10")

        self.drivers_table = self._drivers_table(drivers_table, drivers_table_props)
        self.orders_table = table_or_new(
            self,
            "OrdersTable",
            name="orders_table",
            existing=orders_table,
            props=orders_table_props,
            partition_key=dynamodb.Attribute(name="order_id", type=dynamodb.AttributeType.STRING),
        )
        # SNS's AWS-managed key: the workflow's role publishes in its own account, and no key policy
        # of ours has to grant the account kms:*.
        topic = merge_props(
            self,
            "notification_topic_props",
            {},
            notification_topic_props,
            existing=("notification_topic", notification_topic),
        )
        if notification_topic is None and "master_key" not in topic:
            topic["master_key"] = kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns")
        self.notification_topic = notification_topic or secure_topic(self, "CustomerNotifications", **topic)

        environment = {
            "DRIVERS_TABLE_NAME": self.drivers_table.table_name,
            "DRIVERS_ZONE_STATUS_INDEX": ZONE_STATUS_INDEX,
            "ORDERS_TABLE_NAME": self.orders_table.table_name,
        }

        def function(name: str, **kwargs: Any) -> PatternFunction:
            module, description = FUNCTIONS[name]
            created = PatternFunction(
                self,
                name,
                **pattern_function_props(
                    self,
                    f"function_props[{module!r}]",
                    {
                        "code_dir": code_dir,
                        "handler": f"{module}.handler",
                        "service": "state_machine",
                        "description": description,
                        "environment": environment,
                        **kwargs,
                    },
                    function_props.get(module),
                    functions_props=functions_props,
                ),
            )
            acknowledge(
                created,
                "Serverless-LambdaDLQ",
                "Invoked synchronously by Step Functions (or the driver app): a failure returns to the "
                "caller, whose Retry and Catch decide what happens next.",
            )
            return created

        self.load_drivers = function("LoadDrivers")
        self.assign_driver = function("AssignDriver", reserved_concurrent_executions=assignment_concurrency)
        self.await_delivery = function("AwaitDelivery")
        self.confirm_delivery = function("ConfirmDelivery")
        self.issue_receipt = function("IssueReceipt")
        self.cancel_order = function("CancelOrder")

        for fn in (self.load_drivers, self.assign_driver):
            grant_table(self.drivers_table, fn, "dynamodb:Query", index=ZONE_STATUS_INDEX)
        for fn in (self.assign_driver, self.issue_receipt, self.cancel_order):
            grant_table(self.drivers_table, fn, "dynamodb:UpdateItem")
        grant_table(self.orders_table, self.assign_driver, "dynamodb:GetItem", "dynamodb:PutItem")
        for fn in (self.await_delivery, self.issue_receipt, self.cancel_order):
            grant_table(self.orders_table, fn, "dynamodb:UpdateItem")
        grant_table(self.orders_table, self.confirm_delivery, "dynamodb:GetItem")

        self.log_group = logs.LogGroup(
            self, "ExecutionLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        definition = self._definition(
            driver_search_interval=driver_search_interval,
            max_driver_searches=max_driver_searches,
            delivery_timeout=delivery_timeout,
            retry_interval=retry_interval,
            retry_attempts=retry_attempts,
        )
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
                    "comment": "Order assignment: find and assign a driver, notify, await delivery, issue the receipt",
                },
                state_machine_props,
                fixed=("definition_body", "definition", "state_machine_type"),
            ),
        )
        # The driver app answers the task token once: success or failure. It sends no heartbeats.
        self.state_machine.grant(self.confirm_delivery, "states:SendTaskSuccess", "states:SendTaskFailure")
        # CDK's SnsPublish task grants sns:Publish, but nothing on a customer-managed topic key.
        grant_topic_key(self.notification_topic, self.state_machine)
        acknowledge_workflow_grants(
            self.state_machine,
            (
                self.load_drivers,
                self.assign_driver,
                self.await_delivery,
                self.issue_receipt,
                self.cancel_order,
            ),
        )

    def _drivers_table(self, existing: dynamodb.ITable | None, props: Props | None) -> dynamodb.ITable:
        table = table_or_new(
            self,
            "DriversTable",
            name="drivers_table",
            existing=existing,
            props=props,
            partition_key=dynamodb.Attribute(name="driver_id", type=dynamodb.AttributeType.STRING),
        )
        if isinstance(table, dynamodb.Table) and existing is None:
            table.add_global_secondary_index(
                index_name=ZONE_STATUS_INDEX,
                partition_key=dynamodb.Attribute(name="zone", type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name="status", type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType.KEYS_ONLY,
            )
        return table

    def _definition(
        self,
        *,
        driver_search_interval: Duration,
        max_driver_searches: int,
        delivery_timeout: Duration,
        retry_interval: Duration,
        retry_attempts: int,
    ) -> sfn.IChainable:
        steps = Construct(self, "Steps")  # the states, apart from the functions they share names with

        def retry_transient(task: sfn.TaskStateBase) -> None:
            if retry_attempts:
                task.add_retry(
                    errors=TRANSIENT_ERRORS,
                    interval=retry_interval,
                    backoff_rate=2,
                    max_attempts=retry_attempts,
                )

        def catch_into(task: sfn.TaskStateBase, handler: sfn.IChainable) -> None:
            task.add_catch(handler, errors=["States.ALL"], result_path="$.failure")

        cancelled = sfn.Fail(steps, "Cancelled", error="OrderCancelled", cause_path="$.cancellation.reason")
        cancel = tasks.LambdaInvoke(
            steps,
            "CancelOrder",
            lambda_function=self.cancel_order,
            result_path="$.cancellation",
            result_selector={
                "reason.$": "$.Payload.reason",
                "driver_released.$": "$.Payload.driver_released",
            },
        )
        retry_transient(cancel)
        cancel.next(cancelled)

        load = tasks.LambdaInvoke(
            steps,
            "LoadDrivers",
            lambda_function=self.load_drivers,
            result_path="$.search",
            result_selector={"available.$": "$.Payload.available", "attempt.$": "$.Payload.attempt"},
        )
        retry_transient(load)
        catch_into(load, cancel)

        wait = sfn.Wait(steps, "WaitForDrivers", time=sfn.WaitTime.duration(driver_search_interval))
        wait.next(load)
        no_driver = sfn.Pass(
            steps,
            "NoDriverFound",
            result=sfn.Result.from_object(
                {"Error": "NoDriverAvailable", "Cause": f"no driver after {max_driver_searches} searches"}
            ),
            result_path="$.failure",
        ).next(cancel)

        assign = tasks.LambdaInvoke(
            steps,
            "AssignDriver",
            lambda_function=self.assign_driver,
            result_path="$.assignment",
            result_selector={"driver_id.$": "$.Payload.driver_id"},
        )
        retry_transient(assign)
        assign.add_catch(wait, errors=["NoDriverAvailable"], result_path="$.failure")
        catch_into(assign, cancel)

        notify = tasks.SnsPublish(
            steps,
            "NotifyCustomer",
            topic=self.notification_topic,
            message=sfn.TaskInput.from_object(
                {
                    "order_id": sfn.JsonPath.string_at("$.order_id"),
                    "customer_id": sfn.JsonPath.string_at("$.customer_id"),
                    "driver_id": sfn.JsonPath.string_at("$.assignment.driver_id"),
                    "status": "on_the_way",
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        if retry_attempts:
            notify.add_retry(
                errors=["SNS.ThrottledException", "SNS.InternalErrorException", "SNS.KMSThrottlingException"],
                interval=retry_interval,
                backoff_rate=2,
                max_attempts=retry_attempts,
            )
        catch_into(notify, cancel)

        await_delivery = tasks.LambdaInvoke(
            steps,
            "AwaitDelivery",
            lambda_function=self.await_delivery,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {
                    "order_id": sfn.JsonPath.string_at("$.order_id"),
                    "driver_id": sfn.JsonPath.string_at("$.assignment.driver_id"),
                    "task_token": sfn.JsonPath.task_token,
                }
            ),
            task_timeout=sfn.Timeout.duration(delivery_timeout),
            result_path="$.delivery",
        )
        catch_into(await_delivery, cancel)

        receipt = tasks.LambdaInvoke(
            steps, "IssueReceipt", lambda_function=self.issue_receipt, output_path="$.Payload"
        )
        retry_transient(receipt)

        found = (
            sfn.Choice(steps, "DriverAvailable?")
            .when(sfn.Condition.number_greater_than("$.search.available", 0), assign)
            .when(
                sfn.Condition.number_greater_than_equals("$.search.attempt", max_driver_searches), no_driver
            )
            .otherwise(wait)
        )
        assign.next(notify).next(await_delivery).next(receipt).next(sfn.Succeed(steps, "Delivered"))
        return load.next(found)

    def outputs(self) -> dict[str, Any]:
        return {
            "StateMachineArn": self.state_machine.state_machine_arn,
            "ConfirmDeliveryFunctionName": self.confirm_delivery.function_name,
            "DriversTableName": self.drivers_table.table_name,
            "OrdersTableName": self.orders_table.table_name,
            "NotificationTopicArn": self.notification_topic.topic_arn,
            "ExecutionLogGroupName": self.log_group.log_group_name,
        }
