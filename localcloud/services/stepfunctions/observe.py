"""Step Functions: a state machine a test creates at runtime (not from the template) runs on the
engine too."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import observes

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


@observes("stepfunctions", "CreateStateMachine")
def machine_created(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    cloud.service("states")
