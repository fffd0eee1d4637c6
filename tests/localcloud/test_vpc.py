"""VPCs: provisioned as CDK writes them, and the network's version of the IAM check. A function in a
VPC reaches an AWS API only along a route (gateway endpoint, interface endpoint, NAT) its security
groups allow, and a listener only where both sides' security groups allow the port; otherwise its
connection times out on the virtual clock and the trace names the missing rule."""

from __future__ import annotations

import json

import pytest
from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs

from localcloud.core.network import ConnectTimedOut
from localcloud.errors import InvalidRequest, LocalCloudError
from localcloud.services.ec2 import provision
from localcloud.testing import cloud_for
from tests.localcloud.conftest import pk_table, python_function

pytestmark = pytest.mark.localcloud

DB_PORT = 5432


def build_network(stack: Stack) -> None:
    stack.node.set_context("@aws-cdk/aws-ec2:restrictDefaultSecurityGroup", True)
    table = pk_table(stack, "Table")
    queue = sqs.Queue(stack, "Queue")
    secret = secretsmanager.Secret(stack, "Secret")
    environment = {"TABLE": table.table_name, "QUEUE": queue.queue_url, "SECRET": secret.secret_arn}

    def caller(name: str, **kwargs) -> None:
        function = python_function(stack, name, "vpc_caller", environment=environment, **kwargs)
        table.grant_read_write_data(function)
        queue.grant_send_messages(function)
        secret.grant_read(function)

    # CDK's default: 2 AZs, a public and a private subnet in each, a NAT gateway per AZ.
    default = ec2.Vpc(stack, "Default")
    # No NAT and no internet: only a DynamoDB gateway endpoint and a Secrets Manager interface endpoint.
    isolated = ec2.Vpc(
        stack,
        "Isolated",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="App", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
        ],
    )
    dynamo = isolated.add_gateway_endpoint("Dynamo", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
    dynamo.add_to_policy(
        iam.PolicyStatement(
            principals=[iam.AnyPrincipal()], actions=["dynamodb:PutItem"], resources=[table.table_arn]
        )
    )
    dynamo.add_to_policy(
        iam.PolicyStatement(
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["dynamodb:DeleteItem"],
            resources=[table.table_arn],
        )
    )
    isolated.add_interface_endpoint("Secrets", service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER)
    app_group = ec2.SecurityGroup(stack, "AppGroup", vpc=isolated, allow_all_outbound=False)
    app_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443))
    db_group = ec2.SecurityGroup(stack, "DbGroup", vpc=isolated)
    # Between two groups CDK writes AWS::EC2::SecurityGroupEgress and ...Ingress resources.
    app_group.connections.allow_to(db_group, ec2.Port.tcp(DB_PORT))
    closed = ec2.SecurityGroup(stack, "ClosedGroup", vpc=isolated, allow_all_outbound=False)

    caller("Outside")
    caller("BehindNat", vpc=default)
    caller(
        "InPublic",
        vpc=default,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
        allow_public_subnet=True,
    )
    caller("App", vpc=isolated, security_groups=[app_group])
    caller("Closed", vpc=isolated, security_groups=[closed])
    caller("Wide", vpc=isolated)  # its own group, all outbound allowed; the database does not let it in
    # Its failed async events go to the queue, which its subnets have no route to (no SQS endpoint).
    failures = sqs.Queue(stack, "Failures")
    caller(
        "Failing",
        vpc=isolated,
        security_groups=[app_group],
        retry_attempts=0,
        on_failure=destinations.SqsDestination(failures),
    )
    CfnOutput(stack, "FailuresUrl", value=failures.queue_url)
    CfnOutput(stack, "DefaultVpcId", value=default.vpc_id)
    CfnOutput(stack, "DefaultCidr", value=default.vpc_cidr_block)
    CfnOutput(stack, "DefaultGroup", value=default.vpc_default_security_group)
    CfnOutput(stack, "FirstZone", value=default.private_subnets[0].availability_zone)
    CfnOutput(stack, "DbGroupId", value=db_group.security_group_id)
    CfnOutput(stack, "DbSubnets", value=",".join(s.subnet_id for s in isolated.isolated_subnets))


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    from aws_cdk import App

    from patterns.stack import SYNTH_METADATA

    app = App(outdir=str(tmp_path_factory.mktemp("cdk-vpc")), context=SYNTH_METADATA)
    build_network(Stack(app, "VpcSemantics"))
    with cloud_for(app, "VpcSemantics") as running:
        running.kernel.network.listen(
            "Db", DB_PORT, running.outputs["DbSubnets"].split(","), [running.outputs["DbGroupId"]]
        )
        yield running


