"""RDS and Aurora PostgreSQL as real servers: one PostgreSQL per cluster (or per instance outside a
cluster), its instances' and proxies' endpoints resolving to it.

Each server takes a free loopback port when the stack deploys (``Endpoint.Port`` is that port, so
security group rules written through it, as CDK's ``connections`` writes them, name it) and starts
on first use: a handler resolving an endpoint, or a Data API call. The master user, its password
and the database come from the template (CDK's ``{{resolve:secretsmanager:...}}`` references are
read from the secret). A ``SecretTargetAttachment`` writes the server's host, port, engine,
identifier and database name into the secret, so a handler connects with what it reads there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from localcloud.core.dynamic_references import resolve_secret_references
from localcloud.core.servers import RealServer
from localcloud.core.service import Provisioned, provisions, refuse_unknown_properties
from localcloud.errors import TemplateError, Unsupported
from localcloud.services.rds.postgres import DEFAULT_DATABASE, Master, launcher

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

ENGINES = {"aurora-postgresql", "postgres"}
#: The port a PostgreSQL proxy listens on, which its security group rules name.
PROXY_PORT = 5432
#: Properties that change nothing a handler can observe offline (sizing, backups, maintenance,
#: monitoring, encryption at rest, tags), taken and kept out of the way.
_INERT = {
    "AllocatedStorage",
    "AllowMajorVersionUpgrade",
    "AutoMinorVersionUpgrade",
    "AvailabilityZone",
    "AvailabilityZones",
    "BackupRetentionPeriod",
    "CACertificateIdentifier",
    "CopyTagsToSnapshot",
    "DBClusterInstanceClass",
    "DBClusterParameterGroupName",
    "DBInstanceClass",
    "DBParameterGroupName",
    "DeleteAutomatedBackups",
    "DeletionProtection",
    "EnableCloudwatchLogsExports",
    "EnablePerformanceInsights",
    "EngineMode",
    "EngineVersion",
    "Iops",
    "KmsKeyId",
    "MaxAllocatedStorage",
    "MonitoringInterval",
    "MonitoringRoleArn",
    "MultiAZ",
    "NetworkType",
    "OptionGroupName",
    "PerformanceInsightsEnabled",
    "PerformanceInsightsKMSKeyId",
    "PerformanceInsightsKmsKeyId",
    "PerformanceInsightsRetentionPeriod",
    "Port",
    "PreferredBackupWindow",
    "PreferredMaintenanceWindow",
    "PromotionTier",
    "ServerlessV2ScalingConfiguration",
    "StorageEncrypted",
    "StorageThroughput",
    "StorageType",
    "Tags",
}
_SERVER = {"Engine", "MasterUsername", "MasterUserPassword", "DBSubnetGroupName"}
CLUSTER_PROPERTIES = (
    _INERT
    | _SERVER
    | {
        "DBClusterIdentifier",
        "DatabaseName",
        "EnableHttpEndpoint",
        "VpcSecurityGroupIds",
    }
)
INSTANCE_PROPERTIES = (
    _INERT
    | _SERVER
    | {
        "DBInstanceIdentifier",
        "DBClusterIdentifier",
        "DBName",
        "VPCSecurityGroups",
        "PubliclyAccessible",
    }
)


@dataclass
class Database:
    """One PostgreSQL server: a cluster's, or a standalone instance's."""

    logical_id: str
    identifier: str
    arn: str
    host: str
    server: RealServer
    master: Master
    listener: str
    http_endpoint: bool = False

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def database(self) -> str:
        return self.master.database or DEFAULT_DATABASE


@dataclass
class Databases:
    """The RDS service's state in one cloud."""

    kernel: Kernel
    subnet_groups: dict[str, list[str]] = field(default_factory=dict)
    parameter_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_ref: dict[str, Database] = field(default_factory=dict)
    """By identifier (a cluster's or instance's ``Ref``) and by ARN."""
    proxies: dict[str, dict[str, Any]] = field(default_factory=dict)

    def database(self, name: str) -> Database | None:
        return self.by_ref.get(name) or self.by_ref.get(name.lower())

    def close(self) -> None:
        data_api = getattr(self, "data_api", None)
        if data_api is not None:
            data_api.close()


def _state(kernel: Kernel) -> Databases:
    return kernel.service("rds")


def _hash(kernel: Kernel) -> str:
    return kernel.short_id("rds-endpoints", 12)


