"""Read Heavy Reporting: cache-aside Redis (ElastiCache Valkey) in front of Aurora PostgreSQL.

A report reader answers from the cache, or on a miss from PostgreSQL, then caches the answer for a
TTL. A sale recorder writes PostgreSQL and puts ``SaleRecorded`` on an event bus, whose rule invokes
an invalidator that deletes the region's cached report: the TTL bounds staleness when an event is
lost, the event keeps reports fresh when it is not. Functions keep their connections across
invocations (``functions/read_heavy_reporting/connections.py``) and migrate the schema on their
first connection.

Everything sits in a VPC with no internet route: each function has a security group of its own,
and reaches the database and the cache only through the rules this construct adds (the reader:
both; the recorder: the database; the invalidator: the cache), and Secrets Manager and EventBridge
through interface endpoints.

The handlers need psycopg and redis-py: :class:`DependenciesLayer` builds them into a layer for the
functions' architecture with pip's ``--platform`` wheels, no Docker. An unstaged synth (``cdk synth
--no-staging``, what the local cloud runs) ships the requirements file only, and the interpreter
running the handlers brings the same pinned packages.

Example::

    reports = ReadHeavyReporting(self, "Reports", cache_ttl=Duration.minutes(10))
    reports.database.connections.allow_default_port_from(my_loader_fn)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, Duration, ILocalBundling, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from constructs import Construct

from .defaults import (
    ARCHITECTURE,
    RUNTIME,
    CodeLocation,
    PatternFunction,
    Props,
    acknowledge,
    async_failure_destination,
    failure_queue,
    merge_props,
    pattern_function_props,
    resolve_code_dir,
)

DEFAULT_CACHE_TTL = Duration.minutes(5)
DEFAULT_MIN_ACU = 0.5
DEFAULT_MAX_ACU = 2
DEFAULT_CACHE_NODE_TYPE = "cache.t4g.micro"
REQUIREMENTS = "requirements.txt"
SYNC_INVOKED = "Invoked synchronously (RequestResponse): an error returns to the caller, there is no async event to keep."
#: pip's platform tag for Lambda's Amazon Linux 2023 runtimes (glibc 2.34), by architecture: psycopg-binary
#: 3.3 ships manylinux_2_28 wheels only, and pip takes older manylinux tags (redis-py's pure wheel) too.
PIP_PLATFORMS = {"arm64": "manylinux_2_28_aarch64", "x86_64": "manylinux_2_28_x86_64"}
UNSTAGED = "aws:cdk:disable-asset-staging"
#: What Lambda needs from a function's role to place it in a VPC, and nothing else (no logs on "*").
NETWORK_INTERFACE_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
)


def pip_command(
    requirements: Path, target: Path, runtime: lambda_.Runtime, architecture: lambda_.Architecture
):
    """pip installing ``requirements`` into ``target`` as wheels for the Lambda platform, not this machine's."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        runtime.name.removeprefix("python"),
        "--platform",
        PIP_PLATFORMS[architecture.name],
        "--target",
        str(target),
        "-r",
        str(requirements),
    ]


@jsii.implements(ILocalBundling)
class _PipBundler:
    """Installs the requirements' Lambda-platform wheels into ``python/`` (where the runtime looks)."""

    def __init__(
        self, source: Path, runtime: lambda_.Runtime, architecture: lambda_.Architecture, unstaged: bool
    ) -> None:
        self.source, self.runtime, self.architecture, self.unstaged = source, runtime, architecture, unstaged

    def try_bundle(self, output_dir: str, _options: Any) -> bool:
        output = Path(output_dir)
        shutil.copy(self.source / REQUIREMENTS, output / REQUIREMENTS)
        if not self.unstaged:
            command = pip_command(
                self.source / REQUIREMENTS, output / "python", self.runtime, self.architecture
            )
            subprocess.run(command, check=True)  # noqa: S603 (our own pip, our own arguments)
        return True


