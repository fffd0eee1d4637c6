"""AppConfig offline: the template's applications, environments, profiles and deployments, a data
plane that Powertools' ``AppConfigStore`` and ``AppConfigProvider`` read unmodified, and
``cloud.appconfig.deploy(...)`` to roll out a new version during a test.
"""

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

__all__ = [
    "PREDEFINED_STRATEGIES",
    "AppConfig",
    "Application",
    "Deployment",
    "DeploymentStrategy",
    "Environment",
    "Profile",
    "Version",
]
