"""Feature flags: an AppConfig feature-flag profile read by a function and by a state machine.

AppConfig holds the flags (a hosted ``AWS.AppConfig.FeatureFlags`` profile, checked against
AppConfig's flag schema when a version is created) and deploys each new version to the
environment with a deployment strategy: 50% of the sessions after one minute, all of them after two,
then five minutes of bake time in which a second deployment is refused. A Lambda validator checks
what only the product knows (tier names, whole percentages, an enabled flag reaching someone) at
StartDeployment, so a bad version is refused and the deployed one stays live.

``GET /checkout?user=&tier=`` answers from the flags through Powertools' ``FeatureFlags`` with an
``AppConfigStore`` cached ``flags_max_age`` seconds: ``new_checkout`` by tier and by a percentage
rollout. The fulfilment state machine reads ``express_shipping`` itself, through the AWS SDK
integration (``appconfigdata`` StartConfigurationSession, then GetLatestConfiguration), and
chooses its branch on it: no function in between. Both may read this one profile and no other.

Changing behaviour is deploying a configuration version, never the stack::

    aws appconfig create-hosted-configuration-version ... && aws appconfig start-deployment ...

Example::

    flags = FeatureFlags(self, "Flags", tiers=("free", "pro"), flags_max_age=Duration.seconds(30))
    flags.grant_read(other_function)  # appconfig:StartConfigurationSession, GetLatestConfiguration
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_appconfig as appconfig
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .defaults import (
    LOG_RETENTION,
    CodeLocation,
    PatternFunction,
    Props,
    SecureRestApi,
    acknowledge,
    acknowledge_public_read,
    merge_props,
    pattern_function_props,
    rest_api_props,
    secure_state_machine,
)

TIERS = ("free", "pro", "enterprise")
#: The profile's first version: ``new_checkout`` for enterprise callers only, ``express_shipping`` off.
INITIAL_FLAGS: dict[str, Any] = {
    "version": "1",
    "flags": {
        "new_checkout": {
            "name": "New checkout",
            "description": "The v2 checkout, by tier and by a percentage rollout",
            "attributes": {
                "tiers": {"constraints": {"type": "string[]", "required": True}},
                "rollout_percent": {
                    "constraints": {"type": "number", "required": True, "minimum": 0, "maximum": 100}
                },
            },
        },
        "express_shipping": {"name": "Express shipping", "description": "Fulfilment ships express"},
    },
    "values": {
        "new_checkout": {"enabled": True, "tiers": ["enterprise"], "rollout_percent": 0},
        "express_shipping": {"enabled": False},
    },
}
#: Half of the sessions after one minute, all after two, then five minutes of bake time.
ROLLOUT = appconfig.RolloutStrategy.linear(
    growth_factor=50, deployment_duration=Duration.minutes(2), final_bake_time=Duration.minutes(5)
)
MAX_FLAGS_AGE = Duration.minutes(5)
SYNC_INVOKED = "Invoked synchronously: an error returns to the caller, there is no async event to keep."
READ_ACTIONS = ("appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration")


class FeatureFlags(Construct):
    """An AppConfig flag profile, an API answering from it, and a state machine branching on it.

    :param flags: the profile's first version, in AppConfig's flag format (:data:`INITIAL_FLAGS`).
    :param tiers: the product's tiers; the validator refuses a flag naming another.
    :param flags_max_age: how long the function keeps the flags it fetched (60 s; 1 s to 5 min):
        a new version reaches a warm instance at most this long after it is served.
    :param rollout: the deployment strategy's rollout (:data:`ROLLOUT`), for the template's and later deployments.
    :param functions_props: ``PatternFunction`` props of both functions; ``api_function_props`` and
        ``validator_props`` of each.
    :param api_props: ``SecureRestApi`` props; ``state_machine_props``: ``sfn.StateMachine`` props.
    :param code_dir: the folder of ``api.py``, ``flags.py`` and ``validator.py``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        flags: Mapping[str, Any] | None = None,
        tiers: Sequence[str] = TIERS,
        flags_max_age: Duration | None = None,
        rollout: appconfig.RolloutStrategy | None = None,
        throttling_rate_limit: float | None = None,
        throttling_burst_limit: int | None = None,
        functions_props: Props | None = None,
        api_function_props: Props | None = None,
        validator_props: Props | None = None,
        api_props: Props | None = None,
        state_machine_props: Props | None = None,
        include_execution_data: bool | None = None,
        code_dir: CodeLocation = "feature_flags",
    ) -> None:
        super().__init__(scope, construct_id)
        flags_max_age = flags_max_age or Duration.seconds(60)
        if not 1 <= flags_max_age.to_seconds() <= MAX_FLAGS_AGE.to_seconds():
            raise ValueError(f"{construct_id}: flags_max_age must be from 1 s to 5 minutes")
        bad_tiers = [t for t in tiers if not t or "," in t]
        if not tiers or bad_tiers:
            raise ValueError(
                f"{construct_id}: tiers must be non-empty names without commas; got {list(tiers)}"
            )
        self.flags_max_age = flags_max_age
        known_tiers = ",".join(tiers)

        self.application = appconfig.Application(
            self, "Application", description="Feature flags of the feature_flags pattern"
        )
        self.environment = appconfig.Environment(
            self, "Environment", application=self.application, description="Where the flags are deployed"
        )
        self.deployment_strategy = appconfig.DeploymentStrategy(
            self,
            "Rollout",
            rollout_strategy=rollout or ROLLOUT,
            description="Half of the sessions after one minute, all after two, then five minutes of bake",
        )
        self.validator = PatternFunction(
            self,
            "Validator",
            **pattern_function_props(
                self,
                "validator_props",
                {
                    "code_dir": code_dir,
                    "handler": "validator.handler",
                    "service": "feature_flags_validator",
                    "description": "AppConfig validator of the flag profile: known tiers, whole percentages",
                    "environment": {"KNOWN_TIERS": known_tiers},
                },
                validator_props,
                functions_props=functions_props,
            ),
        )
        acknowledge(
            self.validator, "Serverless-LambdaDLQ", "Invoked synchronously by AppConfig at StartDeployment."
        )
        self.configuration = appconfig.HostedConfiguration(
            self,
            "Flags",
            application=self.application,
            type=appconfig.ConfigurationType.FEATURE_FLAGS,
            content=appconfig.ConfigurationContent.from_inline_json(
                json.dumps(flags or INITIAL_FLAGS), "application/json"
            ),
            validators=[appconfig.LambdaValidator.from_function(self.validator)],
            deployment_strategy=self.deployment_strategy,
            deploy_to=[self.environment],
            description="Feature flags; deploy a new version to change behaviour",
        )
        self.profile_arn = Stack.of(self).format_arn(
            service="appconfig",
            resource="application",
            resource_name=(
                f"{self.application.application_id}/environment/{self.environment.environment_id}"
                f"/configuration/{self.configuration.configuration_profile_id}"
            ),
        )

        self.function = PatternFunction(
            self,
            "Checkout",
            **pattern_function_props(
                self,
                "api_function_props",
                {
                    "code_dir": code_dir,
                    "handler": "api.handler",
                    "service": "feature_flags",
                    "description": "GET /checkout: which checkout a caller gets, from AppConfig feature flags",
                    "environment": {
                        "APPCONFIG_APPLICATION": self.application.application_id,
                        "APPCONFIG_ENVIRONMENT": self.environment.environment_id,
                        "APPCONFIG_PROFILE": self.configuration.configuration_profile_id,
                        "FLAGS_MAX_AGE_SECONDS": f"{flags_max_age.to_seconds():g}",
                        "KNOWN_TIERS": known_tiers,
                    },
                },
                api_function_props,
                functions_props=functions_props,
            ),
        )
        self.grant_read(self.function)
        acknowledge(self.function, "Serverless-LambdaDLQ", SYNC_INVOKED)

        self.api = SecureRestApi(
            self,
            "Api",
            **rest_api_props(
                self,
                api_props,
                description="Feature flags: GET /checkout?user=&tier= answered from AppConfig flags",
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
            ),
        )
        method = self.api.root.add_resource("checkout").add_method(
            "GET", apigw.LambdaIntegration(self.function)
        )
        acknowledge_public_read(method)

        self.log_group = logs.LogGroup(
            self, "FulfilmentLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        self.state_machine = secure_state_machine(
            self,
            "Fulfilment",
            log_group=self.log_group,
            include_execution_data=include_execution_data,
            **merge_props(
                self,
                "state_machine_props",
                {
                    "definition_body": sfn.DefinitionBody.from_chainable(self._fulfilment()),
                    "timeout": Duration.minutes(1),
                    "comment": "Ships an order express or standard, as the express_shipping flag says",
                },
                state_machine_props,
                fixed=("definition_body",),
            ),
        )
        acknowledge(
            self.state_machine.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5",
            "Step Functions' log delivery (logs:CreateLogDelivery and its kin) and X-Ray take no resource-level "
            "permissions, so CDK grants them on '*'; the AppConfig grant names the one profile.",
            applies_to="Resource::*",
        )

    def _fulfilment(self) -> sfn.IChainable:
        """Start a configuration session, read the flags, choose on ``express_shipping``."""
        retry = {"errors": ["AppConfigData.ThrottlingException", "AppConfigData.InternalServerException"]}
        start = tasks.CallAwsService(
            self,
            "StartFlagsSession",
            service="appconfigdata",
            action="startConfigurationSession",
            iam_action="appconfig:StartConfigurationSession",
            iam_resources=[self.profile_arn],
            parameters={
                "ApplicationIdentifier": self.application.application_id,
                "EnvironmentIdentifier": self.environment.environment_id,
                "ConfigurationProfileIdentifier": self.configuration.configuration_profile_id,
            },
            result_selector={"token.$": "$.InitialConfigurationToken"},
            result_path="$.session",
        ).add_retry(**retry, max_attempts=3)
        read = tasks.CallAwsService(
            self,
            "ReadFlags",
            service="appconfigdata",
            action="getLatestConfiguration",
            iam_action="appconfig:GetLatestConfiguration",
            iam_resources=[self.profile_arn],
            parameters={"ConfigurationToken.$": "$.session.token"},
            result_selector={"flags.$": "States.StringToJson($.Configuration)"},
            result_path="$.config",
        ).add_retry(**retry, max_attempts=3)
        express = sfn.Pass(
            self,
            "ShipExpress",
            parameters={"order_id.$": "$.order_id", "shipping": "express"},
        )
        standard = sfn.Pass(
            self,
            "ShipStandard",
            parameters={"order_id.$": "$.order_id", "shipping": "standard"},
        )
        # A version without the flag (or with a non-boolean) ships standard: a Choice on a missing
        # path would fail every order with States.Runtime.
        enabled = "$.config.flags.express_shipping.enabled"
        choice = (
            sfn.Choice(self, "ExpressShipping?")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present(enabled),
                    sfn.Condition.is_boolean(enabled),
                    sfn.Condition.boolean_equals(enabled, True),
                ),
                express,
            )
            .otherwise(standard)
        )
        return start.next(read).next(choice)

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read this profile, in this environment, and nothing else of AppConfig."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(READ_ACTIONS), resource_arns=[self.profile_arn]
        )

    def outputs(self) -> dict[str, Any]:
        return {
            "ApiUrl": self.api.url_for_path("/checkout"),
            "ApplicationId": self.application.application_id,
            "EnvironmentId": self.environment.environment_id,
            "ConfigurationProfileId": self.configuration.configuration_profile_id,
            "DeploymentStrategyId": self.deployment_strategy.deployment_strategy_id,
            "StateMachineArn": self.state_machine.state_machine_arn,
        }
