"""Custom resources as CloudFormation and CDK run them: ``Custom::AWS`` (AwsCustomResource) makes
its SDK call as its role, the provider framework runs Python ``on_event``/``is_complete`` on the
virtual clock, and whatever the local cloud cannot run fails provisioning naming the resource and why.

One synthesized stack holds every case; its ``Case`` parameter chooses which resources exist.
"""

from __future__ import annotations

import itertools

import pytest
from aws_cdk import (
    CfnCondition,
    CfnCustomResource,
    CfnOutput,
    CfnParameter,
    CfnResource,
    CustomResource,
    Duration,
    Fn,
    Stack,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import custom_resources as cr

from localcloud import LocalCloud
from tests.localcloud.conftest import pk_table, python_function

pytestmark = pytest.mark.localcloud

PARAMETER = "/custom-resources/greeting"
ANY = cr.AwsCustomResourcePolicy.ANY_RESOURCE


def build(stack: Stack) -> None:
    case = CfnParameter(stack, "Case", default="ok")

    def only(name: str, *constructs, condition: CfnCondition | None = None) -> CfnCondition:
        """Make ``constructs`` exist only for this ``Case`` (or under ``condition``)."""
        if condition is None:
            condition = CfnCondition(
                stack, f"Is{name}", expression=Fn.condition_equals(case.value_as_string, name)
            )
        for construct in constructs:
            for child in construct.node.find_all():
                if isinstance(child, CfnResource):
                    child.cfn_options.condition = condition
        return condition

    table = pk_table(stack, "Things")
    on_event = python_function(
        stack, "OnEvent", "custom_provider", "handler.on_event", environment={"TABLE": table.table_name}
    )
    is_complete = python_function(
        stack, "IsComplete", "custom_provider", "handler.is_complete", environment={"TABLE": table.table_name}
    )
    table.grant_read_write_data(on_event)
    table.grant_read_write_data(is_complete)
    provider = cr.Provider(
        stack,
        "Provider",
        on_event_handler=on_event,
        is_complete_handler=is_complete,
        query_interval=Duration.seconds(30),
        total_timeout=Duration.minutes(5),
    )

    # The working case.
    seed = cr.AwsCustomResource(
        stack,
        "Seed",
        on_create=cr.AwsSdkCall(
            service="SSM",
            action="putParameter",
            parameters={"Name": PARAMETER, "Value": "hello", "Type": "String"},
            physical_resource_id=cr.PhysicalResourceId.from_response("Version"),
        ),
        on_delete=cr.AwsSdkCall(service="SSM", action="deleteParameter", parameters={"Name": PARAMETER}),
        policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=ANY),
    )
    read = cr.AwsCustomResource(
        stack,
        "Read",
        on_create=cr.AwsSdkCall(
            service="@aws-sdk/client-ssm",
            action="GetParameterCommand",
            parameters={"Name": PARAMETER},
            physical_resource_id=cr.PhysicalResourceId.of("read-greeting"),
            output_paths=["Parameter.Value", "Parameter.Version"],
        ),
        policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=ANY),
    )
    read.node.add_dependency(seed)
    tolerant = cr.AwsCustomResource(
        stack,
        "Tolerant",
        on_create=cr.AwsSdkCall(
            service="SSM",
            action="deleteParameter",
            parameters={"Name": "/never/there"},
            physical_resource_id=cr.PhysicalResourceId.of("tolerant"),
            ignore_error_codes_matching="ParameterNot.*",
        ),
        policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=ANY),
    )
    widget = CustomResource(
        stack,
        "Widget",
        service_token=provider.service_token,
        resource_type="Custom::Widget",
        properties={"Name": "w1", "Size": 3},
    )
    plain_handler = python_function(stack, "PlainHandler", "custom_plain")
    plain = CustomResource(
        stack, "Plain", service_token=plain_handler.function_arn, properties={"Mode": "ok"}
    )
    executor = iam.Role(
        stack,
        "Executor",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AWSLambdaExecute")],
    )
    ok = only("ok", seed, read, tolerant, executor, plain)
    bad_attribute = only("badattr")
    only(
        "widget",
        widget,
        condition=CfnCondition(stack, "HasWidget", expression=Fn.condition_or(ok, bad_attribute)),
    )
    for name, value in {
        "Greeting": read.get_response_field("Parameter.Value"),
        "SeedId": seed.get_response_field("Version"),
        "WidgetName": widget.get_att_string("Name"),
        "WidgetStage": widget.get_att_string("Stage"),
        "WidgetAsks": widget.get_att_string("Asks"),
        "WidgetRef": widget.ref,
        "ExecutorArn": executor.role_arn,
        "PlainId": plain.ref,
        "PlainSeen": plain.get_att_string("Seen"),
    }.items():
        CfnOutput(stack, name, value=value).condition = ok

    # The failing cases, one per value of Case.
    only(
        "denied",
        cr.AwsCustomResource(
            stack,
            "Denied",
            on_create=cr.AwsSdkCall(
                service="SSM",
                action="putParameter",
                parameters={"Name": "/denied", "Value": "x", "Type": "String"},
                physical_resource_id=cr.PhysicalResourceId.of("denied"),
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["ssm:GetParameter"], resources=["*"])]
            ),
        ),
    )
    only(
        "baddelete",
        cr.AwsCustomResource(
            stack,
            "Undeletable",
            on_create=cr.AwsSdkCall(
                service="SSM",
                action="putParameter",
                parameters={"Name": "/kept", "Value": "x", "Type": "String"},
                physical_resource_id=cr.PhysicalResourceId.of("kept"),
            ),
            on_delete=cr.AwsSdkCall(service="SSM", action="deleteParameter", parameters={"Name": "/kept"}),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["ssm:PutParameter"], resources=["*"])]
            ),
        ),
    )
    long_value = cr.AwsCustomResource(
        stack,
        "LongValue",
        on_create=cr.AwsSdkCall(
            service="SSM",
            action="putParameter",
            parameters={"Name": "/long", "Value": "x" * 4000, "Type": "String"},
            physical_resource_id=cr.PhysicalResourceId.of("long"),
        ),
        policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=ANY),
    )
    read_long = cr.AwsCustomResource(
        stack,
        "ReadLong",
        on_create=cr.AwsSdkCall(
            service="SSM",
            action="getParameter",
            parameters={"Name": "/long"},
            physical_resource_id=cr.PhysicalResourceId.of("read-long"),
        ),
        policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=ANY),
    )
    read_long.node.add_dependency(long_value)
    only("toolong", long_value, read_long)
    big = CustomResource(
        stack, "Big", service_token=provider.service_token, properties={"Name": "big", "Size": 1, "Pad": 4100}
    )
    only("bigdata", big)
    for name, service, action, parameters in (
        ("unimplemented", "SSM", "getCalendarState", {"CalendarNames": ["holidays"]}),
        ("unmocked", "Braket", "searchDevices", {"filters": []}),
    ):
        only(
            name,
            cr.AwsCustomResource(
                stack,
                name.title(),
                on_create=cr.AwsSdkCall(
                    service=service,
                    action=action,
                    parameters=parameters,
                    physical_resource_id=cr.PhysicalResourceId.of(name),
                    ignore_error_codes_matching=".*",
                ),
                policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=ANY),
            ),
        )
    lookup_role = iam.Role(stack, "LookupRole", assumed_by=iam.AccountRootPrincipal())
    only(
        "assumed",
        lookup_role,
        cr.AwsCustomResource(
            stack,
            "AsLookupRole",
            on_create=cr.AwsSdkCall(
                service="SSM",
                action="getParameter",
                parameters={"Name": PARAMETER},
                physical_resource_id=cr.PhysicalResourceId.of("as-lookup-role"),
                assumed_role_arn=lookup_role.role_arn,
            ),
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=ANY),
        ),
    )
    only(
        "noservice",
        cr.AwsCustomResource(
            stack,
            "NoService",
            on_create=cr.AwsSdkCall(
                service="Teleporter", action="beamUp", physical_resource_id=cr.PhysicalResourceId.of("x")
            ),
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=ANY),
        ),
    )
    only(
        "raises",
        CustomResource(
            stack,
            "Raises",
            service_token=provider.service_token,
            properties={"Name": "r", "Size": 1, "Fail": "size 1"},
        ),
    )
    only(
        "timeout",
        CustomResource(
            stack,
            "Slow",
            service_token=provider.service_token,
            resource_type="Custom::Slow",
            properties={"Name": "slow", "Size": 1, "Never": True},
        ),
    )
    only("sns", CfnCustomResource(stack, "ViaTopic", service_token=sns.Topic(stack, "Requests").topic_arn))
    node_handler = lambda_.Function(
        stack,
        "NodeHandler",
        runtime=lambda_.Runtime.NODEJS_20_X,
        handler="index.handler",
        code=lambda_.Code.from_inline("exports.handler = async () => ({})"),
    )
    only("nodejs", CustomResource(stack, "ViaNode", service_token=node_handler.function_arn))
    only(
        "plainfail",
        CustomResource(
            stack, "PlainFails", service_token=plain_handler.function_arn, properties={"Mode": "fail"}
        ),
    )
    only(
        "plainsilent",
        CustomResource(
            stack, "PlainSilent", service_token=plain_handler.function_arn, properties={"Mode": "silent"}
        ),
    )
    CfnOutput(stack, "Missing", value=widget.get_att_string("Colour")).condition = bad_attribute
    only(
        "badpolicy",
        iam.Role(
            stack,
            "Unknown",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AWSLambdaTeleport")],
        ),
    )
    CfnOutput(
        stack, "NoSuchAttribute", value=Fn.get_att(table.node.default_child.logical_id, "Colour").to_string()
    ).condition = only("nosuchattr")
    only(
        "badjoin",
        CfnResource(
            stack, "BadJoin", type="AWS::CDK::Metadata", properties={"Analytics": {"Fn::Join": ["-"]}}
        ),
    )
    only(
        "image",
        lambda_.CfnFunction(
            stack,
            "FromImage",
            package_type="Image",
            code=lambda_.CfnFunction.CodeProperty(
                image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"
            ),
            role=on_event.role.role_arn,
        ),
    )
    only("nosuchtype", CfnResource(stack, "Gadget", type="AWS::Gadget::Widget", properties={"Size": 1}))