def call(cloud, function: str, service: str, **event) -> dict:
    return cloud.invoke(function, {"service": service, **event})["Payload"]


def timeouts(cloud) -> list:
    return cloud.trace.find("timeout", outcome="ConnectTimeout")


# ---------------------------------------------------------------------------------------- provisioning


def test_cdks_default_vpc_provisions_with_its_attributes(cloud):
    ec2_client = cloud.client("ec2")
    vpc_id = cloud.outputs["DefaultVpcId"]
    assert cloud.outputs["DefaultCidr"] == "10.0.0.0/16"
    subnets = ec2_client.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    assert sorted(s["CidrBlock"] for s in subnets) == [
        "10.0.0.0/18",
        "10.0.128.0/18",
        "10.0.192.0/18",
        "10.0.64.0/18",
    ]
    assert cloud.outputs["FirstZone"] == "us-east-1a"
    nats = ec2_client.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NatGateways"]
    assert len(nats) == 2
    # The feature flag's custom resource leaves the default security group without any rule.
    default = ec2_client.describe_security_groups(GroupIds=[cloud.outputs["DefaultGroup"]])["SecurityGroups"][
        0
    ]
    assert default["GroupName"] == "default" and default["VpcId"] == vpc_id
    assert default["IpPermissions"] == [] and default["IpPermissionsEgress"] == []


def test_separate_rule_resources_and_a_closed_group_are_provisioned(cloud):
    ec2_client = cloud.client("ec2")
    db = ec2_client.describe_security_groups(GroupIds=[cloud.outputs["DbGroupId"]])["SecurityGroups"][0]
    assert [(p["FromPort"], len(p["UserIdGroupPairs"])) for p in db["IpPermissions"]] == [(DB_PORT, 1)]
    closed = ec2_client.describe_security_groups(GroupIds=[cloud.physical_id("ClosedGroup")])[
        "SecurityGroups"
    ][0]
    # CDK's "disallow all traffic" stand-in replaces the default allow-all egress rule.
    assert [r["IpRanges"][0]["CidrIp"] for r in closed["IpPermissionsEgress"]] == ["255.255.255.255/32"]


# ---------------------------------------------------------------------------------------- AWS APIs


def test_a_function_outside_any_vpc_reaches_every_api(cloud):
    for service in ("dynamodb", "sqs", "secretsmanager"):
        assert call(cloud, "Outside", service) == {"ok": True}


def test_a_private_subnet_with_a_nat_reaches_every_api(cloud):
    for service in ("dynamodb", "sqs", "secretsmanager"):
        assert call(cloud, "BehindNat", service) == {"ok": True}


def test_a_gateway_endpoint_carries_dynamodb_and_an_interface_endpoint_secrets(cloud):
    assert call(cloud, "App", "dynamodb") == {"ok": True}
    assert call(cloud, "App", "secretsmanager") == {"ok": True}


def queued(cloud) -> str:
    attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=cloud.physical_id("Queue"), AttributeNames=["ApproximateNumberOfMessages"]
    )
    return attributes["Attributes"]["ApproximateNumberOfMessages"]


def test_a_call_the_endpoint_policy_does_not_allow_is_denied(cloud):
    answer = call(cloud, "App", "dynamodb_get")
    assert answer["error"] == "ClientError"
    assert (
        "is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:" in answer["message"]
    )
    assert answer["message"].endswith("because no VPC endpoint policy allows the dynamodb:GetItem action")
    endpoint = cloud.physical_id("Isolated/Dynamo")
    assert cloud.trace.find("denied")[-1].detail.endswith(f"through {endpoint}")
    # The role allows it: the same call without the endpoint in the way succeeds.
    assert call(cloud, "BehindNat", "dynamodb_get") == {"ok": True}


