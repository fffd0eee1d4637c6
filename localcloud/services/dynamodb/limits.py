"""DynamoDB's request limits that moto does not enforce, refused here as AWS refuses them.

Offline must not be kinder than AWS: a handler that sends an over-long key, an empty key or a
number DynamoDB cannot store must fail here as it would in the account, with AWS's error code and
wording, instead of working offline and failing after deployment. Checked on every DynamoDB call
made while a cloud runs (a handler's, a state machine task's, an API Gateway integration's and a
test's own), before moto sees it:

- key attribute values: not empty (strings and binaries), at most 2,048 bytes for the partition
  key and 1,024 bytes for the sort key, in ``Key``, ``Item``, ``ExclusiveStartKey`` and the batch
  and transaction forms of each;
- numbers anywhere in a request: at most 38 significant digits, magnitude from 1E-130 to
  9.9999999999999999999999999999999999999E+125 (moto checks only some top-level ones);
- attribute values nested at most 32 levels deep (an item's attribute is level 1, each map or list
  adds one: a value inside 31 maps is the deepest DynamoDB stores);
- no empty string, number or binary sets, at any depth, in items, keys and expression values
  (moto refuses them only at the top of a PutItem's item);
- strings anywhere in a request must be Unicode that UTF-8 can carry: a lone surrogate
  (``"\\ud800"``) crashes moto with a ``UnicodeEncodeError``; it is refused here as a
  ``ValidationException`` (AWS does not document its answer; refusing is the side that cannot
  be kinder).

Moto already refuses items over 400 KB on every write path, numbers that are not numbers, and
key type mismatches, so those are left to it. A Query's key condition is checked for its
equalities on the table's own keys (``pk = :pk``); not checked: other comparisons, and queries of
an index.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from localcloud.errors import aws_error

PARTITION_KEY_MAX_BYTES = 2048
SORT_KEY_MAX_BYTES = 1024
NUMBER_MAX_DIGITS = 38
NUMBER_MAX_MAGNITUDE = Decimal("9.9999999999999999999999999999999999999E+125")
NUMBER_MIN_MAGNITUDE = Decimal("1E-130")
#: The deepest level an attribute value may sit at; an item's own attributes are level 1.
MAX_NESTING_LEVEL = 32
NESTING_TOO_DEEP = (
    "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond "
    "supported limit"
)
#: DynamoDB's wording for an empty set of each type; string and number sets share one sentence.
EMPTY_SET = {
    "SS": "One or more parameter values were invalid: An string set  may not be empty",
    "NS": "One or more parameter values were invalid: An number set  may not be empty",
    "BS": "One or more parameter values were invalid: Binary sets should not be empty",
}

#: Attribute name -> ``HASH`` or ``RANGE`` for a table, or None when the table is unknown.
KeySchema = Callable[[str], dict[str, str] | None]


def check_dynamodb_request(operation: str, params: dict[str, Any], key_schema: KeySchema) -> None:
    """Raise the ``ValidationException`` AWS answers when this request breaks a DynamoDB limit."""
    try:
        for table, key in _keys(operation, params):
            schema = key_schema(table) if isinstance(table, str) else None
            if schema and isinstance(key, dict):
                _check_key(key, schema)
        for value in _attribute_values(params):
            _check_value(value)
        for placeholder, value in _expression_values(params):
            try:
                _check_value(value)
            except _EmptySet as empty:
                raise _Refused(
                    f"ExpressionAttributeValues contains invalid value: {empty} for key {placeholder}"
                ) from None
    except _Refused as refused:
        raise aws_error("ValidationException", str(refused), operation) from None


class _Refused(Exception):
    """A limit broken; the message is AWS's."""


class _EmptySet(_Refused):
    """An empty set: in an expression value, DynamoDB names the placeholder too."""


