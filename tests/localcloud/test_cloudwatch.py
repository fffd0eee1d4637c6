"""CloudWatch on a purpose-built stack: a Powertools ``Metrics`` function's embedded metrics, the
Lambda, SQS and API Gateway metrics, and alarms evaluated each period on the virtual clock, whose
state changes reach EventBridge, SNS and Lambda.

One cloud for the module: each test first lets every alarm settle (:func:`settle`) and empties the
queues it reads, so it sees only the changes of its own minutes.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START
from localcloud.errors import LocalCloudError
from localcloud.services.cloudwatch import provision
from tests.localcloud.conftest import python_function
from tests.localcloud.messaging import bodies, forwarded, forwarder

pytestmark = pytest.mark.localcloud

MINUTE = Duration.minutes(1)
GTE = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


def shop(name: str, service: str) -> cw.Metric:
    return cw.Metric(
        namespace="Shop",
        metric_name=name,
        dimensions_map={"service": service},
        statistic="Sum",
        period=MINUTE,
    )


def build(stack: Stack) -> None:
    seen = sqs.Queue(stack, "Seen")
    orders = python_function(
        stack, "Orders", "order_metrics", environment={"POWERTOOLS_SERVICE_NAME": "orders"}
    )
    flaky = python_function(
        stack, "Flaky", "order_metrics", environment={"POWERTOOLS_SERVICE_NAME": "flaky"},
        reserved_concurrent_executions=1,
    )  # fmt: skip
    clicks = python_function(
        stack, "Clicks", "order_metrics", environment={"POWERTOOLS_SERVICE_NAME": "clicks"}
    )
    clicks.add_event_source(
        sources.KinesisEventSource(
            kinesis.Stream(stack, "ClickStream", shard_count=1),
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            max_batching_window=Duration.seconds(5),
        )
    )
    topic = sns.Topic(stack, "AlarmTopic")
    inbox = sqs.Queue(stack, "AlarmInbox")
    topic.add_subscription(subscriptions.SqsSubscription(inbox, raw_message_delivery=True))

    failing = cw.Alarm(
        stack, "Failing", alarm_name="orders-failing", metric=shop("OrderFailed", "orders"), threshold=1,
        evaluation_periods=1, comparison_operator=GTE, treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
    )  # fmt: skip
    failing.add_alarm_action(actions.SnsAction(topic))
    failing.add_ok_action(actions.SnsAction(topic))
    events.Rule(
        stack,
        "AlarmRule",
        event_pattern=events.EventPattern(
            source=["aws.cloudwatch"],
            detail_type=["CloudWatch Alarm State Change"],
            detail={"alarmName": ["orders-failing"], "state": {"value": ["ALARM"]}},
        ),
        targets=[targets.LambdaFunction(on_alarm := forwarder(stack, "OnAlarmEvent", seen))],
    )
    errors = cw.Alarm(
        stack, "Errors", alarm_name="orders-errors", threshold=1, evaluation_periods=1, comparison_operator=GTE,
        metric=orders.metric_errors(period=MINUTE, statistic="Sum"),
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
    )  # fmt: skip
    both = cw.CompositeAlarm(
        stack, "Both", composite_alarm_name="orders-both",
        alarm_rule=cw.AlarmRule.all_of(
            cw.AlarmRule.from_alarm(failing, cw.AlarmState.ALARM), cw.AlarmRule.from_alarm(errors, cw.AlarmState.ALARM)
        ),
    )  # fmt: skip
    both.add_alarm_action(actions.SnsAction(topic), actions.LambdaAction(on_alarm))
    two_of_three = cw.Alarm(
        stack, "TwoOfThree", alarm_name="flaky-2-of-3", threshold=1, evaluation_periods=3, datapoints_to_alarm=2,
        comparison_operator=GTE, metric=flaky.metric_errors(period=MINUTE, statistic="Sum"),
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
    )  # fmt: skip
    pager = forwarder(stack, "OnErrorsAlarm", seen)
    two_of_three.add_alarm_action(actions.LambdaAction(pager))

    rate = cw.MathExpression(
        expression="100 * failed / (failed + FILL(placed, 0))",
        using_metrics={"failed": shop("OrderFailed", "flaky"), "placed": shop("OrderPlaced", "flaky")},
        period=MINUTE,
    )
    cw.Alarm(
        stack, "FailureRate", alarm_name="flaky-failure-rate", metric=rate, threshold=50, evaluation_periods=1,
        comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
    )  # fmt: skip
    manual = cw.Alarm(
        stack, "Manual", alarm_name="never-reported", metric=shop("Never", "none"), threshold=1,
        evaluation_periods=1, comparison_operator=GTE, treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
    )  # fmt: skip
    pager.add_to_role_policy(
        iam.PolicyStatement(actions=["cloudwatch:SetAlarmState"], resources=[manual.alarm_arn])
    )
    sqs.Queue(stack, "Work")
    api = apigw.RestApi(
        stack, "Api", rest_api_name="metrics-api", deploy_options=apigw.StageOptions(stage_name="prod")
    )
    api.root.add_method(
        "GET",
        apigw.MockIntegration(
            integration_responses=[apigw.IntegrationResponse(status_code="200")],
            request_templates={"application/json": '{"statusCode": 200}'},
        ),
        method_responses=[apigw.MethodResponse(status_code="200")],
    )
    CfnOutput(stack, "TopicArn", value=topic.topic_arn)


@pytest.fixture(scope="module")
def cloud(synth):
    with LocalCloud(synth("CloudWatchSemantics", build), start=FIXED_START) as running:
        yield running


def settle(cloud: LocalCloud) -> None:
    """Six quiet minutes, to the next minute's start: past every alarm's evaluation range (its
    periods and two more), so each is back to its resting state; and the queues the tests read emptied."""
    cloud.advance(360 + 60 - cloud.kernel.clock.elapsed() % 60)
    cloud.drain()
    bodies(cloud, "AlarmInbox")
    forwarded(cloud)


def next_minute(cloud: LocalCloud) -> None:
    """To the start of the next minute, where every alarm of the stack is evaluated; then deliver."""
    cloud.advance(60 - cloud.kernel.clock.elapsed() % 60)
    cloud.drain()


def state(cloud: LocalCloud, name: str) -> str:
    return cloud.client("cloudwatch").describe_alarms(AlarmNames=[name])[
        "MetricAlarms" if name != "orders-both" else "CompositeAlarms"
    ][0]["StateValue"]


# ---------------------------------------------------------------------------------------- metrics


def test_a_powertools_metric_becomes_a_cloudwatch_metric_at_the_virtual_moment(cloud):
    settle(cloud)
    cloud.advance(7)
    cloud.invoke("Orders", {})
    points = cloud.metrics("Shop", "OrderPlaced", {"service": "orders"})
    assert points[-1].timestamp == cloud.kernel.clock.now(), "stamped by the virtual clock"
    assert (points[-1].sum, points[-1].unit) == (1.0, "Count")
    assert cloud.metrics("Shop", "OrderPlaced", {}) == [], "a metric is its exact dimension set"
    invocations = cloud.metrics("AWS/Lambda", "Invocations", {"FunctionName": cloud.function("Orders").name})
    assert invocations[-1].timestamp == cloud.kernel.clock.now() and invocations[-1].sum == 1


def test_the_sdk_reads_what_the_services_reported(cloud):
    settle(cloud)
    name = cloud.function("Orders").name
    cloud.invoke("Orders", {"fail": True})
    cloud.invoke("Orders", {})
    now = cloud.kernel.clock.now()
    statistics = cloud.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Errors", Dimensions=[{"Name": "FunctionName", "Value": name}],
        StartTime=now.replace(second=0), EndTime=now.replace(second=59), Period=60, Statistics=["Sum", "SampleCount"],
    )["Datapoints"]  # fmt: skip
    assert [(p["Sum"], p["SampleCount"]) for p in statistics] == [(1.0, 2.0)]


def test_put_metric_data_is_stamped_by_the_virtual_clock_and_refuses_what_aws_refuses(cloud):
    watch = cloud.client("cloudwatch")
    watch.put_metric_data(
        Namespace="Custom", MetricData=[{"MetricName": "Depth", "Value": 3, "Unit": "Count"}]
    )
    (point,) = cloud.metrics("Custom", "Depth")
    assert point.timestamp == cloud.kernel.clock.now() and point.sum == 3
    with pytest.raises(ClientError, match="Namespace"):
        watch.put_metric_data(Namespace="AWS/Lambda", MetricData=[{"MetricName": "Invocations", "Value": 1}])
    old = cloud.kernel.clock.now().replace(year=2025)
    with pytest.raises(ClientError, match="two weeks"):
        watch.put_metric_data(
            Namespace="Custom", MetricData=[{"MetricName": "Depth", "Value": 1, "Timestamp": old}]
        )
    assert len(cloud.metrics("Custom", "Depth")) == 1


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (
            [{"MetricName": "Depth", "Value": float("inf")}],
            "value Infinity for parameter MetricData.member.1.Value",
        ),
        ([{"MetricName": "Depth", "Value": -(2.0**361)}], "MetricData.member.1.Value is invalid"),
        ([{"MetricName": "Depth", "Values": [1.0, 1e300]}], "MetricData.member.1.Values.member.2"),
        ([{"MetricName": "Depth", "Values": [float(v) for v in range(151)]}], "greater than 150"),
        ([{"MetricName": "Depth", "Value": 1.0}] * 1001, "MetricData must not have a size greater than 1000"),
    ],
)
def test_put_metric_data_refuses_numbers_and_sizes_cloudwatch_cannot_store(cloud, data, words):
    with pytest.raises(ClientError, match="InvalidParameterValue") as refused:
        cloud.client("cloudwatch").put_metric_data(Namespace="Limits", MetricData=data)
    assert words in refused.value.response["Error"]["Message"]
    assert cloud.metrics("Limits", "Depth") == []


def test_sqs_queue_depth_and_age_are_sampled_each_minute(cloud):
    settle(cloud)
    url = cloud.physical_id("Work")
    name = url.rsplit("/", 1)[-1]
    cloud.client("sqs").send_message(QueueUrl=url, MessageBody="one")
    cloud.advance(30)
    cloud.client("sqs").send_message(QueueUrl=url, MessageBody="two")
    next_minute(cloud)
    visible = cloud.metrics("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": name})
    age = cloud.metrics("AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": name})
    assert (visible[-1].timestamp, visible[-1].sum, visible[-2].sum) == (cloud.kernel.clock.now(), 2, 0)
    assert (age[-1].sum, age[-1].unit) == (60, "Seconds")


def test_api_gateway_counts_requests_errors_and_latency(cloud):
    dimensions = {"ApiName": "metrics-api", "Stage": "prod"}
    assert cloud.api().get("/").status_code == 200
    assert cloud.api().get("/missing").status_code == 403
    assert [p.sum for p in cloud.metrics("AWS/ApiGateway", "Count", dimensions)] == [1, 1]
    assert [p.sum for p in cloud.metrics("AWS/ApiGateway", "4XXError", dimensions)] == [0, 1]
    assert [p.sum for p in cloud.metrics("AWS/ApiGateway", "5XXError", dimensions)] == [0, 0]
    assert cloud.metrics("AWS/ApiGateway", "Latency", dimensions)[0].unit == "Milliseconds"


def test_lambda_reports_duration_concurrency_throttles_and_a_stream_s_iterator_age(cloud):
    settle(cloud)
    flaky = cloud.function("Flaky")
    dimensions = {"FunctionName": flaky.name}
    flaky.duration = 2.0
    try:
        cloud.invoke("Flaky", {}, "Event")
        cloud.invoke("Flaky", {}, "Event")
        cloud.drain()
    finally:
        flaky.duration = 0
    assert [p.sum for p in cloud.metrics("AWS/Lambda", "Throttles", dimensions)] == [1], (
        "reserved concurrency 1"
    )
    assert [p.sum for p in cloud.metrics("AWS/Lambda", "Duration", dimensions)[-2:]] == [2000, 2000]
    assert max(p.maximum for p in cloud.metrics("AWS/Lambda", "ConcurrentExecutions", dimensions)) == 1
    stream = cloud.physical_id("ClickStream")
    cloud.client("kinesis").put_record(StreamName=stream, Data=b"{}", PartitionKey="k")
    cloud.drain()
    (age,) = cloud.metrics("AWS/Lambda", "IteratorAge", {"FunctionName": cloud.function("Clicks").name})
    assert (age.sum, age.unit) == (5000, "Milliseconds"), "the batching window's wait"


# ---------------------------------------------------------------------------------------- alarms


def test_a_failed_order_alarms_and_the_state_change_reaches_a_rule_sns_and_the_composite(cloud):
    settle(cloud)
    assert state(cloud, "orders-failing") == "OK"
    cloud.invoke("Orders", {"fail": True})
    cloud.drain()
    assert state(cloud, "orders-failing") == "OK", "evaluated only at the end of the period"
    next_minute(cloud)
    assert state(cloud, "orders-failing") == "ALARM"
    seen = forwarded(cloud)["OnAlarmEvent"]
    (event,) = [e for e in seen if "detail-type" in e]
    (paged,) = [e for e in seen if "alarmData" in e]  # the composite's Lambda action
    assert (paged["alarmData"]["alarmName"], paged["alarmData"]["state"]["value"]) == ("orders-both", "ALARM")
    assert paged["alarmData"]["configuration"]["alarmRule"].startswith('(ALARM("arn:aws:cloudwatch:')
    arn = f"arn:aws:cloudwatch:{cloud.region}:{cloud.account}:alarm:orders-failing"
    assert (event["source"], event["detail-type"], event["resources"]) == (
        "aws.cloudwatch", "CloudWatch Alarm State Change", [arn],
    )  # fmt: skip
    detail = event["detail"]
    assert (detail["alarmName"], detail["state"]["value"], detail["previousState"]["value"]) == (
        "orders-failing", "ALARM", "OK",
    )  # fmt: skip
    assert detail["state"]["reason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [1.0")
    assert json.loads(detail["state"]["reasonData"])["recentDatapoints"] == [1.0]
    (metric,) = detail["configuration"]["metrics"]
    assert metric["metricStat"] == {
        "metric": {"namespace": "Shop", "name": "OrderFailed", "dimensions": {"service": "orders"}},
        "period": 60,
        "stat": "Sum",
    }
    messages = {m["AlarmName"]: m for m in bodies(cloud, "AlarmInbox")}
    assert set(messages) == {"orders-failing", "orders-both"}, "Lambda's Errors alarmed too: so did both"
    assert (messages["orders-failing"]["NewStateValue"], messages["orders-failing"]["OldStateValue"]) == (
        "ALARM",
        "OK",
    )
    assert messages["orders-failing"]["Trigger"]["MetricName"] == "OrderFailed"
    assert messages["orders-both"]["NewStateValue"] == "ALARM"
    next_minute(cloud)
    next_minute(cloud)
    assert bodies(cloud, "AlarmInbox") == [], "as on AWS, the last datapoint counts while in the range"
    next_minute(cloud)
    assert [m["NewStateValue"] for m in bodies(cloud, "AlarmInbox")] == ["OK"], "out of the range: OK"
    assert state(cloud, "orders-both") == "OK"
    assert "OnAlarmEvent" not in forwarded(cloud), "the rule matches ALARM only"


def test_two_of_three_periods_alarm_and_invoke_the_lambda_action(cloud):
    settle(cloud)
    cloud.invoke("Flaky", {"fail": True})
    next_minute(cloud)
    assert state(cloud, "flaky-2-of-3") == "OK", "1 of 3 breaching"
    next_minute(cloud)
    cloud.invoke("Flaky", {"fail": True})
    next_minute(cloud)
    assert state(cloud, "flaky-2-of-3") == "ALARM", "2 of the last 3, with a quiet minute between"
    (payload,) = forwarded(cloud)["OnErrorsAlarm"]
    assert (payload["source"], payload["alarmArn"].rsplit(":", 1)[-1]) == ("aws.cloudwatch", "flaky-2-of-3")
    assert payload["alarmData"]["state"]["value"] == "ALARM"
    assert payload["alarmData"]["state"]["reason"].startswith(
        "Threshold Crossed: 2 out of the last 3 datapoints"
    )


def test_metric_math_alarms_on_a_failure_rate(cloud):
    settle(cloud)
    assert state(cloud, "flaky-failure-rate") == "INSUFFICIENT_DATA", "missing data, treated as missing"
    cloud.invoke("Flaky", {})
    cloud.invoke("Flaky", {"fail": True})
    next_minute(cloud)
    assert state(cloud, "flaky-failure-rate") == "OK", "50% is not over 50"
    cloud.invoke("Flaky", {"fail": True})
    next_minute(cloud)
    assert state(cloud, "flaky-failure-rate") == "ALARM", "100%: FILL made the missing placed count 0"


def test_set_alarm_state_changes_it_at_once_and_the_next_period_decides_again(cloud):
    settle(cloud)
    watch = cloud.client("cloudwatch")
    watch.set_alarm_state(AlarmName="never-reported", StateValue="ALARM", StateReason="testing the pager")
    cloud.drain()
    assert state(cloud, "never-reported") == "ALARM"
    spans = [s for s in cloud.trace.find("alarm") if s.source == "alarm:never-reported"]
    assert (spans[-1].detail, spans[-1].data["reason"]) == ("OK -> ALARM", "testing the pager")
    next_minute(cloud)
    assert state(cloud, "never-reported") == "OK", "no data, treated as not breaching"
    with pytest.raises(ClientError):
        watch.set_alarm_state(
            AlarmName="never-reported", StateValue="ALARM", StateReason="x", StateReasonData="{no"
        )
    pager = cloud.client_as(cloud.function("OnErrorsAlarm").role_arn, "cloudwatch", "OnErrorsAlarm")
    with pytest.raises(ClientError, match="alarm:orders-failing"):
        pager.set_alarm_state(AlarmName="orders-failing", StateValue="ALARM", StateReason="not granted")
    assert state(cloud, "orders-failing") == "OK", "a refused call changes nothing"
    pager.set_alarm_state(AlarmName="never-reported", StateValue="ALARM", StateReason="granted on this alarm")
    assert state(cloud, "never-reported") == "ALARM"


def test_disabled_actions_do_not_run_and_a_deleted_alarm_is_no_longer_evaluated(cloud):
    settle(cloud)
    watch = cloud.client("cloudwatch")
    watch.disable_alarm_actions(AlarmNames=["orders-failing"])
    try:
        cloud.invoke("Orders", {"fail": True})
        next_minute(cloud)
        assert state(cloud, "orders-failing") == "ALARM"
        assert [m["AlarmName"] for m in bodies(cloud, "AlarmInbox")] == ["orders-both"], "not orders-failing"
        assert forwarded(cloud)["OnAlarmEvent"], "the state change still reaches EventBridge"
    finally:
        watch.enable_alarm_actions(AlarmNames=["orders-failing"])
    settle(cloud)
    watch.delete_alarms(AlarmNames=["never-reported"])
    watch.put_metric_data(
        Namespace="Shop",
        MetricData=[
            {"MetricName": "Never", "Value": 5, "Dimensions": [{"Name": "service", "Value": "none"}]}
        ],
    )
    before = len(cloud.trace.find("alarm"))
    next_minute(cloud)
    assert len(cloud.trace.find("alarm")) == before, "a breaching value, but no alarm left to change"
    assert watch.describe_alarms(AlarmNames=["never-reported"])["MetricAlarms"] == []


def test_what_the_local_cloud_cannot_evaluate_stops_the_stack(cloud):
    base = {
        "MetricName": "M", "Namespace": "N", "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1,
        "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold",
    }  # fmt: skip
    refusals = {
        "anomaly": {**base, "ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"},
        "M over N": {**base, "DatapointsToAlarm": 2},
        "period": {**base, "Period": 90},
        "statistic": {**base, "Statistic": "tm90"},
        "action": {**base, "AlarmActions": ["arn:aws:automate:us-east-1:ec2:stop"]},
        "both statistics": {**base, "ExtendedStatistic": "p99"},
    }
    for why, props in refusals.items():
        with pytest.raises(LocalCloudError):
            provision.alarm(cloud.kernel, "Refused", props)
            pytest.fail(f"{why} was accepted")
    with pytest.raises(LocalCloudError, match="not an alarm of the stack"):
        provision.composite_alarm(cloud.kernel, "Refused", {"AlarmRule": 'ALARM("nobody")'})
    assert "Refused" not in str(cloud.service("cloudwatch").alarms)