def test_a_call_the_endpoint_policy_denies_is_denied_in_awss_words_for_a_deny(cloud):
    answer = call(cloud, "App", "dynamodb_delete")
    assert answer["error"] == "ClientError"
    assert (
        "is not authorized to perform: dynamodb:DeleteItem on resource: arn:aws:dynamodb:"
        in answer["message"]
    )
    assert answer["message"].endswith(" with an explicit deny in a VPC endpoint policy")
    assert call(cloud, "BehindNat", "dynamodb_delete") == {"ok": True}


def test_no_endpoint_and_no_nat_times_out_naming_the_missing_route(cloud):
    before, messages = len(timeouts(cloud)), queued(cloud)
    answer = call(cloud, "App", "sqs")
    assert answer["error"] == "ConnectTimeoutError"
    assert answer["message"] == 'Connect timeout on endpoint URL: "https://sqs.us-east-1.amazonaws.com"'
    [span] = timeouts(cloud)[before:]
    assert span.target == "sqs" and "has no route to sqs: add an interface endpoint or a NAT" in span.detail
    assert queued(cloud) == messages


def test_the_timeout_takes_the_clients_connect_timeout_on_each_attempt(cloud):
    before = len(timeouts(cloud))
    call(cloud, "App", "sqs")  # botocore's defaults: 60 s, 3 attempts
    call(cloud, "App", "sqs", connect_timeout=5)  # one attempt of 5 s
    default, short = timeouts(cloud)[before:]
    invocations = [s for s in cloud.trace.find("invoke") if s.id in (default.parent, short.parent)]
    assert [round(t.at - i.at, 3) for t, i in zip((default, short), invocations, strict=True)] == [180.0, 5.0]
    assert "(3 x 60s connect timeout)" in default.detail and "(1 x 5s connect timeout)" in short.detail


def test_a_group_without_egress_times_out_naming_the_group(cloud):
    group = cloud.physical_id("ClosedGroup")
    answer = call(cloud, "Closed", "dynamodb")
    assert answer["error"] == "ConnectTimeoutError"
    assert (
        f"VpcSemantics/Closed's security group {group} has no egress to 443 for dynamodb"
        in timeouts(cloud)[-1].detail
    )
    assert call(cloud, "Closed", "secretsmanager")["error"] == "ConnectTimeoutError"
    assert f"{group} has no egress to 443 of the secretsmanager endpoint" in timeouts(cloud)[-1].detail


def test_a_public_subnet_gives_a_function_no_way_out(cloud):
    assert call(cloud, "InPublic", "dynamodb")["error"] == "ConnectTimeoutError"
    assert "a function's network interface has no public IP" in timeouts(cloud)[-1].detail


def test_an_endpoint_whose_group_refuses_443_times_out_until_the_rule_is_back(cloud):
    ec2_client = cloud.client("ec2")
    endpoint = ec2_client.describe_vpc_endpoints(
        Filters=[{"Name": "service-name", "Values": ["com.amazonaws.us-east-1.secretsmanager"]}]
    )["VpcEndpoints"][0]
    group = endpoint["Groups"][0]["GroupId"]
    rules = ec2_client.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    ec2_client.revoke_security_group_ingress(GroupId=group, IpPermissions=rules)
    try:
        assert call(cloud, "App", "secretsmanager")["error"] == "ConnectTimeoutError"
        assert (
            f"{endpoint['VpcEndpointId']}'s security group {group} has no ingress on 443"
            in timeouts(cloud)[-1].detail
        )
    finally:
        ec2_client.authorize_security_group_ingress(GroupId=group, IpPermissions=rules)
    assert call(cloud, "App", "secretsmanager") == {"ok": True}


def test_lambda_delivers_a_vpc_function_s_failed_event_from_outside_its_subnets(cloud):
    """Lambda's service sends the invocation record, not the function: no route from the function's
    subnets to SQS is needed (the function itself could not reach it), the role's grant still is."""
    before = len(timeouts(cloud))
    cloud.client("lambda").invoke(
        FunctionName=cloud.function("Failing").name, InvocationType="Event", Payload=b"{}"
    )
    cloud.drain()
    [message] = cloud.client("sqs").receive_message(QueueUrl=cloud.outputs["FailuresUrl"])["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responsePayload"]["errorType"] == "KeyError"
    assert timeouts(cloud)[before:] == []


def test_the_test_itself_and_lambdas_own_calls_are_not_placed(cloud):
    cloud.client("sqs").send_message(QueueUrl=cloud.physical_id("Queue"), MessageBody="from the test")
    call(cloud, "App", "dynamodb")
    assert cloud.dropped("logs") == []


