"""Invalidations, through the SDK as on AWS: ``CreateInvalidation``, ``GetInvalidation`` and
``ListInvalidations`` on the stack's distributions (moto's CloudFront knows none of them).

A path starts with ``/``; ``*`` may only end it (``/images/*``, ``/*``), as CloudFront refuses a
wildcard elsewhere; a path matches the cached objects of that path whatever their query strings,
headers or cookies. The cache is dropped when the call is made; the invalidation answers
``InProgress`` and reads ``Completed`` from then on. The same ``CallerReference`` with the same
paths gives the same invalidation back; with other paths, ``InvalidationBatchAlreadyExists``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from localcloud.core.iam import resource_arn
from localcloud.errors import aws_error

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.core.service import AwsCall

#: Paths one invalidation may name (CloudFront's quota of in-progress paths per distribution is 3,000).
MAX_PATHS = 3000


@dataclass(frozen=True)
class Invalidation:
    id: str
    caller_reference: str
    paths: tuple[str, ...]
    created: datetime

    def shown(self, status: str) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Status": status,
            "CreateTime": self.created,
            "InvalidationBatch": {
                "Paths": {"Quantity": len(self.paths), "Items": list(self.paths)},
                "CallerReference": self.caller_reference,
            },
        }


def path_problem(path: str) -> str | None:
    """Why CloudFront refuses ``path`` as an invalidation path, or None."""
    if not path.startswith("/"):
        return f"Your request contains one or more invalid invalidation paths: {path} (it must start with /)."
    if "*" in path[:-1]:
        return (
            f"Your request contains one or more invalid invalidation paths: {path} "
            "(a wildcard * may only be the last character)."
        )
    return None


def iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    """A distribution's ARN (CloudFront is global: no region in it)."""
    distribution = params.get("DistributionId") or params.get("Id")
    partition, _, account = where
    return (
        None
        if distribution is None
        else resource_arn(partition, "cloudfront", "", account, f"distribution/{distribution}")
    )


def answer_create(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    cloudfront = kernel.service("cloudfront")
    distribution_id = call.params.get("DistributionId", "")
    distribution = _distribution(cloudfront, distribution_id, call.operation)
    batch = call.params.get("InvalidationBatch") or {}
    paths = batch.get("Paths") or {}
    items = list(paths.get("Items") or [])
    if paths.get("Quantity") != len(items):
        raise aws_error(
            "InconsistentQuantities",
            f"The value of Quantity ({paths.get('Quantity')}) and the size of Items ({len(items)}) don't match.",
            call.operation,
        )
    if not items:
        raise aws_error("InvalidArgument", "An invalidation must name at least one path.", call.operation)
    if len(items) > MAX_PATHS:
        raise aws_error(
            "TooManyInvalidationsInProgress",
            f"One invalidation names at most {MAX_PATHS} paths; this one names {len(items)}.",
            call.operation,
        )
    for path in items:
        problem = path_problem(path)
        if problem is not None:
            raise aws_error("InvalidArgument", problem, call.operation)
    reference = batch.get("CallerReference", "")
    made = cloudfront.invalidations.setdefault(distribution.id, {})
    earlier = next((i for i in made.values() if i.caller_reference == reference), None)
    if earlier is not None:
        if earlier.paths != tuple(items):
            raise aws_error(
                "InvalidationBatchAlreadyExists",
                f"An invalidation with CallerReference {reference} and other paths already exists.",
                call.operation,
            )
        return 201, _created(distribution, earlier, "Completed")
    invalidation = Invalidation(
        "I" + kernel.short_id(f"cloudfront/{distribution.id}/invalidation/{len(made)}", 13).upper(),
        reference,
        tuple(items),
        kernel.clock.now(),
    )
    made[invalidation.id] = invalidation
    dropped = cloudfront.invalidate(distribution.id, items)
    kernel.trace.record(
        "invalidate",
        "sdk",
        f"cloudfront:{distribution.id}",
        f"{', '.join(items)} ({dropped} cached)",
        at=kernel.clock.elapsed(),
    )
    return 201, _created(distribution, invalidation, "InProgress")


def answer_get(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    cloudfront = kernel.service("cloudfront")
    distribution = _distribution(cloudfront, call.params.get("DistributionId", ""), call.operation)
    found = cloudfront.invalidations.get(distribution.id, {}).get(call.params.get("Id", ""))
    if found is None:
        raise aws_error(
            "NoSuchInvalidation", "The specified invalidation does not exist.", call.operation, 404
        )
    return 200, {"Invalidation": found.shown("Completed")}


def answer_list(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    cloudfront = kernel.service("cloudfront")
    distribution = _distribution(cloudfront, call.params.get("DistributionId", ""), call.operation)
    made = list(cloudfront.invalidations.get(distribution.id, {}).values())[::-1]
    summaries = [{"Id": i.id, "CreateTime": i.created, "Status": "Completed"} for i in made]
    return 200, {
        "InvalidationList": {
            "Marker": "",
            "MaxItems": 100,
            "IsTruncated": False,
            "Quantity": len(summaries),
            **({"Items": summaries} if summaries else {}),
        }
    }


def _distribution(cloudfront: Any, distribution_id: str, operation: str) -> Any:
    for distribution in cloudfront.distributions():
        if distribution.id == distribution_id:
            return distribution
    raise aws_error("NoSuchDistribution", "The specified distribution does not exist.", operation, 404)


def _created(distribution: Any, invalidation: Invalidation, status: str) -> dict[str, Any]:
    return {
        "Location": f"https://cloudfront.amazonaws.com/2020-05-31/distribution/{distribution.id}/invalidation/{invalidation.id}",
        "Invalidation": invalidation.shown(status),
    }
