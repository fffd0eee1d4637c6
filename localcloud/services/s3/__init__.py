"""S3: buckets in moto; the local cloud delivers their event notifications."""

from typing import Any

from localcloud.core.service import Service
from localcloud.services.s3 import observe, provision


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    bucket = params.get("Bucket")
    if bucket is None:
        return None
    key = params.get("Key")
    return f"arn:{where[0]}:s3:::{bucket}" + (f"/{key}" if key is not None else "")


SERVICE = Service.of("s3", provision, observe, state=observe.Buckets, iam_resources={"s3": _iam_resource})
