"""EventBridge Pipes on one purpose-built stack: a DynamoDB stream through a filter and a Lambda
enrichment into Step Functions (a poison record reaching the dead-letter queue), an SQS source with a
batch limit and partial failures, a stopped pipe, and a role missing a grant.

Each pipe has a source of its own, so one cloud serves the module; each test reads only its own.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_logs as logs
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START
from localcloud.errors import InvalidRequest
from tests.localcloud.conftest import pk_table, python_function

pytestmark = pytest.mark.localcloud

Source = pipes.CfnPipe.PipeSourceParametersProperty


def build(stack: Stack) -> None:
    log = pk_table(stack, "Log")

    def step(construct_id: str, handler: str):
        fn = python_function(
            stack,
            construct_id,
            "pipe_steps",
            handler=f"handler.{handler}",
            environment={"TABLE_NAME": log.table_name},
        )
        log.grant_write_data(fn)
        return fn

    def role(construct_id: str) -> iam.Role:
        return iam.Role(stack, construct_id, assumed_by=iam.ServicePrincipal("pipes.amazonaws.com"))

    # A DynamoDB stream, filtered to inserts, enriched by a function, into a state machine.
    orders = pk_table(stack, "Orders", stream=dynamodb.StreamViewType.NEW_IMAGE)
    enricher = step("Enricher", "enrich")
    fulfil = sfn.StateMachine(
        stack, "Fulfil", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Accept"))
    )
    poisoned = sqs.Queue(stack, "Poisoned")
    orders_role = role("OrdersRole")
    orders.grant_stream_read(orders_role)
    enricher.grant_invoke(orders_role)
    fulfil.grant_start_execution(orders_role)
    poisoned.grant_send_messages(orders_role)
    pipes.CfnPipe(
        stack,
        "OrdersPipe",
        role_arn=orders_role.role_arn,
        source=orders.table_stream_arn,
        source_parameters=Source(
            dynamo_db_stream_parameters=pipes.CfnPipe.PipeSourceDynamoDBStreamParametersProperty(
                starting_position="TRIM_HORIZON",
                batch_size=4,
                maximum_retry_attempts=1,
                on_partial_batch_item_failure="AUTOMATIC_BISECT",
                dead_letter_config=pipes.CfnPipe.DeadLetterConfigProperty(arn=poisoned.queue_arn),
            ),
            filter_criteria=pipes.CfnPipe.FilterCriteriaProperty(
                filters=[pipes.CfnPipe.FilterProperty(pattern=json.dumps({"eventName": ["INSERT"]}))]
            ),
        ),
        enrichment=enricher.function_arn,
        target=fulfil.state_machine_arn,
    )

    # An SQS source in batches of at most 3, into a function reporting partial failures.
    inbox_dlq = sqs.Queue(stack, "InboxDlq")
    inbox = sqs.Queue(
        stack,
        "Inbox",
        visibility_timeout=Duration.seconds(30),
        dead_letter_queue=sqs.DeadLetterQueue(queue=inbox_dlq, max_receive_count=2),
    )
    handler = step("Handler", "target")
    inbox_role = role("InboxRole")
    inbox.grant_consume_messages(inbox_role)
    handler.grant_invoke(inbox_role)
    pipes.CfnPipe(
        stack,
        "InboxPipe",
        role_arn=inbox_role.role_arn,
        source=inbox.queue_arn,
        source_parameters=Source(
            sqs_queue_parameters=pipes.CfnPipe.PipeSourceSqsQueueParametersProperty(
                batch_size=3, maximum_batching_window_in_seconds=20
            ),
            filter_criteria=pipes.CfnPipe.FilterCriteriaProperty(
                filters=[pipes.CfnPipe.FilterProperty(pattern=json.dumps({"body": {"kind": ["order"]}}))]
            ),
        ),
        target=handler.function_arn,
        target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(
            input_template='{"id": <$.messageId>, "body": <$.body>}'
        ),
    )

    # Queue to queue: one pipe created stopped, one whose role may not send to its target.
    for name, granted in (("Parked", True), ("Denied", False)):
        # What the role may not deliver returns to the source until the redrive takes it.
        redrive = sqs.DeadLetterQueue(queue=sqs.Queue(stack, f"{name}Dlq"), max_receive_count=2)
        source = sqs.Queue(stack, f"{name}Source", dead_letter_queue=redrive)
        target = sqs.Queue(stack, f"{name}Target")
        pipe_role = role(f"{name}Role")
        source.grant_consume_messages(pipe_role)
        if granted:
            target.grant_send_messages(pipe_role)
        pipes.CfnPipe(
            stack,
            f"{name}Pipe",
            role_arn=pipe_role.role_arn,
            source=source.queue_arn,
            target=target.queue_arn,
            desired_state="STOPPED" if granted else "RUNNING",
            target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(input_template="<$.body.text>"),
        )

    # A Kinesis stream, filtered on its data, enriched by an Express state machine, onto an event bus.
    clicks = kinesis.Stream(stack, "Clicks", shard_count=1, removal_policy=RemovalPolicy.DESTROY)
    tag = sfn.StateMachine(
        stack,
        "Tag",
        state_machine_type=sfn.StateMachineType.EXPRESS,
        definition_body=sfn.DefinitionBody.from_chainable(
            sfn.Map(stack, "EachClick").item_processor(
                sfn.Pass(stack, "Stamp", parameters={"page.$": "$.page", "seq.$": "$.seq", "via": "express"})
            )
        ),
    )
    bus = events.EventBus(stack, "PipeBus")
    seen_on_bus = sqs.Queue(stack, "SeenOnBus")
    events.Rule(
        stack,
        "FromPipes",
        event_bus=bus,
        event_pattern=events.EventPattern(source=events.Match.prefix("Pipe ")),
        targets=[events_targets.SqsQueue(seen_on_bus)],
    )
    clicks_role = role("ClicksRole")
    clicks.grant_read(clicks_role)
    tag.grant_start_sync_execution(clicks_role)
    bus.grant_put_events_to(clicks_role)
    pipes.CfnPipe(
        stack,
        "ClicksPipe",
        role_arn=clicks_role.role_arn,
        source=clicks.stream_arn,
        source_parameters=Source(
            kinesis_stream_parameters=pipes.CfnPipe.PipeSourceKinesisStreamParametersProperty(
                starting_position="TRIM_HORIZON", batch_size=10
            ),
            filter_criteria=pipes.CfnPipe.FilterCriteriaProperty(
                filters=[pipes.CfnPipe.FilterProperty(pattern=json.dumps({"data": {"kind": ["click"]}}))]
            ),
        ),
        enrichment=tag.state_machine_arn,
        enrichment_parameters=pipes.CfnPipe.PipeEnrichmentParametersProperty(
            input_template='{"page": <$.data.page>, "seq": <$.sequenceNumber>}'
        ),
        target=bus.event_bus_arn,
    )

    # An SQS source enriched by a REST API method, into a log stream.
    api = apigateway.RestApi(stack, "Lookup")
    api.root.add_resource("enrich").add_method(
        "POST",
        apigateway.MockIntegration(
            request_templates={"application/json": '{"statusCode": 200}'},
            integration_responses=[
                apigateway.IntegrationResponse(
                    status_code="200", response_templates={"application/json": '[{"note": "looked up"}]'}
                )
            ],
        ),
        method_responses=[apigateway.MethodResponse(status_code="200")],
    )
    notes, notes_log = (
        sqs.Queue(stack, "Notes"),
        logs.LogGroup(stack, "NotesLog", removal_policy=RemovalPolicy.DESTROY),
    )
    notes_role = role("NotesRole")
    notes.grant_consume_messages(notes_role)
    notes_log.grant_write(notes_role)
    notes_role.add_to_policy(
        iam.PolicyStatement(
            actions=["execute-api:Invoke"], resources=[api.arn_for_execute_api("POST", "/enrich", "prod")]
        )
    )
    pipes.CfnPipe(
        stack,
        "NotesPipe",
        role_arn=notes_role.role_arn,
        source=notes.queue_arn,
        enrichment=api.arn_for_execute_api("POST", "/enrich", "prod"),
        target=notes_log.log_group_arn,
        target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(
            cloud_watch_logs_parameters=pipes.CfnPipe.PipeTargetCloudWatchLogsParametersProperty(
                log_stream_name="notes"
            )
        ),
    )


@pytest.fixture(scope="module")
def cloud(synth):
    with LocalCloud(synth("PipeSemantics", build), start=FIXED_START) as running:
        yield running


def batches(cloud, function: str) -> list:
    """The batches ``function`` was called with, in the order it got them."""
    name = cloud.function(function).name
    items = cloud.client("dynamodb").scan(TableName=cloud.physical_id("Log"))["Items"]
    return [json.loads(i["batch"]["S"]) for i in items if i["pk"]["S"].startswith(f"{name}#")]


def receive(cloud, queue: str) -> list[dict]:
    url = cloud.physical_id(queue)
    return cloud.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])


def send(cloud, queue: str, *bodies: str) -> None:
    for body in bodies:
        cloud.client("sqs").send_message(QueueUrl=cloud.physical_id(queue), MessageBody=body)


def test_a_stream_pipe_filters_enriches_and_starts_the_state_machine_and_dead_letters_a_poison_record(cloud):
    table = cloud.physical_id("Orders")
    for pk, status in (("o1", "new"), ("o2", "poison"), ("o3", "new"), ("o4", "new")):
        cloud.client("dynamodb").put_item(TableName=table, Item={"pk": {"S": pk}, "status": {"S": status}})
    cloud.client("dynamodb").put_item(TableName=table, Item={"pk": {"S": "o1"}, "status": {"S": "paid"}})
    cloud.drain()

    seen = batches(cloud, "Enricher")
    assert all(isinstance(batch, list) for batch in seen), "the enrichment gets a JSON array"
    assert {c["eventName"] for batch in seen for c in batch} == {"INSERT"}, "the MODIFY is filtered out"
    assert max(len(b) for b in seen) == 4, "the first batch holds the four inserts"

    machine = cloud.physical_id("Fulfil")
    executions = cloud.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    inputs = [
        json.loads(cloud.client("stepfunctions").describe_execution(executionArn=e["executionArn"])["input"])
        for e in executions
    ]
    started = sorted(order["pk"] for batch in inputs for order in batch)
    assert started == ["o1", "o3", "o4"], "bisection isolates the poison record; the rest go through"
    assert all(order["enriched"] for batch in inputs for order in batch), (
        "the target gets the enrichment's output"
    )

    [dead] = [json.loads(m["Body"]) for m in receive(cloud, "Poisoned")]
    info = dead["DDBStreamBatchInfo"]
    assert (info["batchSize"], dead["requestContext"]["condition"]) == (1, "RetryAttemptsExhausted")
    assert dead["requestContext"]["functionArn"].endswith(f":pipe/{cloud.physical_id('OrdersPipe')}")

    cloud.client("dynamodb").put_item(TableName=table, Item={"pk": {"S": "o5"}, "status": {"S": "drop"}})
    cloud.drain()
    assert len(cloud.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]) == len(
        executions
    ), "an empty enrichment result drops the event"
    assert cloud.trace.find("drop", outcome="dropped")
    ages = cloud.client("cloudwatch").list_metrics(Namespace="AWS/Lambda", MetricName="IteratorAge")
    assert ages["Metrics"] == [], "a pipe's batches are not Lambda's to count"


def test_an_sqs_pipe_batches_filters_and_retries_only_the_reported_failures(cloud):
    send(cloud, "Inbox", *[json.dumps({"kind": "order", "n": n}) for n in range(4)])
    send(cloud, "Inbox", json.dumps({"kind": "order", "fail": True}), json.dumps({"kind": "spam"}))
    cloud.advance(200)

    seen = batches(cloud, "Handler")
    assert max(len(b) for b in seen) <= 3, "never more than the batch size"
    bodies = [item["body"] for batch in seen for item in batch]
    assert sorted(json.dumps(b) for b in bodies if "n" in b) == sorted(
        json.dumps({"kind": "order", "n": n}) for n in range(4)
    ), "each order once: the rest of a partly failed batch is deleted"
    assert sum("fail" in b for b in bodies) == 2, (
        "the failed order comes back once, then the redrive takes it"
    )
    assert all(b["kind"] == "order" for b in bodies), "the filter keeps spam from the target"
    [dead] = receive(cloud, "InboxDlq")
    assert json.loads(dead["Body"]) == {"kind": "order", "fail": True}
    assert (
        cloud.client("sqs").get_queue_attributes(
            QueueUrl=cloud.physical_id("Inbox"), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "0"
    ), "the filtered-out message is deleted"


def test_a_stopped_pipe_delivers_nothing_until_started(cloud):
    client = cloud.client("pipes")
    name = cloud.physical_id("ParkedPipe")
    assert client.describe_pipe(Name=name)["DesiredState"] == "STOPPED"
    send(cloud, "ParkedSource", json.dumps({"text": "first"}))
    cloud.drain()
    assert receive(cloud, "ParkedTarget") == []

    client.start_pipe(Name=name)
    cloud.drain()
    assert [m["Body"] for m in receive(cloud, "ParkedTarget")] == ["first"], "the template picks body.text"

    client.stop_pipe(Name=name)
    send(cloud, "ParkedSource", json.dumps({"text": "second"}))
    cloud.drain()
    assert receive(cloud, "ParkedTarget") == []


def test_the_pipe_role_is_checked_on_its_target_and_its_source(cloud):
    send(cloud, "DeniedSource", json.dumps({"text": "blocked"}))
    cloud.drain()
    assert receive(cloud, "DeniedTarget") == []
    assert [m["Body"] for m in receive(cloud, "DeniedDlq")] == [json.dumps({"text": "blocked"})]
    pipe = f"pipe:{cloud.physical_id('DeniedPipe')}"
    delivers = [span for span in cloud.trace.find("deliver") if span.source == pipe]
    assert [d.outcome for d in delivers] == ["1 of 1 refused"] * 2, (
        "refused, then once more before the redrive"
    )
    assert "not authorized to perform: sqs:SendMessage" in delivers[0].data["errors"][0]

    denied_role = cloud.kernel.resources[cloud.kernel.logical_id("DeniedRole")].attributes["Arn"]
    parked = cloud.service("sqs").queue_arn(cloud.physical_id("ParkedSource"))
    props = {"RoleArn": denied_role, "Source": parked, "Target": parked}
    with pytest.raises(InvalidRequest, match="permissions to call ReceiveMessage on SQS"):
        cloud.service("pipes").create("Stray", "stray", props)


def test_a_pipe_is_refused_as_create_pipe_refuses_it(cloud):
    queue = cloud.service("sqs").queue_arn(cloud.physical_id("ParkedSource"))
    role = cloud.kernel.resources[cloud.kernel.logical_id("ParkedRole")].attributes["Arn"]
    props = {
        "RoleArn": role,
        "Source": queue,
        "Target": queue,
        "SourceParameters": {"SqsQueueParameters": {"BatchSize": 11}},
    }
    with pytest.raises(
        InvalidRequest, match="BatchSize 11 is more than the sqs target's maximum batch size of 10"
    ):
        cloud.service("pipes").create("Big", "big", props)
    with pytest.raises(InvalidRequest, match="Target is required"):
        cloud.service("pipes").create("Aimless", "aimless", {**props, "Target": ""})
    props["SourceParameters"] = {"SqsQueueParameters": {"MaximumBatchingWindowInSeconds": 301}}
    with pytest.raises(InvalidRequest, match="MaximumBatchingWindowInSeconds 301 is outside 0 to 300"):
        cloud.service("pipes").create("Slow", "slow", props)


def test_a_kinesis_pipe_matches_data_and_puts_the_express_enrichments_output_on_a_bus(cloud):
    stream = cloud.physical_id("Clicks")
    for kind, page in (("click", "home"), ("view", "cart"), ("click", "checkout")):
        data = json.dumps({"kind": kind, "page": page}).encode()
        cloud.client("kinesis").put_record(StreamName=stream, Data=data, PartitionKey=page)
    cloud.drain()

    url = cloud.physical_id("SeenOnBus")
    events = [
        json.loads(m["Body"])
        for m in cloud.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ]
    name = cloud.physical_id("ClicksPipe")
    assert {(e["source"], e["detail-type"]) for e in events} == {(f"Pipe {name}", "Event from aws:kinesis")}
    details = [e["detail"] for e in events]
    assert [d["page"] for d in details] == ["home", "checkout"], "the view is filtered out on its data"
    assert all(d["via"] == "express" and d["seq"].isdigit() for d in details)


def test_an_api_enrichment_feeds_a_log_stream(cloud):
    send(cloud, "Notes", "anything")
    cloud.drain()
    group = cloud.physical_id("NotesLog")
    logged = cloud.client("logs").get_log_events(logGroupName=group, logStreamName="notes")["events"]
    assert [json.loads(e["message"]) for e in logged] == [{"note": "looked up"}]
    assert (
        int(
            cloud.client("sqs").get_queue_attributes(
                QueueUrl=cloud.physical_id("Notes"), AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
        == 0
    )
