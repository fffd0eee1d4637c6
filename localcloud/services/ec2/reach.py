"""What a connection needs in a VPC, read from moto's EC2 state: the rules behind
:mod:`localcloud.core.network`.

Security groups are stateful, so a connection needs the source's egress and the listener's ingress
for its port (TCP or all traffic), each naming the other side's security group, or a CIDR that
covers every subnet of the other side (Lambda may use any of a function's subnets, so each must
work). An AWS API outside the VPC is reached from each of the function's subnets through:

- an interface endpoint of the service with private DNS in the VPC (DNS then answers with its
  addresses, whatever the route tables say), reached on 443 as a listener;
- else the subnet's route table (its own, or the VPC's main one): a gateway endpoint's prefix-list
  route (S3, DynamoDB), with egress on 443 to that prefix list or to 0.0.0.0/0; or a default route
  to a public NAT gateway whose own subnet routes to an attached internet gateway, with egress on
  443 to 0.0.0.0/0. A default route straight to an internet gateway does not do: a function's
  network interface has no public IP.

A call that goes through an endpoint must also be allowed by the endpoint's policy
(:meth:`Ec2.endpoint_policies` names them; the network check evaluates them).

Not modelled: network ACLs (CDK leaves the default, which allows everything), peering and transit gateways, IPv6, and the addresses inside a subnet (a CIDR rule must cover the
whole subnet).
"""

from __future__ import annotations

import contextvars
import ipaddress
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from localcloud.core.network import Listener, Placement
from localcloud.errors import InvalidRequest

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

HTTPS = 443
ANYWHERE = "0.0.0.0/0"
#: AWS's gateway endpoint services: reached by a prefix-list route in the subnet's route table.
GATEWAY_SERVICES = frozenset({"s3", "dynamodb"})
#: A VPC endpoint's service name where it differs from the API's endpoint prefix.
ENDPOINT_SERVICE = {"kinesis": "kinesis-streams", "firehose": "kinesis-firehose"}
#: Lambda's managed policy grants these; a role without them cannot put a function in a VPC.
NETWORK_INTERFACE_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
)


@dataclass
class Snapshot:
    """moto's EC2 state, read once per change (any EC2 call other than a read drops it)."""

    subnets: dict[str, dict[str, Any]]
    route_tables: list[dict[str, Any]]
    groups: dict[str, dict[str, Any]]
    endpoints: list[dict[str, Any]]
    nat_gateways: dict[str, dict[str, Any]]
    attached_gateways: dict[str, set[str]]
    """VPC id -> the internet gateways attached to it."""
    prefix_lists: dict[str, str]
    """Prefix-list name (``com.amazonaws.us-east-1.dynamodb``) -> its id."""