@pytest.fixture(scope="module")
def artifact(synth):
    return synth("CustomResourceSemantics", build)


@pytest.fixture(scope="module")
def cloud(artifact):
    with LocalCloud(artifact) as running:
        yield running


def test_an_sdk_call_runs_as_its_role_and_its_response_is_the_resource(cloud):
    ssm = cloud.client("ssm")
    assert ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == "hello"
    assert cloud.outputs["Greeting"] == "hello", "v3 package and command names, outputPaths, Fn::GetAtt"
    assert cloud.physical_id("Seed/Resource/Default") == "1", "PhysicalResourceId.from_response('Version')"
    assert cloud.outputs["SeedId"] == 1
    assert cloud.resources[cloud.kernel.logical_id("Read/Resource/Default")].attributes == {
        "Parameter.Value": "hello",
        "Parameter.Version": 1,
    }, "only the outputPaths are kept"
    tolerant = cloud.resources[cloud.kernel.logical_id("Tolerant/Resource/Default")]
    assert tolerant.attributes == {}, "an ignored error leaves no response"
    seeded = cloud.resources[cloud.kernel.logical_id("Seed/Resource/Default")].attributes
    assert (seeded["region"], seeded["$metadata.httpStatusCode"], seeded["Tier"]) == (
        "us-east-1",
        200,
        "Standard",
    )
    calls = [s for s in cloud.trace.spans if s.kind == "custom-resource"]
    assert {(s.target[:4], s.detail, s.outcome) for s in calls} == {
        ("Seed", "Create ssm.PutParameter", "ok"),
        ("Read", "Create ssm.GetParameter", "ok"),
        ("Tole", "Create ssm.DeleteParameter", "ignored ParameterNotFound"),
        ("Widg", "Create Custom::Widget", "ok"),
        ("Plai", "Create AWS::CloudFormation::CustomResource", "ok"),
    }, "ignoreErrorCodesMatching lets ParameterNotFound pass"


