"""AppConfig offline: the template's applications, environments, profiles and deployments, a data
plane that Powertools' ``AppConfigStore`` and ``AppConfigProvider`` read unmodified, and
``cloud.appconfig.deploy(...)`` to roll out a new version during a test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core import hooks
from localcloud.core.service import AwsCall, Service
from localcloud.services.appconfig import provision
from localcloud.services.appconfig.service import (
    PREDEFINED_STRATEGIES,
    AppConfig,
    Application,
    Deployment,
    DeploymentStrategy,
    Environment,
    Profile,
    Version,
)

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

__all__ = [
    "PREDEFINED_STRATEGIES",
    "SERVICE",
    "AppConfig",
    "Application",
    "Deployment",
    "DeploymentStrategy",
    "Environment",
    "Profile",
    "Version",
]


def _answer_data(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    """AppConfig Data, which moto lacks, answered from the AppConfig service's state."""
    appconfig: AppConfig = kernel.service("appconfig")
    return appconfig.data.answer(call.operation, call.params, hooks.principal())


SERVICE = Service.of(
    "appconfig",
    provision,
    state=AppConfig,
    answers={"appconfigdata": _answer_data},
    self_authorized=frozenset({"appconfigdata"}),
)
