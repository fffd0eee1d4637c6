"""Aurora PostgreSQL as a real server: a function in the VPC reads and writes it with psycopg through
the credentials the attached secret holds, directly and through RDS Proxy; the Data API runs typed
statements and transactions against the same server, IAM-checked; a function whose security group
has no rule to the cluster's port times out naming the rule. One server for the whole module."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, CfnOutput, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds

from localcloud.testing import cloud_for
from patterns.stack import SYNTH_METADATA
from tests.localcloud.conftest import listening, python_function

pytestmark = pytest.mark.localcloud


def build(stack: Stack) -> None:
    isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="App", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    vpc.add_interface_endpoint("Secrets", service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER)
    cluster = rds.DatabaseCluster(
        stack,
        "Db",
        engine=rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_16_4),
        writer=rds.ClusterInstance.serverless_v2("Writer"),
        vpc=vpc,
        vpc_subnets=isolated,
        default_database_name="shop",
        enable_data_api=True,
        serverless_v2_min_capacity=0.5,
        serverless_v2_max_capacity=1,
        parameter_group=rds.ParameterGroup(
            stack,
            "Params",
            engine=rds.DatabaseClusterEngine.aurora_postgres(
                version=rds.AuroraPostgresEngineVersion.VER_16_4
            ),
            parameters={"rds.force_ssl": "1"},
        ),
    )
    proxy = cluster.add_proxy(
        "Proxy", secrets=[cluster.secret], vpc=vpc, vpc_subnets=isolated, require_tls=False
    )
    environment = {"SECRET": cluster.secret.secret_arn, "PROXY": proxy.endpoint}
    reader = python_function(
        stack, "Reader", "rds_client", vpc=vpc, vpc_subnets=isolated, environment=environment
    )
    cluster.secret.grant_read(reader)
    cluster.connections.allow_default_port_from(reader)
    proxy.connections.allow_from(reader, ec2.Port.tcp(5432))
    blocked = python_function(
        stack, "Blocked", "rds_client", vpc=vpc, vpc_subnets=isolated, environment=environment
    )
    cluster.secret.grant_read(blocked)
    data = {"CLUSTER_ARN": cluster.cluster_arn, "SECRET_ARN": cluster.secret.secret_arn}
    cluster.grant_data_api_access(python_function(stack, "Data", "rds_data", environment=data))
    python_function(stack, "Ungranted", "rds_data", environment=data)
    python_function(stack, "NoSecret", "rds_data", environment=data).add_to_role_policy(
        iam.PolicyStatement(actions=["rds-data:ExecuteStatement"], resources=[cluster.cluster_arn])
    )
    # RDS PostgreSQL outside a cluster: a server of its own, never started here (nothing uses it).
    plain = rds.DatabaseInstance(
        stack,
        "Plain",
        engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_16),
        vpc=vpc,
        vpc_subnets=isolated,
        database_name="plain",
    )
    CfnOutput(stack, "PlainArn", value=plain.instance_arn)
    CfnOutput(stack, "PlainPort", value=plain.db_instance_endpoint_port)
    CfnOutput(stack, "ClusterArn", value=cluster.cluster_arn)
    CfnOutput(stack, "SecretArn", value=cluster.secret.secret_arn)
    CfnOutput(stack, "Address", value=cluster.cluster_endpoint.hostname)
    CfnOutput(stack, "ProxyEndpoint", value=proxy.endpoint)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    app = App(outdir=str(tmp_path_factory.mktemp("cdk-rds")), context=SYNTH_METADATA)
    build(Stack(app, "RdsSemantics"))
    with cloud_for(app, "RdsSemantics") as running:
        yield running
        started = [server.port for server in running.kernel.servers.servers.values() if server.started]
    assert started and not any(listening(port) for port in started), "a server outlived its cloud"


def run(cloud, function: str, **event) -> dict:
    return cloud.invoke(function, event)["Payload"]


def execute(cloud, sql: str, **options) -> dict:
    return cloud.client("rds-data").execute_statement(
        resourceArn=cloud.outputs["ClusterArn"],
        secretArn=cloud.outputs["SecretArn"],
        database="shop",
        sql=sql,
        **options,
    )


def test_the_attached_secret_holds_the_real_server_and_the_template_s_credentials(cloud):
    secret = json.loads(
        cloud.client("secretsmanager").get_secret_value(SecretId=cloud.outputs["SecretArn"])["SecretString"]
    )
    assert secret["host"] == cloud.outputs["Address"]
    assert secret["host"].endswith(".us-east-1.rds.amazonaws.com") and ".cluster-" in secret["host"]
    assert secret["engine"] == "postgres" and secret["dbname"] == "shop" and secret["username"] == "postgres"
    assert secret["port"] == cloud.kernel.servers.servers[cloud.kernel.logical_id("Db/Resource")].port


def test_a_function_in_the_vpc_writes_and_reads_with_psycopg_directly_and_through_the_proxy(cloud):
    assert run(cloud, "Reader", put="n-1", body="first")["rows"] == [["n-1", "first"]]
    through_proxy = run(cloud, "Reader", via="proxy", put="n-2", body="second")
    assert through_proxy["host"] == cloud.outputs["ProxyEndpoint"]
    assert through_proxy["rows"] == [["n-1", "first"], ["n-2", "second"]]


def test_tls_is_offered_as_rds_offers_it_and_force_ssl_refuses_a_plain_connection(cloud):
    assert run(cloud, "Reader", sslmode="require")["tls"] is True
    assert run(cloud, "Reader", via="proxy", sslmode="require")["tls"] is True
    refused = run(cloud, "Reader", sslmode="disable")["error"]
    assert (
        'no pg_hba.conf entry for host "127.0.0.1", user "postgres", database "shop", no encryption'
        in refused
    )
    # A client verifying the server against a CA it trusts refuses a certificate RDS's CA did not sign.
    assert "certificate" in run(cloud, "Reader", sslmode="verify-full")["error"]


def test_a_function_whose_security_group_lacks_the_rule_times_out_naming_it(cloud):
    answer = run(cloud, "Blocked")
    assert "connection timed out after 127s" in answer["error"]
    assert "no ingress on" in answer["error"] and "RdsSemantics/Db" in answer["error"]
    assert cloud.trace.find("timeout", outcome="ConnectTimeout")


def test_the_data_api_runs_typed_parameters_against_the_same_server(cloud):
    execute(
        cloud,
        "CREATE TABLE orders (id uuid PRIMARY KEY, placed date, at timestamp, cut time, total numeric(8,2),"
        " doc jsonb, qty int, note text)",
    )
    inserted = execute(
        cloud,
        "INSERT INTO orders VALUES (:id, :placed, :at, :cut, :total, :doc, :qty, :note)",
        parameters=[
            {
                "name": "id",
                "value": {"stringValue": "6f1c0e3e-55c8-4a8e-9d2e-0d4f6c1b2a3f"},
                "typeHint": "UUID",
            },
            {"name": "placed", "value": {"stringValue": "2026-01-02"}, "typeHint": "DATE"},
            {"name": "at", "value": {"stringValue": "2026-01-02 03:04:05"}, "typeHint": "TIMESTAMP"},
            {"name": "cut", "value": {"stringValue": "12:30:00"}, "typeHint": "TIME"},
            {"name": "total", "value": {"stringValue": "12.50"}, "typeHint": "DECIMAL"},
            {"name": "doc", "value": {"stringValue": '{"gift": true}'}, "typeHint": "JSON"},
            {"name": "qty", "value": {"longValue": 3}},
            {"name": "note", "value": {"isNull": True}},
        ],
    )
    assert inserted["numberOfRecordsUpdated"] == 1
    selected = execute(
        cloud,
        "SELECT id, placed, at, total, doc, qty, note, qty::float / 2 AS half FROM orders",
        includeResultMetadata=True,
    )
    assert selected["records"] == [
        [
            {"stringValue": "6f1c0e3e-55c8-4a8e-9d2e-0d4f6c1b2a3f"},
            {"stringValue": "2026-01-02"},
            {"stringValue": "2026-01-02 03:04:05"},
            {"stringValue": "12.50"},
            {"stringValue": '{"gift": true}'},
            {"longValue": 3},
            {"isNull": True},
            {"doubleValue": 1.5},
        ]
    ]
    assert selected["numberOfRecordsUpdated"] == 0
    metadata = {c["name"]: (c["typeName"], c["type"]) for c in selected["columnMetadata"]}
    assert (
        metadata["qty"] == ("int4", 4)
        and metadata["placed"] == ("date", 91)
        and metadata["total"] == ("numeric", 2)
    )
    formatted = execute(cloud, "SELECT qty, total, placed FROM orders", formatRecordsAs="JSON")
    assert json.loads(formatted["formattedRecords"]) == [{"qty": 3, "total": "12.50", "placed": "2026-01-02"}]
    assert "records" not in formatted


def test_a_value_its_type_hint_cannot_read_is_a_bad_request_and_bad_sql_a_database_error(cloud):
    client = cloud.client("rds-data")
    with pytest.raises(client.exceptions.BadRequestException, match="not a valid DATE"):
        execute(
            cloud,
            "SELECT :d",
            parameters=[{"name": "d", "value": {"stringValue": "soon"}, "typeHint": "DATE"}],
        )
    with pytest.raises(client.exceptions.DatabaseErrorException) as refused:
        execute(cloud, "SELECT * FROM nope")
    assert refused.value.response["Error"]["Message"] == (
        'ERROR: relation "nope" does not exist\n  Position: 15; SQLState: 42P01'
    )


def test_transactions_and_batches_reach_the_rows_psycopg_reads(cloud):
    client = cloud.client("rds-data")
    where = {"resourceArn": cloud.outputs["ClusterArn"], "secretArn": cloud.outputs["SecretArn"]}
    execute(cloud, "CREATE TABLE IF NOT EXISTS notes (id text PRIMARY KEY, body text)")
    for outcome in ("rollback", "commit"):
        transaction = client.begin_transaction(**where, database="shop")["transactionId"]
        row = [{"name": "id", "value": {"stringValue": f"t-{outcome}"}}]
        execute(cloud, "INSERT INTO notes VALUES (:id, 'x')", parameters=row, transactionId=transaction)
        if outcome == "commit":
            assert client.commit_transaction(**where, transactionId=transaction)["transactionStatus"] == (
                "Transaction Committed"
            )
        else:
            assert client.rollback_transaction(**where, transactionId=transaction)["transactionStatus"] == (
                "Rollback Complete"
            )
    batch = client.batch_execute_statement(
        **where,
        database="shop",
        sql="INSERT INTO notes VALUES (:id, :body)",
        parameterSets=[
            [
                {"name": "id", "value": {"stringValue": f"b-{n}"}},
                {"name": "body", "value": {"stringValue": "y"}},
            ]
            for n in (1, 2)
        ],
    )
    assert batch["updateResults"] == [{"generatedFields": []}, {"generatedFields": []}]
    ids = [row[0] for row in run(cloud, "Reader")["rows"]]
    assert "t-commit" in ids and "t-rollback" not in ids and {"b-1", "b-2"} <= set(ids)
    with pytest.raises(client.exceptions.TransactionNotFoundException):
        client.commit_transaction(**where, transactionId=transaction)


def test_the_data_api_needs_the_grant_on_the_cluster_and_on_the_secret(cloud):
    assert run(cloud, "Data", sql="SELECT 1 AS one")["records"] == [[{"longValue": 1}]]
    refused = run(cloud, "Ungranted", sql="SELECT 1")
    assert refused["code"] == "AccessDeniedException"
    assert (
        "rds-data:ExecuteStatement" in refused["message"]
        and cloud.outputs["ClusterArn"] in refused["message"]
    )
    bad = run(cloud, "Data", sql="SELEKT 1")
    assert bad["code"] == "DatabaseErrorException" and 'syntax error at or near "SELEKT"' in bad["message"]
    no_secret = run(cloud, "NoSecret", sql="SELECT 1")
    assert no_secret["code"] == "AccessDeniedException"
    assert (
        "secretsmanager:GetSecretValue" in no_secret["message"]
        and cloud.outputs["SecretArn"] in no_secret["message"]
    )


def test_the_data_api_needs_a_cluster_with_its_http_endpoint(cloud):
    client = cloud.client("rds-data")
    plain = cloud.outputs["PlainArn"]
    writer = cloud.outputs["ClusterArn"].replace(":cluster:", ":db:").rsplit(":", 1)[0]
    for arn in (plain, f"{writer}:{cloud.physical_id('Db/Writer')}"):  # a cluster's ARN, not an instance's
        with pytest.raises(
            client.exceptions.HttpEndpointNotEnabledException, match=f"enabled for resource {arn}"
        ):
            client.execute_statement(resourceArn=arn, secretArn=cloud.outputs["SecretArn"], sql="SELECT 1")
    servers = cloud.kernel.servers.servers
    plain_server = servers[cloud.kernel.logical_id("Plain/Resource")]
    assert not plain_server.started and str(plain_server.port) == cloud.outputs["PlainPort"]


def test_the_master_user_is_no_superuser_as_on_rds(cloud):
    """RDS keeps the superuser (``rdsadmin``) to itself: the master user creates databases and roles
    but cannot run programs on the server or change its configuration."""
    [[is_super]] = execute(cloud, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")["records"]
    assert is_super == {"booleanValue": False}
    client = cloud.client("rds-data")
    with pytest.raises(
        client.exceptions.DatabaseErrorException, match=r"permission denied|must be superuser"
    ):
        execute(cloud, "COPY (SELECT 1) TO PROGRAM 'true'")
