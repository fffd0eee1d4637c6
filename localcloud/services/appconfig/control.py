"""AppConfig's deployment calls through the SDK, which moto lacks: ``StartDeployment`` (the
profile's validators run, as AWS runs them then), ``GetDeployment``, ``StopDeployment`` (a rollback,
or with ``AllowRevert`` a revert); and the check AWS makes of a feature-flag profile's content at
``CreateHostedConfigurationVersion``.

A refused deployment is answered as AWS answers it: ``BadRequestException`` (``Reason``
``InvalidConfiguration`` when a validator failed), ``ConflictException`` while another deployment
of the environment is in progress, ``ResourceNotFoundException`` for an unknown resource.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from localcloud.errors import InvalidRequest, ResourceNotFound
from localcloud.services.appconfig import feature_flags
from localcloud.services.appconfig.data import DataPlaneError
from localcloud.services.appconfig.service import Deployment, ValidatorFailed

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.core.service import AwsCall


#: ``DeploymentStrategyId``'s pattern in the API: an id, or a predefined strategy's ``AppConfig.*``
#: (the test API's ``deploy`` also takes a custom strategy's name; AWS does not).
STRATEGY_ID = re.compile(r"(^[a-z0-9]{4,7}$|^AppConfig\.[A-Za-z0-9]{9,40}$)")


def answer_start_deployment(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    params = call.params
    strategy = params["DeploymentStrategyId"]
    if not STRATEGY_ID.search(strategy):
        refused = DataPlaneError(
            400,
            "BadRequestException",
            f"1 validation error detected: Value '{strategy}' at 'deploymentStrategyId' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: {STRATEGY_ID.pattern}",
        )
        return refused.status, refused.parsed()
    try:
        deployment = kernel.service("appconfig").start_deployment(
            params["ApplicationId"],
            params["EnvironmentId"],
            params["ConfigurationProfileId"],
            params["ConfigurationVersion"],
            params["DeploymentStrategyId"],
            description=params.get("Description", ""),
        )
    except DataPlaneError as error:
        return error.status, error.parsed()
    except ValidatorFailed as error:
        detail = {"Type": error.validator_type, "Reason": _aws_message(error)}
        refused = DataPlaneError(
            400,
            "BadRequestException",
            _aws_message(error),
            Reason="InvalidConfiguration",
            Details={"InvalidConfiguration": [detail]},
        )
        return refused.status, refused.parsed()
    except (InvalidRequest, ResourceNotFound) as error:
        refused = _refusal(error)
        return refused.status, refused.parsed()
    return 201, _described(kernel, deployment, 201)


def answer_get_deployment(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    found = _deployment(kernel, call.params)
    if isinstance(found, DataPlaneError):
        return found.status, found.parsed()
    return 200, _described(kernel, found, 200)


def answer_stop_deployment(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    found = _deployment(kernel, call.params)
    if isinstance(found, DataPlaneError):
        return found.status, found.parsed()
    try:
        kernel.service("appconfig").stop_deployment(found, allow_revert=bool(call.params.get("AllowRevert")))
    except InvalidRequest as error:
        refused = _refusal(error)
        return refused.status, refused.parsed()
    return 202, _described(kernel, found, 202)


def _deployment(kernel: Kernel, params: dict[str, Any]) -> Deployment | DataPlaneError:
    appconfig = kernel.service("appconfig")
    number = int(params["DeploymentNumber"])
    found = next(
        (
            d
            for d in appconfig.deployments
            if d.number == number
            and params["ApplicationId"] in (d.application.id, d.application.name)
            and params["EnvironmentId"] in (d.environment.id, d.environment.name)
        ),
        None,
    )
    if found is None:
        return DataPlaneError(
            404, "ResourceNotFoundException", f"Deployment {number} not found", ResourceName=str(number)
        )
    return found


def check_hosted_version(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    """A feature-flag profile's version is checked against AppConfig's flag schema when created."""
    if operation != "CreateHostedConfigurationVersion":
        return
    appconfig = kernel.service("appconfig")
    profile = appconfig.profiles.get(params.get("ConfigurationProfileId", ""))
    if profile is None or not profile.feature_flags:
        return
    content = params.get("Content", b"")
    try:
        feature_flags.validate(content.encode() if isinstance(content, str) else content)
    except feature_flags.InvalidFlags as error:
        raise ClientError(
            DataPlaneError(400, "BadRequestException", str(error), Reason="InvalidConfiguration").parsed(),
            operation,
        ) from None


def _described(kernel: Kernel, deployment: Deployment, status: int) -> dict[str, Any]:
    strategy, now = deployment.strategy, kernel.clock.now()
    described: dict[str, Any] = {
        "ApplicationId": deployment.application.id,
        "EnvironmentId": deployment.environment.id,
        "DeploymentStrategyId": strategy.id,
        "ConfigurationProfileId": deployment.profile.id,
        "DeploymentNumber": deployment.number,
        "ConfigurationName": deployment.profile.name,
        "ConfigurationLocationUri": deployment.profile.location_uri,
        "ConfigurationVersion": deployment.version.number,
        "Description": deployment.description,
        "DeploymentDurationInMinutes": int(strategy.duration_minutes),
        "GrowthType": strategy.growth_type,
        "GrowthFactor": strategy.growth_factor,
        "FinalBakeTimeInMinutes": int(strategy.final_bake_minutes),
        "State": deployment.state,
        "PercentageComplete": deployment.percentage(now),
        "StartedAt": deployment.started_at,
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
    }
    if deployment.state == "COMPLETE":
        described["CompletedAt"] = deployment.completes_at
    return described


def _refusal(error: Exception) -> DataPlaneError:
    message = _aws_message(error)
    if isinstance(error, ResourceNotFound):
        return DataPlaneError(404, "ResourceNotFoundException", message)
    if str(error).startswith("ConflictException"):
        return DataPlaneError(409, "ConflictException", message)
    return DataPlaneError(400, "BadRequestException", message)


def _aws_message(error: Exception) -> str:
    text = str(error)
    for prefix in ("BadRequestException: ", "ConflictException: "):
        text = text.removeprefix(prefix)
    return text
