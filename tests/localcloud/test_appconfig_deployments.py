"""AppConfig deployments through the SDK, as AWS runs them: ``StartDeployment`` grows the new
version over the strategy's steps on the virtual clock, a session at a time and sticky, then bakes;
the deployment's state and percentage are read back with ``GetDeployment``; a second deployment
meanwhile is a conflict; feature flags are checked when a version is created; a Lambda validator
gets a flag profile's stored form and its refusal leaves the live version served; and a
feature-flag profile takes no JSON Schema validator.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START
from localcloud.errors import InvalidRequest
from localcloud.services.appconfig.service import PREDEFINED_STRATEGIES, DeploymentStrategy, growth_steps
from tests.localcloud.test_appconfig import NATIVE_FLAGS, build_flags

pytestmark = pytest.mark.localcloud
SESSIONS = 40


@pytest.fixture(scope="module")
def cloud(synth):
    with LocalCloud(synth("AppConfigFlags", build_flags), start=FIXED_START) as started:
        yield started


def test_steps_follow_the_strategy_type():
    assert growth_steps(PREDEFINED_STRATEGIES["AppConfig.Linear20PercentEvery6Minutes"]) == [
        20,
        40,
        60,
        80,
        100,
    ]
    assert growth_steps(PREDEFINED_STRATEGIES["AppConfig.Canary10Percent20Minutes"]) == [10, 20, 40, 80, 100]
    assert growth_steps(DeploymentStrategy("s", "s", 10, 0, 30)) == [30, 60, 90, 100]
    assert growth_steps(PREDEFINED_STRATEGIES["AppConfig.AllAtOnce"]) == [100]


def sessions(cloud, count: int) -> list[str]:
    data = cloud.client("appconfigdata")
    return [
        data.start_configuration_session(
            ApplicationIdentifier="shop",
            EnvironmentIdentifier="prod",
            ConfigurationProfileIdentifier="native",
        )["InitialConfigurationToken"]
        for _ in range(count)
    ]


def poll(cloud, tokens: list[str]) -> list[str | None]:
    """Each session's banner text now (None: unchanged since its last poll); tokens move on."""
    data, seen = cloud.client("appconfigdata"), []
    for index, token in enumerate(tokens):
        answer = data.get_latest_configuration(ConfigurationToken=token)
        tokens[index] = answer["NextPollConfigurationToken"]
        body = answer["Configuration"].read()
        seen.append(json.loads(body)["banner"]["text"] if body else None)
    return seen


def test_a_deployment_grows_a_session_at_a_time_then_bakes(cloud):
    control = cloud.client("appconfig")
    app, env, profile = cloud.appconfig.resolve("shop", "prod", "native")
    [gradual] = [
        s for s in cloud.appconfig.strategies.values() if s.growth_factor == 50 and s.duration_minutes == 2
    ]
    tokens = sessions(cloud, SESSIONS)
    assert set(poll(cloud, tokens)) == {"winter sale"}
    spring = {**NATIVE_FLAGS, "values": {"banner": {"enabled": True, "text": "spring sale"}}}
    version = control.create_hosted_configuration_version(
        ApplicationId=app.id,
        ConfigurationProfileId=profile.id,
        Content=json.dumps(spring).encode(),
        ContentType="application/json",
    )["VersionNumber"]

    started = control.start_deployment(
        ApplicationId=app.id,
        EnvironmentId=env.id,
        DeploymentStrategyId=gradual.id,
        ConfigurationProfileId=profile.id,
        ConfigurationVersion=str(version),
    )
    number = started["DeploymentNumber"]

    def described():
        found = control.get_deployment(ApplicationId=app.id, EnvironmentId=env.id, DeploymentNumber=number)
        return found["State"], found["PercentageComplete"]

    assert (started["State"], started["PercentageComplete"], started["GrowthFactor"]) == ("DEPLOYING", 0, 50)
    cloud.advance(59)
    assert poll(cloud, tokens) == [None] * SESSIONS  # the first step comes one interval (60 s) in
    cloud.advance(1)
    assert described() == ("DEPLOYING", 50)
    half = poll(cloud, tokens)
    served = [i for i, text in enumerate(half) if text == "spring sale"]
    assert 0 < len(served) < SESSIONS and set(half) == {"spring sale", None}
    with pytest.raises(ClientError) as conflict:
        control.start_deployment(
            ApplicationId=app.id,
            EnvironmentId=env.id,
            DeploymentStrategyId="AppConfig.AllAtOnce",
            ConfigurationProfileId=profile.id,
            ConfigurationVersion=str(version),
        )
    assert conflict.value.response["Error"]["Code"] == "ConflictException"
    cloud.advance(30)
    assert all(text is None for text in poll(cloud, tokens)), "a served session keeps the new version"
    cloud.advance(30)
    assert described() == ("BAKING", 100)
    rest = poll(cloud, tokens)
    assert [i for i, text in enumerate(rest) if text == "spring sale"] == [
        i for i in range(SESSIONS) if i not in served
    ]
    cloud.advance(60)
    assert described() == ("COMPLETE", 100)


