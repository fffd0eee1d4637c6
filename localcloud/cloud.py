"""The local cloud: a synthesized stack, provisioned into moto, with its functions running here.

Example::

    with LocalCloud.from_assembly("cdk.out", "ScalableWebhookStack") as cloud:
        cloud.client("sqs").send_message(QueueUrl=cloud.outputs["QueueUrl"], MessageBody="{}")
        cloud.drain()
        print(cloud.trace.tree())

This is the test-facing API only: the machinery is the kernel (:mod:`localcloud.core.kernel`,
``cloud.kernel``) and the services it runs (:mod:`localcloud.services`, ``cloud.service(name)``).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moto.core import DEFAULT_ACCOUNT_ID

from localcloud.core import role_use
from localcloud.core.assembly import StackArtifact, load_stack
from localcloud.core.clock import VirtualClock
from localcloud.core.iam import PolicyEngine
from localcloud.core.kernel import Kernel
from localcloud.core.service import Provisioned
from localcloud.core.trace import Trace
from localcloud.services import SERVICES

if TYPE_CHECKING:
    from localcloud.core.metrics import Datapoint
    from localcloud.services.apigateway import ApiClient, ApiGateway
    from localcloud.services.apigatewayv2 import HttpApiClient
    from localcloud.services.apigatewayv2.websocket import WebSocketClient
    from localcloud.services.appconfig import AppConfig
    from localcloud.services.cloudfront import CloudFront, DistributionClient
    from localcloud.services.lambda_.runtime import LambdaFunction
    from localcloud.services.stepfunctions import Execution


class LocalCloud:
    """One stack running offline. Use as a context manager, or call :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        artifact: StackArtifact,
        *,
        region: str | None = None,
        account: str | None = None,
        start: datetime | None = None,
        parameters: dict[str, Any] | None = None,
        enforce_iam: bool = True,
        strict_runtime: bool = False,
    ) -> None:
        self.kernel = Kernel(
            artifact,
            SERVICES,
            # A stack bound to an environment runs in it: CDK wrote its account and region into the template.
            region=region or artifact.region or "us-east-1",
            account=account or artifact.account or DEFAULT_ACCOUNT_ID,
            start=start,
            parameters=parameters,
            enforce_iam=enforce_iam,
            strict_runtime=strict_runtime,
        )

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
        self.kernel.start()

    def stop(self) -> None:
        """Stop the cloud; stopping one that is not running does nothing."""
        self.kernel.stop()

    # ------------------------------------------------------------------------------------ the stack

    @property
    def artifact(self) -> StackArtifact:
        return self.kernel.artifact

    @property
    def stack_name(self) -> str:
        return self.kernel.stack_name

    @property
    def region(self) -> str:
        return self.kernel.region

    @property
    def account(self) -> str:
        return self.kernel.account

    @property
    def partition(self) -> str:
        return self.kernel.partition

    @property
    def resources(self) -> dict[str, Provisioned]:
        """What each resource's provisioner answered (``Ref`` and ``Fn::GetAtt`` values), by logical id."""
        return self.kernel.resources

    @property
    def enforce_iam(self) -> bool:
        return self.kernel.enforce_iam

    @property
    def outputs(self) -> dict[str, Any]:
        """The stack's outputs, resolved: ``cloud.outputs["QueueUrl"]``."""
        return self.kernel.outputs

    @property
    def clock(self) -> VirtualClock:
        return self.kernel.clock

    @property
    def trace(self) -> Trace:
        """Every span the cloud recorded: ``cloud.trace.tree()``, ``find(kind)``, ``lines()``."""
        return self.kernel.trace

    @property
    def iam(self) -> PolicyEngine:
        """The policy evaluator: a test may add or remove policies (``add_identity_policy``)."""
        return self.kernel.iam

    def physical_id(self, name: str) -> str:
        """The ``Ref`` of a resource, by logical id or construct path (``MyStack/Orders/Table``, or
        its end, ``Orders/Table``); a name matching none or several is an error listing candidates."""
        return self.kernel.physical_id(name)

    def service(self, name: str) -> Any:
        """A service's state in this cloud, by the service part of its ARNs: ``cloud.service("lambda")``."""
        return self.kernel.service(name)

    # ------------------------------------------------------------------------------------ clients

    def client(self, service: str) -> Any:
        """A client with no IAM checks: for tests looking at state, and driving the stack as an admin."""
        return self.kernel.admin_client(service)

    admin_client = client

    def client_as(self, role_arn: str, service: str, session: str) -> Any:
        """A client whose calls are checked against ``role_arn``'s policies, as a function's are."""
        return self.kernel.client_as(role_arn, service, session)

    # ------------------------------------------------------------------------------------ front doors

    def api(
        self, name: str | None = None, *, stage: str | None = None, domain: str | None = None
    ) -> ApiClient:
        """An HTTP client for a REST API's stage: ``cloud.api().post("/items", json={...})``.

        ``name`` is the API's logical id, a unique part of it, or its ``Name`` (None: the stack's
        only REST API); ``stage`` defaults to the API's only stage. ``domain``: a client of that
        custom domain instead, routed by its base path mappings (``cloud.api(domain="api.example.com")``).
        """
        return self.apigateway.client(name, stage=stage, domain=domain)

    def http_api(
        self, name: str | None = None, *, stage: str | None = None, domain: str | None = None
    ) -> HttpApiClient:
        """An HTTP client for an HTTP API's (API Gateway v2) stage, as :meth:`api` is for a REST API's;
        ``stage`` defaults to the API's only stage (``$default`` serves paths without a prefix);
        ``domain``: a client of that custom domain, routed by its API mappings."""
        gateway = self.kernel.service("apigatewayv2")
        return gateway.domain_client(domain) if domain is not None else gateway.client(name, stage=stage)

    def websocket(self, name: str | None = None, *, stage: str | None = None) -> WebSocketClient:
        """A client of a WebSocket API's stage: ``cloud.websocket().connect(query={...})`` gives a
        connection with ``send``, ``receive`` and ``close`` (None: the stack's only WebSocket API)."""
        from localcloud.services.apigatewayv2.websocket import WebSocketClient
        from localcloud.services.apigatewayv2.websocket.model import SERVICE_NAME

        websockets = self.kernel.service(SERVICE_NAME)
        return WebSocketClient(websockets, websockets.api(name), stage)

    def distribution(self, name: str | None = None) -> DistributionClient:
        """A CloudFront distribution to send viewer requests to: by logical id, id, or a unique part
        of its logical id or construct path; ``None`` when the stack has one."""
        return self.cloudfront.client(name)

    @property
    def apigateway(self) -> ApiGateway:
        """The stack's REST APIs, served: ``dispatch``, ``endpoints``, ``routes``; see :meth:`api`."""
        return self.kernel.service("apigateway")

    @property
    def cloudfront(self) -> CloudFront:
        return self.kernel.service("cloudfront")

    @property
    def appconfig(self) -> AppConfig:
        """The stack's AppConfig resources: ``cloud.appconfig.deploy(...)`` rolls out a new version."""
        return self.kernel.service("appconfig")

    # ------------------------------------------------------------------------------------ functions

    def function(self, name: str) -> LambdaFunction:
        """A function by physical name, ARN, logical id or construct path ending (``Pattern/Worker``)."""
        return self.kernel.service("lambda").function(name)

    def invoke(
        self, name: str, payload: Any = None, invocation_type: str = "RequestResponse"
    ) -> dict[str, Any]:
        """Invoke a function as a test would with the SDK: the answer has boto3's shape."""
        lambda_ = self.kernel.service("lambda")
        response = lambda_.invoke(lambda_.function(name), payload, invocation_type, source="test")
        if "Payload" in response:
            response["Payload"] = json.loads(response["Payload"]) if response["Payload"] else None
        return response

    def metrics(self, namespace: str, name: str, dimensions: dict[str, str] | None = None) -> list[Datapoint]:
        """The datapoints of one CloudWatch metric (its exact dimensions), oldest first: each with its
        ``timestamp``, ``unit``, ``sum``, ``sample_count``, ``minimum``, ``maximum`` and raw ``values``."""
        return self.kernel.service("cloudwatch").datapoints(namespace, name, dimensions)

    def unused_grants(self) -> list[str]:
        """Actions the functions' roles allow that no call needed: candidates for tightening."""
        return self.kernel.service("lambda").unused_grants()

    def dropped(self, what: str) -> list[str]:
        """``name: why`` for each function (or state machine) whose ``"logs"`` (or ``"xray"``
        segments) were dropped because its role may not send them, and for each log group Step
        Functions could not deliver an execution's logs to (it was deleted)."""
        return role_use.dropped(self.kernel, what)

    # ------------------------------------------------------------------------------------ Step Functions

    def start_execution(self, state_machine: str, payload: Any = None, name: str | None = None) -> Execution:
        """Start a Step Functions execution as a test would (by ARN, logical id or construct path
        ending); it runs on the next ``drain``/``advance``. Returns a :class:`localcloud.services.stepfunctions.Execution`."""
        from localcloud.services.stepfunctions import start_execution

        return start_execution(self.kernel, state_machine, payload, name)

    def execution(self, arn: str) -> Execution:
        """A Step Functions execution by ARN: status, output, error, ``history()``, ``states()``."""
        from localcloud.services.stepfunctions import execution

        return execution(self.kernel, arn)

    # ------------------------------------------------------------------------------------ time

    def advance(self, seconds: float, max_steps: int = 10_000) -> None:
        """Move virtual time forward, delivering everything that falls due on the way.

        ``max_steps`` bounds the work at any one moment (a loop), not over the whole span, so a
        schedule firing every minute for a week is fine.
        """
        self.kernel.advance(seconds, max_steps)

    def drain(self, max_steps: int = 10_000) -> None:
        """Deliver until nothing is in flight, moving time as needed; raise if it never gets quiet."""
        self.kernel.drain(max_steps)

    def pump(self) -> bool:
        """Run what is due now, once; whether anything happened."""
        return self.kernel.pump()
