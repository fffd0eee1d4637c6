"""The local cloud: run a synthesized CDK stack offline, in-process, with AWS's delivery semantics.

moto holds the AWS state; functions run here from their asset folders; event sources, retries
and destinations follow AWS's rules on a virtual clock; every call a function makes is checked
against its role. Dev-time only: nothing here ships to Lambda.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.errors import (
    DrainLimitExceeded,
    FunctionNotFound,
    LocalCloudError,
    TemplateError,
    UnsupportedAttribute,
    UnsupportedIntrinsic,
    UnsupportedResourceType,
)

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud


def __getattr__(name: str) -> Any:
    """``LocalCloud`` loads moto and boto3: only on first use, so the pytest plugin costs nothing."""
    if name == "LocalCloud":
        from localcloud.cloud import LocalCloud

        return LocalCloud
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
