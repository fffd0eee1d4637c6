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

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from patterns.defaults import (
    LOG_RETENTION,
    PatternFunction,
    acknowledge,
    secure_table,
    secure_topic,
    warn_override,
)

#: Errors worth another try: the drivers store throttling, and Lambda throttling the assigner.
TRANSIENT_ERRORS = ["DriversUnavailable", "Lambda.TooManyRequestsException"]
ZONE_STATUS_INDEX = "ByZoneStatus"


class StateMachine(Construct):
    """The order-assignment workflow, its six functions, its two tables and its notification topic.

    :param driver_search_interval: how long to wait before looking for drivers again.
    :param max_driver_searches: looks for a driver before the order is cancelled (the bound on waiting).
    :param delivery_timeout: how long the workflow waits for the driver's report before cancelling.
    :param assignment_concurrency: most assignments at once (reserved concurrency of the assigner).
    :param retry_interval: the first retry's delay after a transient error; each next one doubles.
    :param retry_attempts: retries of a transient error before the order is cancelled.
    :param include_execution_data: log each state's input and output too (they hold customer ids).
    :param drivers_table: an existing table: partition key ``driver_id``, index ``ByZoneStatus``
        (partition ``zone``, sort ``status``); one is created if omitted.
    :param orders_table: an existing table with string partition key ``order_id``.
    :param notification_topic: an existing topic for the customer notifications.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        driver_search_interval: Duration | None = None,
        max_driver_searches: int = 5,
        delivery_timeout: Duration | None = None,
        assignment_concurrency: int = 1,
        retry_interval: Duration | None = None,
        retry_attempts: int = 3,
        include_execution_data: bool = False,
        drivers_table: dynamodb.ITable | None = None,
        orders_table: dynamodb.ITable | None = None,
        notification_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        driver_search_interval = driver_search_interval or Duration.minutes(1)
        delivery_timeout = delivery_timeout or Duration.hours(2)
        retry_interval = retry_interval or Duration.seconds(2)
        if not 1 <= max_driver_searches <= 100:
            raise ValueError(f"{construct_id}: max_driver_searches must be from 1 to 100")
        if not 1 <= assignment_concurrency <= 1000:
            raise ValueError(f"{construct_id}: assignment_concurrency must be from 1 to 1000")
        if not 0 <= retry_attempts <= 10:
            raise ValueError(f"{construct_id}: retry_attempts must be from 0 to 10")
        if include_execution_data:
            warn_override(
                self, "include_execution_data=True", "keeps customer data out of the execution logs"
            )

        self.drivers_table = drivers_table or self._drivers_table()
        self.orders_table = orders_table or secure_table(
            self,
            "OrdersTable",
            partition_key=dynamodb.Attribute(name="order_id", type=dynamodb.AttributeType.STRING),
        )
        # SNS's AWS-managed key: the workflow's role publishes in its own account, and no key policy
        # of ours has to grant the account kms:*.
        self.notification_topic = notification_topic or secure_topic(
            self,
            "CustomerNotifications",
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
        )

        environment = {
            "DRIVERS_TABLE_NAME": self.drivers_table.table_name,
            "ORDERS_TABLE_NAME": self.orders_table.table_name,
        }

        def function(name: str, module: str, description: str, **kwargs: Any) -> PatternFunction:
            created = PatternFunction(
                self,
                name,
                code_dir="state_machine",
                handler=f"{module}.handler",
                service="state_machine",
                description=description,
                environment=environment,
                **kwargs,
            )
            acknowledge(
                created,
                "Serverless-LambdaDLQ",
                "Invoked synchronously by Step Functions (or the driver app): a failure returns to the "
                "caller, whose Retry and Catch decide what happens next.",
            )
            return created

        self.load_drivers = function(
            "LoadDrivers", "load_drivers", "Counts the drivers available in an order's zone"
        )
        self.assign_driver = function(
            "AssignDriver",
            "assign_driver",
            "Claims one available driver for an order, once",
            reserved_concurrent_executions=assignment_concurrency,
        )
        self.await_delivery = function(
            "AwaitDelivery", "await_delivery", "Stores the delivery's task token on the order"
        )
        self.confirm_delivery = function(
            "ConfirmDelivery", "confirm_delivery", "The driver's report: resumes the order's workflow"
        )
        self.issue_receipt = function(
            "IssueReceipt", "issue_receipt", "Issues the receipt and frees the driver"
        )
        self.cancel_order = function(
            "CancelOrder", "cancel_order", "Compensation: frees the driver, cancels the order"
        )

        index_arn = f"{self.drivers_table.table_arn}/index/{ZONE_STATUS_INDEX}"
        for fn in (self.load_drivers, self.assign_driver):
            iam.Grant.add_to_principal(grantee=fn, actions=["dynamodb:Query"], resource_arns=[index_arn])
        for fn in (self.assign_driver, self.issue_receipt, self.cancel_order):
            iam.Grant.add_to_principal(
                grantee=fn, actions=["dynamodb:UpdateItem"], resource_arns=[self.drivers_table.table_arn]
            )
        self.orders_table.grant(self.assign_driver, "dynamodb:GetItem", "dynamodb:PutItem")
        for fn in (self.await_delivery, self.issue_receipt, self.cancel_order):
            self.orders_table.grant(fn, "dynamodb:UpdateItem")
        self.orders_table.grant(self.confirm_delivery, "dynamodb:GetItem")

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
        self.state_machine = sfn.StateMachine(
            self,
            "Workflow",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=include_execution_data,
            ),
            tracing_enabled=True,
            comment="Order assignment: find and assign a driver, notify, await delivery, issue the receipt",
        )
        # The driver app answers the task token once: success or failure. It sends no heartbeats.
        self.state_machine.grant(self.confirm_delivery, "states:SendTaskSuccess", "states:SendTaskFailure")
        policy = self.state_machine.role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            "AwsSolutions-IAM5",
            "Step Functions' log delivery (logs:CreateLogDelivery and its kin) and X-Ray take no resource-level "
            "permissions, so CDK grants them on '*'.",
            applies_to="Resource::*",
        )
        stack = Stack.of(self)
        for fn in (
            self.load_drivers,
            self.assign_driver,
            self.await_delivery,
            self.issue_receipt,
            self.cancel_order,
        ):
            logical_id = stack.resolve(stack.get_logical_id(fn.node.default_child))
            acknowledge(
                policy,
                "AwsSolutions-IAM5",
                "CDK's Lambda task grants the function and its versions ('<arn>:*'); the workflow invokes "
                "the unqualified function only.",
                applies_to=f"Resource::<{logical_id}.Arn>:*",
            )

    def _drivers_table(self) -> dynamodb.Table:
        table = secure_table(
            self,
            "DriversTable",
            partition_key=dynamodb.Attribute(name="driver_id", type=dynamodb.AttributeType.STRING),
        )
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
