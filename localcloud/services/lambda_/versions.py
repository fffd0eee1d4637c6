"""Lambda versions and aliases: ``AWS::Lambda::Version`` (CDK's ``fn.current_version``),
``AWS::Lambda::Alias`` with weighted routing, provisioned concurrency, and invocations through a
qualified ARN (``fn:3``, ``fn:live``, or ``Qualifier``) from any caller.

A version is a snapshot of the function when it was published: its code folder, handler, runtime,
layers, role, environment variables, memory and timeout, with an execution environment of its own
(so its own cold start). Changing the function afterwards (``cloud.function("Fn").environment``,
``.code_dir``, ``.memory_size``...) changes ``$LATEST`` only. Publishing a function that has not
changed since its last version is refused, as CloudFormation refuses it ("A version for this Lambda
function exists ( 1 ). Modify the function to create a new version."); the API's
``PublishVersion`` answers the last version then, as Lambda does.

An alias points at one version and, with ``RoutingConfig``, sends a share of its invocations to one
other version. Which version serves an invocation is drawn from a random generator seeded with the
alias's ARN, so a run repeats exactly; the chosen version shows as ``ExecutedVersion``, in the
invocation's span (``version``) and in the handler's ``context.function_version``.

A resource policy (``AWS::Lambda::Permission``) belongs to the ARN it names: one on an alias lets a
caller invoke through that alias only, one on the function only the unqualified ``$LATEST``, as on
AWS. Provisioned concurrency (on a version or an alias) is recorded and lets that many concurrent
invocations of the version start initialized: their spans say ``cold_start: False``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions
from localcloud.errors import FunctionNotFound, LocalCloudError
from localcloud.services.lambda_.runtime import LambdaFunction

if TYPE_CHECKING:
    from localcloud.core.clock import VirtualClock
    from localcloud.core.kernel import Kernel
    from localcloud.core.service import AwsCall
    from localcloud.services.lambda_.runtime import Call, InvocationResult

LATEST = "$LATEST"


class VersionError(LocalCloudError):
    """A version or alias Lambda would refuse; ``code`` is the error code Lambda's API answers with."""

    def __init__(self, message: str, code: str = "InvalidParameterValueException") -> None:
        super().__init__(message)
        self.code = code


@dataclass(eq=False)
class AliasFunction(LambdaFunction):
    """An alias: invoking it runs the version :meth:`pick` draws."""

    alias: str = ""
    target: LambdaFunction | None = None
    additional: tuple[LambdaFunction, float] | None = None
    """The other version and the share of invocations it gets (``AdditionalVersionWeights``)."""
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def pick(self) -> LambdaFunction:
        assert self.target is not None
        if self.additional is not None:
            other, weight = self.additional
            if self.rng.random() < weight:
                return other
        return self.target

    def run(self, event: Any, clock: VirtualClock, call: Call | None = None) -> InvocationResult:
        return self.pick().run(event, clock, call)

    def reset(self) -> None:
        for version in (self.target, *(self.additional or ())[:1]):
            if isinstance(version, LambdaFunction):
                version.reset()


def unqualified(arn: str) -> str:
    """A function's ARN without its version or alias."""
    return ":".join(arn.split(":")[:7])


def is_qualified(function: LambdaFunction) -> bool:
    """A version or an alias, rather than the function (``$LATEST``)."""
    return unqualified(function.arn) != function.arn


def _fingerprint(function: LambdaFunction) -> tuple[Any, ...]:
    """What a new version must differ in from the last one: its code and configuration."""
    return (
        str(function.code_dir),
        function.handler,
        function.runtime,
        tuple(map(str, function.layer_dirs)),
        tuple(sorted(function.environment.items())),
        function.role_arn,
        function.timeout,
        function.memory_size,
        function.tracing,
    )


