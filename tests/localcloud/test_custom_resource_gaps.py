"""Custom resources that fail, and what the local cloud cannot run: each start of the stack of
:mod:`tests.localcloud.test_custom_resources` with one failing case fails provisioning with an error
that names the resource and says why (a cloud of its own each, so not beside that module's)."""

from __future__ import annotations

import pytest

from localcloud import LocalCloud, LocalCloudError
from localcloud.core import hooks
from localcloud.redeploy import redeploy
from tests.localcloud.test_custom_resources import PARAMETER, build

pytestmark = pytest.mark.localcloud


@pytest.fixture(scope="module")
def artifact(synth):
    return synth("CustomResourceSemantics", build)


def failure(artifact, case: str) -> tuple[str, LocalCloud]:
    cloud = LocalCloud(artifact, parameters={"Case": case})
    try:
        with pytest.raises(LocalCloudError) as raised:
            cloud.start()
    finally:
        cloud.stop()
    return str(raised.value), cloud


def test_a_call_the_role_may_not_make_fails_provisioning_naming_the_resource_and_call(artifact):
    message, cloud = failure(artifact, "denied")
    assert (
        message.startswith("Denied")
        and "(Custom::AWS): Create failed: SSM.putParameter: AccessDeniedException" in message
    )
    assert "is not authorized to perform: ssm:PutParameter" in message
    assert cloud.trace.find(kind="denied"), "the refusal is in the trace"


def test_an_unknown_sdk_service_is_named(artifact):
    message, _ = failure(artifact, "noservice")
    assert (
        "(Custom::AWS): the SDK service 'Teleporter' of Create is not supported by the local cloud" in message
    )


def test_a_raising_on_event_fails_provisioning_with_its_message(artifact):
    message, _ = failure(artifact, "raises")
    assert "(AWS::CloudFormation::CustomResource): Create failed: refusing size 1" in message
    assert "Logs: /aws/lambda/" in message


def test_is_complete_past_the_total_timeout_fails_on_the_virtual_clock(artifact):
    message, cloud = failure(artifact, "timeout")
    assert "Slow" in message and "(Custom::Slow): Create failed: Operation timed out" in message
    asks = [s.at for s in cloud.trace.spans if s.kind == "invoke" and "IsComplete" in s.target]
    assert len(asks) == 11 and asks[-1] - asks[0] == 300, "every 30 s for the 5 minute total timeout"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("sns", "a custom resource whose ServiceToken is arn:aws:sns:"),
        ("nodejs", "a custom resource whose handler runs on nodejs20.x is not supported"),
        (
            "plainfail",
            "PlainFails (AWS::CloudFormation::CustomResource): Create failed: the quota service said no",
        ),
        ("plainsilent", "sent no response to the ResponseURL; on AWS the stack would wait"),
        (
            "badattr",
            "Vendor response doesn't contain Colour key in object thing-w1 (its Data has: Name, Stage, Asks)",
        ),
        ("badpolicy", "Policy arn:aws:iam::aws:policy/AWSLambdaTeleport does not exist or is not attachable"),
        ("toolong", "SSM.getParameter: Response object is too long (4"),
        ("bigdata", "Big (AWS::CloudFormation::CustomResource): Create failed: Response object is too long"),
        ("unimplemented", "(Custom::AWS): the call ssm.GetCalendarState is not supported by the local cloud"),
        (
            "unmocked",
            "the call braket.SearchDevices is not supported by the local cloud: moto does not implement it",
        ),
        (
            "assumed",
            "AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/CustomResourceSemantics-LookupRole",
        ),
        ("nosuchtype", "resource type AWS::Gadget::Widget is not supported by the local cloud"),
        ("nosuchattr", "Fn::GetAtt Colour of AWS::DynamoDB::Table is not supported"),
        ("badjoin", "BadJoin: cannot resolve {'Analytics': {'Fn::Join': ['-']}}: ValueError"),
        (
            "image",
            "(AWS::Lambda::Function): this configuration of the resource is not supported by the local cloud",
        ),
    ],
)
def test_what_the_local_cloud_cannot_run_is_an_error_naming_it(artifact, case, expected):
    message, _ = failure(artifact, case)
    assert expected in message


def test_stopping_the_cloud_sends_the_deletes_newest_first(artifact):
    cloud = LocalCloud(artifact)
    cloud.start()
    table = cloud.physical_id("Things")
    try:
        cloud.kernel.service("cloudformation").tear_down()
        assert "Item" not in cloud.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "w1"}})
        assert not cloud.client("ssm").get_parameters(Names=[PARAMETER])["Parameters"]
        deletes = [
            s.target
            for s in cloud.trace.spans
            if s.kind == "custom-resource" and s.detail.startswith("Delete")
        ]
        created = [
            s.target
            for s in cloud.trace.spans
            if s.kind == "custom-resource" and s.detail.startswith("Create")
        ]
        with_deletes = [target for target in created if not target.startswith(("Read", "Tolerant"))]
        assert deletes == with_deletes[::-1], "resources with a Delete call, newest first"
    finally:
        cloud.stop()


def test_stop_sends_the_deletes_and_a_refused_one_fails_the_stop(artifact):
    cloud = LocalCloud(artifact, parameters={"Case": "baddelete"})
    cloud.start()
    with pytest.raises(LocalCloudError) as raised:
        cloud.stop()
    assert "deleting the stack's custom resources failed: Undeletable" in str(raised.value)
    assert "(Custom::AWS): Delete failed: SSM.deleteParameter: AccessDeniedException" in str(raised.value)
    deletes = [(s.target[:6], s.outcome) for s in cloud.trace.spans if s.detail.startswith("Delete")]
    assert deletes == [("Undele", "AccessDeniedException")]
    assert hooks.active() is None, "the cloud stopped all the same"


def test_a_redeploy_replaces_custom_resources_without_deleting_them(artifact):
    cloud = LocalCloud(artifact)
    cloud.start()
    successor, _ = redeploy(cloud, artifact)
    try:
        assert not [s for s in cloud.trace.spans if s.detail.startswith("Delete")]
        assert successor.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"] == "hello"
        assert successor.trace.find(kind="custom-resource"), "created again in the new cloud"
    finally:
        successor.stop()
