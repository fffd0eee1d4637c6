"""Custom domain names and their base path mappings (``AWS::ApiGateway::DomainName``, ``BasePathMapping``).

A request to a custom domain goes to the API and stage of the mapping whose base path is the
first segment of its path, with the base path removed; a mapping without a stage takes the stage
from the next segment. A ``(none)`` mapping takes every path, and so must be the domain's only
mapping: API Gateway refuses any other beside it (409, "Only one base path mapping is allowed if the
base path is empty"). A path no mapping serves is API Gateway's 403 ``{"message":"Forbidden"}``.
The mappings of one domain may come from several stacks (one per service): only the domain's name
passes between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from localcloud.errors import ApiGatewayError

if TYPE_CHECKING:
    from localcloud.services.apigateway.model import RestApi


@dataclass(frozen=True)
class Mapping:
    base_path: str
    """``""`` for the root mapping (``(none)``), else one path segment (``orders``)."""
    api_id: str
    stage: str | None


@dataclass
class Domain:
    name: str
    logical_id: str
    mappings: list[Mapping] = field(default_factory=list)

    def resolve(self, path: str) -> tuple[Mapping, str, str] | None:
        """``(mapping, stage, rest of the path)`` for a request path, or None when no mapping serves it."""
        head, _, tail = path.lstrip("/").partition("/")
        for mapping in sorted(self.mappings, key=lambda m: m.base_path == ""):
            if mapping.base_path == "":
                rest = path
            elif mapping.base_path == head:
                rest = "/" + tail
            else:
                continue
            if mapping.stage is not None:
                return mapping, mapping.stage, rest
            stage, _, below = rest.lstrip("/").partition("/")
            return (mapping, stage, "/" + below) if stage else None
        return None


def build(definitions: dict[str, tuple[str, dict[str, Any]]], apis: dict[str, RestApi]) -> dict[str, Domain]:
    """The custom domains of the stack, by domain name (lower case, as DNS compares them)."""
    domains: dict[str, Domain] = {}
    for logical_id, (resource_type, props) in definitions.items():
        if resource_type == "AWS::ApiGateway::DomainName":
            domains[props["DomainName"].lower()] = Domain(props["DomainName"], logical_id)
    for logical_id, (resource_type, props) in definitions.items():
        if resource_type != "AWS::ApiGateway::BasePathMapping":
            continue
        domain = domains.get(str(props.get("DomainName", "")).lower())
        if domain is None:
            raise ApiGatewayError(
                f"{logical_id}: Invalid domain name identifier specified: {props.get('DomainName')!r} is "
                "not a custom domain of this account and region (deploy the domain's stack first)"
            )
        api = apis.get(props.get("RestApiId", ""))
        if api is None:
            raise ApiGatewayError(
                f"{logical_id}: RestApiId {props.get('RestApiId')!r} is not a REST API here"
            )
        base_path = str(props.get("BasePath") or "").strip("/")
        base_path = "" if base_path == "(none)" else base_path
        if "/" in base_path:
            raise ApiGatewayError(
                f"{logical_id}: base path {base_path!r} has several segments, which a BasePathMapping "
                "refuses (AWS::ApiGatewayV2::ApiMapping takes them)"
            )
        stage = props.get("Stage") or None
        if stage is not None and stage not in api.stages:
            raise ApiGatewayError(f"{logical_id}: stage {stage!r} is not a stage of {api.name}")
        if any(m.base_path == base_path for m in domain.mappings):
            raise ApiGatewayError(
                f"{logical_id}: Base path already exists for this domain name: {domain.name} already "
                f"maps {base_path or '(none)'}"
            )
        if domain.mappings and "" in (base_path, *(m.base_path for m in domain.mappings)):
            raise ApiGatewayError(
                f"{logical_id}: Only one base path mapping is allowed if the base path is empty: "
                f"{domain.name} cannot hold a (none) mapping beside another"
            )
        domain.mappings.append(Mapping(base_path, api.id, stage))
    return domains
