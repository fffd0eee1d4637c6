"""EC2's networking: VPCs, subnets, routes, gateways, security groups and endpoints in moto, and the
rules :mod:`localcloud.core.network` asks of them (:mod:`localcloud.services.ec2.reach`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import Service
from localcloud.services.ec2 import provision
from localcloud.services.ec2.reach import Ec2

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


def _changed(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    kernel.service("ec2").changed(kernel, operation, params)


SERVICE = Service.of("ec2", provision, state=Ec2, checks={"ec2": _changed})