def _label(kernel: Kernel, logical_id: str) -> str:
    return kernel.artifact.construct_path(logical_id).removesuffix("/Resource")


def _identifier(kernel: Kernel, logical_id: str, given: Any) -> str:
    return str(given or kernel.physical_name(logical_id, 63)).lower()


def _server(
    kernel: Kernel, logical_id: str, props: dict[str, Any], identifier: str, arn: str, host: str, **kw: Any
) -> Database:
    engine = props.get("Engine")
    if engine not in ENGINES:
        raise Unsupported(
            logical_id, f"engine {engine!r}", "only PostgreSQL (aurora-postgresql, postgres) runs"
        )
    username = resolve_secret_references(kernel, props.get("MasterUsername"), logical_id)
    password = resolve_secret_references(kernel, props.get("MasterUserPassword"), logical_id)
    if not username or not password:
        raise TemplateError(f"{logical_id}: MasterUsername and MasterUserPassword are required")
    database_name = props.get("DatabaseName") or props.get("DBName")
    master = Master(str(username), str(password), database_name)
    state = _state(kernel)
    server = kernel.servers.add(logical_id, launcher(master, force_ssl=_force_ssl(kernel, props)))
    listener = _label(kernel, logical_id)
    groups = props.get("VpcSecurityGroupIds") or props.get("VPCSecurityGroups") or []
    subnets = state.subnet_groups.get(str(props.get("DBSubnetGroupName", "")), [])
    if subnets:
        public = str(props.get("PubliclyAccessible", "false")).lower() == "true"
        kernel.network.listen(listener, server.port, subnets, list(groups), public=public)
    kernel.servers.name(host, server, listener)
    database = Database(logical_id, identifier, arn, host, server, master, listener, **kw)
    state.by_ref[identifier] = state.by_ref[arn] = database
    return database


