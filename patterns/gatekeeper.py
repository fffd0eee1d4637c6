"""Gatekeeper (valet key): a Lambda TOKEN authorizer in front of every route, with its own service.

API Gateway sends the ``Authorization`` header to an authorizer function before any route runs.
The authorizer looks the token up in the authorization service's own table (principals, the hash
of their secret, their permissions per method and path) and answers with an IAM policy: an
``Allow`` for each permission. API Gateway applies it (403 for a route it does not allow, 401 for
no token or an unknown one) and caches it per token for ``results_cache_ttl``, so most requests
never reach the authorizer. That cache is the valet key: a revoked principal keeps its access
until the cached policy expires.

Every method of the API is protected by default (``default_method_options``), including methods
you add later. The admin API (``/admin/principals``) is protected by the same authorizer, not by
IAM: its callers are the same kind of API clients, and a permission ``"* /admin/*"`` is what makes
a principal an admin. The first admin is made by invoking the admin function directly, which only
someone with IAM permission to invoke it can do.

Example::

    gate = Gatekeeper(self, "Gate", results_cache_ttl=Duration.minutes(1))
    gate.api.root.add_resource("reports").add_method("GET", apigw.LambdaIntegration(reports_fn))
    # protected by the authorizer without saying so
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
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
    merge_props,
    pattern_function_props,
    read_contract,
    rest_api_props,
    table_or_new,
)

#: The shapes of a principal id and a secret, in the handlers' folder: the one source for API
#: Gateway's header validation, the admin API's model and the handlers' own parsing.
FORMAT_FILE = "token_format.json"
#: API Gateway caches an authorizer's answer for at most an hour.
MAX_CACHE_TTL = Duration.hours(1)


def token_format(code_dir: CodeLocation = "gatekeeper") -> dict[str, str]:
    """The regular expressions of a principal id and a secret, from the handlers' ``token_format.json``."""
    return read_contract(code_dir, FORMAT_FILE, pattern="gatekeeper")


def authorization_header_pattern(code_dir: CodeLocation = "gatekeeper") -> str:
    """``Authorization`` headers API Gateway passes to the authorizer; any other gets 401 at once, free."""
    found = token_format(code_dir)
    return rf"^Bearer {found['principal_id']}\.{found['secret']}$"


def principal_schema(code_dir: CodeLocation = "gatekeeper") -> dict[str, Any]:
    """The admin API's model of a new principal."""
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "NewPrincipal",
        "type": "object",
        "required": ["principal_id", "permissions"],
        "additionalProperties": False,
        "properties": {
            # The defaults are what a generated example (serve's Try: lines) sends.
            "principal_id": {
                "type": "string",
                "pattern": f"^{token_format(code_dir)['principal_id']}$",
                "default": "example",
            },
            "permissions": {
                "type": "array",
                "minItems": 1,
                "maxItems": 50,
                "items": {"type": "string", "maxLength": 200},
                "default": ["GET /documents"],
            },
        },
    }


def __getattr__(name: str) -> Any:
    """``AUTHORIZATION_HEADER_PATTERN``: the pattern of the project's own handlers, read when asked for."""
    if name == "AUTHORIZATION_HEADER_PATTERN":
        return authorization_header_pattern()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


DOCUMENT_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "Document",
    "type": "object",
    "required": ["title"],
    "additionalProperties": False,
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "text": {"type": "string", "maxLength": 10000},
    },
}


