"""The local cloud: a synthesized stack, provisioned into moto, with its functions running here.

Example::

    with LocalCloud.from_assembly("cdk.out", "ScalableWebhookStack") as cloud:
        cloud.client("sqs").send_message(QueueUrl=cloud.outputs["QueueUrl"], MessageBody="{}")
        cloud.drain()
        print(cloud.trace.tree())
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.handlers
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from localcloud import event_sources, observers
from localcloud.apigateway import ApiClient, ApiGateway
from localcloud.appconfig import AppConfig
from localcloud.assembly import StackArtifact, load_stack
from localcloud.clock import DEFAULT_START, VirtualClock
from localcloud.cloudfront import CloudFront, DistributionClient
from localcloud.dynamodb_limits import check_dynamodb_request
from localcloud.errors import (
    DrainLimitExceeded,
    FunctionNotFound,
    LocalCloudError,
    TemplateError,
    UnsupportedResourceType,
)
from localcloud.event_sources import Pollable
from localcloud.iam import PolicyEngine, access_denied, call_resources, iam_action
from localcloud.intrinsics import Resolver, creation_order
from localcloud.invoker import Invoker, ReadTimedOut, Throttled, encode
from localcloud.lambda_runtime import LambdaFunction, follow_into_threads
from localcloud.lookup import logical_id_named
from localcloud.provisioners import Provisioned, load_all
from localcloud.trace import Span, Trace

#: Default value of the SSM parameters CDK templates read at deploy time.
BOOTSTRAP_VERSION = "30"
POWERTOOLS_PARAMETER = re.compile(
    r"^/aws/service/powertools/python/(?P<arch>[\w-]+)/python(?P<version>[\d.]+)/"
)


@dataclass
class _Principal:
    role_arn: str
    session: str
    span: int | None


#: Services whose calls the local cloud answers itself and authorizes once it has resolved the
#: resource (AppConfig Data names a profile by name, or by a session token).
SELF_AUTHORIZED = frozenset({"appconfigdata"})

_principal: contextvars.ContextVar[_Principal | None] = contextvars.ContextVar(
    "localcloud_principal", default=None
)
# A handler's threads and thread-pool tasks call as the function too, under its invocation's span.
follow_into_threads(_principal)
_active: LocalCloud | None = None


class LocalCloud:
    """One stack running offline. Use as a context manager, or call :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        artifact: StackArtifact,
        *,
        region: str = "us-east-1",
        account: str = DEFAULT_ACCOUNT_ID,
        start: datetime = DEFAULT_START,
        parameters: dict[str, Any] | None = None,
        enforce_iam: bool = True,
    ) -> None:
        self.artifact = artifact
        self.stack_name = artifact.name
        self.region = region
        self.account = account
        self.partition = "aws"
        self.enforce_iam = enforce_iam
        self.clock = VirtualClock(start)
        self.trace = Trace()
        self.iam = PolicyEngine()
        self.invoker = Invoker(self)
        self.resources: dict[str, Provisioned] = {}
        self.outputs: dict[str, Any] = {}
        self.functions: dict[str, LambdaFunction] = {}
        self.pollables: list[Pollable] = []
        """Event source mappings and anything else the pump drives (buffers, schedules)."""
        self.layers: dict[str, Path] = {}
        self.queue_urls: dict[str, str] = {}
        self.api_resources: dict[str, tuple[str, dict[str, Any]]] = {}
        self.apigateway = ApiGateway(self)
        """The stack's REST APIs, served: ``dispatch``, ``endpoints``; see :meth:`api`."""
        self.appconfig = AppConfig(self)
        self.cloudfront = CloudFront(self)
        self._parameter_overrides = parameters or {}
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._origins: dict[str, int] = {}
        self._dead_letters: dict[str, str] = {}

    @classmethod
    def from_assembly(cls, directory: str | Path, stack_name: str, **kwargs: Any) -> LocalCloud:
        """The stack ``stack_name`` of a cloud assembly directory, such as ``cdk.out``."""
        return cls(load_stack(directory, stack_name), **kwargs)

    @classmethod
    def from_stack(cls, stack: Any, **kwargs: Any) -> LocalCloud:
        """A CDK ``Stack`` object: its app is synthesized (its App needs asset metadata in its context)."""
        from aws_cdk import Stage

        assembly = Stage.of(stack).synth()
        return cls.from_assembly(assembly.directory, stack.stack_name, **kwargs)

    # ------------------------------------------------------------------------------------ lifecycle

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        global _active
        if _active is not None:
            raise LocalCloudError("another LocalCloud is running in this process; stop it first")
        _install_hooks()
        self._running = True
        self._restore_environ = _offline_environ()
        self._mock.start()
        self.clock.start()
        _active = self
        try:
            self._provision()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the cloud; stopping one that is not running does nothing."""
        global _active
        if not getattr(self, "_running", False):
            return
        self._running = False
        _active = None
        self.cloudfront.close()
        self.clock.stop()
        self._mock.stop()
        restore, self._restore_environ = getattr(self, "_restore_environ", None), None
        if restore is not None:
            restore()

    # ------------------------------------------------------------------------------------ provisioning

    def _provision(self) -> None:
        template = self.artifact.template
        provisioners = load_all()
        resolver = Resolver(
            template,
            parameters=self._parameters(),
            pseudo=self._pseudo_parameters(),
            ref=lambda logical_id: self._provisioned(logical_id).physical_id,
            get_att=self._attribute,
        )
        self._check_rules(resolver)
        for logical_id in creation_order(template):
            resource = template["Resources"][logical_id]
            condition = resource.get("Condition")
            if condition and not resolver.condition(condition, logical_id):
                continue
            provisioner = provisioners.get(resource["Type"])
            if provisioner is None:
                raise UnsupportedResourceType(resource["Type"], logical_id)
            properties = resolver.resolve(resource.get("Properties", {}), logical_id) or {}
            self.resources[logical_id] = provisioner(self, logical_id, properties)
        for name, output in template.get("Outputs", {}).items():
            if "Condition" in output and not resolver.condition(output["Condition"], f"Outputs.{name}"):
                continue
            self.outputs[name] = resolver.resolve(output["Value"], f"Outputs.{name}")

    def _parameters(self) -> dict[str, Any]:
        values = {}
        for name, spec in self.artifact.template.get("Parameters", {}).items():
            if name in self._parameter_overrides:
                values[name] = self._parameter_overrides[name]
            elif spec["Type"].startswith("AWS::SSM::Parameter::Value"):
                values[name] = self._ssm_parameter(name, spec.get("Default", ""))
            elif "Default" in spec:
                values[name] = spec["Default"]
        return values

    def _ssm_parameter(self, name: str, path: str) -> str:
        """Deploy-time SSM lookups, answered offline."""
        if path.startswith("/cdk-bootstrap/"):
            return BOOTSTRAP_VERSION
        powertools = POWERTOOLS_PARAMETER.match(path)
        if powertools:
            runtime = "python" + powertools["version"].replace(".", "")
            layer = f"AWSLambdaPowertoolsPythonV3-{runtime}-{powertools['arch']}"
            return f"arn:{self.partition}:lambda:{self.region}:017000801446:layer:{layer}:local"
        raise TemplateError(
            f"parameter {name}: SSM parameter {path} has no offline value; pass parameters={{...}}"
        )

    def _pseudo_parameters(self) -> dict[str, Any]:
        return {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:stack/{self.stack_name}/{self.short_id('stack')}",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }

    def _check_rules(self, resolver: Resolver) -> None:
        for name, rule in self.artifact.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not resolver.resolve(rule["RuleCondition"], f"Rules.{name}"):
                continue
            for assertion in rule.get("Assertions", []):
                if not resolver.resolve(assertion["Assert"], f"Rules.{name}"):
                    raise TemplateError(
                        f"Rules.{name}: {assertion.get('AssertDescription', 'assertion failed')}"
                    )

    def _provisioned(self, logical_id: str) -> Provisioned:
        if logical_id not in self.resources:
            raise TemplateError(f"{logical_id} is referenced but was not created (its Condition is false?)")
        return self.resources[logical_id]

    def _attribute(self, logical_id: str, attribute: str) -> Any:
        provisioned = self._provisioned(logical_id)
        if attribute not in provisioned.attributes:
            resource_type = self.artifact.template["Resources"][logical_id]["Type"]
            from localcloud.errors import UnsupportedAttribute

            raise UnsupportedAttribute(logical_id, resource_type, attribute)
        return provisioned.attributes[attribute]

    # ------------------------------------------------------------------------------------ naming

    def short_id(self, seed: str, length: int = 10) -> str:
        return hashlib.sha256(f"{self.stack_name}/{seed}".encode()).hexdigest()[:length]

    def physical_name(self, logical_id: str, max_length: int) -> str:
        """A CloudFormation-style generated name: ``Stack-LogicalId-SUFFIX``, within ``max_length``."""
        suffix = self.short_id(logical_id, 12).upper()
        head = f"{self.stack_name}-{logical_id}"[: max_length - len(suffix) - 1]
        return f"{head}-{suffix}"

    # ------------------------------------------------------------------------------------ lookups

    def physical_id(self, name: str) -> str:
        """The ``Ref`` of a resource, by logical id or construct path (``MyStack/Orders/Table``, or
        its end, ``Orders/Table``); a name matching none or several is an error listing candidates."""
        return self.resources[self._logical_id(name)].physical_id

    def _logical_id(self, name: str) -> str:
        return logical_id_named(self.artifact, self.resources, name)

    def function(self, name: str) -> LambdaFunction:
        """A function by physical name, ARN, logical id or construct path ending (``Pattern/Worker``)."""
        for fn in self.functions.values():
            if name in (fn.name, fn.arn, fn.logical_id) or name.startswith(f"{fn.arn}:"):
                return fn
        try:
            return self.functions[self._logical_id(name)]
        except (LocalCloudError, KeyError):
            raise FunctionNotFound(f"no function {name!r} in {self.stack_name}") from None

    def distribution(self, name: str | None = None) -> DistributionClient:
        """A CloudFront distribution to send viewer requests to: by logical id, id, or a unique part
        of its logical id or construct path; ``None`` when the stack has one."""
        return self.cloudfront.client(name)

    def role_arn(self, role_name: str) -> str:
        return self.admin_client("iam").get_role(RoleName=role_name)["Role"]["Arn"]

    def queue_url(self, queue_arn: str) -> str:
        return self.queue_urls[queue_arn]

    def queue_arn(self, queue_url: str) -> str:
        return next(arn for arn, url in self.queue_urls.items() if url == queue_url)

    def moto_queue(self, queue_name: str) -> Any:
        from moto.sqs.models import sqs_backends

        return sqs_backends[self.account][self.region].get_queue(queue_name)

    # ------------------------------------------------------------------------------------ building

    def add_function(self, function: LambdaFunction, *, dead_letter_arn: str | None) -> None:
        self.functions[function.logical_id] = function
        if dead_letter_arn:
            self.invoker.config(function).dead_letter = dead_letter_arn

    def add_event_source(
        self, logical_id: str, mapping_id: str, function: LambdaFunction, props: dict[str, Any]
    ) -> None:
        source_arn = props.get("EventSourceArn", "")
        service = source_arn.split(":")[2] if source_arn.count(":") >= 5 else source_arn
        factory = event_sources.load_all().get(service)
        if factory is None:
            raise LocalCloudError(f"{logical_id}: event source {source_arn} is not supported offline")
        self.pollables.append(factory(self, mapping_id, function, props))

    def add_pollable(self, pollable: Pollable) -> None:
        self.pollables.append(pollable)

    # ------------------------------------------------------------------------------------ clients

    def admin_client(self, service: str) -> Any:
        """A client with no IAM checks: for provisioning and for tests looking at state.

        Clients are shared by every cloud in the process (moto's state is what changes between
        clouds, not the client): creating one costs 15 to 50 ms.
        """
        return _admin_client(service, self.region)

    client = admin_client

    def client_as(self, role_arn: str, service: str, session: str) -> Any:
        """A client whose calls are checked against ``role_arn``'s policies, as a function's are."""
        return _AsRole(self, self.admin_client(service), role_arn, session)

    @contextmanager
    def acting_as(self, role_arn: str, session: str, span: int | None) -> Iterator[None]:
        token = _principal.set(_Principal(role_arn, session, span))
        try:
            yield
        finally:
            _principal.reset(token)

    def api(self, name: str | None = None, *, stage: str | None = None) -> ApiClient:
        """An HTTP client for a REST API's stage: ``cloud.api().post("/items", json={...})``.

        ``name`` is the API's logical id, a unique part of it, or its ``Name`` (None: the stack's
        only REST API); ``stage`` defaults to the API's only stage.
        """
        return self.apigateway.client(name, stage=stage)

    # ------------------------------------------------------------------------------------ invoking

    def invoke(
        self, name: str, payload: Any = None, invocation_type: str = "RequestResponse"
    ) -> dict[str, Any]:
        """Invoke a function as a test would with the SDK: the answer has boto3's shape."""
        response = self.lambda_(self.function(name), payload, invocation_type, source="test")
        if "Payload" in response:
            response["Payload"] = json.loads(response["Payload"]) if response["Payload"] else None
        return response

    def start_execution(self, state_machine: str, payload: Any = None, name: str | None = None) -> Any:
        """Start a Step Functions execution as a test would (by ARN, logical id or construct path
        ending); it runs on the next ``drain``/``advance``. Returns a :class:`localcloud.stepfunctions.Execution`."""
        from localcloud.stepfunctions import start_execution

        return start_execution(self, state_machine, payload, name)

    def execution(self, arn: str) -> Any:
        """A Step Functions execution by ARN: status, output, error, ``history()``, ``states()``."""
        from localcloud.stepfunctions import execution

        return execution(self, arn)

    def lambda_(
        self,
        function: LambdaFunction,
        payload: Any,
        invocation_type: str,
        *,
        source: str,
        read_timeout: float | None = None,
    ) -> dict[str, Any]:
        """Invoke as Lambda's Invoke API does; a synchronous call outlasting ``read_timeout`` (the
        caller's SDK setting) raises :class:`localcloud.invoker.ReadTimedOut`."""
        caller = _principal.get()
        cause = caller.span if caller else None
        if invocation_type == "DryRun":
            return {"StatusCode": 204}
        if invocation_type == "Event":
            self.invoker.invoke_async(function, payload, source=source, cause=cause)
            return {"StatusCode": 202}
        if invocation_type != "RequestResponse":
            raise LocalCloudError(
                f"InvocationType {invocation_type!r} is not one of RequestResponse, Event, DryRun"
            )
        result = self.invoker.invoke_sync(
            function, payload, source=source, cause=cause, read_timeout=read_timeout
        )
        response: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": "$LATEST",
            "Payload": encode(result.payload),
        }
        if result.failed:
            response["FunctionError"] = "Unhandled"
        return response

    def send_to(
        self, arn: str, payload: Any, *, role_arn: str, source: str, cause: int | None, kind: str
    ) -> None:
        """Deliver to an asynchronous destination or DLQ by ARN: SQS, SNS, Lambda or EventBridge.

        Lambda sends with the function's execution role, so that role needs the permission.
        """
        span = self.trace.record(kind, source, arn.rsplit(":", 1)[-1], at=self.clock.elapsed(), parent=cause)
        body = encode(payload)
        service = arn.split(":")[2]
        with self.acting_as(role_arn, source, span.id):
            if service == "sqs":
                self.client_as(role_arn, "sqs", source).send_message(
                    QueueUrl=self.queue_url(arn), MessageBody=body
                )
            elif service == "sns":
                self.client_as(role_arn, "sns", source).publish(TopicArn=arn, Message=body)
            elif service == "lambda":
                self._check_call_as(role_arn, source, "lambda", "lambda:InvokeFunction", arn)
                self.invoker.invoke_async(self.function(arn), payload, source=source, cause=span.id)
            elif service == "events":
                self.client_as(role_arn, "events", source).put_events(
                    Entries=[
                        {
                            "Source": "lambda",
                            "DetailType": "Lambda Function Invocation Result",
                            "Detail": body,
                            "EventBusName": arn,
                        }
                    ]
                )
            else:
                raise LocalCloudError(f"destination {arn} is not a queue, topic, function or event bus")

    def origin_of(self, message_id: str) -> int | None:
        """The trace span that sent a message, so deliveries hang under their cause."""
        return self._origins.get(message_id)

    # ------------------------------------------------------------------------------------ time

    def pump(self) -> bool:
        """Run what is due now: timers, then every event source once. Whether anything happened."""
        progressed = self.clock.run_due() > 0
        for pollable in list(self.pollables):
            progressed = pollable.poll() or progressed
        return progressed

    def next_wakeup(self, *, schedules: bool = True) -> datetime | None:
        """When something next falls due; ``schedules=False`` leaves out schedules, which never end."""
        pollables = [p for p in self.pollables if schedules or not getattr(p, "schedule", False)]
        moments = [self.clock.next_timer(), *(p.next_wakeup() for p in pollables)]
        later = [m for m in moments if m is not None]
        return min(later) if later else None

    def advance(self, seconds: float, max_steps: int = 10_000) -> None:
        """Move virtual time forward, delivering everything that falls due on the way.

        ``max_steps`` bounds the work at any one moment (a loop), not over the whole span, so a
        schedule firing every minute for a week is fine.
        """
        target = self.clock.now() + timedelta(seconds=seconds)
        while True:
            self._pump_until_quiet(0, max_steps)
            moment = self.next_wakeup()
            if moment is None or moment > target:
                break
            self.clock.move_to(moment)
        self.clock.move_to(target)
        self._pump_until_quiet(0, max_steps)

    def drain(self, max_steps: int = 10_000) -> None:
        """Deliver until nothing is in flight, moving time as needed; raise if it never gets quiet."""
        steps = 0
        while True:
            steps = self._pump_until_quiet(steps, max_steps)
            moment = self.next_wakeup(schedules=False)
            if moment is None:
                return
            self.clock.move_to(moment)

    def _pump_until_quiet(self, steps: int, max_steps: int) -> int:
        """Pump until nothing more happens at this moment; count the steps against ``max_steps``."""
        while self.pump():
            steps += 1
            if steps > max_steps:
                recent = "\n".join(self.trace.lines()[-20:])
                raise DrainLimitExceeded(
                    f"still busy after {max_steps} steps: events may loop between resources. Last spans:\n{recent}"
                )
        return steps

    # ------------------------------------------------------------------------------------ IAM

    def unused_grants(self) -> list[str]:
        """Actions the functions' roles allow that no call needed: candidates for tightening."""
        return self.iam.unused_grants(roles=[fn.role_arn for fn in self.functions.values()])

    def _check_call_as(self, role_arn: str, session: str, prefix: str, action: str, resource: str) -> None:
        decision = self.iam.decide(role_arn, action, resource)
        if not decision.allowed:
            raise access_denied(
                prefix, action.split(":")[1], role_arn, session, action, resource, decision.reason
            )

    def _check_call(self, service_model: Any, operation: str, params: dict[str, Any]) -> None:
        principal = _principal.get()
        if principal is None or not self.enforce_iam or service_model.service_name in SELF_AUTHORIZED:
            return
        prefix, action = iam_action(service_model, operation)
        resources = call_resources(prefix, params, (self.partition, self.region, self.account))
        if resources is None:
            # The resource of this service's calls cannot be named offline: the action alone decides.
            self.iam.action_only_services.add(prefix)
        for resource in resources or [None]:
            decision = self.iam.decide(principal.role_arn, action, resource)
            if not decision.allowed:
                self.trace.record(
                    "denied",
                    principal.session,
                    prefix,
                    f"{action} on {resource or '*'}",
                    at=self.clock.elapsed(),
                    parent=principal.span,
                    outcome="AccessDenied",
                )
                raise access_denied(
                    prefix,
                    operation,
                    principal.role_arn,
                    principal.session,
                    action,
                    resource or "*",
                    decision.reason,
                )

    def _dynamodb_key_schema(self, table: str) -> dict[str, str] | None:
        """``{attribute: HASH | RANGE}`` of a table in this cloud's account and region, by name or ARN."""
        from moto.dynamodb.exceptions import ResourceNotFoundException
        from moto.dynamodb.models import dynamodb_backends

        try:
            found = dynamodb_backends[self.account][self.region].get_table(table.rsplit("/", 1)[-1])
        except ResourceNotFoundException:  # moto answers the call with AWS's error itself
            return None
        return {item["AttributeName"]: item["KeyType"] for item in found.schema}

    def _after_call(
        self, service_model: Any, operation: str, parsed: dict[str, Any], params: dict[str, Any] | None
    ) -> None:
        """Let the service behaviours that react to a call see it (see :mod:`localcloud.observers`)."""
        for observer in observers.load_all().get((service_model.service_name, operation), []):
            observer(self, params or {}, parsed)

    def caller(self) -> tuple[str, int | None]:
        """Who is calling now (a function's name, or ``test``) and the trace span it runs in."""
        principal = _principal.get()
        return (principal.session, principal.span) if principal else ("test", None)

    def note_origin(self, message_id: str, span_id: int) -> None:
        """Remember which span sent a message, so what it causes hangs under it in the trace."""
        self._origins.setdefault(message_id, span_id)

    def record_send(
        self,
        target: str,
        detail: str,
        *,
        origin: str | None = None,
        source: str | None = None,
        parent: int | None = None,
    ) -> Span:
        """Trace something sent to ``target`` by the current caller (or ``source``), and remember
        the span as the ``origin`` of what it sent, so the deliveries it causes hang under it."""
        if source is None:
            source, parent = self.caller()
        span = self.trace.record("send", source, target, detail, at=self.clock.elapsed(), parent=parent)
        if origin is not None:
            self.note_origin(origin, span.id)
        return span


