"""The order every step of the saga reads, and how a service step is dispatched.

The workflow's input is ``{"order": {...}}`` as the API validated it; each task gets
``{"action", "order"}``. A service raises an exception named for the business refusal
(``OrderRejected``, ``PaymentDeclined``, ``OutOfStock``): Step Functions sees its class name as the
error, and the workflow undoes only the steps before it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.validation import Field, InvalidInput, Schema

ORDER = Schema(
    customer_id=Field(str, min_length=1, max_length=128),
    sku=Field(str, min_length=1, max_length=64),
    quantity=Field(int, minimum=1, maximum=100),
    amount_cents=Field(int, minimum=1, maximum=10_000_000),
    country=Field(str, min_length=2, max_length=2),
)
#: The order a task receives: what the API validated, plus the id it gave.
ORDER_IN_WORKFLOW = Schema(order_id=Field(str, min_length=1, max_length=80), **ORDER.fields)


class InvalidTask(Exception):
    """A task input the workflow never sends: a bug upstream, not a business refusal."""


def dispatch(event: Any, actions: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]) -> dict[str, Any]:
    """Run the action an event names on its order; :class:`InvalidTask` naming what is wrong otherwise."""
    if not isinstance(event, dict) or event.get("action") not in actions:
        raise InvalidTask(f"action: must be one of {', '.join(actions)}")
    try:
        order = ORDER_IN_WORKFLOW.validate(event.get("order"))
    except InvalidInput as error:
        raise InvalidTask(str(error)) from None
    return actions[event["action"]](order)