class Gatekeeper(Construct):
    """An API whose every route passes a cached Lambda authorizer backed by an authorization service.

    :param results_cache_ttl: how long API Gateway reuses an authorizer answer for the same token
        (0 turns caching off: every request runs the authorizer); also the longest a revoked
        principal keeps access. At most one hour.
    :param principals_table: an existing table with string partition key ``principal_id``; one is
        created if omitted.
    :param documents_table: the sample backend's table (partition key ``owner``, sort key ``id``,
        both strings); one is created if omitted.
    :param principals_table_props: ``dynamodb.Table`` props of the principals table made here;
        ``documents_table_props`` of the documents table.
    :param functions_props: ``PatternFunction`` props of the three functions (``runtime``,
        ``architecture``, ``shared_dir``...); ``authorizer_function_props``,
        ``admin_function_props`` and ``documents_function_props`` of each.
    :param authorizer_props: ``apigw.TokenAuthorizer`` props (``results_cache_ttl``...).
    :param api_props: ``SecureRestApi`` props; every method is behind the authorizer, always.
    :param code_dir: the folder of the handlers; ``functions/gatekeeper`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        results_cache_ttl: Duration | None = None,
        principals_table: dynamodb.ITable | None = None,
        documents_table: dynamodb.ITable | None = None,
        throttling_rate_limit: float | None = None,
        throttling_burst_limit: int | None = None,
        principals_table_props: Props | None = None,
        documents_table_props: Props | None = None,
        functions_props: Props | None = None,
        authorizer_function_props: Props | None = None,
        admin_function_props: Props | None = None,
        documents_function_props: Props | None = None,
        authorizer_props: Props | None = None,
        api_props: Props | None = None,
        code_dir: CodeLocation = "gatekeeper",
    ) -> None:
        super().__init__(scope, construct_id)
        authorizer = merge_props(
            self,
            "authorizer_props",
            {"results_cache_ttl": Duration.minutes(5)},
            authorizer_props,
            keywords={"results_cache_ttl": ("results_cache_ttl", results_cache_ttl)},
            fixed=("handler", "identity_source", "validation_regex"),
        )
        ttl = authorizer["results_cache_ttl"]
        if not 0 <= ttl.to_seconds() <= MAX_CACHE_TTL.to_seconds():
            raise ValueError(f"{construct_id}: results_cache_ttl must be from 0 to 3600 seconds")
        self.results_cache_ttl = ttl

        self.principals_table = table_or_new(
            self,
            "PrincipalsTable",
            name="principals_table",
            existing=principals_table,
            props=principals_table_props,
            partition_key=dynamodb.Attribute(name="principal_id", type=dynamodb.AttributeType.STRING),
        )
        self.documents_table = table_or_new(
            self,
            "DocumentsTable",
            name="documents_table",
            existing=documents_table,
            props=documents_table_props,
            partition_key=dynamodb.Attribute(name="owner", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        )
        principals_env = {"PRINCIPALS_TABLE_NAME": self.principals_table.table_name}

        def function(
            construct: str, props_name: str, props: Props | None, **defaults: Any
        ) -> PatternFunction:
            return PatternFunction(
                self,
                construct,
                **pattern_function_props(
                    self,
                    props_name,
                    {"code_dir": code_dir, "service": "gatekeeper", **defaults},
                    props,
                    functions_props=functions_props,
                ),
            )

        self.authorizer_function = function(
            "AuthorizerFunction",
            "authorizer_function_props",
            authorizer_function_props,
            handler="authorizer.handler",
            description="Lambda TOKEN authorizer: the caller's permissions as an IAM policy",
            environment=principals_env,
            timeout=Duration.seconds(5),
        )
        grant_table(self.principals_table, self.authorizer_function, "dynamodb:GetItem")

        self.admin_function = function(
            "AdminFunction",
            "admin_function_props",
            admin_function_props,
            handler="admin.handler",
            description="Admin API of the authorization service: add, read and revoke principals",
            environment={**principals_env, "CACHE_TTL_SECONDS": str(int(ttl.to_seconds()))},
        )
        grant_table(
            self.principals_table,
            self.admin_function,
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        )

        self.backend = function(
            "DocumentsFunction",
            "documents_function_props",
            documents_function_props,
            handler="documents.handler",
            description="Protected backend: the caller's own documents, keyed by the authorized principal",
            environment={"DOCUMENTS_TABLE_NAME": self.documents_table.table_name},
        )
        grant_table(
            self.documents_table, self.backend, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"
        )

        self.authorizer = apigw.TokenAuthorizer(
            self,
            "Authorizer",
            handler=self.authorizer_function,
            identity_source=apigw.IdentitySource.header("Authorization"),
            validation_regex=authorization_header_pattern(code_dir),
            **authorizer,
        )
        self.api = SecureRestApi(
            self,
            "Api",
            default_method_options=apigw.MethodOptions(
                authorizer=self.authorizer, authorization_type=apigw.AuthorizationType.CUSTOM
            ),
            **rest_api_props(
                self,
                api_props,
                description="Gatekeeper: every route behind a cached Lambda authorizer",
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
                fixed=("default_method_options",),
            ),
        )
        with_body = {"request_validator": self.api.body_validator}

        backend = apigw.LambdaIntegration(self.backend)
        documents = self.api.root.add_resource("documents")
        documents.add_method("GET", backend)
        documents.add_method(
            "POST",
            backend,
            request_models={"application/json": json_model(self.api, "DocumentModel", DOCUMENT_SCHEMA)},
            **with_body,
        )
        documents.add_resource("{id}").add_method("GET", backend)

        admin = apigw.LambdaIntegration(self.admin_function)
        principals = self.api.root.add_resource("admin").add_resource("principals")
        principals.add_method(
            "POST",
            admin,
            request_models={
                "application/json": json_model(self.api, "PrincipalModel", principal_schema(code_dir))
            },
            **with_body,
        )
        principal = principals.add_resource("{principal_id}")
        principal.add_method("GET", admin)
        principal.add_method("DELETE", admin)

        for method in self.api.methods:
            acknowledge(
                method,
                "AwsSolutions-COG4",
                "Callers are authorized by the gatekeeper's Lambda TOKEN authorizer against its own "
                "principals table, which is the pattern; a Cognito user pool is the secured SPA pattern.",
            )
        for function, how in (
            (self.authorizer_function, "by API Gateway before a route runs"),
            (self.admin_function, "by API Gateway, or directly by an operator"),
            (self.backend, "by API Gateway"),
        ):
            acknowledge(
                function,
                "Serverless-LambdaDLQ",
                f"Invoked synchronously {how}: an error returns to the caller, no event is kept to retry.",
            )

    def output_descriptions(self) -> dict[str, str]:
        """How an operator gets the first admin's token: the API needs one to add any principal."""
        return {
            "AdminFunctionName": (
                'Invoke it with {"principal_id": "ops", "permissions": ["* /*"]} for a first admin: '
                "the answer's token goes in Authorization: Bearer <token>"
            )
        }

    def outputs(self) -> dict[str, Any]:
        return {
            "ApiUrl": self.api.url,
            "AdminFunctionName": self.admin_function.function_name,
            "PrincipalsTableName": self.principals_table.table_name,
            "DocumentsTableName": self.documents_table.table_name,
        }
