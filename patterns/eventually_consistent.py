"""Eventually Consistent: API -> Lambda -> DynamoDB; the table's stream -> Lambda -> a PostgreSQL replica.

The API writes items to DynamoDB, stamping each change with ``last_updated`` server-side (strictly
increasing per item). The table's stream (``NEW_AND_OLD_IMAGES``: a REMOVE carries the removed
version's stamp only in its old image) feeds a replicator that upserts each change into a
relational replica on Aurora PostgreSQL, guarded in SQL so an older change never overwrites a
newer one; a deletion is a tombstone row, so a late older change cannot bring the item back. The
stream mapping bisects a failing batch, retries it ``retry_attempts`` times, gives up on records
older than ``max_record_age``, and sends what it gives up on to an encrypted on-failure queue.

The replicator runs in a VPC with no internet route, in a security group of its own that alone may
reach the cluster's port, over TLS (the cluster's parameter group sets ``rds.force_ssl``), with the
credentials of the cluster's generated secret (read through a Secrets Manager interface endpoint),
its connection kept across invocations (``shared/postgres.py``). Its psycopg comes in a layer built
for its platform (:class:`~patterns.read_heavy_reporting.DependenciesLayer`).

Example::

    items = EventuallyConsistent(self, "Items", retry_attempts=5)
    items.database.connections.allow_default_port_from(my_report_fn)
    items.failure_queue.metric_approximate_number_of_messages_visible().create_alarm(...)
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .defaults import (
    CodeLocation,
    PatternFunction,
    Props,
    SecureRestApi,
    StreamFailureQueue,
    acknowledge,
    failure_queue,
    grant_table,
    json_model,
    merge_props,
    pattern_function_props,
    rest_api_props,
    table_or_new,
)
from .read_heavy_reporting import (
    DependenciesLayer,
    acknowledge_cluster,
    grant_network_interfaces,
    isolated_vpc,
)
from .stream_processing import (
    BATCH_SIZE_RANGE,
    MAX_BATCHING_WINDOW,
    MAX_RETRY_ATTEMPTS,
    RECORD_AGE_RANGE,
    _check_range,
)

ENGINE = rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_17_9)
DEFAULT_MAX_RECORD_AGE = Duration.hours(1)
ITEM_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "Item",
    "type": "object",
    "required": ["name", "quantity", "price_cents"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "quantity": {"type": "integer", "minimum": 0, "maximum": 1000000},
        "price_cents": {"type": "integer", "minimum": 0, "maximum": 1000000000},
    },
}


class EventuallyConsistent(Construct):
    """Items written through an API to DynamoDB, replicated by its stream into Aurora PostgreSQL.

    :param batch_size: stream records per replicator invocation, 1 to 10,000 (100).
    :param max_batching_window: how long Lambda waits to fill a batch, up to 5 minutes (none).
    :param retry_attempts: retries of a failing batch (after bisecting it) before its batch info goes
        to the failure queue, 0 to 10,000 (2).
    :param max_record_age: oldest change still replicated, 1 minute to 7 days (1 hour).
    :param table: an existing table with string partition key ``item_id`` and a
        ``NEW_AND_OLD_IMAGES`` stream; one is made if omitted.
    :param table_props: ``dynamodb.Table`` props of the table made here.
    :param vpc: a VPC with isolated (or private) subnets; one with two isolated subnets is made if omitted.
    :param database_props: ``rds.DatabaseCluster`` props merged over the defaults.
    :param failure_queue_props: ``sqs.Queue`` props of the on-failure queue.
    :param api_props: ``SecureRestApi`` props.
    :param functions_props: ``PatternFunction`` props of both functions; ``writer_props`` and
        ``replicator_props`` of each.
    :param code_dir: the folder of the handlers and the replicator's ``requirements.txt``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        batch_size: int = 100,
        max_batching_window: Duration | None = None,
        retry_attempts: int = 2,
        max_record_age: Duration = DEFAULT_MAX_RECORD_AGE,
        table: dynamodb.ITable | None = None,
        table_props: Props | None = None,
        vpc: ec2.IVpc | None = None,
        database_props: Props | None = None,
        failure_queue_props: Props | None = None,
        api_props: Props | None = None,
        functions_props: Props | None = None,
        writer_props: Props | None = None,
        replicator_props: Props | None = None,
        code_dir: CodeLocation = "eventually_consistent",
    ) -> None:
        super().__init__(scope, construct_id)
        _check_range(construct_id, "batch_size", batch_size, *BATCH_SIZE_RANGE)
        _check_range(construct_id, "retry_attempts", retry_attempts, 0, MAX_RETRY_ATTEMPTS)
        if (
            max_batching_window is not None
            and max_batching_window.to_seconds() > MAX_BATCHING_WINDOW.to_seconds()
        ):
            raise ValueError(f"{construct_id}: max_batching_window must be at most 5 minutes")
        low, high = RECORD_AGE_RANGE
        if not low.to_seconds() <= max_record_age.to_seconds() <= high.to_seconds():
            raise ValueError(f"{construct_id}: max_record_age must be from 1 minute to 7 days")
        queue_merged = merge_props(self, "failure_queue_props", {}, failure_queue_props)
        if queue_merged.get("fifo"):
            raise ValueError(
                f"{construct_id}: failure_queue_props['fifo']: Lambda's on-failure destinations take no FIFO queue"
            )
        if table is not None and table.table_stream_arn is None:
            raise ValueError(f"{construct_id}: table must have a stream (NEW_AND_OLD_IMAGES)")

        self.table = table_or_new(
            self,
            "Table",
            name="table",
            existing=table,
            props=table_props,
            partition_key=dynamodb.Attribute(name="item_id", type=dynamodb.AttributeType.STRING),
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            time_to_live_attribute="expires_at",
        )

        # The write side: API -> writer -> table.
        self.writer = PatternFunction(
            self,
            "Writer",
            **pattern_function_props(
                self,
                "writer_props",
                {
                    "code_dir": code_dir,
                    "handler": "items.handler",
                    "service": "eventually_consistent",
                    "description": "Writes items to DynamoDB, each change stamped with last_updated",
                    "environment": {"TABLE_NAME": self.table.table_name},
                },
                writer_props,
                functions_props=functions_props,
            ),
        )
        grant_table(self.table, self.writer, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
        acknowledge(
            self.writer,
            "Serverless-LambdaDLQ",
            "Invoked synchronously by API Gateway: errors return to the caller, there is no async event to keep.",
        )
        self.api = SecureRestApi(
            self,
            "Api",
            **rest_api_props(
                self,
                api_props,
                description="Eventually consistent items: /items/{id}",
                throttling_rate_limit=None,
                throttling_burst_limit=None,
            ),
        )
        integration = apigw.LambdaIntegration(self.writer)
        item = self.api.root.add_resource("items").add_resource("{id}")
        item.add_method("GET", integration)
        item.add_method(
            "PUT",
            integration,
            request_validator=self.api.body_validator,
            request_models={"application/json": json_model(self.api, "ItemModel", ITEM_SCHEMA)},
        )
        item.add_method("DELETE", integration)
        for method in self.api.methods:
            acknowledge(
                method,
                "AwsSolutions-APIG4",
                "The pattern is a public API by design; put an authorizer in front (see the gatekeeper pattern).",
            )
            acknowledge(
                method,
                "AwsSolutions-COG4",
                "No Cognito user pool: the pattern is a public API by design; see the secured SPA pattern.",
            )

        # The replica: Aurora PostgreSQL in isolated subnets, TLS required.
        vpc = vpc or isolated_vpc(self)
        self.vpc = vpc
        subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.secrets_endpoint = vpc.add_interface_endpoint(
            "SecretsManager",
            service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            subnets=subnets,
            open=False,
        )
        self.parameter_group = rds.ParameterGroup(
            self,
            "DatabaseParameters",
            engine=ENGINE,
            description="TLS required on every connection to the replica",
            parameters={"rds.force_ssl": "1"},
        )
        self.database = rds.DatabaseCluster(
            self,
            "Database",
            **merge_props(
                self,
                "database_props",
                {
                    "engine": ENGINE,
                    "writer": rds.ClusterInstance.serverless_v2("Writer"),
                    "default_database_name": "replica",
                    "storage_encrypted": True,
                    "backup": rds.BackupProps(retention=Duration.days(7)),
                    "cloudwatch_logs_exports": ["postgresql"],
                    "serverless_v2_min_capacity": 0.5,
                    "serverless_v2_max_capacity": 2,
                    "parameter_group": self.parameter_group,
                    "vpc": vpc,
                    "vpc_subnets": subnets,
                },
                database_props,
                fixed=("vpc", "vpc_subnets", "parameter_group"),
            ),
        )
        acknowledge_cluster(self.database, "the replicator's")

        # The stream side: table stream -> replicator -> replica, failures to the queue.
        self.failure_queue: sqs.Queue = failure_queue(
            self, "FailedChanges", what="stream batches the replica refused every retry", **queue_merged
        )
        settings = pattern_function_props(
            self,
            "replicator_props",
            {
                "code_dir": code_dir,
                "handler": "replicator.handler",
                "service": "eventually_consistent",
                "description": "Applies the table's changes to the PostgreSQL replica, newest last_updated wins",
                "timeout": Duration.seconds(30),
                "vpc": vpc,
                "vpc_subnets": subnets,
                "environment": {"DB_SECRET_ARN": self.database.secret.secret_arn, "DB_SSLMODE": "require"},
            },
            replicator_props,
            functions_props=functions_props,
            fixed=("handler", "security_groups"),
        )
        self.replicator_security_group = ec2.SecurityGroup(
            self, "ReplicatorSecurityGroup", vpc=vpc, description="The replicator function"
        )
        settings["security_groups"] = [self.replicator_security_group]
        self.dependencies = DependenciesLayer(self, "Dependencies", code_dir=code_dir)
        self.replicator = PatternFunction(self, "Replicator", **settings)
        self.replicator.add_layers(self.dependencies)
        grant_network_interfaces(self, "ReplicatorNetworkInterfaces", self.replicator)
        self.replicator.add_to_role_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"], resources=[self.database.secret.secret_arn]
            )
        )
        self.database.connections.allow_default_port_from(self.replicator)
        self.secrets_endpoint.connections.allow_default_port_from(self.replicator)
        self.event_source = sources.DynamoEventSource(
            self.table,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            bisect_batch_on_error=True,
            retry_attempts=retry_attempts,
            max_record_age=max_record_age,
            on_failure=StreamFailureQueue(self.failure_queue),
        )
        self.replicator.add_event_source(self.event_source)
        acknowledge(
            self.replicator,
            "Serverless-LambdaDLQ",
            "Invoked by a DynamoDB stream event source mapping, never asynchronously: failed batches' info "
            "goes to the mapping's on-failure queue.",
        )

    def outputs(self) -> dict[str, Any]:
        return {
            "ApiUrl": self.api.url_for_path("/items"),
            "TableName": self.table.table_name,
            "DatabaseSecretArn": self.database.secret.secret_arn,
            "FailureQueueUrl": self.failure_queue.queue_url,
        }
