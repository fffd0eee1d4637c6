"""AppConfig's control side offline: applications, environments, profiles, versions, strategies
and deployments on the virtual clock.

moto holds applications, configuration profiles and hosted configuration versions (so a test's
``cloud.client("appconfig")`` sees them); environments, deployment strategies and deployments,
which moto lacks, are kept here. A deployment serves its version once the strategy's
``DeploymentDurationInMinutes`` has passed (at once for 0 minutes) and is complete after the
final bake time; the template's own deployments are complete when the stack is, as
CloudFormation waits for them. While a deployment grows, its version reaches a share of the
sessions (the targets): the strategy's steps are spread evenly over the duration (linear: G, 2G...;
exponential: G*2^N), the first one after one interval, and each session keeps the version once
served (see :meth:`Deployment.percentage`). A feature-flag profile takes no JSON Schema validator.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from localcloud.errors import InvalidRequest, LocalCloudError, ResourceNotFound
from localcloud.services.appconfig import feature_flags

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.core.trace import Span


@dataclass(frozen=True)
class DeploymentStrategy:
    id: str
    name: str
    duration_minutes: float
    final_bake_minutes: float
    growth_factor: float = 100.0
    growth_type: str = "LINEAR"


#: AWS's predefined strategies, by id, as AWS documents them.
PREDEFINED_STRATEGIES = {
    strategy.id: strategy
    for strategy in (
        DeploymentStrategy("AppConfig.AllAtOnce", "AppConfig.AllAtOnce", 0, 10, 100),
        DeploymentStrategy(
            "AppConfig.Linear50PercentEvery30Seconds", "AppConfig.Linear50PercentEvery30Seconds", 1, 1, 50
        ),
        DeploymentStrategy(
            "AppConfig.Linear20PercentEvery6Minutes", "AppConfig.Linear20PercentEvery6Minutes", 30, 30, 20
        ),
        DeploymentStrategy(
            "AppConfig.Canary10Percent20Minutes",
            "AppConfig.Canary10Percent20Minutes",
            20,
            10,
            10,
            "EXPONENTIAL",
        ),
    )
}


@dataclass
class Application:
    id: str
    name: str


@dataclass
class Environment:
    id: str
    application_id: str
    name: str


@dataclass
class Profile:
    id: str
    application_id: str
    name: str
    type: str
    location_uri: str
    validators: list[dict[str, Any]] = field(default_factory=list)

    @property
    def feature_flags(self) -> bool:
        return self.type == feature_flags.FEATURE_FLAGS_TYPE


@dataclass
class Version:
    """One version of a profile's configuration, as a deployment serves it."""

    number: str
    content: bytes
    content_type: str
    label: str | None = None
    stored: bytes | None = None
    """The content as stored, which validators get: a flag profile's stored form, not the served one."""

    @property
    def validated(self) -> bytes:
        return self.content if self.stored is None else self.stored


