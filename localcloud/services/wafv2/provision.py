"""AWS WAF web ACLs and their associations with API Gateway stages, kept by the local cloud.

moto is not used: the gateway evaluates each associated ACL itself (:mod:`localcloud.wafv2`).
``Ref`` is ``name|id|scope`` and ``Fn::GetAtt`` gives ``Arn``, ``Id`` and ``LabelNamespace``, as
CloudFormation answers; a web ACL without a ``Name`` gets ``{logical id}-{id}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions
from localcloud.services.wafv2 import web_acl as wafv2

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


@provisions("AWS::WAFv2::WebACL")
def web_acl(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    acl_id = cloud.short_id(logical_id, 36)
    name = props.get("Name") or f"{logical_id}-{acl_id[:12]}"
    arn = f"arn:{cloud.partition}:wafv2:{cloud.region}:{cloud.account}:regional/webacl/{name}/{acl_id}"
    wafv2.waf(cloud).acls[arn] = wafv2.web_acl(logical_id, arn, props)
    namespace = f"awswaf:{cloud.account}:webacl:{name}:"
    return Provisioned(f"{name}|{acl_id}|REGIONAL", {"Arn": arn, "Id": acl_id, "LabelNamespace": namespace})


@provisions("AWS::WAFv2::WebACLAssociation")
def web_acl_association(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    wafv2.associate(cloud, logical_id, props["ResourceArn"], props["WebACLArn"])
    return Provisioned(f"{props['ResourceArn']}|{props['WebACLArn']}")