# ---------------------------------------------------------------------------------------- listeners


def connect(cloud, function: str, port: int = DB_PORT) -> None:
    cloud.kernel.network.connect("Db", port, timeout=10, source=cloud.function(function).name)


def test_security_groups_that_allow_the_port_let_the_connection_through(cloud):
    connect(cloud, "App")


def test_the_wrong_port_times_out_naming_the_egress(cloud):
    with pytest.raises(ConnectTimedOut, match="has no egress to 3306 of Db") as timed_out:
        connect(cloud, "App", 3306)
    assert timed_out.value.waited == 10


def test_a_listener_without_ingress_from_the_caller_times_out(cloud):
    with pytest.raises(
        ConnectTimedOut, match=r"Db's security group sg-\w+ has no ingress on 5432 from VpcSemantics/Wide"
    ):
        connect(cloud, "Wide")


def test_a_listener_in_a_vpc_is_private_to_functions_outside(cloud):
    with pytest.raises(ConnectTimedOut, match="Db is private to its VPC"):
        connect(cloud, "Outside")


def test_a_port_the_groups_allow_but_nothing_listens_on_is_refused(cloud):
    network = cloud.kernel.network
    network.listen("Other", 6379, cloud.outputs["DbSubnets"].split(","), [cloud.outputs["DbGroupId"]])
    with pytest.raises(ConnectionRefusedError, match="accepts connections on port 6379, not 5432"):
        network.connect("Other", DB_PORT, timeout=10, source=cloud.function("App").name)


def test_a_role_that_may_not_manage_network_interfaces_cannot_join_a_vpc(cloud):
    outside = cloud.function("Outside")
    config = {
        "SubnetIds": cloud.outputs["DbSubnets"].split(","),
        "SecurityGroupIds": [cloud.outputs["DbGroupId"]],
    }
    with pytest.raises(
        InvalidRequest, match="does not have permissions to call CreateNetworkInterface on EC2"
    ):
        cloud.kernel.network.place("someone", outside.role_arn, "Someone", config)


def test_a_vpc_config_spanning_two_vpcs_is_refused(cloud):
    app = cloud.function("App")
    other_vpc_subnet = cloud.client("ec2").describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [cloud.outputs["DefaultVpcId"]]}]
    )["Subnets"][0]["SubnetId"]
    config = {
        "SubnetIds": [cloud.outputs["DbSubnets"].split(",")[0], other_vpc_subnet],
        "SecurityGroupIds": [cloud.outputs["DbGroupId"]],
    }
    with pytest.raises(InvalidRequest, match="must all be in one VPC"):
        cloud.kernel.network.place("someone", app.role_arn, "Someone", config)


def test_a_rule_property_the_local_cloud_cannot_honour_is_an_error_naming_it(cloud):
    rule = {"GroupId": cloud.outputs["DbGroupId"], "IpProtocol": "tcp", "FromPort": 1, "ToPort": 1}
    with pytest.raises(LocalCloudError, match="Bad: security group rule properties SourceSecurityGroupName"):
        provision.security_group_ingress(cloud.kernel, "Bad", {**rule, "SourceSecurityGroupName": "classic"})


def test_a_public_listener_takes_callers_outside_the_vpc_only_from_anywhere(cloud):
    network, group = cloud.kernel.network, cloud.outputs["DbGroupId"]
    network.listen("PublicDb", DB_PORT, cloud.outputs["DbSubnets"].split(","), [group], public=True)
    outside = cloud.function("Outside").name
    with pytest.raises(
        ConnectTimedOut, match=f"PublicDb's security group {group} has no ingress on 5432 from 0.0.0.0/0"
    ):
        network.connect("PublicDb", DB_PORT, timeout=10, source=outside)
    anywhere = [
        {"IpProtocol": "tcp", "FromPort": DB_PORT, "ToPort": DB_PORT, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ]
    cloud.client("ec2").authorize_security_group_ingress(GroupId=group, IpPermissions=anywhere)
    try:
        network.connect("PublicDb", DB_PORT, timeout=10, source=outside)
    finally:
        cloud.client("ec2").revoke_security_group_ingress(GroupId=group, IpPermissions=anywhere)