@dataclass
class Deployment:
    number: int
    application: Application
    environment: Environment
    profile: Profile
    version: Version
    strategy: DeploymentStrategy
    started_at: datetime
    description: str = ""
    state: str = "DEPLOYING"
    """``DEPLOYING`` until the duration ends, ``BAKING`` until the bake time ends, then ``COMPLETE``;
    ``ROLLED_BACK`` or ``REVERTED`` once stopped."""
    span: Span | None = field(default=None, repr=False)
    replaced: Deployment | None = field(default=None, repr=False)
    """What every session got when this one started: what a rollback or revert serves again."""
    stopped_at: datetime | None = None
    """When ``StopDeployment`` stopped it: its growth ends there."""

    @property
    def served_at(self) -> datetime:
        return self.started_at + timedelta(minutes=self.strategy.duration_minutes)

    @property
    def completes_at(self) -> datetime:
        return self.served_at + timedelta(minutes=self.strategy.final_bake_minutes)

    @property
    def in_progress(self) -> bool:
        return self.state in ("DEPLOYING", "BAKING")

    def percentage(self, at: datetime) -> float:
        """The share of sessions served this version at ``at``, as AppConfig's ``PercentageComplete``.

        The strategy's steps are spread evenly over its duration, the first one interval after the
        start (AWS's example: 20% linear over 10 hours is 0% at the start, 20% at 2 hours...). A
        stopped deployment stays at the share it had reached.
        """
        if self.stopped_at is not None:
            at = min(at, self.stopped_at)
        if at >= self.served_at:
            return 100.0
        steps = growth_steps(self.strategy)
        interval = self.strategy.duration_minutes * 60 / len(steps)
        reached = int((at - self.started_at).total_seconds() // interval)
        return 0.0 if reached <= 0 else steps[min(reached, len(steps)) - 1]


def growth_steps(strategy: DeploymentStrategy) -> list[float]:
    """The percentages a strategy's steps reach: linear G, 2G...; exponential G*2^N; up to 100."""
    factor = strategy.growth_factor
    if strategy.growth_type == "EXPONENTIAL":
        below = (
            [factor * 2**step for step in range(math.ceil(math.log2(100 / factor)))] if factor < 100 else []
        )
        return [*below, 100.0]
    return [min(100.0, factor * step) for step in range(1, math.ceil(100 / factor) + 1)]


#: How long after it completed a deployment may still be reverted (``StopDeployment`` with ``AllowRevert``).
REVERT_WINDOW = timedelta(hours=72)


class ValidatorFailed(InvalidRequest):
    """A profile's validator refused a version at ``StartDeployment``."""

    def __init__(self, message: str, validator_type: str) -> None:
        super().__init__(message)
        self.validator_type = validator_type


class AppConfig:
    """``cloud.appconfig``: what the stack's AppConfig resources hold, and deploying new versions.

    Example::

        cloud.appconfig.deploy("MyApp", "prod", "flags", {"premium": {"default": True}})
        cloud.advance(60)  # past the deployment duration and the handler's cache age
    """

    def __init__(self, cloud: Kernel) -> None:
        self.cloud = cloud
        self.applications: dict[str, Application] = {}
        self.environments: dict[str, Environment] = {}
        self.profiles: dict[str, Profile] = {}
        self.strategies: dict[str, DeploymentStrategy] = dict(PREDEFINED_STRATEGIES)
        self.deployments: list[Deployment] = []
        self._served: dict[tuple[str, str, str], Deployment] = {}
        """The deployment every session gets (the last one whose rollout reached 100%)."""
        self._rolling: dict[tuple[str, str, str], Deployment] = {}
        """The deployment still growing, which a share of sessions already gets."""
        self._data = None

    # ------------------------------------------------------------------------------------ provisioning

    def add_application(self, name: str, description: str | None = None) -> Application:
        created = self._client().create_application(Name=name, **_optional(Description=description))
        application = Application(created["Id"], name)
        self.applications[application.id] = application
        return application

    def add_environment(self, logical_id: str, application_id: str, name: str) -> Environment:
        self._application(application_id)
        environment = Environment(self.cloud.short_id(f"appconfig/{logical_id}", 7), application_id, name)
        self.environments[environment.id] = environment
        return environment

    def add_profile(self, application_id: str, props: dict[str, Any]) -> Profile:
        self._application(application_id)
        kind = props.get("Type", "AWS.Freeform")
        location = props["LocationUri"]
        if kind == feature_flags.FEATURE_FLAGS_TYPE and location != "hosted":
            raise InvalidRequest(f"a {kind} profile must have LocationUri hosted, not {location!r}")
        if kind == feature_flags.FEATURE_FLAGS_TYPE and any(
            v.get("Type") == "JSON_SCHEMA" for v in props.get("Validators", [])
        ):
            raise InvalidRequest(
                f"BadRequestException: a {kind} profile takes Lambda validators only; AppConfig checks "
                "feature flags against its own JSON Schema"
            )
        created = self._client().create_configuration_profile(
            ApplicationId=application_id,
            Name=props["Name"],
            LocationUri=location,
            Type=kind,
            **_optional(
                Description=props.get("Description"),
                RetrievalRoleArn=props.get("RetrievalRoleArn"),
                Validators=props.get("Validators"),
            ),
        )
        profile = Profile(
            created["Id"], application_id, props["Name"], kind, location, props.get("Validators", [])
        )
        self.profiles[profile.id] = profile
        return profile

    def add_hosted_version(
        self,
        application_id: str,
        profile_id: str,
        content: bytes,
        content_type: str,
        *,
        description: str | None = None,
        label: str | None = None,
    ) -> str:
        """Store a hosted version in moto, checked as AppConfig checks it; its version number."""
        profile = self._profile(self._application(application_id), profile_id)
        if profile.location_uri != "hosted":
            raise InvalidRequest(f"profile {profile.name} is not hosted (LocationUri {profile.location_uri})")
        if profile.feature_flags:
            try:
                feature_flags.validate(content)
            except feature_flags.InvalidFlags as error:
                raise InvalidRequest(f"BadRequestException: {error}") from None
        created = self._client().create_hosted_configuration_version(
            ApplicationId=application_id,
            ConfigurationProfileId=profile.id,
            Content=content,
            ContentType=content_type,
            **_optional(Description=description, VersionLabel=label),
        )
        return str(created["VersionNumber"])

    def add_strategy(self, logical_id: str, props: dict[str, Any]) -> DeploymentStrategy:
        strategy = DeploymentStrategy(
            self.cloud.short_id(f"appconfig/{logical_id}", 7),
            props["Name"],
            float(props["DeploymentDurationInMinutes"]),
            float(props.get("FinalBakeTimeInMinutes", 0)),
            float(props["GrowthFactor"]),
            props.get("GrowthType", "LINEAR"),
        )
        self.strategies[strategy.id] = strategy
        return strategy

    def start_deployment(
        self,
        application: str,
        environment: str,
        profile: str,
        version: str,
        strategy: str,
        *,
        description: str = "",
        completed: bool = False,
    ) -> Deployment:
        """Start deploying ``version``; ``completed`` finishes it at once (a template's deployment)."""
        app, env, prof = self.resolve(application, environment, profile)
        running = next((d for d in self.deployments if d.environment is env and d.in_progress), None)
        if running is not None:
            raise InvalidRequest(
                f"ConflictException: deployment #{running.number} is still {running.state} in environment "
                f"{env.name}; advance the clock past {running.completes_at:%H:%M:%S} first"
            )
        content = self._version(app, prof, str(version))
        self._validate(app, prof, content)
        number = 1 + sum(1 for d in self.deployments if d.environment is env)
        deployment = Deployment(
            number, app, env, prof, content, self.strategy(strategy), self.cloud.clock.now(), description
        )
        deployment.replaced = self._served.get((app.id, env.id, prof.id))
        self.deployments.append(deployment)
        source, parent = self.cloud.caller()
        deployment.span = self.cloud.trace.record(
            "deploy",
            source,
            f"appconfig:{app.name}/{env.name}/{prof.name}",
            f"version {content.number} with {deployment.strategy.name}",
            at=self.cloud.clock.elapsed(),
            parent=parent,
        )
        if completed:
            self._serve(deployment)
            self._complete(deployment)
        elif deployment.strategy.duration_minutes == 0:
            self._serve(deployment)
            self._finish_later(deployment)
        else:
            self._rolling[(app.id, env.id, prof.id)] = deployment
            self.cloud.clock.call_at(
                deployment.served_at, lambda: self._serve(deployment), f"appconfig deployment {number}"
            )
            self._finish_later(deployment)
        return deployment

    # ------------------------------------------------------------------------------------ test API

    def deploy(
        self,
        application: str,
        environment: str,
        profile: str,
        content: dict[str, Any] | list[Any] | str | bytes,
        content_type: str = "application/json",
        *,
        strategy: str | None = None,
        description: str = "",
        label: str | None = None,
    ) -> Deployment:
        """Store ``content`` as a new hosted version and deploy it, as ``CreateHostedConfigurationVersion``
        then ``StartDeployment`` would.

        Names or ids name the application, environment, profile and strategy. Without a
        ``strategy``, the one that last deployed this profile to this environment is used (the
        template's), else ``AppConfig.AllAtOnce``. A dict or list is sent as JSON. Raises
        :class:`InvalidRequest` where AppConfig would refuse (invalid feature flags, a failed
        validator, a deployment still in progress in the environment).
        """
        app, env, prof = self.resolve(application, environment, profile)
        if isinstance(content, (dict, list)):
            body = json.dumps(content).encode()
        else:
            body = content.encode() if isinstance(content, str) else content
        version = self.add_hosted_version(
            app.id, prof.id, body, content_type, description=description, label=label
        )
        if strategy is None:
            previous = [d for d in self.deployments if d.environment is env and d.profile is prof]
            strategy = previous[-1].strategy.id if previous else "AppConfig.AllAtOnce"
        return self.start_deployment(app.id, env.id, prof.id, version, strategy, description=description)

    def served(self, application: str, environment: str, profile: str) -> Deployment | None:
        """The deployment whose version clients of this environment get now, if any."""
        app, env, prof = self.resolve(application, environment, profile)
        return self._served.get((app.id, env.id, prof.id))

    # ------------------------------------------------------------------------------------ lookups

    def resolve(
        self, application: str, environment: str, profile: str
    ) -> tuple[Application, Environment, Profile]:
        """Identifiers (id or name, as AppConfig accepts) to resources; :class:`ResourceNotFound` names
        the one that matches nothing."""
        app = self._application(application)
        env = next(
            (
                e
                for e in self.environments.values()
                if e.application_id == app.id and environment in (e.id, e.name)
            ),
            None,
        )
        if env is None:
            raise ResourceNotFound(f"application {app.name} has no environment {environment!r}")
        return app, env, self._profile(app, profile)

    def strategy(self, identifier: str) -> DeploymentStrategy:
        for strategy in self.strategies.values():
            if identifier in (strategy.id, strategy.name):
                return strategy
        raise ResourceNotFound(f"no deployment strategy {identifier!r} (known: {sorted(self.strategies)})")

    def profile_arn(self, app: Application, env: Environment, profile: Profile) -> str:
        cloud = self.cloud
        return (
            f"arn:{cloud.partition}:appconfig:{cloud.region}:{cloud.account}:application/{app.id}"
            f"/environment/{env.id}/configuration/{profile.id}"
        )

    def current(
        self, app: Application, env: Environment, profile: Profile, bucket: float = 100.0
    ) -> Deployment | None:
        """The deployment a session gets: a growing one once its share passes the session's
        ``bucket`` (0 to 100, fixed per session), else the last one fully served."""
        key = (app.id, env.id, profile.id)
        rolling = self._rolling.get(key)
        if rolling is not None and rolling.percentage(self.cloud.clock.now()) > bucket:
            return rolling
        return self._served.get(key)

    @property
    def data(self) -> Any:
        """The data plane (``appconfigdata``), made on first use."""
        if self._data is None:
            from localcloud.services.appconfig.data import DataPlane

            self._data = DataPlane(self)
        return self._data

    def _application(self, identifier: str) -> Application:
        for app in self.applications.values():
            if identifier in (app.id, app.name):
                return app
        raise ResourceNotFound(f"no AppConfig application {identifier!r} in {self.cloud.stack_name}")

    def _profile(self, app: Application, identifier: str) -> Profile:
        for profile in self.profiles.values():
            if profile.application_id == app.id and identifier in (profile.id, profile.name):
                return profile
        raise ResourceNotFound(f"application {app.name} has no configuration profile {identifier!r}")

    # ------------------------------------------------------------------------------------ internals

    def _client(self) -> Any:
        return self.cloud.admin_client("appconfig")

    def _version(self, app: Application, profile: Profile, number: str) -> Version:
        """The content of ``number`` from where the profile keeps it."""
        location = profile.location_uri
        if location == "hosted":
            found = self._client().get_hosted_configuration_version(
                ApplicationId=app.id, ConfigurationProfileId=profile.id, VersionNumber=int(number)
            )
            content, content_type = (
                found["Content"].read(),
                found.get("ContentType") or "application/octet-stream",
            )
            if profile.feature_flags:
                served = feature_flags.served(feature_flags.validate(content))
                return Version(number, served, "application/json", found.get("VersionLabel"), content)
            return Version(number, content, content_type, found.get("VersionLabel"))
        if location.startswith("ssm-parameter://"):
            name = location.removeprefix("ssm-parameter://")
            parameter = self.cloud.admin_client("ssm").get_parameter(Name=f"{name}:{number}")["Parameter"]
            return Version(number, parameter["Value"].encode(), "text/plain")
        if location.startswith("s3://"):
            bucket, _, key = location.removeprefix("s3://").partition("/")
            found = self.cloud.admin_client("s3").get_object(Bucket=bucket, Key=key, VersionId=number)
            return Version(number, found["Body"].read(), found.get("ContentType", "application/octet-stream"))
        raise LocalCloudError(
            f"profile {profile.name}: configurations stored at {location} are not served offline "
            "(hosted, ssm-parameter:// and s3:// are)"
        )

    def _validate(self, app: Application, profile: Profile, version: Version) -> None:
        """Run the profile's validators, as StartDeployment does."""
        for validator in profile.validators:
            if validator["Type"] == "JSON_SCHEMA":
                import jsonschema

                try:
                    jsonschema.validate(json.loads(version.validated), json.loads(validator["Content"]))
                except (ValueError, jsonschema.ValidationError) as error:
                    message = getattr(error, "message", str(error))
                    raise ValidatorFailed(
                        f"BadRequestException: version {version.number} of {profile.name} fails its "
                        f"JSON schema validator: {message}",
                        "JSON_SCHEMA",
                    ) from None
            elif validator["Type"] == "LAMBDA":
                self._validate_with_function(app, profile, version, validator["Content"])
            else:
                raise LocalCloudError(
                    f"profile {profile.name}: validator type {validator['Type']} is unknown"
                )

    def _validate_with_function(self, app: Application, profile: Profile, version: Version, arn: str) -> None:
        event = {
            "applicationId": app.id,
            "configurationProfileId": profile.id,
            "configurationVersion": version.number,
            "content": base64.b64encode(version.validated).decode(),
            "uri": profile.location_uri,
        }
        result = self.cloud.service("lambda").invoke(
            self.cloud.service("lambda").function(arn), event, "RequestResponse", source="appconfig"
        )
        if "FunctionError" in result:
            detail = json.loads(result["Payload"]).get("errorMessage", "")
            raise ValidatorFailed(
                f"BadRequestException: version {version.number} of {profile.name} failed its Lambda "
                f"validator {arn}: {detail}",
                "LAMBDA",
            )

    def stop_deployment(self, deployment: Deployment, *, allow_revert: bool = False) -> Deployment:
        """``StopDeployment``: a deployment still growing is rolled back (``ROLLED_BACK``); with
        ``allow_revert``, one baking is rolled back and one complete within 72 hours is
        ``REVERTED``. Every session gets the version served before it again."""
        key = (deployment.application.id, deployment.environment.id, deployment.profile.id)
        now = self.cloud.clock.now()
        stoppable = deployment.state == "DEPLOYING" or (
            allow_revert
            and (
                deployment.state == "BAKING"
                or (deployment.state == "COMPLETE" and now - deployment.completes_at <= REVERT_WINDOW)
            )
        )
        if not stoppable or (deployment.state != "DEPLOYING" and self._served.get(key) is not deployment):
            raise InvalidRequest(
                f"BadRequestException: deployment #{deployment.number} is {deployment.state}; StopDeployment "
                "stops a DEPLOYING deployment, or with AllowRevert a BAKING one or one COMPLETE within 72 hours "
                "that is still the one served"
            )
        if self._rolling.get(key) is deployment:
            del self._rolling[key]
        if self._served.get(key) is deployment:
            if deployment.replaced is None:
                del self._served[key]
            else:
                self._served[key] = deployment.replaced
        deployment.state = "REVERTED" if deployment.state == "COMPLETE" else "ROLLED_BACK"
        deployment.stopped_at = now
        if deployment.span is not None:
            deployment.span.outcome = deployment.state
            if deployment.span.ended is None:
                deployment.span.ended = self.cloud.clock.elapsed()
        return deployment

    def _serve(self, deployment: Deployment) -> None:
        if deployment.state != "DEPLOYING":
            return  # stopped meanwhile
        key = (deployment.application.id, deployment.environment.id, deployment.profile.id)
        self._served[key] = deployment
        if self._rolling.get(key) is deployment:
            del self._rolling[key]
        deployment.state = "BAKING"

    def _finish_later(self, deployment: Deployment) -> None:
        self.cloud.clock.call_at(
            deployment.completes_at,
            lambda: self._complete(deployment),
            f"appconfig deployment {deployment.number} bake",
        )

    def _complete(self, deployment: Deployment) -> None:
        if deployment.state != "BAKING":
            return  # stopped meanwhile
        deployment.state = "COMPLETE"
        if deployment.span is not None:
            deployment.span.ended = self.cloud.clock.elapsed()


def _optional(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}
