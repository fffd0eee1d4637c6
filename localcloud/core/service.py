"""What one AWS service brings to the local cloud, declared in one object.

Each package under :mod:`localcloud.services` exposes ``SERVICE``, built with :meth:`Service.of`
from the modules it names (their ``@provisions`` and ``@observes`` functions) and the rest given by
keyword. The kernel reads these objects and nothing else of a service: it never imports one.

Example::

    SERVICE = Service.of(
        "sqs",
        provision, observe,                 # @provisions / @observes functions are collected
        state=Queues,                       # Queues(kernel): this service's state in one cloud
        target=Target(client="sqs", request=send_message, policy_action="sqs:SendMessage"),
    )
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.core.front_doors import FrontDoor
    from localcloud.core.kernel import Kernel


@dataclass
class Provisioned:
    physical_id: str
    """What ``Ref`` returns."""
    attributes: dict[str, Any] = field(default_factory=dict)
    """What ``Fn::GetAtt`` returns, by attribute name."""


Provisioner = Callable[["Kernel", str, dict[str, Any]], Provisioned]
"""Creates one resource from its resolved properties: ``(kernel, logical_id, properties)``."""
Observer = Callable[["Kernel", dict[str, Any], dict[str, Any]], None]
"""Runs after a successful call: ``(kernel, params, parsed response)``."""
Check = Callable[["Kernel", str, dict[str, Any]], None]
"""Refuses a request moto would take, before moto sees it, by raising botocore's ``ClientError``."""
Answer = Callable[["Kernel", "AwsCall"], "tuple[int, dict[str, Any]] | None"]
"""Answers a call moto cannot (``(status, parsed)``), or None to let moto answer it."""
ResourceNamer = Callable[[dict[str, Any], tuple[str, str, str]], "str | list[str] | None"]
"""The ARN an IAM policy names for a call: ``(params, (partition, region, account))``."""


@dataclass(frozen=True)
class AwsCall:
    """One SDK call as the kernel hands it to a service's :data:`Answer`."""

    service: str
    """botocore's service name: ``lambda``, ``stepfunctions``, ``appconfigdata``..."""
    operation: str
    params: dict[str, Any]
    """The call's parameters, as the caller passed them."""
    url: str
    context: dict[str, Any]
    """botocore's request context (its ``client_config`` holds the read timeout)."""


@dataclass(frozen=True)
class Target:
    """How other services deliver to this one (an EventBridge rule, a schedule, a subscription, a
    Lambda destination): see :mod:`localcloud.core.targets`."""

    client: str
    """The boto3 client that reaches it: ``sqs``, ``stepfunctions``..."""
    request: Callable[[Kernel, str, str | bytes, dict[str, Any]], tuple[str, dict[str, Any]]]
    """``(kernel, arn, body, options) -> (operation, params)``: the call that delivers ``body``."""
    policy_action: str | None = None
    """What a service principal needs from the target's resource policy; None: it has none."""
    resource_policy: Callable[[Kernel, str], tuple[str, list[Any]]] | None = None
    """``(kernel, arn) -> (resource ARN, statements)`` of the target's resource policy."""
    encryption_key: Callable[[Kernel, str], str | None] | None = None
    """The KMS key the target encrypts with, read from moto's state (no call, so no caller's role)."""
    direct: Callable[[Kernel, str, str | bytes, dict[str, Any]], dict[str, Any] | None] | None = None
    """``(kernel, arn, body, options) -> answer``: a service principal's delivery made straight to
    moto's backend, with the call's checks and observers; None (or answering None): through the SDK."""