class Versions:
    """Each function's published versions and aliases in one cloud."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.published: dict[str, list[LambdaFunction]] = {}
        """By the function's unqualified ARN; version ``n`` is at ``n - 1``."""
        self.aliases: dict[str, AliasFunction] = {}
        """By the alias's ARN."""
        self.by_logical_id: dict[str, LambdaFunction] = {}
        self.provisioned: dict[str, int] = {}
        """Provisioned concurrency, by the ARN of the version it initializes."""
        self._fingerprints: dict[str, tuple[Any, ...]] = {}

    def publish(
        self, function: LambdaFunction, *, logical_id: str | None = None, reuse: bool = False
    ) -> LambdaFunction:
        """Publish ``function``'s ``$LATEST`` as its next version. Unchanged since the last one, the
        API's ``PublishVersion`` answers that one (``reuse``); CloudFormation refuses."""
        if is_qualified(function):
            raise VersionError(f"{function.arn} is a version or alias; publish the function itself")
        versions = self.published.setdefault(function.arn, [])
        fingerprint = _fingerprint(function)
        if versions and self._fingerprints[function.arn] == fingerprint:
            if reuse:
                return versions[-1]
            raise VersionError(
                f"{logical_id or function.name}: A version for this Lambda function exists "
                f"( {len(versions)} ). Modify the function to create a new version."
            )
        number = str(len(versions) + 1)
        version = replace(
            function,
            arn=f"{function.arn}:{number}",
            version=number,
            environment=dict(function.environment),
            layer_dirs=list(function.layer_dirs),
            _modules=None,
            _entry=None,
            _names=None,
            cold_starts=0,
        )
        versions.append(version)
        self._fingerprints[function.arn] = fingerprint
        if logical_id:
            self.by_logical_id[logical_id] = version
        return version

    def version(self, function: LambdaFunction, number: str) -> LambdaFunction:
        if number == LATEST:
            return function
        versions = self.published.get(function.arn, [])
        if not number.isdigit() or not 0 < int(number) <= len(versions):
            raise FunctionNotFound(f"{function.arn}:{number}")
        return versions[int(number) - 1]

    def qualified(self, function: LambdaFunction, qualifier: str) -> LambdaFunction:
        """``function`` through a version number, ``$LATEST`` or an alias name."""
        if qualifier == LATEST or qualifier.isdigit():
            return self.version(function, qualifier)
        alias = self.aliases.get(f"{function.arn}:{qualifier}")
        if alias is None:
            raise FunctionNotFound(f"{function.arn}:{qualifier}")
        return alias

    def set_alias(
        self,
        function: LambdaFunction,
        name: str,
        version: str,
        weights: list[dict[str, Any]] | None = None,
        *,
        logical_id: str | None = None,
    ) -> AliasFunction:
        """Create or update the alias ``name`` of ``function``, checked as Lambda checks it."""
        target = self.version(function, str(version))
        additional = None
        if weights:
            if len(weights) > 1:
                raise VersionError(
                    f"alias {name}: RoutingConfig.AdditionalVersionWeights routes to one other version, "
                    f"not {len(weights)}"
                )
            other_number, weight = str(weights[0]["FunctionVersion"]), float(weights[0]["FunctionWeight"])
            if not 0.0 <= weight <= 1.0:
                raise VersionError(f"alias {name}: FunctionWeight {weight} is not between 0.0 and 1.0")
            if LATEST in (other_number, str(version)):
                raise VersionError(f"alias {name}: RoutingConfig cannot route to or from $LATEST")
            if other_number == str(version):
                raise VersionError(
                    f"alias {name}: the additional version {other_number} is the alias's own FunctionVersion"
                )
            other = self.version(function, other_number)
            if other.role_arn != target.role_arn:
                raise VersionError(
                    f"alias {name}: versions {version} and {other_number} must have the same execution role"
                )
            additional = (other, weight)
        arn = f"{function.arn}:{name}"
        alias = self.aliases.get(arn)
        if alias is None:
            alias = AliasFunction(**{**vars(target), "arn": arn}, alias=name, rng=random.Random(arn))  # noqa: S311 (routing, not secrets)
            self.aliases[arn] = alias
        alias.target, alias.additional = target, additional
        alias.version = target.version
        if logical_id:
            self.by_logical_id[logical_id] = alias
        return alias

    def provision(self, qualified: LambdaFunction, executions: int) -> None:
        """Record provisioned concurrency for a version or an alias (then for the version it names)."""
        if qualified.version == LATEST:  # $LATEST itself, or an alias of it
            raise VersionError(
                f"{qualified.name}: provisioned concurrency cannot be applied to $LATEST, only to a "
                "published version or an alias"
            )
        target = qualified.target if isinstance(qualified, AliasFunction) else qualified
        assert target is not None
        self.provisioned[target.arn] = executions

    def route(self, function: LambdaFunction) -> LambdaFunction:
        """The version that serves one invocation of ``function`` (an alias draws one)."""
        return function.pick() if isinstance(function, AliasFunction) else function

    def initialized(self, version: LambdaFunction, moment: float) -> bool:
        """Whether an invocation of ``version`` starting at ``moment`` gets a provisioned environment."""
        provisioned = self.provisioned.get(version.arn, 0)
        if not provisioned:
            return False
        running = sum(
            1
            for span in self.kernel.trace.find("invoke", target=version.name)
            if span.data.get("version") == version.version
            and span.data.get("provisioned")
            and span.at <= moment < (span.ended if span.ended is not None else span.at)
        )
        return running < provisioned


