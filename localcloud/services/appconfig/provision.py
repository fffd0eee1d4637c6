"""AppConfig resources, kept by ``cloud.appconfig`` (see :mod:`localcloud.services.appconfig`).

A template's ``AWS::AppConfig::Deployment`` is complete when the stack is, as CloudFormation waits
for it: its version is served from the first call. Environment monitors (alarm rollbacks) are
accepted and not evaluated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions
from localcloud.errors import InvalidRequest, ResourceNotFound, TemplateError

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


@provisions("AWS::AppConfig::Application")
def application(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    created = cloud.service("appconfig").add_application(props["Name"], props.get("Description"))
    return Provisioned(created.id, {"ApplicationId": created.id})


@provisions("AWS::AppConfig::Environment")
def environment(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    created = _checked(
        logical_id,
        cloud.service("appconfig").add_environment,
        logical_id,
        props["ApplicationId"],
        props["Name"],
    )
    return Provisioned(created.id, {"EnvironmentId": created.id})


@provisions("AWS::AppConfig::ConfigurationProfile")
def configuration_profile(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    created = _checked(logical_id, cloud.service("appconfig").add_profile, props["ApplicationId"], props)
    return Provisioned(
        created.id, {"ConfigurationProfileId": created.id, "KmsKeyArn": props.get("KmsKeyIdentifier", "")}
    )


@provisions("AWS::AppConfig::HostedConfigurationVersion")
def hosted_configuration_version(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    number = _checked(
        logical_id,
        cloud.service("appconfig").add_hosted_version,
        props["ApplicationId"],
        props["ConfigurationProfileId"],
        props["Content"].encode(),
        props["ContentType"],
        description=props.get("Description"),
        label=props.get("VersionLabel"),
    )
    return Provisioned(number, {"VersionNumber": number})


@provisions("AWS::AppConfig::DeploymentStrategy")
def deployment_strategy(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    created = cloud.service("appconfig").add_strategy(logical_id, props)
    return Provisioned(created.id, {"Id": created.id})


@provisions("AWS::AppConfig::Deployment")
def deployment(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    started = _checked(
        logical_id,
        cloud.service("appconfig").start_deployment,
        props["ApplicationId"],
        props["EnvironmentId"],
        props["ConfigurationProfileId"],
        str(props["ConfigurationVersion"]),
        props["DeploymentStrategyId"],
        description=props.get("Description", ""),
        completed=True,
    )
    return Provisioned(str(started.number), {"DeploymentNumber": str(started.number)})


def _checked(logical_id: str, create: Any, *args: Any, **kwargs: Any) -> Any:
    """What AppConfig would refuse fails the stack, naming the resource."""
    try:
        return create(*args, **kwargs)
    except (InvalidRequest, ResourceNotFound) as error:
        raise TemplateError(f"{logical_id}: {error}") from None
