"""One item operation at a time: DynamoDB applies a conditional write atomically, moto does not.

moto's ``update_item`` (``put_item``, ``delete_item`` alike) reads the item, evaluates the
condition, then writes, holding nothing in between: two threads writing one item can both pass a
condition only one of them should (``version = :read``), and one update is lost, or a read can see
an update half applied. DynamoDB checks a condition against the item as the write applies, and a
read sees whole writes. Here every item operation of moto's DynamoDB backend holds one lock: moto
keeps every table in this process's memory, so one lock is exact, and it is uncontended unless
threads really race (a handler's thread pool, a test's threads).

The answers are made under the lock too (:data:`ANSWERS`): moto hands its live items to the code
that writes the response, so a read answered outside it could show a write landing meanwhile, and a
``TransactGetItems``, which reads its items one by one, could see half of a transaction.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

#: The backend's operations on items; batch writes go through put_item and delete_item per item, as
#: DynamoDB applies them, and a transaction is one step, as DynamoDB applies it.
ITEM_OPERATIONS = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "transact_write_items",
)
#: moto's handlers of the requests that read or write items, each one step as DynamoDB answers it.
ANSWERS = (*ITEM_OPERATIONS, "batch_get_item", "batch_write_item", "transact_get_items")
_lock = threading.RLock()
_installed = False


def install() -> None:
    """Serialize moto's DynamoDB item operations, once per process."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    for name in ITEM_OPERATIONS:
        setattr(DynamoDBBackend, name, _serialized(getattr(DynamoDBBackend, name)))
    for name in ANSWERS:
        setattr(DynamoHandler, name, _serialized(getattr(DynamoHandler, name)))
    _installed = True


def _serialized(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def serialized(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return operation(*args, **kwargs)

    return serialized
