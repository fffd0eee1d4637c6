"""House defaults for every pattern construct: one place, so a fix here fixes every pattern.

Each factory builds a resource that is secure without arguments: encrypted, TLS-only, with a DLQ,
logs with retention, least-privilege roles. A caller may still override a secure default, and is
told so at synth time with a :class:`SecureDefaultOverridden` warning and a CDK warning annotation.

Every construct follows one override contract (:func:`merge_props`): for each resource it makes,
``<resource>_props`` (the keyword arguments of the CDK construct, merged over the house defaults)
or an existing resource (never both).

Copying a pattern into another CDK app means copying its module plus this one; constructs import
this module relatively, and take the folder of their handlers (``code_dir``) and of ``shared/``
(``shared_dir``) as parameters.

Example::

    fn = PatternFunction(self, "Worker", code_dir="functions/scalable_webhook", handler="worker.handler")
    queue = SecureQueue(self, "Inbox", max_receive_count=5)
    grant_send(queue.queue, fn)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsii
from aws_cdk import Acknowledgment as _Acknowledgment
from aws_cdk import (
    Annotations,
    AssetHashType,
    BundlingOptions,
    DockerImage,
    Duration,
    ILocalBundling,
    Names,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct, IConstruct

if TYPE_CHECKING:
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_stepfunctions as sfn

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
SHARED_DIR = PROJECT_ROOT / "shared"

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
METRICS_NAMESPACE = "ServerlessPatterns"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
#: AWS publishes the ARN of its Powertools layer for each runtime and architecture as a public
#: SSM parameter; resolving it at deploy time keeps the layer in the region of the stack.
POWERTOOLS_LAYER_PARAMETER = "/aws/service/powertools/python/arm64/python3.13/latest"  # the house platform's
#: Context key that pins an exact Powertools layer ARN instead of the SSM lookup.
POWERTOOLS_LAYER_CONTEXT = "powertools_layer_arn"
#: Files never shipped inside an asset.
ASSET_EXCLUDES = ["__pycache__", "*.pyc", ".pytest_cache", "tests"]


class SecureDefaultOverridden(UserWarning):
    """A construct was asked to weaken one of the house's secure defaults."""


def warn_override(scope: IConstruct, setting: str, why_default: str) -> None:
    """Tell the user, at synth time, that they turned off a secure default."""
    message = f"{scope.node.path}: secure default overridden: {setting}. The default {why_default}."
    warnings.warn(message, SecureDefaultOverridden, stacklevel=3)
    Annotations.of(scope).add_warning_v2("patterns:secure-default-overridden", message)


def acknowledge(resource: IConstruct, rule: str, reason: str, *, applies_to: str | None = None) -> None:
    """Acknowledge one cdk-nag finding on one resource, with the reason a reviewer needs.

    ``rule`` is the rule cdk-nag prints, such as ``AwsSolutions-IAM5``; the pack prefix is derived
    from it. ``applies_to`` narrows it to one finding of that rule, such as ``Resource::*``.
    Acknowledging on a stack or app would hide findings on future resources, so it is refused.
    """
    if isinstance(resource, Stack) or resource.node.scope is None:
        raise ValueError(f"acknowledge {rule} on a resource, not on the stack or app ({resource.node.path})")
    if len(reason.strip()) < 20:
        raise ValueError(f"acknowledging {rule} on {resource.node.path} needs a reason a reviewer can check")
    pack = rule.split("-", 1)[0]
    finding = f"{pack}::{rule}" + (f"[{applies_to}]" if applies_to else "")
    Validations.of(resource).acknowledge(_Acknowledgment(id=finding, reason=reason))


def acknowledge_workflow_grants(machine: IConstruct, functions: Iterable[IConstruct] = ()) -> IConstruct:
    """The wildcard findings on a state machine role's policy that CDK's grants make: log delivery and
    X-Ray on '*', and each Lambda task's function versions (``functions``); returns that policy."""
    policy = machine.role.node.find_child("DefaultPolicy")  # type: ignore[attr-defined]
    acknowledge(
        policy,
        "AwsSolutions-IAM5",
        "Step Functions' log delivery (logs:CreateLogDelivery and its kin) and X-Ray take no resource-level "
        "permissions, so CDK grants them on '*'.",
        applies_to="Resource::*",
    )
    stack = Stack.of(machine)
    for function in functions:
        logical_id = stack.resolve(stack.get_logical_id(function.node.default_child))  # type: ignore[arg-type]
        acknowledge(
            policy,
            "AwsSolutions-IAM5",
            "CDK's Lambda task grants the function and its versions ('<arn>:*'); the workflow invokes "
            "the unqualified function only.",
            applies_to=f"Resource::<{logical_id}.Arn>:*",
        )
    return policy


def acknowledge_public_read(method: IConstruct) -> None:
    """The no-authorizer findings (APIG4, COG4) on a method of a pattern that is a public read API."""
    acknowledge(
        method,
        "AwsSolutions-APIG4",
        "The pattern is a public read API by design; put an authorizer in front (see the gatekeeper pattern).",
    )
    acknowledge(
        method,
        "AwsSolutions-COG4",
        "No Cognito user pool: the pattern is a public read API by design; see the secured SPA pattern.",
    )


# --------------------------------------------------------------------------------------------- Overrides

Props = Mapping[str, Any]
"""Keyword arguments of a CDK construct (``sqs.Queue``, ``dynamodb.Table``...), as a plain dict."""


@dataclass(frozen=True)
class SecureDefault:
    """A house default that leaves the resource less safe when a caller changes it.

    ``weakened`` says whether a merged value turns it off; ``why`` completes "The default ...".
    """

    prop: str
    weakened: Callable[[Any], bool]
    why: str


