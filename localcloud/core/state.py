"""State a service's behaviour keeps for each running cloud, without LocalCloud knowing every service.

Example::

    rules = PerCloud(Rules)       # Rules(cloud) is built on first use
    rules(cloud).add(rule)        # the same object for this cloud, gone with it
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

T = TypeVar("T")


class PerCloud(Generic[T]):
    def __init__(self, factory: Callable[[LocalCloud], T]) -> None:
        self._factory = factory
        self._state: WeakKeyDictionary[LocalCloud, T] = WeakKeyDictionary()

    def __call__(self, cloud: LocalCloud) -> T:
        if cloud not in self._state:
            self._state[cloud] = self._factory(cloud)
        return self._state[cloud]
