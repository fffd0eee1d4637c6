"""The local cloud: run a synthesized CDK stack offline, in-process, with AWS's delivery semantics.

moto holds the AWS state; functions run here from their asset folders; event sources, retries
and destinations follow AWS's rules on a virtual clock; every call a function makes is checked
against its role. Dev-time only: nothing here ships to Lambda.
"""

from localcloud.cloud import LocalCloud
from localcloud.errors import (
    DrainLimitExceeded,
    FunctionNotFound,
    LocalCloudError,
    TemplateError,
    UnsupportedAttribute,
    UnsupportedIntrinsic,
    UnsupportedResourceType,
)

__all__ = [
    "DrainLimitExceeded",
    "FunctionNotFound",
    "LocalCloud",
    "LocalCloudError",
    "TemplateError",
    "UnsupportedAttribute",
    "UnsupportedIntrinsic",
    "UnsupportedResourceType",
]