def merge_props(
    owner: IConstruct,
    props_name: str,
    defaults: Props,
    props: Props | None,
    *,
    existing: tuple[str, object | None] | None = None,
    keywords: Mapping[str, tuple[str, object | None]] | None = None,
    fixed: Collection[str] = (),
    secure: Iterable[SecureDefault] = (),
) -> dict[str, Any]:
    """``props`` merged over ``defaults``: the override contract every construct follows.

    - ``existing=("table", table)``: an existing resource replaces the one the props describe, so
      giving both is refused.
    - ``keywords={"memory_size": ("memory_size", 512)}``: a construct keyword that sets a prop (a
      ``None`` value means it was not given); setting it both ways is refused.
    - ``fixed``: props the construct sets itself because the pattern depends on them.
    - A dict-valued prop (``environment``) merges key by key; overriding a key of the default is refused.
    - ``secure``: each house default that, once weakened by ``props``, warns through :func:`warn_override`.

    Every refusal is a ``ValueError`` naming the construct, the two props and what to do.

    >>> from aws_cdk import App, Stack
    >>> stack = Stack(App(), "Example")
    >>> merge_props(stack, "queue_props", {"enforce_ssl": True}, {"fifo": True})
    {'enforce_ssl': True, 'fifo': True}
    >>> merge_props(stack, "queue_props", {}, {"fifo": True}, existing=("queue", object()))
    Traceback (most recent call last):
    ...
    ValueError: Example: queue and queue_props both describe the same resource; give queue_props to create it, or queue to use yours
    """
    path = owner.node.path or owner.node.id
    props = dict(props or {})
    if existing is not None and existing[1] is not None and props:
        name = existing[0]
        raise ValueError(
            f"{path}: {name} and {props_name} both describe the same resource; give {props_name} to "
            f"create it, or {name} to use yours"
        )
    for prop, (keyword, value) in (keywords or {}).items():
        if value is not None and prop in props:
            raise ValueError(
                f"{path}: {keyword} and {props_name}[{prop!r}] both set {prop}; give one of them"
            )
    owned = sorted(set(fixed) & set(props))
    if owned:
        raise ValueError(
            f"{path}: {props_name}[{owned[0]!r}] is set by the construct itself, the pattern depends on "
            "it; remove it (wire more onto the exposed resource instead)"
        )
    merged = {
        **defaults,
        **{prop: value for prop, (_, value) in (keywords or {}).items() if value is not None},
    }
    for prop, value in props.items():
        default = merged.get(prop)
        if isinstance(default, Mapping) and isinstance(value, Mapping):
            clash = sorted(set(default) & set(value))
            if clash:
                raise ValueError(
                    f"{path}: {props_name}[{prop!r}] overrides {', '.join(clash)}, which the construct "
                    f"sets; use other keys"
                )
            value = {**default, **value}
        merged[prop] = value
    for rule in secure:
        if rule.prop in props and rule.weakened(merged[rule.prop]):
            warn_override(owner, f"{props_name}[{rule.prop!r}]={_shown(merged[rule.prop])}", rule.why)
    return merged


def _shown(value: Any) -> str:
    """A prop's value as a warning shows it: a ``Duration`` as "1 day", not as an object address."""
    return value.to_human_string() if isinstance(value, Duration) else repr(value)


# --------------------------------------------------------------------------------------------- Lambda

CodeLocation = str | os.PathLike[str] | lambda_.Code
"""A handler folder (absolute, or relative to ``functions/`` or to the current directory) or a ``Code``."""


