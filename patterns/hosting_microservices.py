"""Hosting microservices: one stack per service, mounted under one custom domain by base path.

Each service is a REST API with its own function and table, in a stack of its own that deploys,
updates and goes away alone. A separate domain stack owns the custom domain (regional endpoint,
TLS 1.2, an ACM certificate given by ARN); each service stack owns its base-path mapping onto it.
Nothing passes between the stacks but the domain's name, as a prop or a stack parameter: no
``Fn::ImportValue``, so removing a service removes its mapping with it and the others serve on.

A mapping can only name a domain of its own account and region (API Gateway's rule): services in
other accounts need a domain there, or a CloudFront distribution in front (see the docs page).

Example::

    domain = ServiceDomain(domain_stack, "Domain", domain_name="api.example.com", certificate_arn=arn)
    OrdersService(orders_stack, "Orders", domain_name="api.example.com")   # https://api.example.com/orders
    UsersService(users_stack, "Users", domain_name="api.example.com")      # https://api.example.com/users
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from aws_cdk import CfnCondition, CfnParameter, Duration, Fn, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from .defaults import (
    CodeLocation,
    PatternFunction,
    Props,
    SecureRestApi,
    acknowledge,
    grant_table,
    json_model,
    pattern_function_props,
    rest_api_props,
    table_or_new,
)

#: The stack parameters used when a prop is left out, so one synthesized template serves any domain.
DOMAIN_NAME_PARAMETER = "DomainName"
CERTIFICATE_ARN_PARAMETER = "CertificateArn"
MOUNT_PARAMETER = "MountOnDomain"
#: A DNS name of at least two labels, lower case as API Gateway stores it.
DOMAIN_NAME_PATTERN = r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
CERTIFICATE_ARN_PATTERN = r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$"
#: What a BasePathMapping takes: one path segment (multi-level paths need ApiGatewayV2 API mappings).
BASE_PATH_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class ServiceDomain(Construct):
    """The custom domain every service maps its base path on: regional, TLS 1.2 only.

    :param domain_name: the domain (``api.example.com``); a stack parameter ``DomainName`` if omitted.
    :param certificate_arn: an ACM certificate for it in the stack's region; a stack parameter
        ``CertificateArn`` if omitted.

    Point DNS at it with an alias (or CNAME) record to :attr:`domain`'s ``domain_name_alias_domain_name``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain_name: str | None = None,
        certificate_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.domain_name_parameter: CfnParameter | None = None
        self.certificate_arn_parameter: CfnParameter | None = None
        if domain_name is None:
            self.domain_name_parameter = CfnParameter(
                stack,
                DOMAIN_NAME_PARAMETER,
                type="String",
                allowed_pattern=DOMAIN_NAME_PATTERN,
                constraint_description="a lower-case DNS name such as api.example.com",
                description="The custom domain the services are mounted on",
            )
            domain_name = self.domain_name_parameter.value_as_string
        elif not re.match(DOMAIN_NAME_PATTERN, domain_name):
            raise ValueError(f"{construct_id}: domain_name {domain_name!r} is not a lower-case DNS name")
        if certificate_arn is None:
            self.certificate_arn_parameter = CfnParameter(
                stack,
                CERTIFICATE_ARN_PARAMETER,
                type="String",
                allowed_pattern=CERTIFICATE_ARN_PATTERN,
                constraint_description="an ACM certificate ARN in this stack's region",
                description="ACM certificate covering the domain, in this stack's region",
            )
            certificate_arn = self.certificate_arn_parameter.value_as_string
        elif not re.match(CERTIFICATE_ARN_PATTERN, certificate_arn):
            raise ValueError(
                f"{construct_id}: certificate_arn {certificate_arn!r} is not an ACM certificate ARN"
            )
        self.certificate = acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn)
        self.domain = apigw.DomainName(
            self,
            "Domain",
            domain_name=domain_name,
            certificate=self.certificate,
            endpoint_type=apigw.EndpointType.REGIONAL,
            security_policy=apigw.SecurityPolicy.TLS_1_2,
        )

    def outputs(self) -> dict[str, Any]:
        return {
            "CustomDomain": self.domain.domain_name,
            "AliasTarget": self.domain.domain_name_alias_domain_name,
            "AliasHostedZoneId": self.domain.domain_name_alias_hosted_zone_id,
        }

    def output_descriptions(self) -> dict[str, str]:
        return {"AliasTarget": "Point the domain's DNS record (alias or CNAME) here"}