class _AsRole:
    """A client proxy whose every call runs as a role (see :meth:`LocalCloud.client_as`)."""

    def __init__(self, cloud: LocalCloud, client: Any, role_arn: str, session: str) -> None:
        self._cloud, self._client, self._role_arn, self._session = cloud, client, role_arn, session

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            current = _principal.get()
            with self._cloud.acting_as(self._role_arn, self._session, current.span if current else None):
                return attribute(*args, **kwargs)

        return call


# ---------------------------------------------------------------------------------------- botocore


def _before_parameter_build(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    if _active is None:
        return
    context["localcloud_params"] = params
    _active._check_call(model.service_model, model.name, params)
    if model.service_model.service_name == "dynamodb":
        check_dynamodb_request(model.name, params, _active._dynamodb_key_schema)


def _route_lambda_invoke(
    model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any
) -> tuple[AWSResponse, dict[str, Any]] | None:
    """Lambda's Invoke runs the function here instead of in moto (whose Lambda needs Docker); the
    client's read timeout falls on the virtual clock, as botocore's ``ReadTimeoutError``."""
    request_url = params["url"]
    if _active is None:
        return None
    params = context.get("localcloud_params", {})
    function = _active.function(params["FunctionName"])
    payload = params.get("Payload", b"null")
    payload = json.loads(payload.read() if hasattr(payload, "read") else payload or b"null")
    caller = _principal.get()
    try:
        response = _active.lambda_(
            function,
            payload,
            params.get("InvocationType", "RequestResponse"),
            source=caller.session if caller else "sdk",
            read_timeout=getattr(context.get("client_config"), "read_timeout", None),
        )
    except ReadTimedOut:
        raise ReadTimeoutError(endpoint_url=request_url) from None
    except Throttled as error:
        body = {
            "Error": {"Code": "TooManyRequestsException", "Message": str(error)},
            "ResponseMetadata": {"HTTPStatusCode": 429},
        }
        return AWSResponse("", 429, {}, None), body
    data = response.pop("Payload", "").encode()
    response["Payload"] = StreamingBody(io.BytesIO(data), len(data))
    response["ResponseMetadata"] = {"HTTPStatusCode": response["StatusCode"], "HTTPHeaders": {}}
    return AWSResponse("", response["StatusCode"], {}, None), response


def _after_call(
    http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
) -> None:
    if _active is not None and http_response is not None and http_response.status_code < 300:
        _active._after_call(model.service_model, model.name, parsed, context.get("localcloud_params"))


def _route_appconfigdata(
    model: Any, context: dict[str, Any], **_: Any
) -> tuple[AWSResponse, dict[str, Any]] | None:
    """AppConfig Data, which moto lacks, is answered by ``cloud.appconfig``."""
    if _active is None:
        return None
    params = context.get("localcloud_params", {})
    status, parsed = _active.appconfig.data.answer(model.name, params, _principal.get())
    return AWSResponse("", status, {}, None), parsed


def _route_start_sync_execution(
    model: Any, context: dict[str, Any], **_: Any
) -> tuple[AWSResponse, dict[str, Any]] | None:
    """Step Functions' StartSyncExecution, which moto lacks, runs the Express execution here."""
    if _active is None:
        return None
    from localcloud.stepfunctions import start_sync_execution

    status, parsed = start_sync_execution(_active, context.get("localcloud_params", {}))
    return AWSResponse("", status, {}, None), parsed


def _refuse_oversized_events(
    model: Any, context: dict[str, Any], **_: Any
) -> tuple[AWSResponse, dict[str, Any]] | None:
    """EventBridge refuses a PutEvents request whose entries exceed its size quota; moto takes them."""
    if _active is None:
        return None
    from localcloud.observers.events import MAX_ENTRIES_BYTES, entries_size

    if entries_size(context.get("localcloud_params", {}).get("Entries", [])) <= MAX_ENTRIES_BYTES:
        return None
    body = {
        "Error": {
            "Code": "ValidationException",
            "Message": "Total size of the entries in the request is over the limit.",
        },
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    return AWSResponse("", 400, {}, None), body


_HOOKS = (
    ("before-parameter-build", _before_parameter_build),
    ("before-call.events.PutEvents", _refuse_oversized_events),
    ("before-call.lambda.Invoke", _route_lambda_invoke),
    ("before-call.sfn.StartSyncExecution", _route_start_sync_execution),
    ("before-call.appconfigdata", _route_appconfigdata),
    ("after-call", _after_call),
)


@functools.cache
def _admin_client(service: str, region: str) -> Any:
    return _admin_session().client(service, region_name=region)


@functools.cache
def _admin_session() -> boto3.session.Session:
    """One session for the cloud's own clients, made after the hooks are installed."""
    _install_hooks()
    return boto3.session.Session()


def _install_hooks() -> None:
    """Register the hooks with botocore once; sessions created from now on carry them."""
    for hook in _HOOKS:
        if hook not in botocore.handlers.BUILTIN_HANDLERS:
            botocore.handlers.BUILTIN_HANDLERS.append(hook)
    boto3.DEFAULT_SESSION = None


#: Process environment the local cloud needs while it runs, whoever started it.
_OFFLINE_ENVIRON = {
    # botocore would send DynamoDB (and DynamoDB Streams) calls to account-based endpoints that
    # moto does not route, so a stream's DescribeStream answered 404 "Not yet implemented".
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


def _offline_environ() -> Callable[[], None]:
    """Set what :data:`_OFFLINE_ENVIRON` lists (unless the caller set it); return the undo."""
    added = {name: value for name, value in _OFFLINE_ENVIRON.items() if name not in os.environ}
    os.environ.update(added)

    def restore() -> None:
        for name in added:
            os.environ.pop(name, None)

    return restore
