"""RDS and Aurora PostgreSQL as real PostgreSQL servers, with the RDS Data API and RDS Proxy."""

from typing import Any

from localcloud.core.service import Service
from localcloud.services.rds import data_api, provision


def _data_api_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    return params.get("resourceArn")


SERVICE = Service.of(
    "rds",
    provision,
    state=provision.Databases,
    answers={"rds-data": data_api.answer},
    iam_resources={"rds-data": _data_api_resource},
)
