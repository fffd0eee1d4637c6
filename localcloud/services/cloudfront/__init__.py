"""CloudFront offline: the stack's distributions serve viewer requests from S3 and API Gateway
origins, with behaviors, CloudFront Functions (run by node), cache, origin request and response
headers policies, origin access control and custom error responses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.core.front_doors import FrontDoor, bind
from localcloud.core.service import Service
from localcloud.services.cloudfront import invalidations, provision
from localcloud.services.cloudfront.distribution import Behavior, Distribution, Origin
from localcloud.services.cloudfront.service import CloudFront, DistributionClient

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

__all__ = ["SERVICE", "Behavior", "CloudFront", "Distribution", "DistributionClient", "Origin"]


def _front_doors(kernel: Kernel) -> list[FrontDoor]:
    cloudfront: CloudFront = kernel.service("cloudfront")
    return [
        FrontDoor(
            "distribution",
            f"{distribution.logical_id} ({distribution.distribution_id})",
            "",
            bind(cloudfront.dispatch, distribution.distribution_id),
            distribution.distribution_id,
        )
        for distribution in cloudfront.distributions()
    ]


SERVICE = Service.of(
    "cloudfront",
    provision,
    state=CloudFront,
    front_doors=_front_doors,
    answers={
        "cloudfront.CreateInvalidation": invalidations.answer_create,
        "cloudfront.GetInvalidation": invalidations.answer_get,
        "cloudfront.ListInvalidations": invalidations.answer_list,
    },
    iam_resources={"cloudfront": invalidations.iam_resource},
)