class Microservice(Construct):
    """One service: a REST API -> its own function -> its own table, mounted at ``/<base_path>``.

    :param domain_name: the custom domain to mount on (made by :class:`ServiceDomain`, maybe in another
        stack: only its name passes); a stack parameter ``MountOnDomain`` if omitted, empty for none, so
        the stack also deploys alone with no domain at all.
    :param base_path: the one path segment the service answers under (its collection name by default).
    :param table_props: ``dynamodb.Table`` props; ``function_props``: ``PatternFunction`` props;
        ``api_props``: ``SecureRestApi`` props, merged over the house defaults.
    """

    collection = ""
    handler = ""
    description = ""
    schema: ClassVar[dict[str, Any]] = {}
    """The JSON schema API Gateway checks a new item's body against before the function runs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain_name: str | None = None,
        base_path: str | None = None,
        table: dynamodb.ITable | None = None,
        table_props: Props | None = None,
        function_props: Props | None = None,
        api_props: Props | None = None,
        code_dir: CodeLocation = "hosting_microservices",
        throttling_rate_limit: float | None = None,
        throttling_burst_limit: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.base_path = base_path or self.collection
        if not BASE_PATH_PATTERN.match(self.base_path):
            raise ValueError(
                f"{construct_id}: base_path {self.base_path!r} must be one path segment of letters, digits, . _ -"
            )
        self.table = table_or_new(
            self,
            "Table",
            name="table",
            existing=table,
            props=table_props,
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        )
        self.function = PatternFunction(
            self,
            "Function",
            **pattern_function_props(
                self,
                "function_props",
                {
                    "code_dir": code_dir,
                    "handler": self.handler,
                    "service": f"hosting_microservices_{self.collection}",
                    "description": self.description,
                    "environment": {"TABLE_NAME": self.table.table_name},
                    "timeout": Duration.seconds(10),
                },
                function_props,
            ),
        )
        grant_table(self.table, self.function, "dynamodb:GetItem", "dynamodb:PutItem")
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Invoked synchronously by API Gateway: errors return to the caller, there is no async event to keep.",
        )

        self.api = SecureRestApi(
            self,
            "Api",
            rest_api_name=f"{self.collection}-service",
            **rest_api_props(
                self,
                api_props,
                description=f"The {self.collection} service, mounted at /{self.base_path} of the shared domain",
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
            ),
        )
        integration = apigw.LambdaIntegration(self.function)
        self.api.root.add_method(
            "POST",
            integration,
            request_validator=self.api.body_validator,
            request_models={"application/json": json_model(self.api, "ItemModel", self.schema)},
        )
        self.api.root.add_resource("{id}").add_method("GET", integration)
        for method in self.api.methods:
            acknowledge(
                method,
                "AwsSolutions-APIG4",
                "A public service API by design; put an authorizer in front (see the gatekeeper pattern).",
            )
            acknowledge(
                method,
                "AwsSolutions-COG4",
                "No Cognito user pool: a public service API by design; see the secured SPA pattern.",
            )

        self.mount_parameter: CfnParameter | None = None
        mounted: CfnCondition | None = None
        if domain_name is None:
            stack = Stack.of(self)
            self.mount_parameter = CfnParameter(
                stack,
                MOUNT_PARAMETER,
                type="String",
                default="",
                allowed_pattern=f"^$|{DOMAIN_NAME_PATTERN[1:-1]}",
                description="The custom domain (of this account and region) to mount the service on; "
                "empty: the service answers on its own API URL only",
            )
            domain_name = self.mount_parameter.value_as_string
            mounted = CfnCondition(
                stack, "Mounted", expression=Fn.condition_not(Fn.condition_equals(domain_name, ""))
            )
        self.domain_name = domain_name
        self.mapping = apigw.CfnBasePathMapping(
            self,
            "BasePathMapping",
            domain_name=domain_name,
            rest_api_id=self.api.rest_api_id,
            stage=self.api.deployment_stage.stage_name,
            base_path=self.base_path,
        )
        if mounted is not None:
            self.mapping.cfn_options.condition = mounted

    def outputs(self) -> dict[str, Any]:
        return {"ApiUrl": self.api.url, "TableName": self.table.table_name, "BasePath": self.base_path}


class OrdersService(Microservice):
    """The orders service: ``POST /orders`` places an order, ``GET /orders/{id}`` reads it."""

    collection = "orders"
    handler = "orders.handler"
    description = "Orders service: places and reads orders in its own table"
    schema: ClassVar[dict[str, Any]] = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "Order",
        "type": "object",
        "required": ["sku", "quantity"],
        "additionalProperties": False,
        "properties": {
            "sku": {"type": "string", "minLength": 1, "maxLength": 64, "default": "TEA-1"},
            "quantity": {"type": "integer", "minimum": 1, "maximum": 1000},
        },
    }


class UsersService(Microservice):
    """The users service: ``POST /users`` registers a user, ``GET /users/{id}`` reads them."""

    collection = "users"
    handler = "users.handler"
    description = "Users service: registers and reads users in its own table"
    schema: ClassVar[dict[str, Any]] = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "User",
        "type": "object",
        "required": ["name", "email"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100, "default": "Ada"},
            "email": {
                "type": "string",
                "minLength": 3,
                "maxLength": 254,
                "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                "default": "ada@example.com",
            },
        },
    }
