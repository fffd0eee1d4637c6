"""DynamoDB: tables in moto, with the request limits AWS enforces and moto does not."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.iam import arn_or_named
from localcloud.core.service import Service, checks_only
from localcloud.errors import refuse_limit_over
from localcloud.services.dynamodb import atomic, provision, transactions
from localcloud.services.dynamodb.limits import check_dynamodb_request

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


def _check(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    def key_schema(table: str) -> dict[str, str] | None:
        """``{attribute: HASH | RANGE}`` of a table in this cloud's account and region, by name or ARN."""
        from moto.dynamodb.exceptions import ResourceNotFoundException
        from moto.dynamodb.models import dynamodb_backends

        try:
            found = dynamodb_backends[kernel.account][kernel.region].get_table(table.rsplit("/", 1)[-1])
        except ResourceNotFoundException:  # moto answers the call with AWS's error itself
            return None
        return {item["AttributeName"]: item["KeyType"] for item in found.schema}

    check_dynamodb_request(operation, params, key_schema)


#: Most records a DynamoDB Streams GetRecords returns: "The upper limit is 1000" (API reference).
STREAMS_MAX_GET_RECORDS = 1000


@checks_only(reading=("GetRecords",))
def _check_streams(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    """A ``Limit`` over 1,000 is a ``ValidationException`` on DynamoDB (ScyllaDB's Alternator tests,
    run against DynamoDB, expect it); moto returns records for any limit. The wording is AWS's
    request validation's, as Kinesis words the same refusal."""
    if operation == "GetRecords":
        refuse_limit_over(operation, params, STREAMS_MAX_GET_RECORDS)


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    # DynamoDB Streams calls name their stream, or hold an iterator that starts with its ARN.
    stream = params.get("StreamArn") or params.get("ShardIterator", "").split("|", 1)[0]
    if stream.startswith("arn:"):
        return stream
    name = params.get("TableName")
    if name is None:
        items = params.get("RequestItems") or {}
        name = next(iter(items), None)
    if name is None:
        return None
    table = arn_or_named(name, where, "dynamodb", f"table/{name}")
    # A Query or Scan of an index is authorized on the index, as AWS does.
    return f"{table}/index/{params['IndexName']}" if params.get("IndexName") else table


transactions.install()
atomic.install()
SERVICE = Service.of(
    "dynamodb",
    provision,
    checks={"dynamodb": _check, "dynamodbstreams": _check_streams},
    iam_resources={"dynamodb": _iam_resource},
)