def platform_suffix(runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> str:
    """``""`` for the house platform, else e.g. ``Python313X8664``: keeps the default's logical ids."""
    if runtime.name == RUNTIME.name and architecture.name == ARCHITECTURE.name:
        return ""
    return re.sub(r"[^A-Za-z0-9]", "", f"{runtime.name.capitalize()}{architecture.name.capitalize()}")


def powertools_parameter(runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> str:
    """AWS's public SSM parameter naming its Powertools layer for one Python version and architecture."""
    return f"/aws/service/powertools/python/{architecture.name}/{runtime.name}/latest"


def resolve_code_dir(code_dir: str | os.PathLike[str]) -> Path:
    """The folder ``code_dir`` names: absolute as is, relative under ``functions/`` or the current directory.

    The project's constructs name their folder (``"scalable_webhook"``); a copied construct is given
    the folder of its new home, absolute or relative to where ``cdk synth`` runs, like ``Code.from_asset``.
    """
    path = Path(code_dir)
    candidates = [path] if path.is_absolute() else [FUNCTIONS_DIR / path, Path.cwd() / path]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    raise ValueError(
        f"code_dir {str(code_dir)!r} is not a folder; looked at {', '.join(map(str, candidates))}"
    )


def read_contract(code_dir: CodeLocation, file_name: str, *, pattern: str) -> Any:
    """The JSON contract ``file_name`` that a pattern's handlers ship in ``code_dir``, read at synth.

    A contract both sides must agree on (a request model, a token format) lives once, beside the
    handlers that read it at run time; the construct reads the same file, so a copied construct
    carries it with its handlers. ``pattern`` names the construct in the error for a ``lambda_.Code``.
    """
    if isinstance(code_dir, lambda_.Code):
        raise ValueError(f"the {pattern} reads {file_name} from code_dir at synth: give a folder")
    return json.loads((resolve_code_dir(code_dir) / file_name).read_text())


@jsii.implements(ILocalBundling)
class _SharedLayerBundler:
    """Copies ``shared/`` to ``python/shared`` so the runtime finds it on ``/opt/python``."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def try_bundle(self, output_dir: str, _options: Any) -> bool:
        shutil.copytree(
            self.source,
            Path(output_dir) / "python" / "shared",
            ignore=shutil.ignore_patterns(*ASSET_EXCLUDES),
            dirs_exist_ok=True,
        )
        return True


def shared_layer(
    scope: Construct,
    *,
    shared_dir: str | os.PathLike[str] | None = None,
    runtime: lambda_.Runtime = RUNTIME,
    architecture: lambda_.Architecture = ARCHITECTURE,
) -> lambda_.LayerVersion:
    """The ``shared/`` runtime package as one layer per stack and platform, built without Docker.

    ``shared_dir`` is the folder holding the package (``shared/`` of this project by default); it
    ships as ``python/shared`` whatever the folder is called, so handlers import ``shared.*``.
    """
    source = Path(shared_dir).resolve() if shared_dir is not None else SHARED_DIR
    if not source.is_dir():
        raise ValueError(f"shared_dir {str(source)!r} is not a folder")
    stack = Stack.of(scope)
    layer_id = "SharedRuntimeLayer" + platform_suffix(runtime, architecture)
    existing = stack.node.try_find_child(layer_id)
    if existing is not None:
        if getattr(existing, "shared_dir", source) != source:
            raise ValueError(
                f"{scope.node.path}: shared_dir {str(source)!r} differs from {existing.shared_dir!s}, which "
                f"{layer_id} of this stack ships; pass layers= to give this function layers of its own"
            )
        return existing  # type: ignore[return-value]
    layer = lambda_.LayerVersion(
        stack,
        layer_id,
        code=lambda_.Code.from_asset(
            str(source),
            exclude=ASSET_EXCLUDES,
            asset_hash_type=AssetHashType.SOURCE,
            bundling=BundlingOptions(
                image=DockerImage.from_registry("scratch"), local=_SharedLayerBundler(source)
            ),
        ),
        compatible_runtimes=[runtime],
        compatible_architectures=[architecture],
        description="Runtime code shared by the pattern handlers (shared/)",
    )
    layer.shared_dir = source  # type: ignore[attr-defined]
    return layer


def powertools_layer(
    scope: Construct,
    *,
    runtime: lambda_.Runtime = RUNTIME,
    architecture: lambda_.Architecture = ARCHITECTURE,
) -> lambda_.ILayerVersion:
    """AWS's Powertools layer for the platform, pinned by context ``powertools_layer_arn`` or from SSM.

    A pinned ARN names its platform (``...-python313-arm64:<version>``); one naming another platform
    than the function's is refused, since the layer would not load.
    """
    stack = Stack.of(scope)
    layer_id = "PowertoolsLayer" + platform_suffix(runtime, architecture)
    existing = stack.node.try_find_child(layer_id)
    if existing is not None:
        return existing  # type: ignore[return-value]
    pinned = stack.node.try_get_context(POWERTOOLS_LAYER_CONTEXT)
    platform = f"-{runtime.name.replace('.', '')}-{architecture.name}:"
    if pinned and platform not in pinned:
        raise ValueError(
            f"{scope.node.path}: context {POWERTOOLS_LAYER_CONTEXT}={pinned} is not a layer for "
            f"{runtime.name} on {architecture.name} (its name would contain {platform[:-1]!r})"
        )
    arn = pinned or ssm.StringParameter.value_for_string_parameter(
        stack, powertools_parameter(runtime, architecture)
    )
    return lambda_.LayerVersion.from_layer_version_arn(stack, layer_id, arn)


def pattern_function_props(
    owner: IConstruct,
    props_name: str,
    defaults: Props,
    props: Props | None,
    *,
    functions_props: Props | None = None,
    keywords: Mapping[str, tuple[str, object | None]] | None = None,
    fixed: Collection[str] = ("handler",),
) -> dict[str, Any]:
    """:class:`PatternFunction` keywords for one function of a construct: :func:`merge_props` twice.

    ``defaults`` (the construct's) under ``functions_props`` (given for every function of the
    construct: ``runtime``, ``architecture``, ``shared_dir``...) under ``props`` (this function's).
    """
    common = merge_props(owner, "functions_props", defaults, functions_props, keywords=keywords, fixed=fixed)
    return merge_props(owner, props_name, common, props, keywords=keywords, fixed=fixed)


#: Keyword arguments of ``lambda_.Function`` that ``PatternFunction`` sets itself, with what to pass instead.
_FUNCTION_OWNED = {
    "code": "code_dir (a folder or a lambda_.Code)",
    "role": "nothing: the function's role is least privilege; grant more on function.role",
    "log_group": "log_retention; the function's log group is its own",
}
FUNCTION_SECURE = (
    SecureDefault("tracing", lambda v: v != lambda_.Tracing.ACTIVE, "records every invocation in X-Ray"),
)


class PatternFunction(lambda_.Function):
    """A Lambda function with the house defaults.

    Python on arm64, X-Ray active tracing, its own log group with retention, a role that may only
    write to that log group, Powertools configured through the environment, and the Powertools and
    ``shared/`` layers attached. Only the ``code_dir`` folder is shipped, so an asset never carries
    boto3 or the CDK.

    ``code_dir`` is a folder (absolute, or relative to ``functions/`` or to the current directory)
    or a ``lambda_.Code``. ``runtime`` and ``architecture`` choose the platform (a Python runtime);
    the Powertools and shared layers follow it. ``shared_dir`` is the folder shipped as the shared
    layer; ``layers`` replaces both house layers. Any other ``lambda_.Function`` keyword passes through.

    ``sdk_tracing`` turns on Powertools' Tracer (subsegments, annotations, patched boto3). It costs
    about half a second of cold start for the X-Ray SDK import, so it is off by default: active
    tracing still records every invocation and its duration.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code_dir: CodeLocation,
        handler: str,
        service: str | None = None,
        environment: Mapping[str, str] | None = None,
        memory_size: int = 256,
        timeout: Duration | None = None,
        sdk_tracing: bool = False,
        tracing: lambda_.Tracing = lambda_.Tracing.ACTIVE,
        log_retention: logs.RetentionDays = LOG_RETENTION,
        description: str | None = None,
        runtime: lambda_.Runtime = RUNTIME,
        architecture: lambda_.Architecture = ARCHITECTURE,
        shared_dir: str | os.PathLike[str] | None = None,
        layers: Sequence[lambda_.ILayerVersion] | None = None,
        **kwargs: Any,
    ) -> None:
        for prop, instead in _FUNCTION_OWNED.items():
            if prop in kwargs:
                raise ValueError(
                    f"{scope.node.path}/{construct_id}: {prop} is set by PatternFunction; use {instead}"
                )
        if layers is not None and shared_dir is not None:
            raise ValueError(
                f"{scope.node.path}/{construct_id}: shared_dir builds a house layer and layers replaces the "
                "house layers; give one of them"
            )
        if runtime.family != lambda_.RuntimeFamily.PYTHON:
            raise ValueError(
                f"{scope.node.path}/{construct_id}: runtime {runtime.name} is not Python; the handlers are"
            )
        if isinstance(code_dir, lambda_.Code):
            code = code_dir
        else:
            source = resolve_code_dir(code_dir)
            module = handler.rsplit(".", 1)[0].replace(".", "/")
            if not (source / f"{module}.py").is_file():
                raise ValueError(f"{construct_id}: handler {handler!r} has no file {module}.py in {source}")
            code = lambda_.Code.from_asset(str(source), exclude=ASSET_EXCLUDES)
        merge_props(
            scope,
            construct_id,
            {"tracing": lambda_.Tracing.ACTIVE},
            {"tracing": tracing},
            secure=FUNCTION_SECURE,
        )
        log_group = logs.LogGroup(
            scope, f"{construct_id}Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        role = iam.Role(
            scope,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {construct_id}: logs to its own log group only",
        )
        log_group.grant(role, "logs:CreateLogStream", "logs:PutLogEvents")
        env = {
            "POWERTOOLS_SERVICE_NAME": service or Stack.of(scope).stack_name,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "PATTERN_SDK_TRACING": "true" if sdk_tracing else "false",
            **(environment or {}),
        }
        if layers is None:
            platform = {"runtime": runtime, "architecture": architecture}
            layers = [
                powertools_layer(scope, **platform),
                shared_layer(scope, shared_dir=shared_dir, **platform),
            ]
        super().__init__(
            scope,
            construct_id,
            runtime=runtime,
            architecture=architecture,
            code=code,
            handler=handler,
            environment=env,
            memory_size=memory_size,
            timeout=timeout or Duration.seconds(10),
            tracing=tracing,
            log_group=log_group,
            role=role,
            layers=list(layers),
            description=description,
            **kwargs,
        )
        self.execution_role = role
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5",
            "Only actions without resource-level permissions use Resource '*': X-Ray's PutTraceSegments "
            "and PutTelemetryRecords, and dynamodb:ListStreams for stream event sources "
            "(tests/infra/test_gates.py holds every stack to that list).",
            applies_to="Resource::*",
        )
        for rule in (
            ("AwsSolutions-L1", "Serverless-LambdaLatestVersion") if runtime.name == RUNTIME.name else ()
        ):
            acknowledge(
                self,
                rule,
                f"{RUNTIME.name} is pinned to the minor version the tests' interpreter runs (the "
                "Makefile's PYTHON_VERSION), so the local cloud runs each handler on the Python it "
                "declares; move both together when the tests can run the latest.",
            )


# --------------------------------------------------------------------------------------------- SQS


QUEUE_DEFAULTS: Props = {"encryption": sqs.QueueEncryption.SQS_MANAGED, "enforce_ssl": True}
QUEUE_SECURE = (
    SecureDefault("encryption", lambda v: v == sqs.QueueEncryption.UNENCRYPTED, "encrypts messages at rest"),
    SecureDefault("enforce_ssl", lambda v: not v, "refuses requests that do not use TLS"),
)


def _queue_props(props: Mapping[str, Any]) -> dict[str, Any]:
    """``fifo=False`` means a standard queue (CloudFormation wants it absent); a key given means KMS."""
    props = {k: v for k, v in props.items() if not (k == "fifo" and not v)}
    if props.get("encryption_master_key") is not None and "encryption" not in props:
        props["encryption"] = sqs.QueueEncryption.KMS
    return props


#: AWS's guidance for an SQS event source: a visibility timeout at least six times the function's
#: timeout, so a throttled batch is not received again while it is still being worked on.
VISIBILITY_TIMEOUT_FACTOR = 6


def event_source_queue_props(
    owner: IConstruct,
    consumer: str,
    timeout: Duration,
    defaults: Props,
    queue_props: Props | None,
    *,
    max_receive_count: int | None,
    fixed: Collection[str] = (),
) -> dict[str, Any]:
    """:class:`SecureQueue` keywords for a queue that the ``consumer`` function (of ``timeout``)
    reads through an event source: ``queue_props`` merged over ``defaults`` and a visibility timeout
    of :data:`VISIBILITY_TIMEOUT_FACTOR` times ``timeout``; a visibility timeout shorter than the
    function's is refused, as SQS event sources refuse it."""
    props = merge_props(
        owner,
        "queue_props",
        {
            "visibility_timeout": Duration.seconds(timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR),
            **defaults,
        },
        queue_props,
        keywords={"max_receive_count": ("max_receive_count", max_receive_count)},
        fixed=fixed,
    )
    if props["visibility_timeout"].to_seconds() < timeout.to_seconds():
        raise ValueError(
            f"{owner.node.path}: queue_props['visibility_timeout'] is shorter than the {consumer}'s timeout "
            f"({timeout.to_seconds()} s), which SQS event sources refuse; lengthen it or give "
            f"the {consumer} a shorter timeout"
        )
    return props


class SecureQueue(Construct):
    """An encrypted, TLS-only SQS queue with its dead-letter queue.

    Messages move to ``dead_letter_queue`` after ``max_receive_count`` failed receives, so a poison
    message never blocks the queue nor retries forever. Pass ``dead_letter_queue`` to share one;
    ``deploy_dead_letter_queue=False`` makes a queue without one (and warns). Any other keyword is an
    ``sqs.Queue`` prop merged over the house defaults (``encryption_master_key``, ``visibility_timeout``...);
    ``dead_letter_queue_props`` are those of the dead-letter queue made here.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        max_receive_count: int = 3,
        dead_letter_queue: sqs.IQueue | None = None,
        dead_letter_queue_props: Props | None = None,
        deploy_dead_letter_queue: bool = True,
        **props: Any,
    ) -> None:
        super().__init__(scope, construct_id)
        if max_receive_count < 1:
            raise ValueError(f"{construct_id}: max_receive_count must be at least 1")
        merged = merge_props(
            self,
            construct_id,
            QUEUE_DEFAULTS,
            _queue_props(props),
            fixed=("dead_letter_queue",),
            secure=QUEUE_SECURE,
        )
        if not deploy_dead_letter_queue:
            if dead_letter_queue is not None or dead_letter_queue_props:
                raise ValueError(
                    f"{self.node.path}: deploy_dead_letter_queue=False contradicts dead_letter_queue"
                    f"{'_props' if dead_letter_queue is None else ''}; keep the dead-letter queue or drop it"
                )
            warn_override(
                self, "deploy_dead_letter_queue=False", "moves a message aside after repeated failed receives"
            )
        else:
            # The DLQ keeps what the queue held: encrypted the same way, FIFO if the queue is.
            dlq_defaults = {
                k: merged[k] for k in ("encryption", "encryption_master_key", "fifo") if k in merged
            }
            dlq_props = merge_props(
                self,
                "dead_letter_queue_props",
                dlq_defaults,
                dead_letter_queue_props,
                existing=("dead_letter_queue", dead_letter_queue),
            )
            dead_letter_queue = dead_letter_queue or failure_queue(
                self,
                "DeadLetterQueue",
                what=f"messages received {max_receive_count} times without success",
                **dlq_props,
            )
        self.dead_letter_queue = dead_letter_queue
        self.queue = sqs.Queue(
            self,
            "Queue",
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=dead_letter_queue, max_receive_count=max_receive_count
            )
            if dead_letter_queue is not None
            else None,
            **merged,
        )


FAILURE_QUEUE_DEFAULTS: Props = {**QUEUE_DEFAULTS, "retention_period": Duration.days(14)}
FAILURE_QUEUE_SECURE = (
    *QUEUE_SECURE,
    SecureDefault(
        "retention_period",
        lambda v: v is None or v.to_seconds() < FAILURE_QUEUE_DEFAULTS["retention_period"].to_seconds(),
        "keeps failed messages 14 days for inspection and redrive",
    ),
)


def failure_queue(scope: Construct, construct_id: str, *, what: str, **props: Any) -> sqs.Queue:
    """The queue at the end of a retry path (a DLQ or on-failure destination), kept 14 days.

    ``what`` names what lands here, for the reason on its cdk-nag acknowledgments: a queue that is
    itself the end of the path has no DLQ of its own. ``props`` are ``sqs.Queue`` props merged over
    the house defaults.
    """
    queue = sqs.Queue(
        scope,
        construct_id,
        **merge_props(
            scope, construct_id, FAILURE_QUEUE_DEFAULTS, _queue_props(props), secure=FAILURE_QUEUE_SECURE
        ),
    )
    for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
        acknowledge(
            queue,
            rule,
            f"This queue is the end of a retry path, for {what}; it is kept 14 days for inspection and redrive.",
        )
    return queue


#: What Lambda's SQS poller calls with the function's role (AWS Lambda developer guide, "Execution
#: role permissions" for SQS). CDK's ``grant_consume_messages`` adds ChangeMessageVisibility and
#: GetQueueUrl, which the poller never calls.
SQS_EVENT_SOURCE_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
#: Largest batch without a batching window, and with one (Lambda's limits for SQS).
MAX_SQS_BATCH = (10, 10_000)


def grant_send(queue: sqs.IQueue, grantee: iam.IGrantable) -> iam.Grant:
    """Let ``grantee`` send to ``queue``: ``sqs:SendMessage``, and the KMS actions a customer-managed
    key needs (``kms:GenerateDataKey``, ``kms:Decrypt``), nothing else.

    CDK's ``grant_send_messages`` also grants GetQueueUrl and GetQueueAttributes, which a sender that
    is given the queue's URL never calls.
    """
    grant = queue.grant(grantee, "sqs:SendMessage")
    if queue.encryption_master_key is not None:
        queue.encryption_master_key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt")
    return grant


def grant_event_source_consume(queue: sqs.IQueue, function: lambda_.IFunction) -> iam.Grant:
    """Let Lambda's SQS poller read ``queue`` with ``function``'s role: :data:`SQS_EVENT_SOURCE_ACTIONS`,
    and ``kms:Decrypt`` for a customer-managed key."""
    grant = queue.grant(function, *SQS_EVENT_SOURCE_ACTIONS)
    if queue.encryption_master_key is not None:
        queue.encryption_master_key.grant(function, "kms:Decrypt")
    return grant


def add_sqs_event_source(
    function: lambda_.IFunction,
    queue: sqs.Queue,
    *,
    batch_size: int = 10,
    max_concurrency: int | None = 2,
    max_batching_window: Duration | None = None,
) -> lambda_.EventSourceMapping:
    """Feed ``function`` from ``queue`` with partial batch responses, so only failed records return.

    The queue must have a dead-letter queue: an SQS event source has no on-failure destination, and
    the redrive policy is what ends a poison message's retries. ``max_concurrency`` caps concurrent
    invocations at the event source, so a burst waits in the queue instead of being throttled.
    The function's role gets only what the poller calls (:func:`grant_event_source_consume`): the
    mapping is made here rather than by CDK's ``SqsEventSource``, whose grant adds actions nobody calls.
    """
    if queue.dead_letter_queue is None:
        raise ValueError(f"{queue.node.path}: a queue feeding a function needs a dead-letter queue")
    largest = MAX_SQS_BATCH[max_batching_window is not None]
    if not 1 <= batch_size <= largest:
        raise ValueError(
            f"{function.node.path}: batch_size must be from 1 to {largest}"
            + ("" if max_batching_window else " without a max_batching_window")
        )
    grant_event_source_consume(queue, function)
    mapping = function.add_event_source_mapping(
        # CDK's SqsEventSource names its mapping so: the logical id stays as it was.
        f"SqsEventSource:{Names.node_unique_id(queue.node)}",
        event_source_arn=queue.queue_arn,
        batch_size=batch_size,
        max_concurrency=max_concurrency,
        max_batching_window=max_batching_window,
        report_batch_item_failures=True,
    )
    acknowledge(
        mapping,
        "Serverless-LambdaEventSourceMappingDestination",
        "SQS event sources take no on-failure destination; the queue's redrive policy moves failed "
        "messages to its dead-letter queue.",
    )
    return mapping


#: Lambda's limits for asynchronous invocation: at most 2 retries, events 1 minute to 6 hours old.
MAX_ASYNC_RETRY_ATTEMPTS = 2
MAX_EVENT_AGE_RANGE = (Duration.minutes(1), Duration.hours(6))
DEFAULT_MAX_EVENT_AGE = Duration.hours(6)


def async_failure_destination(
    function: lambda_.Function,
    *,
    what: str,
    queue: sqs.IQueue | None = None,
    queue_props: Props | None = None,
    queue_props_name: str = "queue_props",
    retry_attempts: int = MAX_ASYNC_RETRY_ATTEMPTS,
    max_event_age: Duration = DEFAULT_MAX_EVENT_AGE,
) -> sqs.IQueue:
    """Retry ``function``'s asynchronous events and then send each one that still fails to ``queue``.

    The queue receives Lambda's invocation record: the original event (``requestPayload``), the
    error (``responsePayload``), the condition and the attempt count; a DLQ would keep the event
    alone. A queue is made with :func:`failure_queue` (with ``queue_props`` merged over its
    defaults) unless one is given (several functions may share one). ``what`` says what lands there,
    for that queue's cdk-nag reasons; ``queue_props_name`` is what the construct calls ``queue_props``
    (``failure_queue_props``), and without ``_props`` what it calls ``queue``.
    """
    if not 0 <= retry_attempts <= MAX_ASYNC_RETRY_ATTEMPTS:
        raise ValueError(f"{function.node.path}: retry_attempts must be from 0 to {MAX_ASYNC_RETRY_ATTEMPTS}")
    low, high = MAX_EVENT_AGE_RANGE
    if not low.to_seconds() <= max_event_age.to_seconds() <= high.to_seconds():
        raise ValueError(f"{function.node.path}: max_event_age must be from 1 minute to 6 hours")
    existing = (queue_props_name.removesuffix("_props"), queue)
    props = merge_props(function, queue_props_name, {}, queue_props, existing=existing)
    if queue is None:
        queue = failure_queue(function.node.scope, f"{function.node.id}Failures", what=what, **props)
    function.configure_async_invoke(
        retry_attempts=retry_attempts, max_event_age=max_event_age, on_failure=_QueueDestination(queue)
    )
    acknowledge(
        function,
        "Serverless-LambdaDLQ",
        "Asynchronous failures go to an on-failure destination queue, which keeps the error with the "
        "original event; a DLQ would keep the event alone.",
    )
    return queue


@jsii.implements(lambda_.IDestination)
class _QueueDestination:
    """An on-failure destination queue the function may only send to (:func:`grant_send`).

    CDK's ``SqsDestination`` grants ``grant_send_messages``: GetQueueUrl and GetQueueAttributes too.
    """

    def __init__(self, queue: sqs.IQueue) -> None:
        self.queue = queue

    def bind(
        self, _scope: Construct, fn: lambda_.IFunction, _options: Any = None
    ) -> lambda_.DestinationConfig:
        grant_send(self.queue, fn)
        return lambda_.DestinationConfig(destination=self.queue.queue_arn)


@jsii.implements(lambda_.IEventSourceDlq)
class StreamFailureQueue:
    """A stream event source's on-failure queue the function's role may only send to (:func:`grant_send`).

    CDK's ``SqsDlq`` grants ``grant_send_messages``: GetQueueUrl and GetQueueAttributes too, which
    Lambda never calls to deliver a failed batch's record. Pass it as ``on_failure=`` of a Kinesis
    or DynamoDB event source.
    """

    def __init__(self, queue: sqs.IQueue) -> None:
        self.queue = queue

    def bind(
        self, _target: lambda_.IEventSourceMapping, fn: lambda_.IFunction
    ) -> lambda_.DlqDestinationConfig:
        grant_send(self.queue, fn)
        return lambda_.DlqDestinationConfig(destination=self.queue.queue_arn)


def grant_invoke_latest(function: lambda_.IFunction, grantee: iam.IGrantable) -> iam.Grant:
    """Let ``grantee`` invoke ``function`` by its unqualified ARN ($LATEST) and nothing else.

    CDK's ``grant_invoke`` also grants ``<arn>:*``, every version and alias, which a caller that
    invokes $LATEST never needs and which cdk-nag flags as a wildcard (AwsSolutions-IAM5).
    """
    return iam.Grant.add_to_principal(
        grantee=grantee, actions=["lambda:InvokeFunction"], resource_arns=[function.function_arn]
    )


# --------------------------------------------------------------------------------------------- DynamoDB


TABLE_DEFAULTS: Props = {
    "billing_mode": dynamodb.BillingMode.PAY_PER_REQUEST,
    "encryption": dynamodb.TableEncryption.AWS_MANAGED,
    "point_in_time_recovery_specification": dynamodb.PointInTimeRecoverySpecification(
        point_in_time_recovery_enabled=True
    ),
    "removal_policy": RemovalPolicy.RETAIN,
}
TABLE_SECURE = (
    SecureDefault(
        "point_in_time_recovery_specification",
        lambda v: not v.point_in_time_recovery_enabled,
        "allows restore to any second",
    ),
    SecureDefault("point_in_time_recovery", lambda v: not v, "allows restore to any second"),
    SecureDefault(
        "encryption",
        lambda v: v == dynamodb.TableEncryption.DEFAULT,
        "encrypts with a KMS key whose every use CloudTrail records",
    ),
    SecureDefault(
        "removal_policy",
        lambda v: v == RemovalPolicy.DESTROY,
        "keeps the table and its data when the stack is deleted or replaces it",
    ),
)


def secure_table(
    scope: Construct,
    construct_id: str,
    *,
    point_in_time_recovery: bool | None = None,
    **props: Any,
) -> dynamodb.Table:
    """An on-demand, encrypted DynamoDB table with point-in-time recovery, kept when its stack goes.

    ``props`` are ``dynamodb.Table`` props (``partition_key`` at least) merged over the house defaults.
    """
    pitr = None
    if point_in_time_recovery is not None:
        pitr = dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=point_in_time_recovery
        )
        if not point_in_time_recovery:
            warn_override(
                scope, f"{construct_id} point_in_time_recovery=False", "allows restore to any second"
            )
    merged = merge_props(
        scope,
        construct_id,
        TABLE_DEFAULTS,
        props,
        keywords={"point_in_time_recovery_specification": ("point_in_time_recovery", pitr)},
        secure=TABLE_SECURE,
    )
    return dynamodb.Table(scope, construct_id, **merged)


def table_or_new(
    owner: Construct,
    construct_id: str,
    *,
    name: str,
    existing: dynamodb.ITable | None,
    props: Props | None,
    **defaults: Any,
) -> dynamodb.ITable:
    """``existing``, or a :func:`secure_table` with ``props`` merged over ``defaults``; never both.

    ``name`` is the construct's keyword for the existing table (``table``); ``<name>_props`` is its
    keyword for ``props``. The keys in ``defaults`` are the pattern's (its handlers read them) and
    cannot be overridden.
    """
    merged = merge_props(
        owner, f"{name}_props", defaults, props, existing=(name, existing), fixed=tuple(defaults)
    )
    return existing or secure_table(owner, construct_id, **merged)


#: DynamoDB data actions by what they need of a customer-managed table key: CDK's ``perms`` lists
#: (``READ_DATA_ACTIONS``, ``WRITE_DATA_ACTIONS``), and the actions that touch no item.
TABLE_READ_ACTIONS = frozenset(
    f"dynamodb:{a}"
    for a in (
        "BatchGetItem",
        "Query",
        "GetItem",
        "Scan",
        "ConditionCheckItem",
        "GetRecords",
        "GetShardIterator",
    )
)
TABLE_WRITE_ACTIONS = frozenset(
    f"dynamodb:{a}" for a in ("BatchWriteItem", "PutItem", "UpdateItem", "DeleteItem")
)
TABLE_KEYLESS_ACTIONS = frozenset(
    f"dynamodb:{a}" for a in ("DescribeTable", "DescribeStream", "ListStreams", "DescribeTimeToLive")
)
#: What a principal needs of a customer-managed table key, as CDK's ``grantReadData`` and
#: ``grantWriteData`` grant it (``KEY_READ_ACTIONS``; ``KEY_WRITE_ACTIONS`` besides for writes).
TABLE_KEY_READ_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
TABLE_KEY_WRITE_ACTIONS = (*TABLE_KEY_READ_ACTIONS, "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*")


def table_key_actions(actions: Iterable[str]) -> tuple[str, ...]:
    """The KMS actions on a customer-managed table key that the DynamoDB ``actions`` need.

    An action this module does not classify is refused, so a new one is never granted without its key.
    """
    actions = set(actions)
    unknown = sorted(actions - TABLE_READ_ACTIONS - TABLE_WRITE_ACTIONS - TABLE_KEYLESS_ACTIONS)
    if unknown:
        raise ValueError(
            f"{', '.join(unknown)}: not a DynamoDB action the house knows the key needs of; add it to "
            "TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS or TABLE_KEYLESS_ACTIONS"
        )
    if actions & TABLE_WRITE_ACTIONS:
        return TABLE_KEY_WRITE_ACTIONS
    if actions & TABLE_READ_ACTIONS:
        return TABLE_KEY_READ_ACTIONS
    return ()


def grant_table_key(table: dynamodb.ITable, grantee: iam.IGrantable, *actions: str) -> iam.Grant | None:
    """Let ``grantee`` use ``table``'s customer-managed key as the DynamoDB ``actions`` need, if it has one.

    For grants made elsewhere, such as a Step Functions DynamoDB task's, which grant no key.
    """
    key_actions = table_key_actions(actions)
    if table.encryption_key is None or not key_actions:
        return None
    return table.encryption_key.grant(grantee, *key_actions)


def grant_table(
    table: dynamodb.ITable, grantee: iam.IGrantable, *actions: str, index: str | None = None
) -> iam.Grant:
    """Let ``grantee`` call exactly ``actions`` on ``table`` (on its index ``index`` instead, if given),
    and use the table's customer-managed key as they need (:func:`grant_table_key`).

    CDK's ``table.grant`` grants no key, so a function of a table given a customer-managed key fails
    on AWS; and it grants on every index (``<arn>/index/*``) when the table has one, whatever the action.
    """
    if not actions:
        raise ValueError(f"{table.node.path}: grant_table needs at least one action")
    arn = table.table_arn if index is None else f"{table.table_arn}/index/{index}"
    grant = iam.Grant.add_to_principal(grantee=grantee, actions=list(actions), resource_arns=[arn])
    grant_table_key(table, grantee, *actions)
    return grant


# --------------------------------------------------------------------------------------------- S3


def secure_bucket(
    scope: Construct,
    construct_id: str,
    *,
    server_access_logs_bucket: s3.IBucket | None = None,
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    **kwargs: Any,
) -> s3.Bucket:
    """A private, encrypted, TLS-only bucket that logs its access to a companion log bucket."""
    # Imported here: aws_s3 costs about 60 ms of every synth, and only stacks with buckets need it.
    from aws_cdk import aws_s3 as s3

    if server_access_logs_bucket is None:
        server_access_logs_bucket = s3.Bucket(
            scope,
            f"{construct_id}AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
            removal_policy=removal_policy,
        )
        acknowledge(
            server_access_logs_bucket,
            "AwsSolutions-S1",
            "This bucket receives the access logs of its companion bucket; logging it would recurse.",
        )
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        versioned=True,
        server_access_logs_bucket=server_access_logs_bucket,
        removal_policy=removal_policy,
        **kwargs,
    )


# --------------------------------------------------------------------------------------------- SNS


TOPIC_SECURE = (SecureDefault("enforce_ssl", lambda v: not v, "refuses requests that do not use TLS"),)


def secure_topic(
    scope: Construct,
    construct_id: str,
    *,
    master_key: kms.IKey | None = None,
    key_description: str | None = None,
    **props: Any,
) -> sns.Topic:
    """A TLS-only topic encrypted with ``master_key``, or with a rotating key of its own by default
    (described by ``key_description``).

    A customer-managed key (not ``alias/aws/sns``) lets other services such as EventBridge or S3
    publish once they are granted the key. ``props`` are ``sns.Topic`` props merged over the defaults.
    """
    if master_key is None:
        master_key = kms.Key(
            scope,
            f"{construct_id}Key",
            enable_key_rotation=True,
            description=key_description or f"{construct_id}",
        )
    merged = merge_props(
        scope, construct_id, {"master_key": master_key, "enforce_ssl": True}, props, secure=TOPIC_SECURE
    )
    return sns.Topic(scope, construct_id, **merged)


#: What a publisher needs of a topic's customer-managed key (CDK's ``grant_publish`` key actions).
TOPIC_PUBLISH_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


def grant_topic_key(topic: sns.ITopic, grantee: iam.IGrantable) -> iam.Grant | None:
    """Let a publisher of ``topic`` use its customer-managed key, if it has one.

    For grants made elsewhere, such as Step Functions' ``SnsPublish`` task's, which grant no key.
    An AWS-managed key (an alias such as ``alias/aws/sns``) needs no grant, and gets none.
    """
    if topic.master_key is None:
        return None
    return topic.master_key.grant(grantee, *TOPIC_PUBLISH_KEY_ACTIONS)


# --------------------------------------------------------------------------------------------- Step Functions


def _logs_weakened(options: sfn.LogOptions | None) -> bool:
    """Logs that miss events (a level other than ALL; CDK's default is ERROR) or hold data."""
    from aws_cdk import aws_stepfunctions as sfn

    return options is None or options.level != sfn.LogLevel.ALL or bool(options.include_execution_data)


STATE_MACHINE_SECURE = (
    SecureDefault("tracing_enabled", lambda v: not v, "traces every execution in X-Ray"),
    SecureDefault("logs", _logs_weakened, "logs every execution's events, without their data"),
)


def secure_state_machine(
    scope: Construct,
    construct_id: str,
    *,
    log_group: logs.ILogGroup,
    include_execution_data: bool | None = None,
    **props: Any,
) -> sfn.StateMachine:
    """A state machine that logs every event to ``log_group`` and traces in X-Ray.

    ``include_execution_data=True`` adds each state's input and output to the logs (they may hold
    personal data); it shapes the default logs, so giving it with ``props["logs"]`` is refused.
    ``props`` are ``sfn.StateMachine`` props (``definition_body`` at least) merged over the defaults.
    """
    from aws_cdk import aws_stepfunctions as sfn

    def log_options(include: bool) -> sfn.LogOptions:
        return sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=include)

    if include_execution_data:
        warn_override(scope, f"{construct_id} include_execution_data=True", STATE_MACHINE_SECURE[1].why)
    defaults = {"logs": log_options(False), "tracing_enabled": True}
    given = None if include_execution_data is None else log_options(include_execution_data)
    merged = merge_props(
        scope,
        construct_id,
        defaults,
        props,
        keywords={"logs": ("include_execution_data", given)},
        secure=STATE_MACHINE_SECURE,
    )
    return sfn.StateMachine(scope, construct_id, **merged)


# --------------------------------------------------------------------------------------------- API Gateway


def rest_api_props(
    owner: IConstruct,
    props: Props | None,
    *,
    description: str,
    throttling_rate_limit: float | None,
    throttling_burst_limit: int | None,
    default_rate_limit: float = 100,
    default_burst_limit: int = 50,
    fixed: Collection[str] = (),
) -> dict[str, Any]:
    """:class:`SecureRestApi` keywords: a construct's ``api_props`` over its defaults and throttle keywords."""
    return merge_props(
        owner,
        "api_props",
        {
            "description": description,
            "throttling_rate_limit": default_rate_limit,
            "throttling_burst_limit": default_burst_limit,
        },
        props,
        keywords={
            "throttling_rate_limit": ("throttling_rate_limit", throttling_rate_limit),
            "throttling_burst_limit": ("throttling_burst_limit", throttling_burst_limit),
        },
        fixed=fixed,
    )


class SecureRestApi(apigw.RestApi):
    """A regional REST API with JSON access logs, X-Ray, stage throttling and a body validator.

    ``self.body_validator`` validates request bodies against a method's model; attach it with
    ``request_validator=api.body_validator``. The throttle protects everything behind the API: it
    is the first line of the webhook and storage-first patterns.

    Any other keyword is an ``apigw.RestApi`` prop (``default_method_options`` to put an authorizer
    on every method, ``endpoint_types``...); the stage is configured by the keywords above.

    Execution logs need API Gateway's account-level CloudWatch role, which every API of the account
    and region shares: an :class:`ApiGatewayAccount` owns it (this project's ``ApiGatewayAccountStack``).
    ``cloud_watch_role=True`` makes this API set it instead, retained on delete, as CDK does; then two
    stacks that both set it fight over the one setting.

    ``stage_variables`` are the stage's variables (``${stageVariables.name}`` in integration URIs):
    changing one updates the stage in place, where a changed integration URI would need a new
    deployment of the API to take effect.

    ``web_acl_arn`` associates that AWS WAF web ACL (regional) with the stage (``self.web_acl_association``);
    without one the stage has no WAF, an acknowledged cdk-nag finding (APIG3).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: str,
        throttling_rate_limit: float = 100,
        throttling_burst_limit: int = 50,
        stage_name: str = "prod",
        cloud_watch_role: bool = False,
        stage_variables: dict[str, str] | None = None,
        tracing_enabled: bool = True,
        web_acl_arn: str | None = None,
        **kwargs: Any,
    ) -> None:
        merge_props(scope, construct_id, {}, kwargs, fixed=("deploy_options",))
        if not tracing_enabled:
            warn_override(scope, f"{construct_id} tracing_enabled=False", "traces every request in X-Ray")
        access_logs = logs.LogGroup(
            scope, f"{construct_id}AccessLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        defaults: dict[str, Any] = {"endpoint_types": [apigw.EndpointType.REGIONAL]}
        if cloud_watch_role:
            defaults["cloud_watch_role_removal_policy"] = RemovalPolicy.RETAIN
        super().__init__(
            scope,
            construct_id,
            description=description,
            cloud_watch_role=cloud_watch_role,
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                tracing_enabled=tracing_enabled,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
                variables=stage_variables,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
            **{**defaults, **kwargs},
        )
        self.access_log_group = access_logs
        self.body_validator = self.add_request_validator(
            "BodyValidator", validate_request_body=True, validate_request_parameters=True
        )
        # AWS's default 400 says only "Invalid request body"; a client deserves to know what is wrong.
        self.add_gateway_response(
            "BadRequestBody",
            type=apigw.ResponseType.BAD_REQUEST_BODY,
            templates={"application/json": _BAD_BODY_TEMPLATE},
        )
        if cloud_watch_role:
            acknowledge(
                self.node.find_child("CloudWatchRole"),
                "AwsSolutions-IAM4",
                "API Gateway's account-level logging role uses AWS's AmazonAPIGatewayPushToCloudWatchLogs "
                "policy, the documented setup for access and execution logs.",
                applies_to="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
            )
        self.web_acl_association: wafv2.CfnWebACLAssociation | None = None
        if web_acl_arn is not None:
            self.web_acl_association = wafv2.CfnWebACLAssociation(
                scope,
                f"{construct_id}WebAclAssociation",
                resource_arn=self.deployment_stage.stage_arn,
                web_acl_arn=web_acl_arn,
            )
        else:
            acknowledge(
                self.deployment_stage,
                "AwsSolutions-APIG3",
                "WAF is an account-level choice with a monthly cost; attach a web ACL to this stage to add it.",
            )


def api_integration_role(
    owner: Construct, props: Props | None, *, description: str, secure: Iterable[SecureDefault]
) -> iam.Role:
    """``ApiRole``, the role API Gateway assumes to call an AWS service straight from a method:
    ``api_role_props`` merged over it, ``assumed_by`` fixed, ``secure`` warning on added policies."""
    return iam.Role(
        owner,
        "ApiRole",
        **merge_props(
            owner,
            "api_role_props",
            {"assumed_by": iam.ServicePrincipal("apigateway.amazonaws.com"), "description": description},
            props,
            fixed=("assumed_by",),
            secure=secure,
        ),
    )


class ApiGatewayAccount(Construct):
    """API Gateway's CloudWatch Logs role for the account and region, owned once and deleted with its stack.

    The setting (``AWS::ApiGateway::Account``) is one per account and region, and every REST API whose
    stage writes execution logs needs it. When each API stack set it, the stacks fought over it and
    ``cdk destroy`` left a retained role and setting behind in each. Deploy this once; delete it
    after the last API stack (``cdk destroy`` of it destroys the stacks that depend on it first).

    Example::

        account = ApiGatewayAccount(Stack(app, "ApiGatewayAccountStack"), "ApiGatewayAccount")
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "CloudWatchRole",
            description="Lets API Gateway write execution and access logs of every REST API in this region",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
        )
        self.account = apigw.CfnAccount(self, "Account", cloud_watch_role_arn=self.role.role_arn)
        self.account.node.add_dependency(self.role)
        acknowledge(
            self.role,
            "AwsSolutions-IAM4",
            "API Gateway's account-level logging role uses AWS's AmazonAPIGatewayPushToCloudWatchLogs "
            "policy, the documented setup for access and execution logs.",
            applies_to="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
        )


_BAD_BODY_TEMPLATE = '{"message": "Invalid request body: $context.error.validationErrorString"}'


def json_model(
    api: apigw.RestApi, construct_id: str, schema: dict[str, Any], name: str | None = None
) -> apigw.Model:
    """A JSON-schema request model; API Gateway answers 400 with its message when a body breaks it."""
    return api.add_model(
        construct_id,
        content_type="application/json",
        model_name=name,
        schema=apigw.JsonSchema(**_json_schema_kwargs(schema)),
    )


_SCHEMA_LISTS = {"anyOf": "any_of", "allOf": "all_of", "oneOf": "one_of"}


def _json_schema_kwargs(schema: dict[str, Any]) -> dict[str, Any]:
    """Translate a plain JSON-schema dict into ``apigw.JsonSchema`` keyword arguments."""
    renamed = {
        "$schema": "schema",
        "type": "type",
        "additionalProperties": "additional_properties",
        "minLength": "min_length",
        "maxLength": "max_length",
        "minimum": "minimum",
        "maximum": "maximum",
        "exclusiveMinimum": "exclusive_minimum",
        "exclusiveMaximum": "exclusive_maximum",
        "multipleOf": "multiple_of",
        "minItems": "min_items",
        "maxItems": "max_items",
        "minProperties": "min_properties",
        "pattern": "pattern",
        "enum": "enum",
        "required": "required",
        "format": "format",
        "title": "title",
        "description": "description",
        "default": "default",
    }
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$schema":
            out["schema"] = apigw.JsonSchemaVersion.DRAFT4
        elif key == "type":
            out["type"] = apigw.JsonSchemaType[value.upper()]
        elif key == "properties":
            out["properties"] = {k: apigw.JsonSchema(**_json_schema_kwargs(v)) for k, v in value.items()}
        elif key == "items":
            out["items"] = apigw.JsonSchema(**_json_schema_kwargs(value))
        elif key in ("anyOf", "allOf", "oneOf"):
            out[_SCHEMA_LISTS[key]] = [apigw.JsonSchema(**_json_schema_kwargs(part)) for part in value]
        elif key == "not":
            out["not_"] = apigw.JsonSchema(**_json_schema_kwargs(value))
        elif key == "additionalProperties" and isinstance(value, dict):
            out["additional_properties"] = apigw.JsonSchema(**_json_schema_kwargs(value))
        elif key in renamed:
            out[renamed[key]] = value
        else:
            raise ValueError(f"JSON-schema keyword {key!r} is not supported by json_model")
    return out


def vtl_json_string(expression: str, depth: int = 1) -> str:
    """VTL printing ``expression`` as the inside of a JSON string that sits ``depth`` strings deep.

    Each level of nesting needs its own escape: a value inside a JSON string that is itself inside
    a JSON string (Step Functions' ``input``, EventBridge's ``Detail``) is escaped twice, so no
    request value can close a string and add keys at any level. ``$util.escapeJavaScript`` also
    escapes ``'`` as ``\\'``, which JSON refuses, so each escape puts ``'`` back.
    ``docs/architecture.md`` states the rule; ``tests/e2e/test_vtl_injection.py`` checks every template.
    """
    if depth < 1:
        raise ValueError(f"depth must be 1 or more; got {depth}")
    for _ in range(depth):
        expression = f"""$util.escapeJavaScript({expression}).replaceAll("\\\\'", "'")"""
    return expression