def _keys(operation: str, params: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    """``(table, key or item)`` for every key the request names."""
    table = params.get("TableName")
    if operation in ("GetItem", "DeleteItem", "UpdateItem"):
        yield table, params.get("Key")
    elif operation == "PutItem":
        yield table, params.get("Item")
    elif operation in ("Query", "Scan"):
        if "ExclusiveStartKey" in params:
            yield table, params["ExclusiveStartKey"]
        if operation == "Query" and "IndexName" not in params:
            yield table, _key_condition_values(params)
    elif operation == "BatchWriteItem":
        for name, requests in _items(params.get("RequestItems")):
            for request in requests if isinstance(requests, list) else []:
                if not isinstance(request, dict):
                    continue
                if "PutRequest" in request:
                    yield name, (request["PutRequest"] or {}).get("Item")
                if "DeleteRequest" in request:
                    yield name, (request["DeleteRequest"] or {}).get("Key")
    elif operation == "BatchGetItem":
        for name, request in _items(params.get("RequestItems")):
            for key in request.get("Keys", []) if isinstance(request, dict) else []:
                yield name, key
    elif operation in ("TransactWriteItems", "TransactGetItems"):
        for entry in params.get("TransactItems") or []:
            for kind, action in entry.items() if isinstance(entry, dict) else []:
                if not isinstance(action, dict):
                    continue
                if kind == "Put":
                    yield action.get("TableName"), action.get("Item")
                else:
                    yield action.get("TableName"), action.get("Key")


_EQUALITY = re.compile(r"(#?[\w.]+)\s*=\s*(:\w+)|(:\w+)\s*=\s*(#?[\w.]+)")


def _key_condition_values(params: dict[str, Any]) -> dict[str, Any]:
    """``{attribute: value}`` for each ``attribute = :value`` in a Query's key condition."""
    expression = params.get("KeyConditionExpression")
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    if not isinstance(expression, str) or not isinstance(names, dict) or not isinstance(values, dict):
        return {}
    found = {}
    for match in _EQUALITY.finditer(expression):
        name, placeholder = (match[1], match[2]) if match[1] else (match[4], match[3])
        if placeholder in values:
            found[names.get(name, name)] = values[placeholder]
    return found


def _items(mapping: Any) -> Iterator[tuple[str, Any]]:
    return iter(mapping.items()) if isinstance(mapping, dict) else iter(())


def _check_key(key: dict[str, Any], schema: dict[str, str]) -> None:
    for name, key_type in schema.items():
        value = key.get(name)
        if not isinstance(value, dict) or len(value) != 1:
            continue  # a missing or malformed key is moto's to refuse
        ((kind, raw),) = value.items()
        if kind not in ("S", "B"):
            continue
        data = raw if isinstance(raw, bytes | bytearray) else str(raw).encode("utf-8", "surrogatepass")
        if not data:
            description = "string" if kind == "S" else "binary"
            raise _Refused(
                "One or more parameter values are not valid. The AttributeValue for a key attribute "
                f"cannot contain an empty {description} value. Key: {name}"
            )
        if key_type == "HASH" and len(data) > PARTITION_KEY_MAX_BYTES:
            raise _Refused(
                "One or more parameter values were invalid: Size of hashkey has exceeded the maximum "
                f"size limit of{PARTITION_KEY_MAX_BYTES} bytes"
            )
        if key_type == "RANGE" and len(data) > SORT_KEY_MAX_BYTES:
            raise _Refused(
                "One or more parameter values were invalid: Aggregated size of all range keys has "
                f"exceeded the size limit of {SORT_KEY_MAX_BYTES} bytes"
            )


def _attribute_values(params: dict[str, Any]) -> Iterator[Any]:
    """Every AttributeValue a request carries but its expression values, top-level ones first."""
    for field in ("Item", "Key", "ExclusiveStartKey"):
        yield from _values_of(params.get(field))
    for _, requests in _items(params.get("RequestItems")):
        if isinstance(requests, dict):  # BatchGetItem
            for key in requests.get("Keys", []):
                yield from _values_of(key)
            continue
        for request in requests if isinstance(requests, list) else []:
            for action in request.values() if isinstance(request, dict) else []:
                if isinstance(action, dict):
                    yield from _values_of(action.get("Item"))
                    yield from _values_of(action.get("Key"))
    for entry in params.get("TransactItems") or []:
        for action in entry.values() if isinstance(entry, dict) else []:
            if isinstance(action, dict):
                for field in ("Item", "Key"):
                    yield from _values_of(action.get(field))
    for update in (params.get("AttributeUpdates") or {}).values():
        if isinstance(update, dict) and "Value" in update:
            yield update["Value"]


def _expression_values(params: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """``(placeholder, value)`` for each expression value, the request's and its transaction's."""
    yield from _items(params.get("ExpressionAttributeValues"))
    for entry in params.get("TransactItems") or []:
        for action in entry.values() if isinstance(entry, dict) else []:
            if isinstance(action, dict):
                yield from _items(action.get("ExpressionAttributeValues"))


def _values_of(mapping: Any) -> Iterator[Any]:
    return iter(mapping.values()) if isinstance(mapping, dict) else iter(())


def _check_value(value: Any, level: int = 1) -> None:
    """Check one AttributeValue at ``level`` (an item's attribute is level 1) and what it holds."""
    if not isinstance(value, dict):
        return
    if level > MAX_NESTING_LEVEL:
        raise _Refused(NESTING_TOO_DEEP)
    for kind, content in value.items():
        if kind in EMPTY_SET and content == []:
            raise _EmptySet(EMPTY_SET[kind])
        if kind == "N":
            _check_number(content)
        elif kind == "NS" and isinstance(content, list):
            for number in content:
                _check_number(number)
        elif kind == "S":
            _check_text(content)
        elif kind == "SS" and isinstance(content, list):
            for text in content:
                _check_text(text)
        elif kind == "M" and isinstance(content, dict):
            for name, member in content.items():
                _check_text(name)
                _check_value(member, level + 1)
        elif kind == "L" and isinstance(content, list):
            for member in content:
                _check_value(member, level + 1)


def _check_number(text: Any) -> None:
    try:
        number = Decimal(str(text).strip())
    except InvalidOperation:
        return  # not a number at all: moto answers AWS's "cannot be converted" itself
    if not number.is_finite():
        return
    digits = number.as_tuple().digits
    significant = "".join(map(str, digits)).strip("0")
    if len(significant) > NUMBER_MAX_DIGITS:
        raise _Refused("Attempting to store more than 38 significant digits in a Number")
    magnitude = number.copy_abs()  # abs() would round to the context precision, 28 digits
    if magnitude > NUMBER_MAX_MAGNITUDE:
        raise _Refused(
            "Number overflow. Attempting to store a number with magnitude larger than supported range"
        )
    if magnitude and magnitude < NUMBER_MIN_MAGNITUDE:
        raise _Refused(
            "Number underflow. Attempting to store a number with magnitude smaller than supported range"
        )


def _check_text(text: Any) -> None:
    if not isinstance(text, str):
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused(
            "One or more parameter values were invalid: a string is not valid Unicode (it holds a lone "
            "surrogate) and cannot be encoded as UTF-8"
        ) from None