def test_the_provider_framework_runs_on_event_then_is_complete_on_the_virtual_clock(cloud):
    item = cloud.client("dynamodb").get_item(TableName=cloud.physical_id("Things"), Key={"pk": {"S": "w1"}})[
        "Item"
    ]
    seen = item["seen"]["M"]
    assert seen["RequestType"]["S"] == "Create"
    assert seen["ResourceType"]["S"] == "Custom::Widget"
    assert seen["LogicalResourceId"]["S"].startswith("Widget")
    assert seen["ResourceProperties"]["M"]["Size"] == {"S": "3"}, "CloudFormation sends numbers as strings"
    assert {"StackId", "RequestId", "ResponseURL", "ServiceToken"} <= set(seen)
    asked = [int(n["N"]) for n in item["asked"]["L"]]
    assert [b - a for a, b in itertools.pairwise(asked)] == [30, 30], "asked at the query interval"
    assert cloud.outputs["WidgetRef"] == "thing-w1"
    assert (cloud.outputs["WidgetName"], cloud.outputs["WidgetStage"], cloud.outputs["WidgetAsks"]) == (
        "w1",
        "ready",
        "3",
    ), "is_complete's Data merges over on_event's"


def test_an_aws_managed_policy_is_evaluated_with_its_real_document(cloud):
    role = cloud.outputs["ExecutorArn"]
    assert cloud.iam.decide(role, "s3:GetObject", "arn:aws:s3:::any-bucket/key").allowed
    assert cloud.iam.decide(
        role, "logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:g"
    ).allowed
    assert not cloud.iam.decide(role, "s3:DeleteObject", "arn:aws:s3:::any-bucket/key").allowed


def test_a_plain_python_function_answers_through_the_response_url(cloud):
    assert cloud.outputs["PlainId"] == "plain-Plain"
    assert cloud.outputs["PlainSeen"] == "Create"
