"""Circuit Breaker (Step Functions): the circuit read and written by the workflow itself, opened by a
CloudWatch alarm, closed by a scheduled health check; no Lambda of its own.

The **call workflow** (Standard) reads the circuit's item with DynamoDB's ``GetItem`` integration;
a Choice fails fast with ``CircuitOpen`` while it is ``OPEN`` (the dependency is not invoked);
otherwise it invokes the dependency, retrying a failure ``retry_attempts`` times with back-off.
Its answer is the execution's output. When the retries are spent, it writes ``OPEN`` with
``UpdateItem`` and fails with ``DependencyUnavailable``, the dependency's own error in the cause.

A **CloudWatch alarm** on the dependency's ``Errors`` (every failed invocation, retries included,
so it sees a dependency degrading even while retries still hide it from callers) changes to
``ALARM``; its state change event reaches an EventBridge rule whose target is the **control
workflow** (Express), which writes ``OPEN``. Every ``health_check_interval`` a scheduled rule runs
the same workflow to probe: while the circuit is open it invokes the dependency once with
``health_check_payload``, and an answer (no function error) closes it, conditional on the version
it read, so a probe cannot undo an opening that happened after its read.

Writes go through Step Functions' DynamoDB integrations, so no code of ours runs to change the
state, and the circuit table is the one ``patterns/circuit_breaker.py`` makes (``circuit`` key).

By default the sample exchange-rate service of ``patterns/circuit_breaker.py`` is the dependency
(it fails while its table holds ``{"currency": "OUTAGE"}``). Pass ``dependency`` to put your own
function behind the circuit.

Example::

    breaker = StepFunctionsCircuitBreaker(
        self, "Payments", dependency=payments_fn, health_check_payload={"ping": True}, alarm_threshold=10
    )
    breaker.call_workflow.grant_start_execution(checkout_fn)
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .circuit_breaker import DEFAULT_DEPENDENCY_TIMEOUT, new_circuit_table, sample_dependency
from .defaults import (
    LOG_RETENTION,
    CodeLocation,
    Props,
    acknowledge_workflow_grants,
    failure_queue,
    grant_table_key,
    merge_props,
    secure_state_machine,
)

OPEN, CLOSED = "OPEN", "CLOSED"
#: What the workflows call on the circuit table, through Step Functions' DynamoDB integrations.
TABLE_TASK_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem")
#: Step Functions retries a state at most 99 times; a call workflow meant to fail fast wants few.
MAX_RETRY_ATTEMPTS = 10
MIN_HEALTH_CHECK_INTERVAL = Duration.minutes(1)


class StepFunctionsCircuitBreaker(Construct):
    """A call workflow that reads the circuit and calls the dependency with retries; an alarm on the
    dependency's errors opens the circuit, a scheduled health check closes it.

    :param circuit: the circuit's name, the key of its item (``rates-service``).
    :param retry_attempts: retries of a failed call (3), ``retry_interval`` apart (1 s), multiplied
        by ``backoff_rate`` (2) each time; then the circuit opens and the execution fails.
    :param alarm_threshold: dependency errors within ``alarm_period`` (1 min) that raise the alarm
        (3), in ``alarm_datapoints`` (1) of ``alarm_evaluation_periods`` (1) periods; missing data is
        not breaching (no calls while the circuit is open).
    :param health_check_interval: how often the health check runs (1 min, the least a schedule takes).
    :param health_check_payload: the dependency's event for a probe, one it fails while it is down
        (the sample's ``{"currency": "EUR"}``; required with your own ``dependency``).
    :param circuit_table: an existing table with string partition key ``circuit``; one is made if omitted.
    :param dependency: your function behind the circuit; the sample rate service is built if omitted.
    :param include_execution_data: log each state's input and output (they may hold personal data).
    :param circuit_table_props, dependency_props, rates_table_props, alarm_props, call_workflow_props,
        control_workflow_props: props of the resources made here, merged over the defaults.
    :param code_dir: the folder of the sample's ``rates.py``; ``functions/circuit_breaker`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        circuit: str = "rates-service",
        retry_attempts: int = 3,
        retry_interval: Duration | None = None,
        backoff_rate: float = 2,
        alarm_threshold: int = 3,
        alarm_period: Duration | None = None,
        alarm_evaluation_periods: int = 1,
        alarm_datapoints: int = 1,
        health_check_interval: Duration | None = None,
        health_check_payload: dict[str, Any] | None = None,
        circuit_table: dynamodb.ITable | None = None,
        circuit_table_props: Props | None = None,
        dependency: lambda_.IFunction | None = None,
        dependency_props: Props | None = None,
        rates_table_props: Props | None = None,
        alarm_props: Props | None = None,
        include_execution_data: bool | None = None,
        call_workflow_props: Props | None = None,
        control_workflow_props: Props | None = None,
        code_dir: CodeLocation = "circuit_breaker",
    ) -> None:
        super().__init__(scope, construct_id)
        for name, props in (("dependency_props", dependency_props), ("rates_table_props", rates_table_props)):
            merge_props(self, name, {}, props, existing=("dependency", dependency))
        retry_interval = retry_interval or Duration.seconds(1)
        alarm_period = alarm_period or Duration.minutes(1)
        health_check_interval = health_check_interval or MIN_HEALTH_CHECK_INTERVAL
        if not circuit or len(circuit.encode()) > 1024:
            raise ValueError(f"{construct_id}: a circuit name is 1 to 1,024 bytes; got {circuit!r}")
        if not 0 <= retry_attempts <= MAX_RETRY_ATTEMPTS:
            raise ValueError(f"{construct_id}: retry_attempts must be from 0 to {MAX_RETRY_ATTEMPTS}")
        if backoff_rate < 1:
            raise ValueError(f"{construct_id}: backoff_rate must be 1 or more (Step Functions' minimum)")
        if alarm_threshold < 1:
            raise ValueError(f"{construct_id}: alarm_threshold must be 1 or more; got {alarm_threshold}")
        if not 1 <= alarm_datapoints <= alarm_evaluation_periods:
            raise ValueError(
                f"{construct_id}: alarm_datapoints must be from 1 to alarm_evaluation_periods "
                f"({alarm_evaluation_periods}), as CloudWatch requires"
            )
        if health_check_interval.to_seconds() < MIN_HEALTH_CHECK_INTERVAL.to_seconds():
            raise ValueError(f"{construct_id}: health_check_interval must be at least 1 minute")
        if dependency is not None and health_check_payload is None:
            raise ValueError(
                f"{construct_id}: health_check_payload is required with your own dependency: the event a "
                "probe sends it, one that fails while it is down"
            )
        self.circuit = circuit

        self.circuit_table = new_circuit_table(self, circuit_table, circuit_table_props)
        self.rates_table: dynamodb.Table | None = None
        """The sample service's table (``None`` when you pass ``dependency``)."""
        if dependency is None:
            self.rates_table, dependency = sample_dependency(
                self, code_dir, dependency_props, rates_table_props, timeout=DEFAULT_DEPENDENCY_TIMEOUT
            )
        self.dependency: lambda_.IFunction = dependency
        self._key = {"circuit": tasks.DynamoAttributeValue.from_string(circuit)}

        self.alarm = cloudwatch.Alarm(
            self,
            "DependencyErrors",
            **merge_props(
                self,
                "alarm_props",
                {
                    "metric": dependency.metric_errors(period=alarm_period, statistic="Sum"),
                    "threshold": alarm_threshold,
                    "evaluation_periods": alarm_evaluation_periods,
                    "datapoints_to_alarm": alarm_datapoints,
                    "comparison_operator": cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    "treat_missing_data": cloudwatch.TreatMissingData.NOT_BREACHING,
                    "alarm_description": f"Errors of the dependency behind circuit {circuit}: opens the circuit",
                },
                alarm_props,
                fixed=("metric",),
            ),
        )

        self.log_group = logs.LogGroup(
            self, "ExecutionLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        self.call_workflow = secure_state_machine(
            self,
            "CallWorkflow",
            log_group=self.log_group,
            include_execution_data=include_execution_data,
            **merge_props(
                self,
                "call_workflow_props",
                {
                    "definition_body": sfn.DefinitionBody.from_chainable(
                        self._call(retry_attempts, retry_interval, backoff_rate)
                    ),
                    "state_machine_type": sfn.StateMachineType.STANDARD,
                    "comment": f"Calls the dependency through circuit {circuit}: fails fast while it is open",
                },
                call_workflow_props,
                fixed=("definition_body", "definition", "state_machine_type"),
            ),
        )
        self.control_workflow = secure_state_machine(
            self,
            "ControlWorkflow",
            log_group=self.log_group,
            include_execution_data=include_execution_data,
            **merge_props(
                self,
                "control_workflow_props",
                {
                    "definition_body": sfn.DefinitionBody.from_chainable(
                        self._control(health_check_payload or {"currency": "EUR"})
                    ),
                    "state_machine_type": sfn.StateMachineType.EXPRESS,
                    "comment": f"Opens circuit {circuit} on the alarm; closes it when a health check answers",
                },
                control_workflow_props,
                fixed=("definition_body", "definition", "state_machine_type"),
            ),
        )
        for machine in (self.call_workflow, self.control_workflow):
            # CDK's DynamoDB tasks grant their action on the table, but nothing on a customer-managed key.
            grant_table_key(self.circuit_table, machine, *TABLE_TASK_ACTIONS)
            self._acknowledge_policy(machine)

        self.control_failures = failure_queue(
            self,
            "ControlFailures",
            what="alarm events and health checks that could not start the control workflow",
        )
        self.alarm_rule = events.Rule(
            self,
            "OpenOnAlarm",
            description=f"Opens circuit {circuit} when the dependency's error alarm goes to ALARM",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                resources=[self.alarm.alarm_arn],
                detail={"state": {"value": ["ALARM"]}},
            ),
            targets=[
                targets.SfnStateMachine(
                    self.control_workflow,
                    input=events.RuleTargetInput.from_object(
                        {
                            "command": "open",
                            "alarm": events.EventField.from_path("$.detail.alarmName"),
                            "reason": events.EventField.from_path("$.detail.state.reason"),
                        }
                    ),
                    retry_attempts=3,
                    dead_letter_queue=self.control_failures,
                )
            ],
        )
        self.health_check_rule = events.Rule(
            self,
            "HealthCheck",
            description=f"Probes the dependency while circuit {circuit} is open; closes it when it answers",
            schedule=events.Schedule.rate(health_check_interval),
            targets=[
                targets.SfnStateMachine(
                    self.control_workflow,
                    input=events.RuleTargetInput.from_object({"command": "probe"}),
                    retry_attempts=0,
                    dead_letter_queue=self.control_failures,
                )
            ],
        )

    # ------------------------------------------------------------------------------------ workflows

    def _read(self, id_: str) -> sfn.IChainable:
        return tasks.DynamoGetItem(
            self,
            id_,
            table=self.circuit_table,
            key=self._key,
            consistent_read=True,
            result_path="$.circuit",
        )

    def _open(self, id_: str, opened_by: str, reason_path: str) -> tasks.DynamoUpdateItem:
        """Writes ``OPEN`` and one more ``version``; who opened it and why, for the operator."""
        return tasks.DynamoUpdateItem(
            self,
            id_,
            table=self.circuit_table,
            key=self._key,
            update_expression="SET #state = :open, opened_at = :now, opened_by = :by, reason = :reason "
            "ADD version :one",
            expression_attribute_names={"#state": "state"},
            expression_attribute_values={
                ":open": tasks.DynamoAttributeValue.from_string(OPEN),
                ":now": tasks.DynamoAttributeValue.from_string(
                    sfn.JsonPath.string_at("$$.State.EnteredTime")
                ),
                ":by": tasks.DynamoAttributeValue.from_string(opened_by),
                ":reason": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at(reason_path)),
                ":one": tasks.DynamoAttributeValue.from_number(1),
            },
            result_path=sfn.JsonPath.DISCARD,
        )

    @staticmethod
    def _is_open() -> sfn.Condition:
        return sfn.Condition.string_equals("$.circuit.Item.state.S", OPEN)

    def _call(self, retry_attempts: int, retry_interval: Duration, backoff_rate: float) -> sfn.IChainable:
        open_fast = sfn.Fail(
            self,
            "CircuitOpen",
            error="CircuitOpen",
            cause="The circuit is open: the dependency was not called.",
        )
        call = tasks.LambdaInvoke(
            self,
            "CallDependency",
            lambda_function=self.dependency,
            input_path="$.request",
            payload_response_only=True,
            retry_on_service_exceptions=False,
        )
        if retry_attempts:
            call.add_retry(
                errors=[sfn.Errors.ALL],
                max_attempts=retry_attempts,
                interval=retry_interval,
                backoff_rate=backoff_rate,
            )
        unavailable = self._open("OpenAfterRetries", "execution", "$.failure.Error").next(
            sfn.Fail(
                self, "DependencyUnavailable", error="DependencyUnavailable", cause_path="$.failure.Cause"
            )
        )
        call.add_catch(unavailable, errors=[sfn.Errors.ALL], result_path="$.failure")
        state = sfn.Choice(self, "CircuitState").when(self._is_open(), open_fast).otherwise(call)
        known = (
            sfn.Choice(self, "CircuitKnown")
            .when(sfn.Condition.is_present("$.circuit.Item.state.S"), state)
            .otherwise(call)
        )
        request = sfn.Pass(self, "Request", parameters={"request.$": "$"})
        return request.next(self._read("ReadCircuit")).next(known)

    def _control(self, probe_payload: dict[str, Any]) -> sfn.IChainable:
        nothing_to_do = sfn.Succeed(self, "NotOpen", comment="Closed: nothing to probe")
        still_down = sfn.Succeed(self, "StillUnhealthy", comment="The probe failed: the circuit stays open")
        changed = sfn.Succeed(
            self, "ChangedMeanwhile", comment="Another writer changed the circuit after the read"
        )
        close = tasks.DynamoUpdateItem(
            self,
            "CloseCircuit",
            table=self.circuit_table,
            key=self._key,
            update_expression="SET #state = :closed, closed_at = :now ADD version :one",
            condition_expression="#version = :read",
            expression_attribute_names={"#state": "state", "#version": "version"},
            expression_attribute_values={
                ":closed": tasks.DynamoAttributeValue.from_string(CLOSED),
                ":now": tasks.DynamoAttributeValue.from_string(
                    sfn.JsonPath.string_at("$$.State.EnteredTime")
                ),
                ":one": tasks.DynamoAttributeValue.from_number(1),
                ":read": tasks.DynamoAttributeValue.number_from_string(
                    sfn.JsonPath.string_at("$.circuit.Item.version.N")
                ),
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        close.add_catch(changed, errors=["DynamoDB.ConditionalCheckFailedException"], result_path="$.failure")
        probe = tasks.LambdaInvoke(
            self,
            "ProbeDependency",
            lambda_function=self.dependency,
            payload=sfn.TaskInput.from_object(probe_payload),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path=sfn.JsonPath.DISCARD,
        )
        probe.add_catch(still_down, errors=[sfn.Errors.ALL], result_path="$.failure")
        probe.next(close)
        is_open = sfn.Choice(self, "IsOpen").when(self._is_open(), probe).otherwise(nothing_to_do)
        known = (
            sfn.Choice(self, "Known")
            .when(sfn.Condition.is_present("$.circuit.Item.state.S"), is_open)
            .otherwise(nothing_to_do)
        )
        return (
            sfn.Choice(self, "Command")
            .when(
                sfn.Condition.string_equals("$.command", "open"),
                self._open("OpenByAlarm", "alarm", "$.reason"),
            )
            .when(sfn.Condition.string_equals("$.command", "probe"), self._read("ReadForProbe").next(known))
            .otherwise(
                sfn.Fail(self, "UnknownCommand", error="UnknownCommand", cause="command: open or probe")
            )
        )

    # ----------------------------------------------------------------------------------------- parts

    def _acknowledge_policy(self, machine: sfn.StateMachine) -> None:
        functions = [self.dependency] if isinstance(self.dependency, lambda_.Function) else []
        acknowledge_workflow_grants(machine, functions)

    def outputs(self) -> dict[str, Any]:
        outputs: dict[str, Any] = {
            "CallWorkflowArn": self.call_workflow.state_machine_arn,
            "ControlWorkflowArn": self.control_workflow.state_machine_arn,
            "CircuitTableName": self.circuit_table.table_name,
            "AlarmName": self.alarm.alarm_name,
            "DependencyFunctionName": self.dependency.function_name,
        }
        if self.rates_table is not None:
            outputs["RatesTableName"] = self.rates_table.table_name
        return outputs