class DependenciesLayer(lambda_.LayerVersion):
    """The ``requirements.txt`` of ``code_dir`` as a layer for one Python runtime and architecture."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code_dir: CodeLocation,
        runtime: lambda_.Runtime = RUNTIME,
        architecture: lambda_.Architecture = ARCHITECTURE,
    ) -> None:
        if isinstance(code_dir, lambda_.Code):
            raise ValueError(
                f"{construct_id}: the dependencies layer reads {REQUIREMENTS} from code_dir: give a folder"
            )
        source = resolve_code_dir(code_dir)
        if not (source / REQUIREMENTS).is_file():
            raise ValueError(f"{construct_id}: no {REQUIREMENTS} in {source}")
        unstaged = bool(scope.node.try_get_context(UNSTAGED))
        super().__init__(
            scope,
            construct_id,
            code=lambda_.Code.from_asset(
                str(source),
                exclude=["*", f"!{REQUIREMENTS}"],
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=f"{(source / REQUIREMENTS).read_text()}|{runtime.name}|{architecture.name}|{unstaged}",
                bundling=BundlingOptions(
                    image=DockerImage.from_registry("scratch"),
                    local=_PipBundler(source, runtime, architecture, unstaged),
                ),
            ),
            compatible_runtimes=[runtime],
            compatible_architectures=[architecture],
            description=f"The {REQUIREMENTS} of {source.name} for {runtime.name} on {architecture.name}",
        )


def isolated_vpc(scope: Construct, construct_id: str = "Vpc") -> ec2.Vpc:
    """A VPC of two isolated subnets, no internet route and no NAT: its flows stay between security groups."""
    vpc = ec2.Vpc(
        scope,
        construct_id,
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="Data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    acknowledge(
        vpc,
        "AwsSolutions-VPC7",
        "No internet route and every flow is between this pattern's own security groups; add "
        "flow logs (vpc.add_flow_log) where your network policy asks for them.",
    )
    return vpc


def acknowledge_cluster(cluster: rds.DatabaseCluster, clients: str) -> None:
    """The cdk-nag findings a pattern's cluster keeps, with why; ``clients`` says whose groups reach it."""
    for rule, reason in (
        ("AwsSolutions-RDS6", "The functions authenticate with the cluster's generated secret."),
        ("AwsSolutions-RDS10", "A pattern stack to try and destroy; turn deletion_protection on in yours."),
        ("AwsSolutions-RDS11", f"The port is reached only from {clients} security groups."),
        (
            "AwsSolutions-SMG4",
            "Rotating the secret needs a rotation function; add one with add_rotation_single_user.",
        ),
    ):
        acknowledge(cluster, rule, reason)
    if cluster.secret is not None:
        acknowledge(
            cluster.secret, "AwsSolutions-SMG4", "Rotation is left to the user (add_rotation_single_user)."
        )


def grant_network_interfaces(scope: Construct, construct_id: str, function: lambda_.Function) -> iam.Policy:
    """What Lambda needs from ``function``'s role to attach it to its subnets (:data:`NETWORK_INTERFACE_ACTIONS`)."""
    network = iam.Policy(
        scope,
        construct_id,
        statements=[iam.PolicyStatement(actions=list(NETWORK_INTERFACE_ACTIONS), resources=["*"])],
    )
    assert function.role is not None
    network.attach_to_role(function.role)
    function.node.add_dependency(network)
    acknowledge(
        network,
        "AwsSolutions-IAM5",
        "Lambda checks the network-interface actions on '*' when it attaches the function to its "
        "subnets; AWS's AWSLambdaVPCAccessExecutionRole would also grant logs on every group.",
        applies_to="Resource::*",
    )
    return network


