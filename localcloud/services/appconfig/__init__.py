"""AppConfig offline: the template's applications, environments, profiles and deployments, a data
plane that Powertools' ``AppConfigStore`` and ``AppConfigProvider`` read unmodified, and
``cloud.appconfig.deploy(...)`` to roll out a new version during a test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core import hooks
from localcloud.core.iam import resource_arn
from localcloud.core.service import AwsCall, Service
from localcloud.services.appconfig import control, provision
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


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    """AppConfig's control-plane calls, which name ids. AppConfig Data calls, which may name names or
    a session token, are authorized by ``cloud.appconfig`` once it has resolved them to ids."""
    partition, region, account = where
    app = params.get("ApplicationId")
    if app is None:
        strategy = params.get("DeploymentStrategyId")
        if strategy is None:
            return None
        return resource_arn(partition, "appconfig", region, account, f"deploymentstrategy/{strategy}")
    resource = f"application/{app}"
    if params.get("EnvironmentId"):
        resource += f"/environment/{params['EnvironmentId']}"
        if params.get("DeploymentNumber") is not None:
            resource += f"/deployment/{params['DeploymentNumber']}"
    elif params.get("ConfigurationProfileId"):
        resource += f"/configurationprofile/{params['ConfigurationProfileId']}"
    return resource_arn(partition, "appconfig", region, account, resource)


SERVICE = Service.of(
    "appconfig",
    provision,
    state=AppConfig,
    answers={
        "appconfigdata": _answer_data,
        "appconfig.StartDeployment": control.answer_start_deployment,
        "appconfig.GetDeployment": control.answer_get_deployment,
        "appconfig.StopDeployment": control.answer_stop_deployment,
    },
    checks={"appconfig": control.check_hosted_version},
    self_authorized=frozenset({"appconfigdata"}),
    iam_resources={"appconfig": _iam_resource},
)
