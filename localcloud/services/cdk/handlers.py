"""What CDK's built-in custom resources share offline: the handler function behind a ``ServiceToken``
(whose role the calls run as), the role's permission for a call its handler would make, and the
Delete events CloudFormation sends them when the stack goes.

Their handlers (Node.js, or Python shelling out to the AWS CLI of a layer) are not run: each
resource's module does natively what its handler does on AWS, with the calls made to moto.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from localcloud.core.iam import access_denied, session_arn
from localcloud.core.trace import Span
from localcloud.errors import LocalCloudError

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

log = logging.getLogger("localcloud.cdk")


class CustomResourceFailed(LocalCloudError):
    """A built-in custom resource's handler would have answered FAILED; names the resource and why."""

    def __init__(self, logical_id: str, resource_type: str, reason: str) -> None:
        super().__init__(f"{logical_id} ({resource_type}) failed: {reason}")
        self.logical_id = logical_id
        self.resource_type = resource_type


@dataclass(frozen=True)
class Handler:
    """The function a custom resource's ``ServiceToken`` names: its calls run as its role."""

    kernel: Kernel
    logical_id: str
    resource_type: str
    role_arn: str
    name: str

    @classmethod
    def of(cls, kernel: Kernel, logical_id: str, resource_type: str, props: dict[str, Any]) -> Handler:
        token = props.get("ServiceToken")
        try:
            function = kernel.service("lambda").function(token)
        except LocalCloudError:
            raise CustomResourceFailed(
                logical_id, resource_type, f"its ServiceToken {token!r} is not a function of this stack"
            ) from None
        return cls(kernel, logical_id, resource_type, function.role_arn, function.name)

    @contextmanager
    def request(self, request_type: str, detail: str, *, as_role: bool = True) -> Iterator[Span]:
        """One request (``Create``, ``Delete``) as a ``custom-resource`` span; the SDK calls inside
        run as the handler's role (``as_role``) and any failure is this resource's
        :class:`CustomResourceFailed`."""
        kernel = self.kernel
        span = kernel.trace.record(
            "custom-resource",
            "cloudformation",
            self.logical_id,
            f"{request_type} {detail}",
            at=kernel.clock.elapsed(),
        )
        try:
            if as_role:
                with kernel.acting_as(self.role_arn, self.name, span.id):
                    yield span
            else:
                yield span
        except CustomResourceFailed:
            span.outcome = "FAILED"
            raise
        except (ClientError, LocalCloudError) as error:
            span.outcome = "FAILED"
            raise CustomResourceFailed(self.logical_id, self.resource_type, str(error)) from None

    def authorize(self, action: str, resource: str, *, span: Span | None = None) -> None:
        """Refuse ``action`` on ``resource`` unless the role may, as IAM decides within one account:
        an identity policy allows it, or the resource's policy as its service holds it (a bucket's)
        allows the role or its session by name; an explicit deny in either wins. For calls the SDK
        hook cannot judge alone."""
        kernel = self.kernel
        if not kernel.enforce_iam:
            return
        decision = kernel.iam.decide(
            self.role_arn,
            action,
            resource,
            session=session_arn(self.role_arn, self.name),
        )
        if decision.allowed:
            return
        kernel.trace.record(
            "denied",
            self.name,
            action.split(":")[0],
            f"{action} on {resource}",
            at=kernel.clock.elapsed(),
            parent=span.id if span else None,
            outcome="AccessDenied",
        )
        prefix, operation = action.split(":")
        raise access_denied(prefix, operation, self.role_arn, self.name, action, resource, decision.reason)


class BuiltIns:
    """The Update and Delete events of the built-in custom resources: Update when a redeploy changed
    them, Delete when the stack is deleted (the cloud's teardown, ``stop``; a test may delete one
    resource, or all, before)."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._deletes: dict[str, Callable[[], None]] = {}
        self._updates: dict[str, Callable[[], None]] = {}

    def on_delete(self, logical_id: str, delete: Callable[[], None]) -> None:
        self._deletes[logical_id] = delete

    def on_update(self, logical_id: str, update: Callable[[], None]) -> None:
        self._updates[logical_id] = update

    def update(self, logical_ids: Iterable[str]) -> dict[str, str]:
        """Send Update, in creation order, to those of ``logical_ids`` that take one: what a
        redeploy does once the kept data is written back, as CloudFormation updates the changed
        resources of a stack whose data stays. Logical id -> why, for each that failed."""
        wanted, failed = set(logical_ids), {}
        for logical_id, update in self._updates.items():
            if logical_id in wanted:
                try:
                    update()
                except LocalCloudError as error:
                    failed[logical_id] = str(error)
        return failed

    def delete(self, name: str | None = None) -> list[str]:
        """Send Delete to the built-in custom resource ``name`` (logical id or construct path), or to
        every one not yet deleted, in reverse creation order as a stack deletion does; the logical
        ids deleted. A failure is the resource's :class:`CustomResourceFailed`."""
        if name is None:
            logical_ids = list(reversed(self._deletes))
        else:
            logical_id = self.kernel.logical_id(name)
            if logical_id not in self._deletes:
                raise LocalCloudError(
                    f"{name}: not a CDK built-in custom resource of {self.kernel.stack_name}"
                )
            logical_ids = [logical_id]
        for logical_id in logical_ids:
            self._deletes.pop(logical_id)()
        return logical_ids

    def tear_down(self) -> None:
        """The stack's deletion at ``stop``, while IAM still applies (not at a redeploy's swap): each
        remaining Delete, a failure logged, not raised."""
        for logical_id in list(reversed(self._deletes)):
            try:
                self._deletes.pop(logical_id)()
            except LocalCloudError as error:
                log.warning("deleting the stack: %s", error)


def built_ins(kernel: Kernel) -> BuiltIns:
    return kernel.service("cdk")


def true(value: Any, default: str) -> bool:
    """A CloudFormation boolean property, which CDK renders as a string or a JSON boolean."""
    return str(default if value is None else value).lower() == "true"
