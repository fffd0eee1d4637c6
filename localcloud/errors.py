"""Errors the local cloud raises; each names what it could not do and where."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


class LocalCloudError(Exception):
    """Base class: the local cloud could not do what the template or the test asked."""


class UnsupportedResourceType(LocalCloudError):
    def __init__(self, resource_type: str, logical_id: str, path: str | None = None) -> None:
        where = f"{logical_id} ({path.removesuffix('/Resource')})" if path else logical_id
        super().__init__(
            f"{where}: resource type {resource_type} is not supported by the local cloud, so the "
            "stack cannot start offline: leave it out of the stack under test (in a stack of its "
            'own), or add a service that provisions it (docs/localcloud.md, "Adding a service")'
        )
        self.resource_type = resource_type
        self.logical_id = logical_id


class UnsupportedIntrinsic(LocalCloudError):
    def __init__(self, name: str, logical_id: str) -> None:
        super().__init__(f"{logical_id}: intrinsic function {name} is not supported by the local cloud")
        self.name = name
        self.logical_id = logical_id


class UnsupportedAttribute(LocalCloudError):
    def __init__(self, logical_id: str, resource_type: str, attribute: str) -> None:
        super().__init__(f"{logical_id}: Fn::GetAtt {attribute} of {resource_type} is not supported")


class Unsupported(LocalCloudError):
    """A feature of a resource the local cloud does not model; names the resource and the feature."""

    def __init__(self, where: str, feature: str, why: str = "") -> None:
        super().__init__(
            f"{where}: {feature} is not supported by the local cloud" + (f": {why}" if why else "")
        )
        self.where = where
        self.feature = feature


class TemplateError(LocalCloudError):
    """The template itself is wrong: a Ref to nothing, a missing parameter, a bad Select index."""


class DrainLimitExceeded(LocalCloudError):
    """``drain()`` did not reach quiet within its bound: events probably loop between resources."""


class FunctionNotFound(LocalCloudError):
    pass


class ResourceNotFound(LocalCloudError):
    """A test named a resource the stack does not have (a distribution, an AppConfig profile...)."""


class InvalidRequest(LocalCloudError):
    """A test asked for something AWS would refuse (a 4xx answer); the message gives AWS's reason."""


class ApiGatewayError(LocalCloudError):
    """An API Gateway definition the local cloud cannot serve, or an API asked for that is not there."""


class StateMachineDefinitionError(LocalCloudError):
    """A state machine's definition is one the local cloud cannot run; names the machine and state."""

    def __init__(self, machine: str, state: str | None, reason: str) -> None:
        where = f"state machine {machine}" + (f", state {state!r}" if state else "")
        super().__init__(f"{where}: {reason}")
        self.machine = machine
        self.state = state


class Throttled(LocalCloudError):
    """The function is at its reserved concurrency: Lambda answers 429 TooManyRequestsException."""


class PayloadTooLarge(LocalCloudError):
    """Lambda refused an invocation whose event is over its payload limit: 413
    ``RequestEntityTooLargeException``, the message AWS's (see
    :mod:`localcloud.services.lambda_.payload`). The function did not run."""


class ReadTimedOut(LocalCloudError):
    """The caller's SDK stopped waiting (its read timeout) before the function answered; the function
    ran on to its end, as on AWS, where the invocation does not stop when its caller hangs up."""

    def __init__(self, function: str, read_timeout: float, duration: float) -> None:
        super().__init__(
            f"{function} answered after {duration:g}s, past the caller's read timeout of {read_timeout:g}s"
        )
        self.function = function
        self.read_timeout = read_timeout
        self.duration = duration


def aws_error(code: str, message: str, operation: str, status: int = 400) -> ClientError:
    """The error an AWS API answers ``operation`` with, as the caller's client raises it."""
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


def out_of_range(member: str, value: int, low: int | None, high: int | None) -> str | None:
    """AWS's request validation of a number against its range, worded as AWS words it ("Value '0' at
    'limit' failed to satisfy constraint: ..."), with ``member`` as the wire names it; None in range."""
    if low is not None and value < low:
        relation = f"greater than or equal to {low}"
    elif high is not None and value > high:
        relation = f"less than or equal to {high}"
    else:
        return None
    return f"Value '{value}' at '{member}' failed to satisfy constraint: Member must have value {relation}"


def refuse_limit_over(operation: str, params: dict[str, Any], highest: int) -> None:
    """Refuse a ``Limit`` over ``highest`` with the ``ValidationException`` AWS's validation answers
    (a ``Limit`` under the model's minimum never leaves botocore)."""
    limit = params.get("Limit")
    if isinstance(limit, int) and (problem := out_of_range("limit", limit, None, highest)):
        raise aws_error("ValidationException", f"1 validation error detected: {problem}", operation)