def test_a_lambda_validator_refuses_at_start_deployment_and_the_live_version_stays(cloud):
    control = cloud.client("appconfig")
    app, env, profile = cloud.appconfig.resolve("shop", "prod", "native")
    cloud.advance(600)  # past any deployment still baking
    live = cloud.appconfig.served("shop", "prod", "native")
    forbidden = {**NATIVE_FLAGS, "values": {"banner": {"enabled": True, "text": "forbidden"}}}
    version = control.create_hosted_configuration_version(
        ApplicationId=app.id,
        ConfigurationProfileId=profile.id,
        Content=json.dumps(forbidden).encode(),
        ContentType="application/json",
    )["VersionNumber"]

    with pytest.raises(ClientError) as refused:
        control.start_deployment(
            ApplicationId=app.id,
            EnvironmentId=env.id,
            DeploymentStrategyId="AppConfig.AllAtOnce",
            ConfigurationProfileId=profile.id,
            ConfigurationVersion=str(version),
        )

    error = refused.value.response
    assert (error["Error"]["Code"], error["Reason"]) == ("BadRequestException", "InvalidConfiguration")
    [detail] = error["Details"]["InvalidConfiguration"]
    assert detail["Type"] == "LAMBDA"
    assert "banner text 'forbidden' is not allowed" in detail["Reason"], "given the stored form, it decided"
    assert cloud.appconfig.served("shop", "prod", "native") is live
    assert poll(cloud, sessions(cloud, 1)) == [live_text(live)]


def live_text(deployment) -> str:
    return json.loads(deployment.version.content)["banner"]["text"]


def test_invalid_flags_are_refused_when_the_version_is_created(cloud):
    app, _, profile = cloud.appconfig.resolve("shop", "prod", "native")
    bad = {**NATIVE_FLAGS, "values": {"banner": {"enabled": "yes", "text": "x"}}}
    with pytest.raises(ClientError) as refused:
        cloud.client("appconfig").create_hosted_configuration_version(
            ApplicationId=app.id,
            ConfigurationProfileId=profile.id,
            Content=json.dumps(bad).encode(),
            ContentType="application/json",
        )
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    assert "enabled must be true or false" in refused.value.response["Error"]["Message"]


def test_an_unknown_deployment_is_not_found_and_a_flag_profile_takes_no_json_schema(cloud):
    app, env, _ = cloud.appconfig.resolve("shop", "prod", "native")
    with pytest.raises(ClientError) as missing:
        cloud.client("appconfig").get_deployment(
            ApplicationId=app.id, EnvironmentId=env.id, DeploymentNumber=99
        )
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(InvalidRequest, match="takes Lambda validators only"):
        cloud.appconfig.add_profile(
            app.id,
            {
                "Name": "typed",
                "LocationUri": "hosted",
                "Type": "AWS.AppConfig.FeatureFlags",
                "Validators": [{"Type": "JSON_SCHEMA", "Content": "{}"}],
            },
        )