def versions(kernel: Kernel) -> Versions:
    return kernel.service("lambda").versions


# ---------------------------------------------------------------------------------------- provisioning


def _provisioned(props: dict[str, Any]) -> int | None:
    config = props.get("ProvisionedConcurrencyConfig")
    return None if config is None else int(config["ProvisionedConcurrentExecutions"])


def _base(kernel: Kernel, name: str, logical_id: str) -> LambdaFunction:
    function = kernel.service("lambda").function(name)
    if is_qualified(function):
        raise VersionError(
            f"{logical_id}: FunctionName {name} must name the function, not a version or alias"
        )
    return function


@provisions("AWS::Lambda::Version")
def version(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    published = versions(kernel).publish(
        _base(kernel, props["FunctionName"], logical_id), logical_id=logical_id
    )
    executions = _provisioned(props)
    if executions is not None:
        versions(kernel).provision(published, executions)
    return Provisioned(
        published.arn, {"Version": published.version, "FunctionArn": unqualified(published.arn)}
    )


@provisions("AWS::Lambda::Alias")
def alias(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    function = _base(kernel, props["FunctionName"], logical_id)
    weights = props.get("RoutingConfig", {}).get("AdditionalVersionWeights")
    try:
        made = versions(kernel).set_alias(
            function, props["Name"], str(props["FunctionVersion"]), weights, logical_id=logical_id
        )
    except FunctionNotFound as missing:
        raise VersionError(
            f"{logical_id}: alias {props['Name']} names a version that does not exist: {missing}"
        ) from None
    executions = _provisioned(props)
    if executions is not None:
        versions(kernel).provision(made, executions)
    return Provisioned(made.arn, {"AliasArn": made.arn})


# ---------------------------------------------------------------------------------------- the API


def _refused(error: LocalCloudError) -> tuple[int, dict[str, Any]]:
    code = getattr(error, "code", "ResourceNotFoundException")
    status = 404 if code == "ResourceNotFoundException" else 400
    return status, {
        "Error": {"Code": code, "Message": str(error)},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


def _configuration(function: LambdaFunction) -> dict[str, Any]:
    return {
        "FunctionName": function.name,
        "FunctionArn": function.arn,
        "Runtime": function.runtime,
        "Role": function.role_arn,
        "Handler": function.handler,
        "Timeout": function.timeout,
        "MemorySize": function.memory_size,
        "Version": function.version,
        "Environment": {"Variables": dict(function.environment)},
    }


def _alias_configuration(alias: AliasFunction) -> dict[str, Any]:
    answer: dict[str, Any] = {"AliasArn": alias.arn, "Name": alias.alias, "FunctionVersion": alias.version}
    if alias.additional is not None:
        other, weight = alias.additional
        answer["RoutingConfig"] = {"AdditionalVersionWeights": {other.version: weight}}
    return answer


def answer_publish_version(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    """``PublishVersion``: a snapshot of ``$LATEST``."""
    try:
        function = _base(kernel, call.params["FunctionName"], "PublishVersion")
        published = versions(kernel).publish(function, reuse=True)
    except LocalCloudError as error:
        return _refused(error)
    return 201, {**_configuration(published), "ResponseMetadata": {"HTTPStatusCode": 201}}


def answer_alias(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    """``CreateAlias``, ``UpdateAlias`` and ``GetAlias``."""
    params = call.params
    operation = call.operation
    try:
        function = _base(kernel, params["FunctionName"], operation)
        arn = f"{function.arn}:{params['Name']}"
        existing = versions(kernel).aliases.get(arn)
        if operation == "GetAlias" or (operation == "UpdateAlias" and existing is None):
            if existing is None:
                raise FunctionNotFound(f"Alias not found: {arn}")
            made = existing
        elif operation == "CreateAlias" and existing is not None:
            raise VersionError(f"Alias already exists: {arn}", "ResourceConflictException")
        else:
            number = params.get("FunctionVersion") or (existing.version if existing else LATEST)
            if "RoutingConfig" in params:
                weights = [
                    {"FunctionVersion": v, "FunctionWeight": w}
                    for v, w in params["RoutingConfig"].get("AdditionalVersionWeights", {}).items()
                ]
            elif existing is not None and existing.additional is not None:
                weights = [
                    {
                        "FunctionVersion": existing.additional[0].version,
                        "FunctionWeight": existing.additional[1],
                    }
                ]
            else:
                weights = None
            made = versions(kernel).set_alias(function, params["Name"], number, weights)
    except LocalCloudError as error:
        return _refused(error)
    status = 201 if operation == "CreateAlias" else 200
    return status, {**_alias_configuration(made), "ResponseMetadata": {"HTTPStatusCode": status}}