@provisions("AWS::RDS::DBSubnetGroup")
def subnet_group(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    name = _identifier(kernel, logical_id, props.get("DBSubnetGroupName"))
    _state(kernel).subnet_groups[name] = list(props.get("SubnetIds", []))
    return Provisioned(name)


@provisions("AWS::RDS::DBClusterParameterGroup", "AWS::RDS::DBParameterGroup")
def parameter_group(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """Kept with their parameters: ``rds.force_ssl`` is applied (:mod:`~localcloud.services.rds.tls`);
    the server runs PostgreSQL's defaults for the others."""
    name = _identifier(
        kernel, logical_id, props.get("DBClusterParameterGroupName") or props.get("DBParameterGroupName")
    )
    _state(kernel).parameter_groups[name] = dict(props.get("Parameters") or {})
    return Provisioned(name)


def _force_ssl(kernel: Kernel, props: dict[str, Any]) -> bool:
    parameters: dict[str, Any] = {}
    for key in ("DBClusterParameterGroupName", "DBParameterGroupName"):
        parameters.update(_state(kernel).parameter_groups.get(str(props.get(key, "")).lower(), {}))
    return str(parameters.get("rds.force_ssl", "0")).strip().lower() in ("1", "on", "true")


@provisions("AWS::RDS::DBCluster")
def cluster(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(logical_id, "AWS::RDS::DBCluster", props, CLUSTER_PROPERTIES)
    identifier = _identifier(kernel, logical_id, props.get("DBClusterIdentifier"))
    arn = f"arn:{kernel.partition}:rds:{kernel.region}:{kernel.account}:cluster:{identifier}"
    where = f"{_hash(kernel)}.{kernel.region}.rds.amazonaws.com"
    host = f"{identifier}.cluster-{where}"
    http = str(props.get("EnableHttpEndpoint", "false")).lower() == "true"
    database = _server(kernel, logical_id, props, identifier, arn, host, http_endpoint=http)
    reader = kernel.servers.name(f"{identifier}.cluster-ro-{where}", database.server, database.listener)
    port = str(database.port)
    return Provisioned(
        identifier,
        {
            "Endpoint.Address": host,
            "Endpoint.Port": port,
            "ReadEndpoint.Address": reader,
            "DBClusterArn": arn,
            "DBClusterResourceId": f"cluster-{kernel.short_id(identifier, 26).upper()}",
        },
    )


@provisions("AWS::RDS::DBInstance")
def instance(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """An instance of a cluster is another endpoint of the cluster's server; one outside a cluster
    (RDS PostgreSQL) is a server of its own."""
    refuse_unknown_properties(logical_id, "AWS::RDS::DBInstance", props, INSTANCE_PROPERTIES)
    identifier = _identifier(kernel, logical_id, props.get("DBInstanceIdentifier"))
    arn = f"arn:{kernel.partition}:rds:{kernel.region}:{kernel.account}:db:{identifier}"
    host = f"{identifier}.{_hash(kernel)}.{kernel.region}.rds.amazonaws.com"
    state = _state(kernel)
    if props.get("DBClusterIdentifier"):
        owner = state.database(str(props["DBClusterIdentifier"]))
        if owner is None:
            raise TemplateError(f"{logical_id}: no cluster {props['DBClusterIdentifier']} in this stack")
        kernel.servers.name(host, owner.server, owner.listener)
        state.by_ref[identifier] = state.by_ref[arn] = owner
        port = owner.port
    else:
        port = _server(kernel, logical_id, props, identifier, arn, host).port
    return Provisioned(
        identifier,
        {"Endpoint.Address": host, "Endpoint.Port": str(port), "DBInstanceArn": arn},
    )


@provisions("AWS::RDS::DBProxy")
def proxy(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """A proxy is one more endpoint of its target's server, behind the proxy's own security groups;
    its target group says which server (``AWS::RDS::DBProxyTargetGroup``)."""
    if props.get("EngineFamily") != "POSTGRESQL":
        raise Unsupported(logical_id, f"EngineFamily {props.get('EngineFamily')!r}")
    name = str(props["DBProxyName"]).lower()
    arn = f"arn:{kernel.partition}:rds:{kernel.region}:{kernel.account}:db-proxy:prx-{kernel.short_id(name, 17)}"
    host = f"{name}.proxy-{_hash(kernel)}.{kernel.region}.rds.amazonaws.com"
    _state(kernel).proxies[name] = {
        "host": host,
        "listener": _label(kernel, logical_id),
        "subnets": list(props.get("VpcSubnetIds", [])),
        "groups": list(props.get("VpcSecurityGroupIds", [])),
    }
    return Provisioned(name, {"Endpoint": host, "DBProxyArn": arn, "DBProxyName": name})


@provisions("AWS::RDS::DBProxyTargetGroup")
def proxy_target_group(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    state = _state(kernel)
    proxy = state.proxies.get(str(props["DBProxyName"]).lower())
    if proxy is None:
        raise TemplateError(f"{logical_id}: no DB proxy {props['DBProxyName']} in this stack")
    targets = [*props.get("DBClusterIdentifiers", []), *props.get("DBInstanceIdentifiers", [])]
    if len(targets) != 1 or state.database(str(targets[0])) is None:
        raise Unsupported(logical_id, "a proxy target group without exactly one database of this stack")
    target = state.database(str(targets[0]))
    assert target is not None
    kernel.network.listen(proxy["listener"], PROXY_PORT, proxy["subnets"], proxy["groups"])
    kernel.servers.name(proxy["host"], target.server, proxy["listener"])
    arn = f"arn:{kernel.partition}:rds:{kernel.region}:{kernel.account}:target-group:prx-tg-{kernel.short_id(logical_id, 17)}"
    return Provisioned(arn, {"TargetGroupArn": arn})


@provisions("AWS::SecretsManager::SecretTargetAttachment")
def secret_attachment(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """Write the database's connection into the secret, as the attachment does on AWS."""
    target_type = props.get("TargetType")
    if target_type not in ("AWS::RDS::DBCluster", "AWS::RDS::DBInstance"):
        raise Unsupported(logical_id, f"SecretTargetAttachment TargetType {target_type!r}")
    database = _state(kernel).database(str(props["TargetId"]))
    if database is None:
        raise TemplateError(f"{logical_id}: no database {props['TargetId']} in this stack")
    client = kernel.admin_client("secretsmanager")
    secret_id = props["SecretId"]
    try:
        value = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])
    except ValueError:
        raise TemplateError(f"{logical_id}: the secret {secret_id} does not hold a JSON object") from None
    if not isinstance(value, dict):
        raise TemplateError(f"{logical_id}: the secret {secret_id} does not hold a JSON object")
    key = "dbClusterIdentifier" if target_type == "AWS::RDS::DBCluster" else "dbInstanceIdentifier"
    value.update(
        {"engine": "postgres", "host": database.host, "port": database.port, key: database.identifier}
    )
    value.setdefault("dbname", database.database)
    client.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))
    arn = client.describe_secret(SecretId=secret_id)["ARN"]
    return Provisioned(arn)