def test_stop_deployment_rolls_back_a_rollout_and_reverts_only_when_allowed(cloud):
    control = cloud.client("appconfig")
    app, env, profile = cloud.appconfig.resolve("shop", "prod", "native")
    [gradual] = [
        s for s in cloud.appconfig.strategies.values() if s.growth_factor == 50 and s.duration_minutes == 2
    ]
    cloud.advance(600)
    before = live_text(cloud.appconfig.served("shop", "prod", "native"))

    def start(text: str) -> int:
        content = {**NATIVE_FLAGS, "values": {"banner": {"enabled": True, "text": text}}}
        version = control.create_hosted_configuration_version(
            ApplicationId=app.id,
            ConfigurationProfileId=profile.id,
            Content=json.dumps(content).encode(),
            ContentType="application/json",
        )["VersionNumber"]
        return control.start_deployment(
            ApplicationId=app.id,
            EnvironmentId=env.id,
            DeploymentStrategyId=gradual.id,
            ConfigurationProfileId=profile.id,
            ConfigurationVersion=str(version),
        )["DeploymentNumber"]

    def stop(number: int, **allow) -> dict:
        return control.stop_deployment(
            ApplicationId=app.id, EnvironmentId=env.id, DeploymentNumber=number, **allow
        )

    tokens = sessions(cloud, SESSIONS)
    poll(cloud, tokens)
    rolled = start("summer sale")
    cloud.advance(60)
    got = poll(cloud, tokens)
    assert "summer sale" in got
    stopped = stop(rolled)
    assert (stopped["State"], stopped["PercentageComplete"]) == ("ROLLED_BACK", 50)
    back = poll(cloud, tokens)
    assert [back[i] for i, text in enumerate(got) if text == "summer sale"] == [before] * got.count(
        "summer sale"
    )
    cloud.advance(120)
    assert poll(cloud, tokens) == [None] * SESSIONS, "a rolled-back version is never served again"
    later = control.get_deployment(ApplicationId=app.id, EnvironmentId=env.id, DeploymentNumber=rolled)
    assert (later["State"], later["PercentageComplete"]) == ("ROLLED_BACK", 50), "its growth stopped with it"

    baking = start("autumn sale")
    cloud.advance(120)
    assert set(poll(cloud, tokens)) == {"autumn sale"}
    with pytest.raises(ClientError) as refused:
        stop(baking)
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    cloud.advance(300)
    assert stop(baking, AllowRevert=True)["State"] == "REVERTED"
    assert set(poll(cloud, tokens)) == {before}


def test_start_deployment_takes_a_strategys_id_not_its_name(cloud):
    """DeploymentStrategyId is an id (``[a-z0-9]{4,7}``) or a predefined ``AppConfig.*`` one, as the
    API's pattern says; AWS refuses a custom strategy's name where the test API takes either."""
    app, env, profile = cloud.appconfig.resolve("shop", "prod", "native")
    [gradual] = [
        s for s in cloud.appconfig.strategies.values() if s.growth_factor == 50 and s.duration_minutes == 2
    ]
    with pytest.raises(ClientError) as refused:
        cloud.client("appconfig").start_deployment(
            ApplicationId=app.id,
            EnvironmentId=env.id,
            DeploymentStrategyId=gradual.name,
            ConfigurationProfileId=profile.id,
            ConfigurationVersion="1",
        )
    error = refused.value.response["Error"]
    assert error["Code"] == "BadRequestException"
    assert (
        f"Value '{gradual.name}' at 'deploymentStrategyId' failed to satisfy constraint" in error["Message"]
    )
