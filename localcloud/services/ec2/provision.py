"""VPCs and what CDK's ``ec2.Vpc`` puts in them, created in moto's EC2: subnets, route tables and
routes, internet and NAT gateways with their addresses, security groups and their rules, and VPC
endpoints. What a function in the VPC may reach through them is :mod:`localcloud.services.ec2.reach`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions, refuse_unknown_properties
from localcloud.errors import LocalCloudError

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: Route targets CloudFormation takes, and the parameter of ``CreateRoute`` each becomes.
ROUTE_TARGETS = (
    "GatewayId",
    "NatGatewayId",
    "VpcEndpointId",
    "TransitGatewayId",
    "VpcPeeringConnectionId",
    "NetworkInterfaceId",
    "InstanceId",
    "EgressOnlyInternetGatewayId",
    "CarrierGatewayId",
    "LocalGatewayId",
)
ROUTE_DESTINATIONS = ("DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId")


def _ec2(cloud: Kernel) -> Any:
    """The admin client; the first EC2 resource installs this service's rules in the kernel's network."""
    if cloud.network.fabric is None:
        cloud.network.fabric = cloud.service("ec2")
    return cloud.admin_client("ec2")


def _tags(resource_type: str, props: dict[str, Any]) -> dict[str, Any]:
    tags = props.get("Tags")
    return {"TagSpecifications": [{"ResourceType": resource_type, "Tags": tags}]} if tags else {}


@provisions("AWS::EC2::VPC")
def vpc(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(
        logical_id,
        "AWS::EC2::VPC",
        props,
        {"CidrBlock", "EnableDnsHostnames", "EnableDnsSupport", "InstanceTenancy", "Tags"},
    )
    if "CidrBlock" not in props:
        raise LocalCloudError(
            f"{logical_id}: AWS::EC2::VPC needs CidrBlock offline (IPAM pools are not modelled)"
        )
    ec2 = _ec2(cloud)
    created = ec2.create_vpc(
        CidrBlock=props["CidrBlock"],
        InstanceTenancy=props.get("InstanceTenancy", "default"),
        **_tags("vpc", props),
    )["Vpc"]
    vpc_id = created["VpcId"]
    for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
        if attribute in props:
            ec2.modify_vpc_attribute(VpcId=vpc_id, **{attribute: {"Value": _bool(props[attribute])}})
    group = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    acl = ec2.describe_network_acls(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "default", "Values": ["true"]}]
    )["NetworkAcls"][0]["NetworkAclId"]
    return Provisioned(
        vpc_id,
        {
            "VpcId": vpc_id,
            "CidrBlock": props["CidrBlock"],
            "CidrBlockAssociations": [a["AssociationId"] for a in created.get("CidrBlockAssociationSet", [])],
            "DefaultSecurityGroup": group,
            "DefaultNetworkAcl": acl,
            "Ipv6CidrBlocks": [],
        },
    )


@provisions("AWS::EC2::Subnet")
def subnet(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(
        logical_id,
        "AWS::EC2::Subnet",
        props,
        {"VpcId", "CidrBlock", "AvailabilityZone", "AvailabilityZoneId", "MapPublicIpOnLaunch", "Tags"},
    )
    where = {key: props[key] for key in ("AvailabilityZone", "AvailabilityZoneId") if key in props}
    ec2 = _ec2(cloud)
    created = ec2.create_subnet(
        VpcId=props["VpcId"], CidrBlock=props["CidrBlock"], **where, **_tags("subnet", props)
    )["Subnet"]
    subnet_id = created["SubnetId"]
    if _bool(props.get("MapPublicIpOnLaunch", False)):
        ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
    acls = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
    acl_association = next(
        (
            a["NetworkAclAssociationId"]
            for acl in acls["NetworkAcls"]
            for a in acl.get("Associations", [])
            if a.get("SubnetId") == subnet_id
        ),
        "",
    )
    return Provisioned(
        subnet_id,
        {
            "SubnetId": subnet_id,
            "VpcId": props["VpcId"],
            "CidrBlock": props["CidrBlock"],
            "AvailabilityZone": created["AvailabilityZone"],
            "AvailabilityZoneId": created.get("AvailabilityZoneId", ""),
            "Ipv6CidrBlocks": [],
            "NetworkAclAssociationId": acl_association,
        },
    )


@provisions("AWS::EC2::RouteTable")
def route_table(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(logical_id, "AWS::EC2::RouteTable", props, {"VpcId", "Tags"})
    table = _ec2(cloud).create_route_table(VpcId=props["VpcId"], **_tags("route-table", props))
    table_id = table["RouteTable"]["RouteTableId"]
    return Provisioned(table_id, {"RouteTableId": table_id})


@provisions("AWS::EC2::SubnetRouteTableAssociation")
def subnet_route_table_association(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    association = _ec2(cloud).associate_route_table(
        RouteTableId=props["RouteTableId"], SubnetId=props["SubnetId"]
    )["AssociationId"]
    return Provisioned(association, {"Id": association})


@provisions("AWS::EC2::Route")
def route(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(
        logical_id, "AWS::EC2::Route", props, {"RouteTableId", *ROUTE_TARGETS, *ROUTE_DESTINATIONS}
    )
    targets = {key: props[key] for key in ROUTE_TARGETS if key in props}
    destinations = {key: props[key] for key in ROUTE_DESTINATIONS if key in props}
    if len(targets) != 1 or len(destinations) != 1:
        raise LocalCloudError(
            f"{logical_id}: AWS::EC2::Route needs exactly one destination ({', '.join(ROUTE_DESTINATIONS)}) "
            f"and one target ({', '.join(ROUTE_TARGETS)})"
        )
    _ec2(cloud).create_route(RouteTableId=props["RouteTableId"], **destinations, **targets)
    destination = next(iter(destinations.values()))
    return Provisioned(f"{props['RouteTableId']}|{destination}", {"CidrBlock": destination})


@provisions("AWS::EC2::InternetGateway")
def internet_gateway(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    gateway = _ec2(cloud).create_internet_gateway(**_tags("internet-gateway", props))
    gateway_id = gateway["InternetGateway"]["InternetGatewayId"]
    return Provisioned(gateway_id, {"InternetGatewayId": gateway_id})


@provisions("AWS::EC2::VPCGatewayAttachment")
def gateway_attachment(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    if "InternetGatewayId" not in props:
        raise LocalCloudError(
            f"{logical_id}: AWS::EC2::VPCGatewayAttachment of a VPN gateway is not supported offline"
        )
    _ec2(cloud).attach_internet_gateway(InternetGatewayId=props["InternetGatewayId"], VpcId=props["VpcId"])
    return Provisioned(f"IGW|{props['VpcId']}", {"AttachmentType": "IGW", "VpcId": props["VpcId"]})


@provisions("AWS::EC2::EIP")
def elastic_ip(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    address = _ec2(cloud).allocate_address(Domain=props.get("Domain", "vpc"), **_tags("elastic-ip", props))
    return Provisioned(
        address["PublicIp"], {"AllocationId": address["AllocationId"], "PublicIp": address["PublicIp"]}
    )


@provisions("AWS::EC2::NatGateway")
def nat_gateway(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(
        logical_id,
        "AWS::EC2::NatGateway",
        props,
        {"AllocationId", "SubnetId", "ConnectivityType", "PrivateIpAddress", "Tags"},
    )
    options = {
        key: props[key] for key in ("AllocationId", "ConnectivityType", "PrivateIpAddress") if key in props
    }
    gateway = _ec2(cloud).create_nat_gateway(
        SubnetId=props["SubnetId"], **options, **_tags("natgateway", props)
    )["NatGateway"]
    return Provisioned(gateway["NatGatewayId"], {"NatGatewayId": gateway["NatGatewayId"]})


@provisions("AWS::EC2::SecurityGroup")
def security_group(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """With ``SecurityGroupEgress`` given, CloudFormation replaces the default allow-all egress rule
    with those rules; without it, the default stays (as for ``AWS::EC2::SecurityGroupEgress`` added later)."""
    refuse_unknown_properties(
        logical_id,
        "AWS::EC2::SecurityGroup",
        props,
        {"GroupDescription", "GroupName", "VpcId", "SecurityGroupIngress", "SecurityGroupEgress", "Tags"},
    )
    if "VpcId" not in props:
        raise LocalCloudError(
            f"{logical_id}: a security group outside a VPC (EC2-Classic) is not supported offline"
        )
    ec2 = _ec2(cloud)
    group_id = ec2.create_security_group(
        GroupName=props.get("GroupName") or cloud.physical_name(logical_id, 255),
        Description=props["GroupDescription"],
        VpcId=props["VpcId"],
        **_tags("security-group", props),
    )["GroupId"]
    for rule in props.get("SecurityGroupIngress", []):
        ec2.authorize_security_group_ingress(
            GroupId=group_id, IpPermissions=[_permission(rule, "Source", logical_id)]
        )
    if "SecurityGroupEgress" in props:
        _revoke_all(ec2, group_id, egress_only=True)
        for rule in props["SecurityGroupEgress"]:
            ec2.authorize_security_group_egress(
                GroupId=group_id, IpPermissions=[_permission(rule, "Destination", logical_id)]
            )
    return Provisioned(group_id, {"GroupId": group_id, "VpcId": props["VpcId"]})


@provisions("AWS::EC2::SecurityGroupIngress")
def security_group_ingress(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    return _rule(cloud, logical_id, props, "Source", "authorize_security_group_ingress")


@provisions("AWS::EC2::SecurityGroupEgress")
def security_group_egress(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    return _rule(cloud, logical_id, props, "Destination", "authorize_security_group_egress")


def _rule(cloud: Kernel, logical_id: str, props: dict[str, Any], side: str, call: str) -> Provisioned:
    if "GroupId" not in props:
        raise LocalCloudError(
            f"{logical_id}: a security group rule needs GroupId offline (GroupName is EC2-Classic)"
        )
    permission = _permission(props, side, logical_id)
    answer = getattr(_ec2(cloud), call)(GroupId=props["GroupId"], IpPermissions=[permission])
    rule_id = answer.get("SecurityGroupRules", [{}])[0].get(
        "SecurityGroupRuleId", f"{props['GroupId']}-{logical_id}"
    )
    return Provisioned(rule_id, {"Id": rule_id})


#: What a template's security group rule may say, besides its group (``GroupId``).
RULE_KEYS = {
    "IpProtocol",
    "FromPort",
    "ToPort",
    "CidrIp",
    "CidrIpv6",
    "Description",
    "SourceSecurityGroupOwnerId",
}


def _permission(rule: dict[str, Any], side: str, logical_id: str) -> dict[str, Any]:
    """A template rule (``CidrIp``, ``SourceSecurityGroupId``...) as EC2's ``IpPermissions`` entry."""
    unknown = sorted(set(rule) - RULE_KEYS - {"GroupId", f"{side}SecurityGroupId", f"{side}PrefixListId"})
    if unknown:
        raise LocalCloudError(
            f"{logical_id}: security group rule properties {', '.join(unknown)} are not supported offline"
        )
    protocol = str(rule.get("IpProtocol", "-1"))
    permission: dict[str, Any] = {"IpProtocol": protocol}
    if protocol not in ("-1", "all"):
        permission["FromPort"] = int(rule.get("FromPort", -1))
        permission["ToPort"] = int(rule.get("ToPort", -1))
    described = {"Description": rule["Description"]} if rule.get("Description") else {}
    if "CidrIp" in rule:
        permission["IpRanges"] = [{"CidrIp": rule["CidrIp"], **described}]
    if "CidrIpv6" in rule:
        permission["Ipv6Ranges"] = [{"CidrIpv6": rule["CidrIpv6"], **described}]
    if f"{side}SecurityGroupId" in rule:
        permission["UserIdGroupPairs"] = [{"GroupId": rule[f"{side}SecurityGroupId"], **described}]
    if f"{side}PrefixListId" in rule:
        permission["PrefixListIds"] = [{"PrefixListId": rule[f"{side}PrefixListId"], **described}]
    return permission


