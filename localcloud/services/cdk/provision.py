"""Resources CDK adds that have no behaviour to run offline."""

from __future__ import annotations

from typing import Any

from localcloud.core.service import Provisioned, provisions


@provisions("AWS::CDK::Metadata")
def metadata(cloud: Any, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """CDK's analytics record: nothing to create."""
    return Provisioned(logical_id)
