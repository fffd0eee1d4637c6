"""The AWS API of a served local cloud, for any client: the AWS CLI, boto3 in another process, the
SDKs of other languages.

Each request is parsed into (service, operation, parameters) with botocore's models, then made
through the cloud's own in-process botocore client, under the caller's identity: the IAM check,
the limits AWS enforces and moto does not, the routes the local cloud answers itself (Lambda's
Invoke, StartSyncExecution, AppConfig Data) and every observer fire exactly as for a call made
inside. The answer is moto's own HTTP response, or one serialized in the service's protocol when the
local cloud answered or refused the call itself.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from localcloud.aws_endpoint.protocol import (
    AwsCall,
    ProtocolError,
    error_response,
    parse_request,
    success_response,
)
from localcloud.core.iam import access_denied
from localcloud.errors import FunctionNotFound, LocalCloudError, ResourceNotFound
from localcloud.lib.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

log = logging.getLogger("localcloud.aws_endpoint")

#: Services whose endpoint is global: a request signed for any region reaches them.
GLOBAL_SERVICES = frozenset({"iam", "sts", "cloudfront"})
#: The CloudFormation calls answered for the served stack (moto's CloudFormation never deployed it).
STACK_OPERATIONS = frozenset(
    {
        "DescribeStacks",
        "ListStacks",
        "ListStackResources",
        "DescribeStackResources",
        "DescribeStackResource",
        "GetTemplate",
    }
)


class Sessions:
    """The temporary keys ``AssumeRole`` handed out, kept apart from any one endpoint so that an
    endpoint made for a redeployed cloud (``serve --watch``) still knows them: otherwise a role's
    keys would act as an administrator after the swap."""

    def __init__(self) -> None:
        self.roles: dict[str, tuple[str, str]] = {}
        """(role ARN, session name) by access key id."""
        self.tokens: dict[str, str] = {}
        """The session token issued with each access key id."""


class AwsEndpoint:
    """Answers AWS API requests for ``cloud``: ``dispatch(HttpRequest) -> HttpResponse``.

    Calls act as an administrator, unless they are signed with the temporary keys of a role assumed
    through this endpoint (``sts assume-role``): then they act as that role, IAM-checked like a
    function's calls. A call carrying a session token the endpoint did not issue is refused, as AWS
    refuses it, rather than made as an administrator.
    """

    def __init__(self, cloud: LocalCloud, sessions: Sessions | None = None) -> None:
        self.cloud = cloud
        self.sessions = sessions if sessions is not None else Sessions()
        self._answered: Any = None
        self._clients: dict[str, Any] = {}

    def dispatch(self, request: HttpRequest) -> HttpResponse:
        call = None
        try:
            call = parse_request(request)
            self._check_token(call, request)
            self._check_region(call)
            return self._answer(call)
        except ProtocolError as error:
            service = call.service if call else None
            return error_response(service, error.status, error.code, error.message, request)
        except ModuleNotFoundError as error:
            service = call.service if call else None
            what = f"{call.service.service_name} {call.operation.name}" if call else "this call"
            message = f"{what} is not supported offline: moto needs {error.name!r}, which is not installed"
            return error_response(service, 501, "NotImplemented", message, request)
        except Exception as error:
            log.exception("%s %s failed inside the local cloud", request.method, request.path)
            service = call.service if call else None
            return error_response(service, 500, "InternalFailure", f"local cloud error: {error}", request)

    def caller(self, access_key: str) -> tuple[str, str] | None:
        """The role and session an access key acts as; None: an administrator."""
        return self.sessions.roles.get(access_key)

    # ------------------------------------------------------------------------------------ calls

    def _check_token(self, call: AwsCall, request: HttpRequest) -> None:
        """A session token must be the one issued with the access key, and a key issued with a
        token must come with it."""
        token = (
            request.header("X-Amz-Security-Token")
            or (request.query.get("X-Amz-Security-Token") or [None])[-1]
        )
        issued = self.sessions.tokens.get(call.signature.access_key)
        if token != issued:
            raise ProtocolError(
                403, "InvalidClientTokenId", "The security token included in the request is invalid."
            )

    def _check_region(self, call: AwsCall) -> None:
        region = call.signature.region
        if region and region != self.cloud.region and call.service.service_name not in GLOBAL_SERVICES:
            raise ProtocolError(
                400,
                "InvalidRegion",
                f"the local cloud runs {self.cloud.stack_name} in {self.cloud.region}; this request is "
                f"signed for {region} (set AWS_DEFAULT_REGION={self.cloud.region} or --region)",
            )

    def _answer(self, call: AwsCall) -> HttpResponse:
        service, operation = call.service.service_name, call.operation.name
        caller = self.caller(call.signature.access_key)
        if service == "cloudformation" and operation in STACK_OPERATIONS:
            if caller is not None:
                self._authorize(caller, f"cloudformation:{operation}", self._stack_id(), operation)
            return success_response(call.service, call.operation, self._stack_answer(operation, call.params))
        if service == "sts" and operation == "GetCallerIdentity" and caller is not None:
            arn = f"arn:{self.cloud.partition}:sts::{self.cloud.account}:assumed-role/{caller[0].rsplit('/', 1)[-1]}/{caller[1]}"
            answer = {
                "UserId": f"{call.signature.access_key}:{caller[1]}",
                "Account": self.cloud.account,
                "Arn": arn,
            }
            return success_response(call.service, call.operation, answer)
        if service == "sts" and operation == "AssumeRole":
            self._check_role_exists(call)
        response, parsed = self._call(call, caller)
        if service == "sts" and operation == "AssumeRole" and response.status == 200:
            key = parsed["Credentials"]["AccessKeyId"]
            self.sessions.roles[key] = (call.params["RoleArn"], call.params["RoleSessionName"])
            self.sessions.tokens[key] = parsed["Credentials"]["SessionToken"]
        return response

    def _authorize(self, caller: tuple[str, str], action: str, resource: str, operation: str) -> None:
        """IAM for what the endpoint answers itself, as the cloud checks what moto answers."""
        decision = self.cloud.iam.decide(caller[0], action, resource)
        if self.cloud.kernel.enforce_iam and not decision.allowed:
            refused = access_denied("cloudformation", operation, *caller, action, resource, decision.reason)
            raise ProtocolError(403, "AccessDenied", refused.response["Error"]["Message"])

    def _call(self, call: AwsCall, caller: tuple[str, str] | None) -> tuple[HttpResponse, dict[str, Any]]:
        """Make the call through the cloud's in-process client; moto's raw answer when it made one."""
        client = self._client(call.service.service_name)
        self._answered = None
        acting = self.cloud.kernel.acting_as(caller[0], caller[1], None) if caller else nullcontext()
        try:
            with acting:
                parsed = getattr(client, xform_name(call.operation.name))(**call.params)
        except ClientError as error:
            raw = self._raw_answer()
            if raw is not None:
                return raw, {}
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
            detail = error.response.get("Error", {})
            return error_response(
                call.service, status, detail.get("Code", "Error"), detail.get("Message", "")
            ), {}
        except ParamValidationError as error:
            code = "ValidationError" if call.service.protocol == "query" else "ValidationException"
            return error_response(call.service, 400, code, str(error)), {}
        except (FunctionNotFound, ResourceNotFound) as error:
            return error_response(call.service, 404, "ResourceNotFoundException", str(error)), {}
        except LocalCloudError as error:
            return error_response(call.service, 400, "InvalidRequest", str(error)), {}
        raw = self._raw_answer()
        return (raw if raw is not None else success_response(call.service, call.operation, parsed)), parsed

    def _client(self, service: str) -> Any:
        """The endpoint's own clients: made after the cloud installed its botocore hooks, so they
        carry them; with no retries (the outside client retries as it chooses), and never sent to a
        configured endpoint URL (which may be this endpoint)."""
        if service not in self._clients:
            session = boto3.session.Session(
                aws_access_key_id="localcloud",
                aws_secret_access_key="localcloud",  # noqa: S106 - moto answers, never AWS
                region_name=self.cloud.region,
            )
            config = Config(retries={"total_max_attempts": 1}, ignore_configured_endpoint_urls=True)
            client = session.client(service, config=config)
            client.meta.events.register("after-call", self._keep)
            self._clients[service] = client
        return self._clients[service]

    def _keep(self, http_response: Any, **_: Any) -> None:
        self._answered = http_response

    def _raw_answer(self) -> HttpResponse | None:
        """moto's HTTP response to the call, unless the local cloud answered it without moto."""
        answered, self._answered = self._answered, None
        if answered is None or answered.raw is None:
            return None
        headers: dict[str, list[str]] = {}
        for name, value in answered.headers.items():
            headers.setdefault(name, []).append(value)
        return HttpResponse(answered.status_code, headers, answered.content)

    def _check_role_exists(self, call: AwsCall) -> None:
        """AWS refuses to assume a role that does not exist; moto hands out keys for any ARN."""
        role_arn = call.params.get("RoleArn", "")
        roles = self.cloud.admin_client("iam").get_paginator("list_roles").paginate()
        if not any(role["Arn"] == role_arn for page in roles for role in page["Roles"]):
            raise ProtocolError(
                403,
                "AccessDenied",
                f"User: arn:{self.cloud.partition}:iam::{self.cloud.account}:root is not authorized to "
                f"perform: sts:AssumeRole on resource: {role_arn} (no such role in {self.cloud.stack_name})",
            )

    # ------------------------------------------------------------------------------------ the stack

    def _stack_id(self) -> str:
        cloud = self.cloud
        return (
            f"arn:{cloud.partition}:cloudformation:{cloud.region}:{cloud.account}:stack/"
            f"{cloud.stack_name}/{cloud.kernel.short_id('stack')}"
        )

    def _stack_answer(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """The served stack, as CloudFormation describes it after its deploy: the cloud holds one
        stack, so any other name is one CloudFormation does not have."""
        cloud = self.cloud
        name = params.get("StackName")
        if name not in {None, cloud.stack_name, self._stack_id()}:
            raise ProtocolError(400, "ValidationError", f"Stack with id {name} does not exist")
        created = cloud.clock.now() - timedelta(seconds=cloud.clock.elapsed())
        stack = {"StackName": cloud.stack_name, "StackId": self._stack_id()}
        if operation == "DescribeStacks":
            outputs = [
                {"OutputKey": key, "OutputValue": ",".join(value) if isinstance(value, list) else str(value)}
                for key, value in cloud.outputs.items()
            ]
            parameters = cloud.artifact.template.get("Parameters", {})
            return {
                "Stacks": [
                    {
                        **stack,
                        "CreationTime": created,
                        "StackStatus": "CREATE_COMPLETE",
                        "DisableRollback": False,
                        "Outputs": outputs,
                        "Parameters": [{"ParameterKey": name} for name in parameters],
                        "Tags": [],
                    }
                ]
            }
        if operation == "ListStacks":
            summary = {**stack, "CreationTime": created, "StackStatus": "CREATE_COMPLETE"}
            wanted = params.get("StackStatusFilter")
            return {"StackSummaries": [summary] if not wanted or "CREATE_COMPLETE" in wanted else []}
        if operation == "GetTemplate":
            import json

            return {"TemplateBody": json.dumps(cloud.artifact.template), "StagesAvailable": ["Original"]}
        types = {logical_id: r["Type"] for logical_id, r in cloud.artifact.template["Resources"].items()}
        resources = [
            {
                "LogicalResourceId": logical_id,
                "PhysicalResourceId": provisioned.physical_id,
                "ResourceType": types[logical_id],
                "ResourceStatus": "CREATE_COMPLETE",
            }
            for logical_id, provisioned in cloud.resources.items()
        ]
        if operation == "ListStackResources":
            return {"StackResourceSummaries": [{**r, "LastUpdatedTimestamp": created} for r in resources]}
        if operation == "DescribeStackResources":
            wanted = params.get("LogicalResourceId")
            return {
                "StackResources": [
                    {**stack, **r, "Timestamp": created}
                    for r in resources
                    if wanted in (None, r["LogicalResourceId"])
                ]
            }
        found = [r for r in resources if r["LogicalResourceId"] == params.get("LogicalResourceId")]
        if not found:
            raise ProtocolError(
                400,
                "ValidationError",
                f"Resource {params.get('LogicalResourceId')} does not exist for stack {cloud.stack_name}",
            )
        return {"StackResourceDetail": {**stack, **found[0], "LastUpdatedTimestamp": created}}
