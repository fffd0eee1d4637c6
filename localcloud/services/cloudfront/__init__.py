"""CloudFront offline: the stack's distributions serve viewer requests from S3 and API Gateway
origins, with behaviors, CloudFront Functions (run by node), cache, origin request and response
headers policies, origin access control and custom error responses.
"""

from localcloud.services.cloudfront.distribution import Behavior, Distribution, Origin
from localcloud.services.cloudfront.service import CloudFront, DistributionClient

__all__ = ["Behavior", "CloudFront", "Distribution", "DistributionClient", "Origin"]
