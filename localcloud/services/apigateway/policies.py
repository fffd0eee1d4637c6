"""REST API resource policies and private endpoints, decided by the local cloud's one IAM evaluator.

The caller is ``anonymous`` acting ``execute-api:Invoke`` on
``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}`` (the path as requested);
a policy's ``execute-api:/...`` shorthand names this API. Condition keys: ``aws:SourceIp`` (the
client's address: the connecting address under ``serve``, ``source_ip=`` in-process, 127.0.0.1
by default), and for a request through a VPC endpoint ``aws:SourceVpce`` and ``aws:SourceVpc``
(``source_vpce=``/``source_vpc=`` in-process; such a request has no ``aws:SourceIp``).

As AWS's authorization flow combines them: an explicit deny is a 403 whatever else says; a method
with a Lambda authorizer (or ``AWS_IAM``) is let in by its authorizer when the policy says nothing;
any other method needs the policy to allow it. A ``PRIVATE`` API answers only requests that came
through a VPC endpoint (else 403 ``Forbidden``); which endpoints, its policy says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.execute_api import masked
from localcloud.services.apigateway.responses import GatewayError

if TYPE_CHECKING:
    from localcloud.core.iam import Statement
    from localcloud.services.apigateway.call import Call
    from localcloud.services.apigateway.model import RestApi

ACTION = "execute-api:Invoke"


def statements(call: Call) -> list[Statement] | None:
    """The API's policy, compiled once per cloud with its shorthand resources made ARNs."""
    api = call.api
    if api.policy is None:
        return None
    cloud = call.cloud
    key = f"arn:{cloud.partition}:execute-api:{cloud.region}:{cloud.account}:{api.id}"
    if key not in cloud.iam.resource:
        cloud.iam.add_resource_policy(key, _expanded(api, key), f"{api.logical_id} resource policy")
    return cloud.iam.resource[key]


def _expanded(api: RestApi, api_arn: str) -> dict[str, Any]:
    def arn(resource: str) -> str:
        return (
            f"{api_arn}/{resource.removeprefix('execute-api:/')}"
            if resource.startswith("execute-api:")
            else resource
        )

    document = dict(api.policy or {})
    raw = document.get("Statement", [])
    expanded = []
    for statement in [raw] if isinstance(raw, dict) else raw:
        statement = dict(statement)
        for field in ("Resource", "NotResource"):
            if field in statement:
                value = statement[field]
                statement[field] = arn(value) if isinstance(value, str) else [arn(v) for v in value]
        expanded.append(statement)
    document["Statement"] = expanded
    return document


def check_endpoint(call: Call) -> None:
    """A private API answers only through a VPC endpoint. Which one is the resource policy's say:
    ``VpcEndpointIds`` only name the endpoints that get a Route 53 alias for it."""
    api, request = call.api, call.request
    if not api.private:
        return
    if request.source_vpce is None:
        raise GatewayError(
            "ACCESS_DENIED", f"{api.name} is PRIVATE and the request came through no VPC endpoint"
        )


def condition_keys(call: Call) -> dict[str, str]:
    """The request's condition keys: where it came from on the network."""
    request = call.request
    context = {"aws:securetransport": "true"}
    if request.source_vpce is not None:
        context["aws:sourcevpce"] = request.source_vpce
        if request.source_vpc is not None:
            context["aws:sourcevpc"] = request.source_vpc
    else:
        context["aws:sourceip"] = request.source_ip
    return context


def check_policy(call: Call) -> None:
    """The resource policy's verdict for this request, combined with its method's authorization."""
    found = statements(call)
    assert call.method is not None
    if found is None or call.method.authorization_type == "AWS_IAM":
        return  # an AWS_IAM method's policy is decided with its signed caller, in its authorization
    context = condition_keys(call)
    arn = call.execute_api_arn()
    decision = call.cloud.iam.resource_decision(found, "anonymous", ACTION, arn, context)
    if decision.allowed:
        return
    explicit = decision.reason.startswith("explicit deny")
    if not explicit and call.method.authorization_type in ("CUSTOM", "AWS_IAM"):
        return
    message = f"User: anonymous is not authorized to perform: {ACTION} on resource: {masked(arn)}"
    raise GatewayError(
        "ACCESS_DENIED",
        f"resource policy: {decision.reason} for {arn} from {context.get('aws:sourceip') or context['aws:sourcevpce']}",
        message=f"{message} with an explicit deny" if explicit else message,
        body_key="Message",
    )