@dataclass(frozen=True)
class Service:
    name: str
    """The ARN's service part (``lambda``, ``states``...), how targets and :meth:`Kernel.service` name it."""
    provisioners: Mapping[str, Provisioner] = field(default_factory=dict)
    """CloudFormation resource type -> its provisioner; every type has exactly one service."""
    state: Callable[[Kernel], Any] | None = None
    """Builds this service's state for one running cloud (see :meth:`Kernel.service`)."""
    observers: Mapping[tuple[str, str], tuple[Observer, ...]] = field(default_factory=dict)
    """(botocore service, operation) -> what runs after each successful call of it."""
    checks: Mapping[str, Check] = field(default_factory=dict)
    """botocore service -> limits AWS enforces and moto does not, checked before every call."""
    answers: Mapping[str, Answer] = field(default_factory=dict)
    """``service.Operation`` (or a whole ``service``) -> the answer to a call moto lacks."""
    self_authorized: frozenset[str] = frozenset()
    """botocore services whose calls the service authorizes itself, once it has resolved the resource."""
    iam_resources: Mapping[str, ResourceNamer] = field(default_factory=dict)
    """IAM prefix -> how to name the resource of a call, for policy checks."""
    resource_policies: Mapping[str, Callable[[Kernel, str], list[Any]]] = field(default_factory=dict)
    """IAM prefix -> ``(kernel, resource ARN) -> statements`` of the policy the service holds on that
    resource now, which decides a role's call with its own policies (see :meth:`PolicyEngine.decide`)."""
    target: Target | None = None
    front_doors: Callable[[Kernel], list[FrontDoor]] | None = None
    """The HTTP entries the ``serve`` command puts on ports: REST API stages, distributions."""
    serving: Callable[[], AbstractContextManager[None]] | None = None
    """What the service keeps in place while a server serves (Lambda: warm functions' modules)."""

    @classmethod
    def of(cls, name: str, *modules: ModuleType, **declared: Any) -> Service:
        """A service whose provisioners and observers are the decorated functions of ``modules``."""
        provisioners: dict[str, Provisioner] = {}
        observers: dict[tuple[str, str], list[Observer]] = {}
        for module in modules:
            for value in vars(module).values():
                if getattr(value, "__module__", None) != module.__name__:
                    continue  # imported from elsewhere: its own module declares it
                for resource_type in getattr(value, "provides", ()):
                    provisioners[resource_type] = value
                for key in getattr(value, "observed", ()):
                    observers.setdefault(key, []).append(value)
        return cls(
            name,
            provisioners=provisioners,
            observers={key: tuple(found) for key, found in observers.items()},
            **declared,
        )


def refuse_unknown_properties(
    logical_id: str, resource_type: str, props: Mapping[str, Any], known: set[str]
) -> None:
    """A property a provisioner would silently drop is an error naming it, never a quiet pass."""
    from localcloud.errors import Unsupported

    unknown = sorted(set(props) - known)
    if unknown:
        raise Unsupported(logical_id, f"{resource_type} property {', '.join(unknown)}")


def provisions(*resource_types: str) -> Callable[[Provisioner], Provisioner]:
    """Mark a provisioner of ``resource_types``; its service's :meth:`Service.of` collects it."""

    def mark(function: Provisioner) -> Provisioner:
        function.provides = resource_types  # type: ignore[attr-defined]
        return function

    return mark


def checks_only(*operations: str, reading: tuple[str, ...] = ()) -> Callable[[Check], Check]:
    """Mark a check that refuses only calls of ``operations`` and ``reading``, so a caller that skips
    a call it would otherwise make (:func:`localcloud.core.hooks.would_pass_checks`) may skip the
    others. For the operations in ``reading`` the check only reads the call's parameters, so that
    caller runs it to learn whether it would refuse."""

    def mark(function: Check) -> Check:
        function.operations = frozenset(operations) | frozenset(reading)  # type: ignore[attr-defined]
        function.reading = frozenset(reading)  # type: ignore[attr-defined]
        return function

    return mark


def observes(service: str, *operations: str) -> Callable[[Observer], Observer]:
    """Mark a function to run after each successful ``service`` call of ``operations``."""

    def mark(function: Observer) -> Observer:
        function.observed = (*getattr(function, "observed", ()), *((service, op) for op in operations))  # type: ignore[attr-defined]
        return function

    return mark
