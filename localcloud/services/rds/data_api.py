"""The RDS Data API (``rds-data``), answered against the cluster's real server (moto's is a stub).

``ExecuteStatement``, ``BatchExecuteStatement`` and ``Begin``/``Commit``/``RollbackTransaction``:
``:name`` parameters with their ``typeHint`` (DATE, TIME, TIMESTAMP, DECIMAL, UUID, JSON), records
as typed fields or ``formatRecordsAs: JSON``, ``columnMetadata`` with ``includeResultMetadata``,
``numberOfRecordsUpdated``. The kernel's IAM check has already allowed the call on the cluster's
ARN; the caller must also be allowed ``secretsmanager:GetSecretValue`` on the secret, whose
credentials the statement runs as. The cluster must have ``EnableHttpEndpoint``
(``HttpEndpointNotEnabledException`` otherwise). A statement the database refuses is
``DatabaseErrorException`` with the database's message and SQLState, as the Data API for Aurora
Serverless v2 and provisioned clusters answers (v1 answered ``BadRequestException``); a request the
API itself cannot take (a value its ``typeHint`` cannot read) is ``BadRequestException``.
"""

from __future__ import annotations

import datetime
import decimal
import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from localcloud.core import hooks
from localcloud.core.servers import LOOPBACK
from localcloud.core.service import AwsCall
from localcloud.errors import aws_error

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.services.rds.provision import Database, Databases

#: JDBC's type numbers, as ``columnMetadata.type`` gives them, by PostgreSQL type name.
JDBC_TYPES = {
    "bool": -7,
    "int2": 5,
    "int4": 4,
    "int8": -5,
    "float4": 7,
    "float8": 8,
    "numeric": 2,
    "bpchar": 1,
    "varchar": 12,
    "text": 12,
    "bytea": -2,
    "date": 91,
    "time": 92,
    "timetz": 92,
    "timestamp": 93,
    "timestamptz": 93,
}
OTHER = 1111
_JSON_TYPES = {"json", "jsonb"}
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|:([A-Za-z_][A-Za-z0-9_]*)|%")


class DataApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error = aws_error(code, message, "", status)


def bad_request(message: str) -> DataApiError:
    return DataApiError("BadRequestException", message)


def database_error(error: Any) -> DataApiError:
    return DataApiError("DatabaseErrorException", _database_message(error))


class DataApi:
    """Connections of the Data API to each server: one autocommit connection per cluster,
    database and user, and one per open transaction."""

    def __init__(self, databases: Databases) -> None:
        self.databases = databases
        self.connections: dict[tuple[str, str, str, str], Any] = {}
        self.transactions: dict[str, tuple[str, Any]] = {}
        self.opened = 0

    def close(self) -> None:
        for connection in [*self.connections.values(), *(c for _, c in self.transactions.values())]:
            connection.close()
        self.connections.clear()
        self.transactions.clear()

    def connect(
        self, database: Database, credentials: dict[str, str], name: str | None, *, autocommit: bool
    ) -> Any:
        import psycopg

        database.server.ensure_started()
        try:
            return psycopg.connect(
                host=LOOPBACK,
                port=database.port,
                user=credentials["username"],
                password=credentials["password"],
                dbname=name or database.database,
                autocommit=autocommit,
            )
        except psycopg.OperationalError as error:
            raise database_error(error) from None

    def shared(self, database: Database, credentials: dict[str, str], name: str | None) -> Any:
        key = (database.arn, credentials["username"], credentials["password"], name or database.database)
        connection = self.connections.get(key)
        if connection is None or connection.closed:
            connection = self.connections[key] = self.connect(database, credentials, name, autocommit=True)
        return connection