def _revoke_all(ec2: Any, group_id: str, *, egress_only: bool = False) -> None:
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    if group.get("IpPermissionsEgress"):
        ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=group["IpPermissionsEgress"])
    if not egress_only and group.get("IpPermissions"):
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=group["IpPermissions"])


@provisions("AWS::EC2::VPCEndpoint")
def vpc_endpoint(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """Gateway endpoints add their service's prefix-list route to the route tables named; interface
    endpoints sit in their subnets behind their security groups (the VPC's default one if none)."""
    refuse_unknown_properties(
        logical_id,
        "AWS::EC2::VPCEndpoint",
        props,
        {
            "VpcId",
            "ServiceName",
            "VpcEndpointType",
            "RouteTableIds",
            "SubnetIds",
            "SecurityGroupIds",
            "PrivateDnsEnabled",
            "PolicyDocument",
            "Tags",
        },
    )
    kind = props.get("VpcEndpointType", "Gateway")
    options: dict[str, Any] = {"VpcEndpointType": kind}
    for key in ("RouteTableIds", "SubnetIds", "SecurityGroupIds", "PrivateDnsEnabled"):
        if key in props:
            options[key] = _bool(props[key]) if key == "PrivateDnsEnabled" else props[key]
    if "PolicyDocument" in props:
        document = props["PolicyDocument"]
        options["PolicyDocument"] = document if isinstance(document, str) else json.dumps(document)
    if kind == "Interface" and "SecurityGroupIds" not in props:
        options["SecurityGroupIds"] = [cloud.service("ec2").default_security_group(props["VpcId"])]
    if kind == "Interface" and "PrivateDnsEnabled" not in props:
        options["PrivateDnsEnabled"] = True  # CloudFormation's default for interface endpoints
    endpoint = _ec2(cloud).create_vpc_endpoint(
        VpcId=props["VpcId"], ServiceName=props["ServiceName"], **options, **_tags("vpc-endpoint", props)
    )["VpcEndpoint"]
    endpoint_id = endpoint["VpcEndpointId"]
    cloud.service("ec2").endpoint_options[endpoint_id] = options
    return Provisioned(
        endpoint_id,
        {
            "Id": endpoint_id,
            "CreationTimestamp": str(endpoint.get("CreationTimestamp", "")),
            "DnsEntries": [entry["DnsName"] for entry in endpoint.get("DnsEntries", [])],
            "NetworkInterfaceIds": endpoint.get("NetworkInterfaceIds", []),
        },
    )


@provisions("Custom::VpcRestrictDefaultSG")
def restrict_default_security_group(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """CDK's ``@aws-cdk/aws-ec2:restrictDefaultSecurityGroup``: its handler removes every rule of the
    VPC's default security group, so nothing placed in it by default can talk to anything."""
    group_id = props["DefaultSecurityGroupId"]
    _revoke_all(_ec2(cloud), group_id)
    return Provisioned(group_id)


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"
