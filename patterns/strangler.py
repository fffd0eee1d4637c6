"""Strangler: an API Gateway facade in front of a legacy API, with migrated routes answered by Lambda.

Clients call the facade only. Every request goes to the legacy API through an ``HTTP_PROXY``
integration, which passes the method, path, query string, headers and body through unchanged and
hands the legacy answer back as it is. The routes in ``migrated_routes`` go to Lambda instead:
moving a route from the legacy API to the new service is one line in that mapping, and moving it
back is deleting the line. When nothing is left on the legacy side, point clients at the new
service and retire the facade.

API Gateway serves a request from the most specific resource that matches it, so a migrated
route's resources would otherwise stand between some requests and the catch-all: the facade gives
every resource it creates an ``ANY`` method to the legacy API (the migrated route's other methods)
and, where the resource has no path-variable child, a ``{proxy+}`` child to the legacy API (the
deeper paths). No request falls between the new routes and the legacy API.

The legacy API's address comes from two CloudFormation parameters unless ``legacy_url`` is given:
``LegacyApiHost`` (``host[:port][/base/path]``) becomes the stage variable ``legacyApiHost`` that every
legacy integration's URI names, so deploying a new host updates the stage in place and takes
effect at once; ``LegacyApiScheme`` (``https`` by default) is part of the URIs, because API Gateway
takes a stage variable after the scheme only. The same synthesized template deploys in front of
each environment's legacy API
(``cdk deploy StranglerStack --parameters LegacyApiHost=legacy.internal.example``), and tests
point it at a local server without synthesizing again.

API Gateway URL-decodes a path parameter before it builds the legacy URL, so ``/orders/%2e%2e/admin``
or ``/orders/a%2F..%2Fadmin`` would reach the legacy API as ``/orders/../admin``: a path outside the
one the facade exposes, once the legacy server resolves it. The facade therefore associates an AWS
WAF web ACL with its stage whose rule blocks (403) any path with a ``.`` or ``..`` segment after
URL-decoding twice; ``web_acl=`` associates an ACL of yours instead, and
``block_path_traversal=False`` leaves the stage without one (warned).

Example::

    facade = Strangler(self, "Shop", legacy_url="https://shop.example.com/api", migrated_routes={
        "GET /products/{id}": "products.handler",      # the new service shipped with the pattern
        "POST /orders": orders_function,                # or any function of yours
    })
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnParameter, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from .defaults import (
    CodeLocation,
    PatternFunction,
    Props,
    SecureDefault,
    SecureRestApi,
    acknowledge,
    grant_table,
    merge_props,
    pattern_function_props,
    rest_api_props,
    table_or_new,
    warn_override,
)

#: Routes answered by the new service by default; every other request reaches the legacy API.
DEFAULT_MIGRATED_ROUTES: Mapping[str, str] = {"GET /products/{id}": "products.handler"}
#: The host parameter's default: a reserved documentation domain (RFC 2606), so a stack deployed
#: without ``--parameters LegacyApiHost=...`` sends nothing to anyone's server.
DEFAULT_LEGACY_HOST = "legacy.example.com"
LEGACY_HOST_PARAMETER = "LegacyApiHost"
LEGACY_SCHEME_PARAMETER = "LegacyApiScheme"
#: The stage variable holding the legacy host; API Gateway allows only these characters in its value.
LEGACY_HOST_VARIABLE = "legacyApiHost"
LEGACY_HOST_PATTERN = r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._/-]*[A-Za-z0-9._-])?$"
LEGACY_URL_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s?#]*[^/\s?#])?$"
#: API Gateway's longest integration timeout for a REST API by default.
MAX_LEGACY_TIMEOUT = Duration.seconds(29)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
_ROUTE = re.compile(r"^(?P<method>[A-Z]+) (?P<path>/\S*)$")
_LITERAL = re.compile(r"^[A-Za-z0-9._~-]+$")
_VARIABLE = re.compile(r"^\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<greedy>\+?)\}$")

#: The byte sequences that make a URI path climb or stay put once a server resolves it (RFC 3986
#: section 5.2.4): a ``.`` or ``..`` segment inside the path, or ending it.
DOT_SEGMENTS = (("CONTAINS", "/../"), ("CONTAINS", "/./"), ("ENDS_WITH", "/.."), ("ENDS_WITH", "/."))
PATH_TRAVERSAL_RULE = "BlockDotSegments"


def path_traversal_rule(priority: int = 0) -> dict[str, Any]:
    """A WAFv2 rule (CloudFormation's shape) blocking a URI path with a dot segment.

    The path is URL-decoded twice first, so ``%2e%2e``, ``%2F..%2F`` and ``%252e%252e`` (API Gateway
    decodes a path parameter once more before the backend sees it) are caught as well as raw
    ``/../``. Matching ``/../`` and ``/./`` with their slashes, and the two endings, blocks exactly
    the segments and never a name that merely holds dots (``v1.2``, ``..hidden``, ``.well-known``).
    """
    transformations = [{"priority": 0, "type": "URL_DECODE"}, {"priority": 1, "type": "URL_DECODE"}]
    return {
        "name": PATH_TRAVERSAL_RULE,
        "priority": priority,
        "action": {"block": {}},
        "statement": {
            "orStatement": {
                "statements": [
                    {
                        "byteMatchStatement": {
                            "fieldToMatch": {"uriPath": {}},
                            "positionalConstraint": position,
                            "searchString": text,
                            "textTransformations": transformations,
                        }
                    }
                    for position, text in DOT_SEGMENTS
                ]
            }
        },
        "visibilityConfig": {
            "cloudWatchMetricsEnabled": True,
            "metricName": PATH_TRAVERSAL_RULE,
            "sampledRequestsEnabled": True,
        },
    }


def _has_path_traversal_rule(rules: Any) -> bool:
    return any(isinstance(rule, Mapping) and rule.get("name") == PATH_TRAVERSAL_RULE for rule in rules or ())


Target = str | lambda_.IFunction
"""A handler (``module.function``) in ``functions/strangler/``, built here, or a function of yours."""


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Route:
        """``"GET /products/{id}"``; a ``ValueError`` says what is wrong with it."""
        found = _ROUTE.match(text)
        if found is None or found["method"] not in METHODS:
            raise ValueError(
                f"route {text!r}: expected '<METHOD> /path' with METHOD one of {', '.join(METHODS)}"
            )
        parts = tuple(part for part in found["path"].split("/") if part)
        for index, part in enumerate(parts):
            variable = _VARIABLE.match(part)
            if variable is None and not _LITERAL.match(part):
                raise ValueError(f"route {text!r}: {part!r} is neither a path part nor a {{variable}}")
            if variable is not None and variable["greedy"] and index != len(parts) - 1:
                raise ValueError(f"route {text!r}: a greedy {{{variable['name']}+}} must end the path")
        if parts and _VARIABLE.match(parts[0]):
            raise ValueError(
                f"route {text!r}: a variable first path part would take the place of the legacy catch-all "
                "(API Gateway allows one variable child per resource)"
            )
        return cls(found["method"], "/" + "/".join(parts), parts)


def _products_actions(route: Route) -> tuple[str, ...]:
    """What the products service calls on its table for ``route``: a Scan to list ``/products``,
    a GetItem to read one product below it; nothing for a route it answers with 404."""
    if route.method not in ("GET", "ANY") or route.parts[:1] != ("products",):
        return ()
    return ("dynamodb:Scan",) if len(route.parts) == 1 else ("dynamodb:GetItem",)


class Strangler(Construct):
    """A facade that sends migrated routes to Lambda and every other request to the legacy API.

    :param legacy_url: the legacy API's base URL (``https://host[/base/path]``, no trailing slash),
        fixed at synth; by default the stack parameters ``LegacyApiScheme`` and ``LegacyApiHost``.
    :param migrated_routes: ``"<METHOD> /path"`` (``{variable}`` and a final ``{proxy+}`` allowed,
        ``ANY`` for every method) to the function that now answers it.
    :param products_table: the sample products service's table (string partition key ``id``), used
        when a route names a handler of ``functions/strangler/``; one is created if omitted.
    :param legacy_timeout: how long API Gateway waits for the legacy API (at most 29 s) before 504.
    :param products_table_props: ``dynamodb.Table`` props of the products table made here.
    :param functions_props: ``PatternFunction`` props of each function built from a handler name.
    :param api_props: ``SecureRestApi`` props; the stage variables are the facade's.
    :param code_dir: the folder of the handlers named in ``migrated_routes``; ``functions/strangler``
        by default.
    :param web_acl: the ARN of a regional AWS WAF web ACL of yours to associate with the stage instead
        of the one made here (it should block dot segments as :func:`path_traversal_rule` does).
    :param block_path_traversal: ``False`` associates no web ACL (warned): dot segments then reach
        the legacy API.
    :param web_acl_props: ``wafv2.CfnWebACL`` props of the web ACL made here (``rules`` replaces the
        list; leaving out :data:`PATH_TRAVERSAL_RULE` is warned).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        legacy_url: str | None = None,
        migrated_routes: Mapping[str, Target] | None = None,
        products_table: dynamodb.ITable | None = None,
        legacy_timeout: Duration | None = None,
        throttling_rate_limit: float | None = None,
        throttling_burst_limit: int | None = None,
        products_table_props: Props | None = None,
        functions_props: Props | None = None,
        api_props: Props | None = None,
        code_dir: CodeLocation = "strangler",
        web_acl: str | None = None,
        block_path_traversal: bool = True,
        web_acl_props: Props | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        legacy_timeout = legacy_timeout or MAX_LEGACY_TIMEOUT
        if not 0.05 <= legacy_timeout.to_seconds() <= MAX_LEGACY_TIMEOUT.to_seconds():
            raise ValueError(f"{construct_id}: legacy_timeout must be from 50 ms to 29 s")
        routes = {
            Route.parse(text): target for text, target in (migrated_routes or DEFAULT_MIGRATED_ROUTES).items()
        }
        _check_one_variable_child_each(construct_id, routes)

        self.legacy_host_parameter: CfnParameter | None = None
        self.legacy_scheme_parameter: CfnParameter | None = None
        stage_variables = None
        if legacy_url is None:
            stack = Stack.of(self)
            if stack.node.try_find_child(LEGACY_HOST_PARAMETER) is not None:
                raise ValueError(
                    f"{construct_id}: a second facade in {stack.stack_name} needs its own legacy_url"
                )
            self.legacy_scheme_parameter = CfnParameter(
                stack,
                LEGACY_SCHEME_PARAMETER,
                type="String",
                default="https",
                allowed_values=["https", "http"],
                description="Scheme of the legacy API; changing it after the first deployment needs a new "
                "deployment of the API's stage",
            )
            self.legacy_host_parameter = CfnParameter(
                stack,
                LEGACY_HOST_PARAMETER,
                type="String",
                default=DEFAULT_LEGACY_HOST,
                allowed_pattern=LEGACY_HOST_PATTERN,
                constraint_description="host[:port][/base/path], no scheme and no trailing slash",
                description="Host (and base path) of the legacy API that serves every route not migrated",
            )
            scheme = self.legacy_scheme_parameter.value_as_string
            stage_variables = {LEGACY_HOST_VARIABLE: self.legacy_host_parameter.value_as_string}
            self._legacy_base = f"{scheme}://${{stageVariables.{LEGACY_HOST_VARIABLE}}}"
            legacy_url = f"{scheme}://{self.legacy_host_parameter.value_as_string}"
        elif re.match(LEGACY_URL_PATTERN, legacy_url):
            self._legacy_base = legacy_url
        else:
            raise ValueError(
                f"{construct_id}: legacy_url {legacy_url!r} must be http(s)://host[:port][/path], no trailing /"
            )
        self.legacy_url = legacy_url
        self.legacy_timeout = legacy_timeout

        self.products_table: dynamodb.ITable | None = None
        self.functions: dict[str, lambda_.IFunction] = {}
        self._code_dir = code_dir
        self._functions_props = functions_props
        if any(isinstance(target, str) for target in routes.values()):
            self.products_table = table_or_new(
                self,
                "ProductsTable",
                name="products_table",
                existing=products_table,
                props=products_table_props,
                partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            )
        elif products_table is not None or products_table_props or functions_props:
            raise ValueError(
                f"{construct_id}: products_table is for routes to handlers of functions/strangler/ (and so are "
                "products_table_props and functions_props); every route here goes to a function of yours"
            )
        self.migrated_routes: dict[str, lambda_.IFunction] = {
            f"{route.method} {route.path}": self._function(target, route) for route, target in routes.items()
        }

        self.web_acl = self._web_acl(construct_id, web_acl, block_path_traversal, web_acl_props)
        web_acl_arn = web_acl if web_acl is not None else self.web_acl.attr_arn if self.web_acl else None
        self.api = SecureRestApi(
            self,
            "Api",
            stage_variables=stage_variables,
            web_acl_arn=web_acl_arn,
            **rest_api_props(
                self,
                api_props,
                description="Strangler facade: migrated routes to Lambda, every other request to the legacy API",
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
                fixed=("stage_variables", "web_acl_arn"),
            ),
        )
        self.web_acl_association = self.api.web_acl_association
        resources: dict[tuple[str, ...], apigw.IResource] = {(): self.api.root}
        for route in sorted(routes, key=lambda r: r.parts):
            for depth in range(1, len(route.parts) + 1):
                parts = route.parts[:depth]
                if parts not in resources:
                    resources[parts] = resources[parts[:-1]].add_resource(parts[-1])
            method = resources[route.parts].add_method(
                route.method, apigw.LambdaIntegration(self.migrated_routes[f"{route.method} {route.path}"])
            )
            self._acknowledge_public(method)

        any_migrated = {route.parts for route in routes if route.method == "ANY"}
        for parts, resource in resources.items():
            if parts not in any_migrated:
                self._to_legacy(resource, parts)
            if not _has_variable_child(parts, resources) and not (parts and _is_greedy(parts[-1])):
                self._to_legacy(resource.add_resource("{proxy+}"), (*parts, "{proxy+}"))

    def _web_acl(
        self, construct_id: str, web_acl: str | None, block: bool, props: Props | None
    ) -> wafv2.CfnWebACL | None:
        """The stage's web ACL: made here with the dot-segment rule, yours (None), or none (warned)."""
        if not block:
            if web_acl is not None or props:
                raise ValueError(
                    f"{construct_id}: block_path_traversal=False associates no web ACL; drop web_acl and "
                    "web_acl_props, or keep the default"
                )
            warn_override(
                self,
                "block_path_traversal=False",
                "blocks paths with a '.' or '..' segment, which API Gateway decodes and the legacy API "
                "would resolve outside the facade's paths",
            )
            return None
        merged = merge_props(
            self,
            "web_acl_props",
            {
                "default_action": wafv2.CfnWebACL.DefaultActionProperty(allow={}),
                "visibility_config": wafv2.CfnWebACL.VisibilityConfigProperty(
                    cloud_watch_metrics_enabled=True,
                    metric_name="StranglerFacade",
                    sampled_requests_enabled=True,
                ),
                "rules": [path_traversal_rule()],
            },
            props,
            existing=("web_acl", web_acl),
            fixed=("scope", "name"),
            secure=(
                SecureDefault(
                    "rules",
                    lambda rules: not _has_path_traversal_rule(rules),
                    f"rule {PATH_TRAVERSAL_RULE} blocks paths with a '.' or '..' segment before they reach "
                    "the legacy API",
                ),
            ),
        )
        if web_acl is not None:
            return None
        return wafv2.CfnWebACL(self, "WebAcl", scope="REGIONAL", **merged)

    def _function(self, target: Target, route: Route) -> lambda_.IFunction:
        if not isinstance(target, str):
            return target
        function = self._handler_function(target)
        actions = _products_actions(route)
        if actions:
            grant_table(self.products_table, function, *actions)  # type: ignore[union-attr]
        return function

    def _handler_function(self, target: str) -> lambda_.IFunction:
        if target not in self.functions:
            module = target.rsplit(".", 1)[0]
            function = PatternFunction(
                self,
                "".join(word.capitalize() for word in re.split(r"[._]", module)) + "Function",
                **pattern_function_props(
                    self,
                    "functions_props",
                    {
                        "code_dir": self._code_dir,
                        "handler": target,
                        "service": "strangler",
                        "description": f"New service behind the strangler facade ({target})",
                        "environment": {"PRODUCTS_TABLE_NAME": self.products_table.table_name},  # type: ignore[union-attr]
                    },
                    None,
                    functions_props=self._functions_props,
                ),
            )
            acknowledge(
                function,
                "Serverless-LambdaDLQ",
                "Invoked synchronously by API Gateway: an error returns to the caller, no event is kept to retry.",
            )
            self.functions[target] = function
        return self.functions[target]

    def _to_legacy(self, resource: apigw.IResource, parts: tuple[str, ...]) -> None:
        """``ANY`` on ``resource`` to the same path on the legacy API, path variables carried over."""
        names = [_VARIABLE.match(part)["name"] for part in parts if _VARIABLE.match(part)]  # type: ignore[index]
        path = "/".join(part.replace("+}", "}") for part in parts)
        integration = apigw.HttpIntegration(
            f"{self._legacy_base}/{path}",
            http_method="ANY",
            proxy=True,
            options=apigw.IntegrationOptions(
                timeout=self.legacy_timeout,
                request_parameters={
                    **{f"integration.request.path.{n}": f"method.request.path.{n}" for n in names},
                    # A REST API's HTTP proxy does not tell the backend who called; this replaces any
                    # X-Forwarded-For the client sent, so the legacy API cannot be fed a spoofed one.
                    "integration.request.header.X-Forwarded-For": "context.identity.sourceIp",
                },
            ),
        )
        method = resource.add_method(
            "ANY", integration, request_parameters={f"method.request.path.{n}": True for n in names} or None
        )
        self._acknowledge_public(method)

    @staticmethod
    def _acknowledge_public(method: apigw.Method) -> None:
        acknowledge(
            method,
            "AwsSolutions-APIG4",
            "The facade keeps the legacy API's own authentication: headers such as Authorization reach the "
            "legacy API and the migrated functions unchanged. Put an authorizer on migrated routes that stop "
            "relying on it (see the gatekeeper pattern).",
        )
        acknowledge(
            method,
            "AwsSolutions-COG4",
            "No Cognito user pool: the facade passes the legacy API's authentication through; see APIG4.",
        )

    def outputs(self) -> dict[str, Any]:
        values: dict[str, Any] = {"ApiUrl": self.api.url, "LegacyUrl": self.legacy_url}
        if self.web_acl is not None:
            values["WebAclArn"] = self.web_acl.attr_arn
        if self.products_table is not None:
            values["ProductsTableName"] = self.products_table.table_name
        return values


def _is_greedy(part: str) -> bool:
    found = _VARIABLE.match(part)
    return bool(found and found["greedy"])


def _has_variable_child(parts: tuple[str, ...], resources: Mapping[tuple[str, ...], Any]) -> bool:
    return any(len(p) == len(parts) + 1 and p[:-1] == parts and _VARIABLE.match(p[-1]) for p in resources)


def _check_one_variable_child_each(construct_id: str, routes: Mapping[Route, Any]) -> None:
    """API Gateway allows one ``{variable}`` child per resource; say which routes disagree."""
    variables: dict[tuple[str, ...], dict[str, str]] = {}
    for route in routes:
        for depth, part in enumerate(route.parts):
            if _VARIABLE.match(part):
                variables.setdefault(route.parts[:depth], {}).setdefault(part, f"{route.method} {route.path}")
    for parent, children in variables.items():
        if len(children) > 1:
            where = "/" + "/".join(parent)
            raise ValueError(
                f"{construct_id}: routes {', '.join(sorted(children.values()))} give {where} more than one "
                f"variable child ({', '.join(sorted(children))}); API Gateway allows one"
            )