def answer(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    try:
        return 200, _answer(kernel, call)
    except DataApiError as error:
        return error.error.response["ResponseMetadata"]["HTTPStatusCode"], error.error.response
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response


def _answer(kernel: Kernel, call: AwsCall) -> dict[str, Any]:
    params, operation = call.params, call.operation
    databases: Databases = kernel.service("rds")
    api = _api(databases)
    if operation in ("CommitTransaction", "RollbackTransaction"):
        database, _ = _authorized(kernel, databases, params, operation)
        transaction = api.transactions.get(params.get("transactionId", ""))
        if transaction is None or transaction[0] != database.arn:
            raise DataApiError(
                "TransactionNotFoundException", f"Transaction {params.get('transactionId')} is not found"
            )
        api.transactions.pop(params["transactionId"])
        connection = transaction[1]
        with connection:
            if operation == "CommitTransaction":
                connection.commit()
                return {"transactionStatus": "Transaction Committed"}
            connection.rollback()
            return {"transactionStatus": "Rollback Complete"}
    database, credentials = _authorized(kernel, databases, params, operation)
    if operation == "BeginTransaction":
        connection = api.connect(database, credentials, params.get("database"), autocommit=False)
        api.opened += 1
        transaction_id = kernel.short_id(f"transaction-{api.opened}", 32)
        api.transactions[transaction_id] = (database.arn, connection)
        return {"transactionId": transaction_id}
    if "transactionId" in params:
        transaction = api.transactions.get(params["transactionId"])
        if transaction is None or transaction[0] != database.arn:
            raise DataApiError(
                "TransactionNotFoundException", f"Transaction {params['transactionId']} is not found"
            )
        connection = transaction[1]
    else:
        connection = api.shared(database, credentials, params.get("database"))
    if operation == "ExecuteStatement":
        return _execute(connection, params)
    if operation == "BatchExecuteStatement":
        return _batch(connection, params)
    raise bad_request(f"{operation} is not supported by the Data API of the local cloud")


def _api(databases: Databases) -> DataApi:
    api = getattr(databases, "data_api", None)
    if api is None:
        api = databases.data_api = DataApi(databases)  # type: ignore[attr-defined]
    return api


def _authorized(
    kernel: Kernel, databases: Databases, params: dict[str, Any], operation: str
) -> tuple[Database, dict[str, str]]:
    """The cluster, and the credentials in the secret the caller may read."""
    arn = params.get("resourceArn", "")
    database = databases.database(arn)
    if database is None or database.arn != arn or not database.http_endpoint:
        raise DataApiError(
            "HttpEndpointNotEnabledException", f"HttpEndpoint is not enabled for resource {arn}"
        )
    secret_arn = params.get("secretArn", "")
    principal = hooks.principal()
    if principal is not None and kernel.enforce_iam:
        action = "secretsmanager:GetSecretValue"
        decision = kernel.iam.decide(principal.role_arn, action, secret_arn)
        if not decision.allowed:
            raise hooks.denied(kernel, principal, "rds-data", operation, action, secret_arn, decision.reason)
    try:
        value = kernel.admin_client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
        credentials = json.loads(value)
        if not (credentials["username"] and credentials["password"]):
            raise ValueError("no credentials")
    except (ClientError, ValueError, KeyError, TypeError):
        raise DataApiError(
            "SecretsErrorException",
            f"Secrets Manager can't find the secret {secret_arn}, or it holds no JSON username and password",
        ) from None
    return database, credentials


def _execute(connection: Any, params: dict[str, Any]) -> dict[str, Any]:
    statement, values = _statement(params.get("sql", ""), params.get("parameters", []))
    with connection.cursor() as cursor:
        _run(connection, cursor, statement, values)
        result: dict[str, Any] = {"numberOfRecordsUpdated": 0}
        if cursor.description is None:
            result["numberOfRecordsUpdated"] = max(cursor.rowcount, 0)
            result["generatedFields"] = []
            return result
        rows = cursor.fetchall()
        if cursor.rowcount > 0 and not _is_select(statement):
            result["numberOfRecordsUpdated"] = cursor.rowcount
        types = [_type_name(connection, column.type_code) for column in cursor.description]
        decimals = (params.get("resultSetOptions") or {}).get("decimalReturnType", "STRING")
        if params.get("formatRecordsAs") == "JSON":
            names = [column.name for column in cursor.description]
            objects = [
                {n: _json_value(v, t, decimals) for n, v, t in zip(names, row, types, strict=True)}
                for row in rows
            ]
            result["formattedRecords"] = json.dumps(objects, separators=(",", ":"))
        else:
            result["records"] = [
                [_field(v, t, decimals) for v, t in zip(row, types, strict=True)] for row in rows
            ]
        if params.get("includeResultMetadata"):
            result["columnMetadata"] = [
                _column(column, type_name)
                for column, type_name in zip(cursor.description, types, strict=True)
            ]
        return result


def _batch(connection: Any, params: dict[str, Any]) -> dict[str, Any]:
    sets = params.get("parameterSets") or [[]]
    results = []
    with connection.cursor() as cursor:
        for parameters in sets:
            statement, values = _statement(params.get("sql", ""), parameters)
            _run(connection, cursor, statement, values)
            results.append({"generatedFields": []})
    return {"updateResults": results}


def _run(connection: Any, cursor: Any, statement: str, values: dict[str, Any]) -> None:
    import psycopg

    try:
        cursor.execute(statement, values, prepare=False)
    except psycopg.Error as error:
        raise database_error(error) from None
    except KeyError as missing:
        raise bad_request(f"No value specified for parameter: {missing.args[0]}") from None


def _database_message(error: Any) -> str:
    """PostgreSQL's error, worded as the Data API passes it on: ``ERROR: ...; SQLState: 42P01``."""
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if not primary:
        return str(error).strip()
    severity = getattr(diag, "severity", None) or "ERROR"
    position = getattr(diag, "statement_position", None)
    where = f"\n  Position: {position}" if position else ""
    return f"{severity}: {primary}{where}; SQLState: {diag.sqlstate}"


def _is_select(statement: str) -> bool:
    return statement.lstrip().split(None, 1)[0].upper() in ("SELECT", "WITH", "VALUES", "SHOW", "TABLE")


def _statement(sql: str, parameters: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """``:name`` placeholders as psycopg's ``%(name)s``, and the typed values they take."""

    def replace(match: re.Match[str]) -> str:
        text = match[0]
        if match[1]:
            return f"%({match[1]})s"
        return text if text == "::" else text.replace("%", "%%")

    values = {}
    for parameter in parameters:
        name = parameter.get("name")
        if not name:
            raise bad_request("Parameter name must be specified")
        values[name] = _value(name, parameter.get("value") or {}, parameter.get("typeHint"))
    return _TOKENS.sub(replace, sql), values


def _value(name: str, value: dict[str, Any], hint: str | None) -> Any:
    if value.get("isNull"):
        return None
    for key in ("booleanValue", "longValue", "doubleValue", "blobValue"):
        if key in value:
            return value[key]
    if "arrayValue" in value:
        return _array(value["arrayValue"])
    if "stringValue" not in value:
        raise bad_request(f"Parameter {name} has no value")
    text = value["stringValue"]
    if hint is None:
        return text
    try:
        return _HINTS[hint](text)
    except KeyError:
        raise bad_request(f"Invalid typeHint {hint} for parameter {name}") from None
    except (ValueError, decimal.InvalidOperation):
        raise bad_request(f"Value {text!r} of parameter {name} is not a valid {hint}") from None


def _array(array: dict[str, Any]) -> list[Any]:
    for key in ("booleanValues", "longValues", "doubleValues", "stringValues"):
        if key in array:
            return list(array[key])
    return [_array(inner) for inner in array.get("arrayValues", [])]


def _timestamp(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S")


def _json(text: str) -> Any:
    from psycopg.types.json import Json

    return Json(json.loads(text))


_HINTS = {
    "DATE": lambda text: datetime.datetime.strptime(text, "%Y-%m-%d").date(),
    "TIME": lambda text: datetime.time.fromisoformat(text),
    "TIMESTAMP": _timestamp,
    "DECIMAL": decimal.Decimal,
    "UUID": uuid.UUID,
    "JSON": _json,
}


def _type_name(connection: Any, oid: int) -> str:
    info = connection.adapters.types.get(oid)
    return info.name if info is not None else str(oid)


def _text(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S" + (".%f" if value.microsecond else ""))
    return value.isoformat() if isinstance(value, datetime.date | datetime.time) else str(value)


def _field(value: Any, type_name: str, decimals: str) -> dict[str, Any]:
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, decimal.Decimal):
        return {"doubleValue": float(value)} if decimals == "DOUBLE_OR_LONG" else {"stringValue": str(value)}
    if isinstance(value, bytes | memoryview):
        return {"blobValue": bytes(value)}
    if type_name in _JSON_TYPES:
        return {"stringValue": json.dumps(value)}
    if isinstance(value, list):
        return {"arrayValue": _array_value(value)}
    return {"stringValue": _text(value)}


def _array_value(values: list[Any]) -> dict[str, Any]:
    if values and all(isinstance(v, list) for v in values):
        return {"arrayValues": [_array_value(v) for v in values]}
    if all(isinstance(v, bool) for v in values):
        return {"booleanValues": values}
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return {"longValues": values}
    if all(isinstance(v, float) for v in values):
        return {"doubleValues": values}
    return {"stringValues": [None if v is None else _text(v) for v in values]}


def _json_value(value: Any, type_name: str, decimals: str) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value) if decimals == "DOUBLE_OR_LONG" else str(value)
    if type_name in _JSON_TYPES:
        return json.dumps(value)
    if isinstance(value, list):
        return [_json_value(v, "", decimals) for v in value]
    if isinstance(value, bytes | memoryview):
        import base64

        return base64.b64encode(bytes(value)).decode()
    return _text(value)


def _column(column: Any, type_name: str) -> dict[str, Any]:
    return {
        "name": column.name,
        "label": column.name,
        "typeName": type_name,
        "type": JDBC_TYPES.get(type_name, 2003 if type_name.startswith("_") else OTHER),
        "isSigned": type_name in ("int2", "int4", "int8", "float4", "float8", "numeric"),
        "precision": column.precision or column.internal_size or 0,
        "scale": column.scale or 0,
        "nullable": 1 if column.null_ok is not False else 0,
        "isAutoIncrement": False,
        "isCaseSensitive": type_name in ("text", "varchar", "bpchar"),
        "isCurrency": type_name == "money",
        "schemaName": "",
        "tableName": "",
        "arrayBaseColumnType": 0,
    }
