"""One provisioner per CloudFormation resource type: it creates the resource in moto (or in the
local cloud's own runtime) from resolved properties and answers its Ref and Fn::GetAtt values.

A type without a provisioner is an error naming it; adding one is adding a decorated function in
the module of its service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud


@dataclass
class Provisioned:
    physical_id: str
    """What ``Ref`` returns."""
    attributes: dict[str, Any] = field(default_factory=dict)
    """What ``Fn::GetAtt`` returns, by attribute name."""


Provisioner = Callable[["LocalCloud", str, dict[str, Any]], Provisioned]
PROVISIONERS: dict[str, Provisioner] = {}


def provisions(*resource_types: str) -> Callable[[Provisioner], Provisioner]:
    def register(function: Provisioner) -> Provisioner:
        for resource_type in resource_types:
            PROVISIONERS[resource_type] = function
        return function

    return register


def load_all() -> dict[str, Provisioner]:
    """Import every service's modules, so each service's provisioners register."""
    from localcloud import services

    services.load_all()
    return PROVISIONERS