class ReadHeavyReporting(Construct):
    """Sales reports read through a cache, kept fresh by events, over Aurora PostgreSQL.

    :param cache_ttl: how long a cached report lives without an invalidation (5 minutes).
    :param min_capacity: the cluster's Serverless v2 minimum ACUs (0.5): what it costs at idle.
    :param max_capacity: its maximum ACUs (2).
    :param cache_node_type: the Valkey node (``cache.t4g.micro``).
    :param vpc: a VPC with isolated (or private) subnets; one with two isolated subnets is made if omitted.
    :param database_props: ``rds.DatabaseCluster`` props merged over the defaults.
    :param functions_props: ``PatternFunction`` props of the three functions; ``reader_props``,
        ``recorder_props`` and ``invalidator_props`` of each.
    :param code_dir: the folder of the handlers and their ``requirements.txt``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cache_ttl: Duration | None = None,
        min_capacity: float | None = None,
        max_capacity: float | None = None,
        cache_node_type: str = DEFAULT_CACHE_NODE_TYPE,
        vpc: ec2.IVpc | None = None,
        database_props: Props | None = None,
        functions_props: Props | None = None,
        reader_props: Props | None = None,
        recorder_props: Props | None = None,
        invalidator_props: Props | None = None,
        code_dir: CodeLocation = "read_heavy_reporting",
    ) -> None:
        super().__init__(scope, construct_id)
        ttl = cache_ttl or DEFAULT_CACHE_TTL
        if ttl.to_milliseconds() < 1000 or ttl.to_milliseconds() % 1000:
            raise ValueError(
                f"{construct_id}: cache_ttl must be a whole number of seconds, at least 1 (SET EX)"
            )
        vpc = vpc or isolated_vpc(self)
        self.vpc = vpc
        subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.secrets_endpoint = vpc.add_interface_endpoint(
            "SecretsManager",
            service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            subnets=subnets,
            open=False,
        )
        self.events_endpoint = vpc.add_interface_endpoint(
            "EventBridge", service=ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE, subnets=subnets, open=False
        )

        self.database = rds.DatabaseCluster(
            self,
            "Database",
            **merge_props(
                self,
                "database_props",
                {
                    "engine": rds.DatabaseClusterEngine.aurora_postgres(
                        version=rds.AuroraPostgresEngineVersion.VER_17_9
                    ),
                    "writer": rds.ClusterInstance.serverless_v2("Writer"),
                    "default_database_name": "reports",
                    "storage_encrypted": True,
                    "backup": rds.BackupProps(retention=Duration.days(7)),
                    "cloudwatch_logs_exports": ["postgresql"],
                    "serverless_v2_min_capacity": DEFAULT_MIN_ACU,
                    "serverless_v2_max_capacity": DEFAULT_MAX_ACU,
                    "vpc": vpc,
                    "vpc_subnets": subnets,
                },
                database_props,
                keywords={
                    "serverless_v2_min_capacity": ("min_capacity", min_capacity),
                    "serverless_v2_max_capacity": ("max_capacity", max_capacity),
                },
                fixed=("vpc", "vpc_subnets"),
            ),
        )
        acknowledge_cluster(self.database, "the functions'")

        self.cache_security_group = ec2.SecurityGroup(
            self, "CacheSecurityGroup", vpc=vpc, description="The report cache", allow_all_outbound=False
        )
        cache_subnets = elasticache.CfnSubnetGroup(
            self,
            "CacheSubnets",
            description="The report cache's subnets",
            subnet_ids=vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids,
        )
        self.cache = elasticache.CfnReplicationGroup(
            self,
            "Cache",
            replication_group_description="Cached sales reports",
            engine="valkey",
            cache_node_type=cache_node_type,
            num_cache_clusters=1,
            cache_subnet_group_name=cache_subnets.ref,
            security_group_ids=[self.cache_security_group.security_group_id],
            at_rest_encryption_enabled=True,
            transit_encryption_enabled=False,
        )
        for rule, reason in (
            (
                "AwsSolutions-AEC3",
                "In-transit TLS is off so the handlers run unchanged offline, where the cache has no TLS; traffic stays between this VPC's security groups.",
            ),
            (
                "AwsSolutions-AEC4",
                "One node: a cache in front of the database, which stays the source of truth.",
            ),
            ("AwsSolutions-AEC5", "The port is reached only from the functions' security groups."),
            ("AwsSolutions-AEC6", "AUTH needs in-transit TLS on ElastiCache; access is by security group."),
        ):
            acknowledge(self.cache, rule, reason)
        self.cache_connections = ec2.Connections(
            security_groups=[self.cache_security_group],
            default_port=ec2.Port.tcp(Token.as_number(self.cache.attr_primary_end_point_port)),
        )

        self.event_bus = events.EventBus(self, "SalesBus")
        self.dependencies = DependenciesLayer(self, "Dependencies", code_dir=code_dir)
        defaults = {
            "code_dir": code_dir,
            "service": "read_heavy_reporting",
            "vpc": vpc,
            "vpc_subnets": subnets,
        }
        database = {"DB_SECRET_ARN": self.database.secret.secret_arn}
        cache = {
            "CACHE_HOST": self.cache.attr_primary_end_point_address,
            "CACHE_PORT": self.cache.attr_primary_end_point_port,
        }

        def function(name: str, props_name: str, props: Props | None, **own: Any) -> PatternFunction:
            # Each function's security group is its own: the rules below open exactly what it uses.
            settings = pattern_function_props(
                self,
                props_name,
                {**defaults, **own},
                props,
                functions_props=functions_props,
                fixed=("handler", "security_groups"),
            )
            settings["security_groups"] = [
                ec2.SecurityGroup(
                    self, f"{name}SecurityGroup", vpc=vpc, description=f"The {name.lower()} function"
                )
            ]
            fn = PatternFunction(self, name, **settings)
            fn.add_layers(self.dependencies)
            grant_network_interfaces(self, f"{name}NetworkInterfaces", fn)
            return fn

        self.reader = function(
            "Reader",
            "reader_props",
            reader_props,
            handler="reports.read_report",
            description="Reads a region's sales report: the cache first, PostgreSQL on a miss",
            environment={**database, **cache, "CACHE_TTL_SECONDS": f"{ttl.to_seconds():g}"},
        )
        self.recorder = function(
            "Recorder",
            "recorder_props",
            recorder_props,
            handler="reports.record_sale",
            description="Records a sale in PostgreSQL and announces it on the sales bus",
            environment={**database, "EVENT_BUS_NAME": self.event_bus.event_bus_name},
        )
        self.invalidator = function(
            "Invalidator",
            "invalidator_props",
            invalidator_props,
            handler="reports.invalidate",
            description="Deletes a region's cached report when a sale is recorded there",
            environment=cache,
        )
        for fn in (self.reader, self.recorder):
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue"], resources=[self.database.secret.secret_arn]
                )
            )
            self.database.connections.allow_default_port_from(fn)
            self.secrets_endpoint.connections.allow_default_port_from(fn)
            acknowledge(fn, "Serverless-LambdaDLQ", SYNC_INVOKED)
        for fn in (self.reader, self.invalidator):
            self.cache_connections.allow_default_port_from(fn)
        self.event_bus.grant_put_events_to(self.recorder)
        self.events_endpoint.connections.allow_default_port_from(self.recorder)

        self.invalidation_failures = failure_queue(
            self, "InvalidationFailures", what="invalidations that failed"
        )
        self.invalidation_rule = events.Rule(
            self,
            "InvalidateOnSale",
            event_bus=self.event_bus,
            description="Clears a region's cached report when a sale is recorded there",
            event_pattern=events.EventPattern(
                source=["read_heavy_reporting.sales"], detail_type=["SaleRecorded"]
            ),
            targets=[
                targets.LambdaFunction(
                    self.invalidator, retry_attempts=2, dead_letter_queue=self.invalidation_failures
                )
            ],
        )
        async_failure_destination(
            self.invalidator,
            what="invalidations that failed",
            queue=self.invalidation_failures,
            max_event_age=Duration.hours(1),
        )

    def outputs(self) -> dict[str, Any]:
        return {
            "ReaderFunctionName": self.reader.function_name,
            "RecorderFunctionName": self.recorder.function_name,
            "InvalidatorFunctionName": self.invalidator.function_name,
            "EventBusName": self.event_bus.event_bus_name,
            "DatabaseSecretArn": self.database.secret.secret_arn,
            "CacheAddress": self.cache.attr_primary_end_point_address,
        }