class Ec2:
    """The EC2 service's state in one cloud: the rules of :class:`localcloud.core.network.Fabric`."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.endpoint_options: dict[str, dict[str, Any]] = {}
        """What each template endpoint was created with, by its id."""
        self._snapshot: Snapshot | None = None

    # ------------------------------------------------------------------------------------ state

    def changed(self, kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
        """Any EC2 call that may change a VPC (not a ``Describe``/``Get``) drops the snapshot."""
        if not operation.startswith(("Describe", "Get")):
            self._snapshot = None

    @property
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            # Read as the local cloud, not as the function whose call is being checked.
            self._snapshot = contextvars.Context().run(self._read)
        return self._snapshot

    def _read(self) -> Snapshot:
        ec2 = self.kernel.admin_client("ec2")
        gateways = ec2.describe_internet_gateways()["InternetGateways"]
        attached: dict[str, set[str]] = {}
        for gateway in gateways:
            for attachment in gateway.get("Attachments", []):
                attached.setdefault(attachment["VpcId"], set()).add(gateway["InternetGatewayId"])
        return Snapshot(
            subnets={s["SubnetId"]: s for s in ec2.describe_subnets()["Subnets"]},
            route_tables=ec2.describe_route_tables()["RouteTables"],
            groups={g["GroupId"]: g for g in ec2.describe_security_groups()["SecurityGroups"]},
            endpoints=ec2.describe_vpc_endpoints()["VpcEndpoints"],
            nat_gateways={n["NatGatewayId"]: n for n in ec2.describe_nat_gateways()["NatGateways"]},
            attached_gateways=attached,
            prefix_lists={
                p["PrefixListName"]: p["PrefixListId"] for p in ec2.describe_prefix_lists()["PrefixLists"]
            },
        )

    def default_security_group(self, vpc_id: str) -> str:
        return next(
            g["GroupId"]
            for g in self.snapshot.groups.values()
            if g["VpcId"] == vpc_id and g["GroupName"] == "default"
        )

    # ------------------------------------------------------------------------------------ placement

    def placement(self, label: str, subnets: list[str], security_groups: list[str]) -> Placement:
        """A ``VpcConfig`` checked as Lambda's CreateFunction checks it."""
        snapshot = self.snapshot
        if not subnets or not security_groups:
            if not subnets and not security_groups:
                return Placement(label, (), ())
            raise InvalidRequest(f"{label}: VpcConfig needs both SubnetIds and SecurityGroupIds")
        unknown = [s for s in subnets if s not in snapshot.subnets] + [
            g for g in security_groups if g not in snapshot.groups
        ]
        if unknown:
            raise InvalidRequest(f"{label}: VpcConfig names {', '.join(unknown)}, which do not exist")
        vpcs = {snapshot.subnets[s]["VpcId"] for s in subnets} | {
            snapshot.groups[g]["VpcId"] for g in security_groups
        }
        if len(vpcs) > 1:
            raise InvalidRequest(
                f"{label}: InvalidParameterValueException: the subnets and security groups of VpcConfig "
                f"must all be in one VPC, not {', '.join(sorted(vpcs))}"
            )
        return Placement(label, tuple(subnets), tuple(security_groups))

    def role_may_attach(self, role_arn: str) -> list[str]:
        """The network-interface actions Lambda needs from the role that it does not have."""
        return self.kernel.iam.lacking(role_arn, NETWORK_INTERFACE_ACTIONS)

    # ------------------------------------------------------------------------------------ listeners

    def why_not_listener(self, source: Placement | None, listener: Listener, port: int) -> str | None:
        snapshot = self.snapshot
        target = listener.placement
        if source is None or not source.subnets:
            if not listener.public:
                return f"{listener.name} is private to its VPC and the caller is not in a VPC"
            if not self._allows(target.security_groups, "ingress", port, groups=(), cidrs=(ANYWHERE,)):
                return f"{listener.name}'s {self._groups(target)} no ingress on {port} from {ANYWHERE}"
            return None
        source_vpc, target_vpc = self._vpc(source), self._vpc(target)
        if source_vpc != target_vpc:
            return f"{source.label} is in {source_vpc} and {listener.name} in {target_vpc}, with no route between them"
        source_cidrs = [snapshot.subnets[s]["CidrBlock"] for s in source.subnets]
        target_cidrs = [snapshot.subnets[s]["CidrBlock"] for s in target.subnets]
        if not self._allows(
            source.security_groups, "egress", port, groups=target.security_groups, cidrs=target_cidrs
        ):
            return (
                f"{source.label}'s {self._groups(source)} no egress to {port} of {listener.name} "
                f"(its security groups {', '.join(target.security_groups)}, or a CIDR covering {', '.join(target_cidrs)})"
            )
        if not self._allows(
            target.security_groups, "ingress", port, groups=source.security_groups, cidrs=source_cidrs
        ):
            return (
                f"{listener.name}'s {self._groups(target)} no ingress on {port} from {source.label} "
                f"(its security groups {', '.join(source.security_groups)}, or a CIDR covering {', '.join(source_cidrs)})"
            )
        return None

    # ------------------------------------------------------------------------------------ AWS APIs

    def why_not_service(self, source: Placement, service: str) -> str | None:
        if not source.subnets:
            return None
        name = self._service_name(service)
        interface = self._interface_endpoint(source, service)
        if interface is not None:
            groups = tuple(g["GroupId"] for g in interface.get("Groups", []))
            endpoint = Listener(
                f"the {service} endpoint {interface['VpcEndpointId']}",
                HTTPS,
                Placement(interface["VpcEndpointId"], tuple(interface.get("SubnetIds", [])), groups),
            )
            return self.why_not_listener(source, endpoint, HTTPS)
        for subnet in source.subnets:
            reason = self._why_not_from(source, subnet, service, name)
            if reason is not None:
                return reason
        return None

    def endpoint_policies(self, source: Placement, service: str) -> dict[str, dict[str, Any]]:
        """The policy of each endpoint the calls of ``source`` to ``service`` go through (one
        interface endpoint, or the gateway endpoint in each subnet's route table)."""
        if not source.subnets:
            return {}
        interface = self._interface_endpoint(source, service)
        if interface is not None:
            used = [interface]
        else:
            name = self._service_name(service)
            prefix_list = self.snapshot.prefix_lists.get(name)
            ids = set()
            for subnet in source.subnets:
                table = self._route_table(subnet)
                for route in table.get("Routes", []) if table else []:
                    if route.get("DestinationPrefixListId") == prefix_list and route.get(
                        "GatewayId", ""
                    ).startswith("vpce-"):
                        ids.add(route["GatewayId"])
            used = [e for e in self.snapshot.endpoints if e["VpcEndpointId"] in ids]
        return {e["VpcEndpointId"]: json.loads(e["PolicyDocument"]) for e in used if e.get("PolicyDocument")}

    def _service_name(self, service: str) -> str:
        return f"com.amazonaws.{self.kernel.region}.{ENDPOINT_SERVICE.get(service, service)}"

    def _interface_endpoint(self, source: Placement, service: str) -> dict[str, Any] | None:
        """The service's interface endpoint with private DNS in ``source``'s VPC: DNS answers with it."""
        name, vpc = self._service_name(service), self._vpc(source)
        return next(
            (
                e
                for e in self.snapshot.endpoints
                if e["VpcId"] == vpc
                and e["ServiceName"] == name
                and e["VpcEndpointType"] == "Interface"
                and e.get("PrivateDnsEnabled")
            ),
            None,
        )

    def _why_not_from(self, source: Placement, subnet: str, service: str, name: str) -> str | None:
        snapshot = self.snapshot
        table = self._route_table(subnet)
        routes = table.get("Routes", []) if table else []
        prefix_list = snapshot.prefix_lists.get(name)
        if service in GATEWAY_SERVICES and any(
            r.get("DestinationPrefixListId") == prefix_list and r.get("GatewayId", "").startswith("vpce-")
            for r in routes
        ):
            if self._allows(
                source.security_groups, "egress", HTTPS, groups=(), cidrs=(ANYWHERE,), prefix_list=prefix_list
            ):
                return None
            return (
                f"{source.label}'s {self._groups(source)} no egress to {HTTPS} for {service} "
                f"(to {ANYWHERE} or its prefix list {prefix_list})"
            )
        default = next((r for r in routes if r.get("DestinationCidrBlock") == ANYWHERE), None)
        where = f"subnet {subnet} (route table {table['RouteTableId'] if table else 'none'})"
        hint = (
            "a gateway endpoint or a NAT" if service in GATEWAY_SERVICES else "an interface endpoint or a NAT"
        )
        if default is None:
            return f"{where} has no route to {service}: add {hint}"
        if default.get("GatewayId", "").startswith("igw-"):
            return (
                f"{where} routes {ANYWHERE} to {default['GatewayId']}, but a function's network interface has "
                f"no public IP, so it has no route to {service}: use a private subnet with a NAT, or add {hint.split(' or ')[0]}"
            )
        nat_id = default.get("NatGatewayId")
        if nat_id is None:
            return f"{where} routes {ANYWHERE} to neither a NAT nor an endpoint, so it has no route to {service}: add {hint}"
        why_nat = self._why_not_nat(nat_id)
        if why_nat is not None:
            return f"{where} routes {ANYWHERE} to {nat_id}, but {why_nat}: no route to {service}"
        if not self._allows(source.security_groups, "egress", HTTPS, groups=(), cidrs=(ANYWHERE,)):
            return f"{source.label}'s {self._groups(source)} no egress to {HTTPS} ({ANYWHERE}) for {service}"
        return None

    def _why_not_nat(self, nat_id: str) -> str | None:
        nat = self.snapshot.nat_gateways.get(nat_id)
        if nat is None:
            return "that NAT gateway does not exist"
        if nat.get("ConnectivityType") == "private":
            return "that NAT gateway is private (it reaches other networks, not the internet)"
        table = self._route_table(nat["SubnetId"])
        gateways = self.snapshot.attached_gateways.get(nat["VpcId"], set())
        if not any(
            r.get("DestinationCidrBlock") == ANYWHERE and r.get("GatewayId") in gateways
            for r in (table.get("Routes", []) if table else [])
        ):
            return f"its subnet {nat['SubnetId']} has no default route to an internet gateway attached to the VPC"
        return None

    # ------------------------------------------------------------------------------------ helpers

    def _vpc(self, placement: Placement) -> str:
        return self.snapshot.subnets[placement.subnets[0]]["VpcId"]

    def _route_table(self, subnet: str) -> dict[str, Any] | None:
        """The subnet's route table: the one associated with it, else its VPC's main one."""
        tables = self.snapshot.route_tables
        for table in tables:
            if any(a.get("SubnetId") == subnet for a in table.get("Associations", [])):
                return table
        vpc = self.snapshot.subnets[subnet]["VpcId"]
        return next(
            (
                t
                for t in tables
                if t["VpcId"] == vpc and any(a.get("Main") for a in t.get("Associations", []))
            ),
            None,
        )

    def _groups(self, placement: Placement) -> str:
        """``security group sg-1 has`` or ``security groups sg-1, sg-2 have``: what a reason starts with."""
        groups = placement.security_groups
        if len(groups) == 1:
            return f"security group {groups[0]} has"
        return f"security groups {', '.join(groups)} have"

    def _allows(
        self,
        group_ids: tuple[str, ...],
        direction: str,
        port: int,
        *,
        groups: tuple[str, ...],
        cidrs: tuple[str, ...] | list[str],
        prefix_list: str | None = None,
    ) -> bool:
        """Whether any rule of ``group_ids`` in ``direction`` lets TCP ``port`` through to (or from)
        the other side: one of its ``groups``, a CIDR covering all its ``cidrs``, or its ``prefix_list``."""
        key = "IpPermissionsEgress" if direction == "egress" else "IpPermissions"
        peers = [ipaddress.ip_network(c) for c in cidrs]
        for group_id in group_ids:
            for rule in self.snapshot.groups[group_id].get(key, []):
                if not _covers_port(rule, port):
                    continue
                if any(pair.get("GroupId") in groups for pair in rule.get("UserIdGroupPairs", [])):
                    return True
                if prefix_list and any(
                    p.get("PrefixListId") == prefix_list for p in rule.get("PrefixListIds", [])
                ):
                    return True
                ranges = [ipaddress.ip_network(r["CidrIp"], strict=False) for r in rule.get("IpRanges", [])]
                if peers and any(all(peer.subnet_of(block) for peer in peers) for block in ranges):
                    return True
        return False


def _covers_port(rule: dict[str, Any], port: int) -> bool:
    protocol = str(rule.get("IpProtocol"))
    if protocol == "-1":
        return True
    return protocol in ("tcp", "6") and int(rule.get("FromPort", -1)) <= port <= int(rule.get("ToPort", -1))
