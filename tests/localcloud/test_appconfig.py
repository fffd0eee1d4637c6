"""AppConfig on a purpose-built stack: Powertools' feature flags read the template's deployment,
a new version deployed during the test changes the function's behaviour once its cache expires on
the virtual clock, the data plane's token chain and errors follow AWS, and IAM is checked.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_appconfig as appconfig

from localcloud import LocalCloudError
from localcloud.errors import InvalidRequest, ResourceNotFound
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud

MAX_AGE = 30
POWERTOOLS_FLAGS = {
    "premium": {
        "default": False,
        "rules": {
            "gold customers": {
                "when_match": True,
                "conditions": [{"action": "EQUALS", "key": "tier", "value": "gold"}],
            }
        },
    }
}
NATIVE_FLAGS = {
    "version": "1",
    "flags": {
        "banner": {
            "name": "Banner",
            "attributes": {"text": {"constraints": {"type": "string", "required": True}}},
        }
    },
    "values": {"banner": {"enabled": False, "text": "winter sale"}},
}


def build_flags(stack: Stack) -> None:
    app = appconfig.Application(stack, "Shop", application_name="shop")
    env = appconfig.Environment(stack, "Prod", application=app, environment_name="prod")
    immediate = appconfig.DeploymentStrategy(
        stack,
        "Immediate",
        rollout_strategy=appconfig.RolloutStrategy.linear(
            growth_factor=100, deployment_duration=Duration.minutes(0), final_bake_time=Duration.minutes(0)
        ),
    )
    gradual = appconfig.DeploymentStrategy(
        stack,
        "Gradual",
        rollout_strategy=appconfig.RolloutStrategy.linear(
            growth_factor=50, deployment_duration=Duration.minutes(2), final_bake_time=Duration.minutes(1)
        ),
    )
    appconfig.HostedConfiguration(
        stack,
        "Flags",
        application=app,
        name="flags",
        content=appconfig.ConfigurationContent.from_inline_json(json.dumps(POWERTOOLS_FLAGS)),
        deploy_to=[env],
        deployment_strategy=immediate,
    )
    appconfig.HostedConfiguration(
        stack,
        "Native",
        application=app,
        name="native",
        type=appconfig.ConfigurationType.FEATURE_FLAGS,
        content=appconfig.ConfigurationContent.from_inline_json(json.dumps(NATIVE_FLAGS)),
        deploy_to=[env],
        deployment_strategy=gradual,
        validators=[
            appconfig.LambdaValidator.from_function(
                python_function(stack, "FlagsValidator", "appconfig_flags_validator")
            )
        ],
    )
    environment = {
        "APPLICATION": "shop",
        "ENVIRONMENT": "prod",
        "FLAGS_PROFILE": "flags",
        "NATIVE_PROFILE": "native",
        "MAX_AGE": str(MAX_AGE),
    }
    reader = python_function(stack, "Reader", "appconfig_flags", environment=environment)
    env.grant_read_config(reader)
    python_function(stack, "Stranger", "appconfig_flags", environment=environment)
    CfnOutput(stack, "ApplicationId", value=app.application_id)
    CfnOutput(stack, "EnvironmentId", value=env.environment_id)


@pytest.fixture
def cloud(synth, run):
    return run(synth("AppConfigFlags", build_flags))


def premium(cloud, tier: str) -> bool:
    response = cloud.invoke("Reader", {"tier": tier})
    assert "FunctionError" not in response, response["Payload"]
    return response["Payload"]["premium"]


def profile_id(cloud, name: str) -> str:
    return cloud.appconfig.resolve("shop", "prod", name)[2].id


def test_powertools_feature_flags_read_the_version_the_template_deployed(cloud):
    assert premium(cloud, "gold") is True
    assert premium(cloud, "free") is False
    assert cloud.appconfig.served("shop", "prod", "flags").state == "COMPLETE"


def test_a_deployed_version_changes_behaviour_once_the_handlers_cache_expires(cloud):
    assert premium(cloud, "free") is False

    deployment = cloud.appconfig.deploy("shop", "prod", "flags", {"premium": {"default": True}})

    assert deployment.state == "BAKING"  # the template's strategy: 0 minutes, served at once
    cloud.advance(MAX_AGE)
    assert premium(cloud, "free") is False  # Powertools keeps the old flags for MAX_AGE seconds, inclusive
    cloud.advance(1)
    assert premium(cloud, "free") is True
    assert deployment.state == "COMPLETE"
    assert cloud.trace.find(kind="deploy", target="appconfig:shop/prod/flags")


def test_a_gradual_deployment_is_served_when_its_duration_ends(cloud):
    assert cloud.invoke("Reader", {"native": True})["Payload"]["native"] == {
        "banner": {"enabled": False, "text": "winter sale"}
    }
    enabled = {**NATIVE_FLAGS, "values": {"banner": {"enabled": True, "text": "spring sale"}}}

    deployment = cloud.appconfig.deploy("shop", "prod", "native", enabled)  # the template's 2-minute strategy

    cloud.advance(MAX_AGE + 1)
    assert cloud.invoke("Reader", {"native": True})["Payload"]["native"]["banner"]["enabled"] is False
    with pytest.raises(InvalidRequest, match="ConflictException: deployment #3 is still DEPLOYING"):
        cloud.appconfig.deploy("shop", "prod", "flags", {"premium": {"default": True}})
    cloud.advance(120)
    assert deployment.state == "BAKING"
    assert cloud.invoke("Reader", {"native": True})["Payload"]["native"] == {
        "banner": {"enabled": True, "text": "spring sale"}
    }
    cloud.advance(60)
    assert deployment.state == "COMPLETE"


def test_feature_flag_content_is_checked_as_appconfig_checks_it(cloud):
    missing_text = {**NATIVE_FLAGS, "values": {"banner": {"enabled": True}}}
    with pytest.raises(InvalidRequest, match="required attribute 'text' has no value"):
        cloud.appconfig.deploy("shop", "prod", "native", missing_text)
    with pytest.raises(InvalidRequest, match="'color', which is not defined in flags"):
        cloud.appconfig.deploy(
            "shop", "prod", "native", {**NATIVE_FLAGS, "values": {"color": {"enabled": True}}}
        )
    with pytest.raises(ResourceNotFound, match="no configuration profile 'missing'"):
        cloud.appconfig.deploy("shop", "prod", "missing", {})


def test_each_token_is_good_for_one_poll_and_an_unchanged_version_comes_back_empty(cloud):
    data = cloud.client("appconfigdata")
    token = data.start_configuration_session(
        ApplicationIdentifier=cloud.outputs["ApplicationId"],
        EnvironmentIdentifier=cloud.outputs["EnvironmentId"],
        ConfigurationProfileIdentifier=profile_id(cloud, "native"),
    )["InitialConfigurationToken"]

    first = data.get_latest_configuration(ConfigurationToken=token)
    second = data.get_latest_configuration(ConfigurationToken=first["NextPollConfigurationToken"])

    assert json.loads(first["Configuration"].read()) == {"banner": {"enabled": False, "text": "winter sale"}}
    assert first["ContentType"] == "application/json"
    assert first["NextPollIntervalInSeconds"] == 60
    assert second["Configuration"].read() == b""
    with pytest.raises(data.exceptions.BadRequestException) as spent:
        data.get_latest_configuration(ConfigurationToken=token)
    assert spent.value.response["Details"]["InvalidParameters"]["ConfigurationToken"]["Problem"] == "Expired"
    with pytest.raises(data.exceptions.BadRequestException, match="Invalid ConfigurationToken"):
        data.get_latest_configuration(ConfigurationToken="AYADenot-a-token")


def test_a_session_may_not_poll_sooner_than_its_required_interval(cloud):
    data = cloud.client("appconfigdata")
    token = data.start_configuration_session(
        ApplicationIdentifier="shop",
        EnvironmentIdentifier="prod",
        ConfigurationProfileIdentifier="flags",
        RequiredMinimumPollIntervalInSeconds=15,
    )["InitialConfigurationToken"]
    first = data.get_latest_configuration(ConfigurationToken=token)
    assert json.loads(first["Configuration"].read()) == POWERTOOLS_FLAGS
    assert first["NextPollIntervalInSeconds"] == 15

    with pytest.raises(data.exceptions.BadRequestException) as early:
        data.get_latest_configuration(ConfigurationToken=first["NextPollConfigurationToken"])
    assert early.value.response["Details"]["InvalidParameters"]["ConfigurationToken"]["Problem"] == (
        "PollIntervalNotSatisfied"
    )
    cloud.advance(15)
    assert data.get_latest_configuration(ConfigurationToken=first["NextPollConfigurationToken"])


def test_an_unknown_profile_is_a_bad_request(cloud):
    data = cloud.client("appconfigdata")
    with pytest.raises(data.exceptions.BadRequestException) as error:
        data.start_configuration_session(
            ApplicationIdentifier="shop", EnvironmentIdentifier="prod", ConfigurationProfileIdentifier="nope"
        )
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "application shop has no configuration profile 'nope'" in error.value.response["Error"]["Message"]
    with pytest.raises(data.exceptions.BadRequestException, match="no environment 'staging'"):
        data.start_configuration_session(
            ApplicationIdentifier="shop",
            EnvironmentIdentifier="staging",
            ConfigurationProfileIdentifier="flags",
        )


def test_a_role_without_the_grant_is_denied(cloud):
    response = cloud.invoke("Stranger", {"tier": "gold"})

    assert response["FunctionError"] == "Unhandled"
    message = response["Payload"]["errorMessage"]
    arn = (
        f"arn:aws:appconfig:us-east-1:{cloud.account}:application/{cloud.outputs['ApplicationId']}"
        f"/environment/{cloud.outputs['EnvironmentId']}/configuration/{profile_id(cloud, 'flags')}"
    )
    assert "AccessDeniedException" in message
    assert f"is not authorized to perform: appconfig:StartConfigurationSession on resource: {arn}" in message
    assert cloud.trace.find(kind="denied", outcome="AccessDenied")


def test_a_profile_is_not_found_until_deployed_and_its_validators_gate_deployments(synth, run):
    def build(stack: Stack) -> None:
        app = appconfig.Application(stack, "Limits", application_name="limits")
        appconfig.Environment(stack, "Dev", application=app, environment_name="dev")
        schema = {"type": "object", "properties": {"limit": {"type": "integer"}}, "required": ["limit"]}
        appconfig.CfnConfigurationProfile(
            stack,
            "Quota",
            application_id=app.application_id,
            name="quota",
            location_uri="hosted",
            validators=[
                appconfig.CfnConfigurationProfile.ValidatorsProperty(
                    type="JSON_SCHEMA", content=json.dumps(schema)
                ),
                appconfig.CfnConfigurationProfile.ValidatorsProperty(
                    type="LAMBDA",
                    content=python_function(stack, "Validator", "appconfig_validator").function_arn,
                ),
            ],
        )

    cloud = run(synth("AppConfigValidated", build))
    data = cloud.client("appconfigdata")
    token = data.start_configuration_session(
        ApplicationIdentifier="limits", EnvironmentIdentifier="dev", ConfigurationProfileIdentifier="quota"
    )["InitialConfigurationToken"]
    with pytest.raises(
        data.exceptions.ResourceNotFoundException, match="No deployment of configuration profile"
    ):
        data.get_latest_configuration(ConfigurationToken=token)
    with pytest.raises(
        InvalidRequest, match="fails its JSON schema validator: 'ten' is not of type 'integer'"
    ):
        cloud.appconfig.deploy("limits", "dev", "quota", {"limit": "ten"})
    with pytest.raises(LocalCloudError, match="no deployment strategy 'Sideways'"):
        cloud.appconfig.deploy("limits", "dev", "quota", {"limit": 10}, strategy="Sideways")

    with pytest.raises(InvalidRequest, match=r"failed its Lambda validator .*: limit 500 is above 100"):
        cloud.appconfig.deploy("limits", "dev", "quota", {"limit": 500})

    cloud.appconfig.deploy("limits", "dev", "quota", b'{"limit": 10}', strategy="AppConfig.AllAtOnce")

    served = data.get_latest_configuration(ConfigurationToken=token)
    assert json.loads(served["Configuration"].read()) == {"limit": 10}
