"""Service behaviour that follows an AWS call: a message sent, an object put, an event published.

A function decorated with ``@observes("sqs", "SendMessage")`` runs after every successful call of
that operation made in the cloud, with the call's parameters and parsed response. Each service's
module registers its own; the cloud imports them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

Observer = Callable[["LocalCloud", dict[str, Any], dict[str, Any]], None]
OBSERVERS: dict[tuple[str, str], list[Observer]] = {}
_loaded = False


def observes(service: str, *operations: str) -> Callable[[Observer], Observer]:
    """Run the decorated function after each successful ``service`` call of ``operations``."""

    def register(observer: Observer) -> Observer:
        for operation in operations:
            OBSERVERS.setdefault((service, operation), []).append(observer)
        return observer

    return register


def load_all() -> dict[tuple[str, str], list[Observer]]:
    global _loaded
    if not _loaded:
        from localcloud import services

        services.load_all()
        _loaded = True
    return OBSERVERS
