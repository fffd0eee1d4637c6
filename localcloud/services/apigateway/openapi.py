"""REST APIs defined by an OpenAPI document (``SpecRestApi``: a RestApi's ``Body`` or ``BodyS3Location``).

API Gateway imports the document into the same resources, methods, models, validators and
authorizers a template would declare, so each part is translated here into the properties its
CloudFormation resource would have and built by :mod:`.model` as such: the API then behaves as the
same API built from constructs. Read: ``paths`` (with path-level ``parameters``), each operation's
``parameters``, ``requestBody`` (OpenAPI 3) or ``in: body`` parameter (Swagger 2), ``security``
and ``x-amazon-apigateway-integration`` / ``-request-validator`` / ``-auth``; at the top,
``components.schemas`` or ``definitions`` (the models), ``securitySchemes`` or
``securityDefinitions`` (API keys, Lambda and Cognito authorizers, ``awsSigv4``),
``x-amazon-apigateway-request-validators``, ``-request-validator``, ``-api-key-source``,
``-binary-media-types``, ``-gateway-responses``, ``-policy`` and ``-endpoint-configuration``.
A ``$ref`` to a schema becomes the model's API Gateway URL, as the import rewrites it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcloud.errors import ApiGatewayError

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
ANY_METHOD = "x-amazon-apigateway-any-method"
_SCHEMA_REF = re.compile(r"^#/(?:components/schemas|definitions)/(?P<name>.+)$")
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


def parse(text: str, where: str) -> dict[str, Any]:
    """An OpenAPI document from JSON or YAML text (an asset file may be either)."""
    try:
        document = json.loads(text)
    except ValueError:
        import yaml

        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ApiGatewayError(
                f"{where}: the OpenAPI definition is neither JSON nor YAML: {error}"
            ) from None
    if not isinstance(document, dict) or "paths" not in document:
        raise ApiGatewayError(f"{where}: the OpenAPI definition has no paths")
    return document


def read_asset(
    directory: Path, metadata: dict[str, Any], location: dict[str, Any], where: str
) -> dict[str, Any]:
    """The document ``BodyS3Location`` names: the file asset CDK staged in the cloud assembly."""
    relative = metadata.get("aws:asset:path")
    if relative is None or metadata.get("aws:asset:property") != "BodyS3Location":
        raise ApiGatewayError(
            f"{where}: BodyS3Location s3://{location.get('Bucket')}/{location.get('Key')} is not an asset of the "
            "cloud assembly (no aws:asset:path metadata); synthesize with asset metadata enabled, or inline the Body"
        )
    path = Path(relative) if Path(relative).is_absolute() else directory / relative
    if not path.is_file():
        raise ApiGatewayError(f"{where}: the OpenAPI asset {path} does not exist")
    return parse(path.read_text(), where)


class Imported:
    """The CloudFormation-shaped parts of one document, ready for :func:`.model.build`."""

    def __init__(self, api_id: str, document: dict[str, Any], ids: Callable[[str], str], where: str) -> None:
        self.api_id = api_id
        self.document = document
        self.ids = ids
        self.where = where
        self.resources: list[tuple[str, str, str]] = []
        """``(id, parent id, path part)`` of every resource below the root."""
        self.methods: list[tuple[str, str, dict[str, Any]]] = []
        """``(name for errors, resource id, Method properties)``."""
        self.models: dict[str, Any] = {}
        self.validators: dict[str, dict[str, Any]] = {}
        self.authorizers: dict[str, dict[str, Any]] = {}
        self.gateway_responses: dict[str, dict[str, Any]] = {}
        self._schemes = {
            **document.get("securityDefinitions", {}),
            **document.get("components", {}).get("securitySchemes", {}),
        }

    # ------------------------------------------------------------------------------------ top level

    @property
    def title(self) -> str | None:
        return self.document.get("info", {}).get("title")

    @property
    def api_key_source(self) -> str | None:
        source = self.document.get("x-amazon-apigateway-api-key-source")
        return source.upper() if isinstance(source, str) else None

    @property
    def binary_media_types(self) -> list[str]:
        return list(self.document.get("x-amazon-apigateway-binary-media-types", []))

    @property
    def policy(self) -> Any:
        return self.document.get("x-amazon-apigateway-policy")

    @property
    def endpoint_configuration(self) -> dict[str, Any]:
        return self.document.get("x-amazon-apigateway-endpoint-configuration", {})

    def run(self, root_id: str) -> Imported:
        for name, schema in {
            **self.document.get("definitions", {}),
            **self.document.get("components", {}).get("schemas", {}),
        }.items():
            self.models[name] = self._schema(schema)
        for name, settings in self.document.get("x-amazon-apigateway-request-validators", {}).items():
            self.validators[name] = {
                "ValidateRequestBody": bool(settings.get("validateRequestBody")),
                "ValidateRequestParameters": bool(settings.get("validateRequestParameters")),
            }
        for response_type, response in self.document.get("x-amazon-apigateway-gateway-responses", {}).items():
            self.gateway_responses[response_type] = {
                "ResponseType": response_type,
                "StatusCode": response.get("statusCode"),
                "ResponseParameters": response.get("responseParameters", {}),
                "ResponseTemplates": response.get("responseTemplates", {}),
            }
        resource_ids = {"/": root_id}
        for path, item in self.document["paths"].items():
            resource_id = self._resource(path, resource_ids)
            shared = item.get("parameters", [])
            for key, operation in item.items():
                if key in HTTP_METHODS or key == ANY_METHOD:
                    http_method = "ANY" if key == ANY_METHOD else key.upper()
                    name = f"{self.where} {http_method} {path}"
                    self.methods.append(
                        (name, resource_id, self._method(http_method, path, shared, operation))
                    )
        return self

    def _resource(self, path: str, ids: dict[str, str]) -> str:
        """The id of the resource at ``path``, creating it and its parents as the import does."""
        if not path.startswith("/"):
            raise ApiGatewayError(f"{self.where}: path {path!r} does not start with /")
        current = "/"
        for part in [p for p in path.split("/") if p]:
            child = f"{current.rstrip('/')}/{part}"
            if child not in ids:
                ids[child] = self.ids(f"resource{child}")
                self.resources.append((ids[child], ids[current], part))
            current = child
        return ids[current]

    # ------------------------------------------------------------------------------------ methods

    def _method(
        self, http_method: str, path: str, shared: list[Any], operation: dict[str, Any]
    ) -> dict[str, Any]:
        props: dict[str, Any] = {"HttpMethod": http_method, "AuthorizationType": "NONE"}
        parameters = {(p.get("in"), p.get("name")): p for p in [*shared, *operation.get("parameters", [])]}
        request_parameters: dict[str, bool] = {}
        models: dict[str, str] = {}
        for (where, name), parameter in parameters.items():
            kind = {"path": "path", "query": "querystring", "header": "header"}.get(where)
            if kind is not None:
                request_parameters[f"method.request.{kind}.{name}"] = bool(
                    parameter.get("required", where == "path")
                )
            elif where == "body" and "schema" in parameter:
                for content_type in operation.get(
                    "consumes", self.document.get("consumes", ["application/json"])
                ):
                    models[content_type] = self._model_name(parameter["schema"], http_method, path)
        for content_type, media in operation.get("requestBody", {}).get("content", {}).items():
            if "schema" in media:
                models[content_type] = self._model_name(media["schema"], http_method, path)
        if request_parameters:
            props["RequestParameters"] = request_parameters
        if models:
            props["RequestModels"] = models
        validator = operation.get(
            "x-amazon-apigateway-request-validator",
            self.document.get("x-amazon-apigateway-request-validator"),
        )
        if validator is not None:
            if validator not in self.validators:
                raise ApiGatewayError(
                    f"{self.where}: {http_method} {path} names request validator {validator!r}, which "
                    "x-amazon-apigateway-request-validators does not define"
                )
            props["RequestValidatorId"] = validator
        self._security(props, operation.get("security", self.document.get("security", [])), http_method, path)
        integration = operation.get("x-amazon-apigateway-integration")
        if integration is not None:
            props["Integration"] = _integration(integration)
        return props

    def _model_name(self, schema: dict[str, Any], http_method: str, path: str) -> str:
        ref = schema.get("$ref")
        match = _SCHEMA_REF.match(ref) if isinstance(ref, str) else None
        if match is not None:
            if match["name"] not in self.models:
                raise ApiGatewayError(
                    f"{self.where}: {http_method} {path} refers to an undefined schema {ref}"
                )
            return match["name"]
        name = _NOT_ALPHANUMERIC.sub("", f"{http_method.title()}{path.title()}") + "Body"
        self.models[name] = self._schema(schema)
        return name

    def _schema(self, schema: Any) -> Any:
        """``schema`` with each ``$ref`` to a schema of the document as the model's URL."""
        if isinstance(schema, dict):
            converted = {key: self._schema(value) for key, value in schema.items()}
            ref = schema.get("$ref")
            match = _SCHEMA_REF.match(ref) if isinstance(ref, str) else None
            if match is not None:
                converted["$ref"] = (
                    f"https://apigateway.amazonaws.com/restapis/{self.api_id}/models/{match['name']}"
                )
            return converted
        if isinstance(schema, list):
            return [self._schema(value) for value in schema]
        return schema

    def _security(self, props: dict[str, Any], requirements: list[Any], http_method: str, path: str) -> None:
        for requirement in requirements:
            for name, scopes in requirement.items():
                scheme = self._schemes.get(name)
                if scheme is None:
                    raise ApiGatewayError(
                        f"{self.where}: {http_method} {path} requires security scheme {name!r}, which is not defined"
                    )
                authorizer = scheme.get("x-amazon-apigateway-authorizer")
                authtype = str(scheme.get("x-amazon-apigateway-authtype", "")).lower()
                if authorizer is not None:
                    kind = str(authorizer.get("type", "token")).upper()
                    props["AuthorizationType"] = (
                        "COGNITO_USER_POOLS" if kind == "COGNITO_USER_POOLS" else "CUSTOM"
                    )
                    props["AuthorizerId"] = self._authorizer(name, scheme, authorizer, kind)
                    if scopes:
                        props["AuthorizationScopes"] = list(scopes)
                elif authtype == "awssigv4":
                    props["AuthorizationType"] = "AWS_IAM"
                elif scheme.get("type") == "apiKey" and scheme.get("name", "").lower() == "x-api-key":
                    props["ApiKeyRequired"] = True
                else:
                    raise ApiGatewayError(
                        f"{self.where}: security scheme {name!r} is not one API Gateway imports "
                        "(an x-api-key header, an x-amazon-apigateway-authorizer, or awsSigv4)"
                    )

    def _authorizer(self, name: str, scheme: dict[str, Any], authorizer: dict[str, Any], kind: str) -> str:
        authorizer_id = self.ids(f"authorizer/{name}")
        if authorizer_id not in self.authorizers:
            header = scheme.get("name", "Authorization") if scheme.get("in", "header") == "header" else None
            source = authorizer.get("identitySource") or (f"method.request.header.{header}" if header else "")
            self.authorizers[authorizer_id] = {
                "Type": kind,
                "Name": name,
                "AuthorizerUri": authorizer.get("authorizerUri"),
                "AuthorizerCredentials": authorizer.get("authorizerCredentials"),
                "IdentitySource": source,
                "IdentityValidationExpression": authorizer.get("identityValidationExpression"),
                "AuthorizerResultTtlInSeconds": authorizer.get("authorizerResultTtlInSeconds", 300),
                "ProviderARNs": authorizer.get("providerARNs", []),
            }
        return authorizer_id


def _integration(raw: dict[str, Any]) -> dict[str, Any]:
    """``x-amazon-apigateway-integration`` as a Method's ``Integration`` property."""
    integration: dict[str, Any] = {
        "Type": str(raw.get("type", "")).upper(),
        "Uri": raw.get("uri", ""),
        "RequestParameters": raw.get("requestParameters", {}),
        "RequestTemplates": raw.get("requestTemplates", {}),
        "PassthroughBehavior": str(raw.get("passthroughBehavior", "when_no_match")).upper(),
        "IntegrationResponses": [
            {
                "StatusCode": str(response.get("statusCode", "200")),
                "SelectionPattern": None if pattern == "default" else pattern,
                "ResponseParameters": response.get("responseParameters", {}),
                "ResponseTemplates": response.get("responseTemplates", {}),
            }
            for pattern, response in raw.get("responses", {}).items()
        ],
    }
    for source, target in (
        ("httpMethod", "IntegrationHttpMethod"),
        ("credentials", "Credentials"),
        ("timeoutInMillis", "TimeoutInMillis"),
        ("connectionType", "ConnectionType"),
    ):
        if raw.get(source) is not None:
            integration[target] = raw[source]
    return integration
