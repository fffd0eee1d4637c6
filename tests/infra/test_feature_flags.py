"""What makes the feature-flag pattern: a hosted AWS.AppConfig.FeatureFlags profile with a Lambda
validator AppConfig may invoke, a gradual strategy with a bake time used by the template's
deployment, both readers granted the two data-plane actions on that one profile's ARN and nothing
else of AppConfig, and the state machine reading the flag through the SDK integration."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Template

from patterns.feature_flags import INITIAL_FLAGS, FeatureFlags
from tests.infra.conftest import properties_of, statements_of

pytestmark = pytest.mark.infra
STACK = "FeatureFlagsStack"


def only(raw, resource_type: str) -> tuple[str, dict]:
    [(logical_id, props)] = properties_of(raw, resource_type).items()
    return logical_id, props


def function_id(raw, handler: str) -> str:
    [found] = [k for k, v in properties_of(raw, "AWS::Lambda::Function").items() if v["Handler"] == handler]
    return found


def profile_arn(raw) -> dict:
    app, env, profile = (
        only(raw, t)[0]
        for t in (
            "AWS::AppConfig::Application",
            "AWS::AppConfig::Environment",
            "AWS::AppConfig::ConfigurationProfile",
        )
    )
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":appconfig:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":application/",
                {"Ref": app},
                "/environment/",
                {"Ref": env},
                "/configuration/",
                {"Ref": profile},
            ],
        ]
    }


def test_a_hosted_flag_profile_validated_by_a_lambda_appconfig_may_invoke(templates):
    raw = templates[STACK]
    _, profile = only(raw, "AWS::AppConfig::ConfigurationProfile")
    validator = function_id(raw, "validator.handler")
    assert (profile["Type"], profile["LocationUri"]) == ("AWS.AppConfig.FeatureFlags", "hosted")
    assert profile["Validators"] == [{"Type": "LAMBDA", "Content": {"Fn::GetAtt": [validator, "Arn"]}}]
    permissions = [
        p
        for p in properties_of(raw, "AWS::Lambda::Permission").values()
        if p["Principal"] == "appconfig.amazonaws.com"
    ]
    assert [p["FunctionName"] for p in permissions] == [{"Fn::GetAtt": [validator, "Arn"]}]
    _, version = only(raw, "AWS::AppConfig::HostedConfigurationVersion")
    assert json.loads(version["Content"]) == INITIAL_FLAGS


def test_the_template_deploys_with_a_gradual_strategy_that_bakes(templates):
    raw = templates[STACK]
    strategy_id, strategy = only(raw, "AWS::AppConfig::DeploymentStrategy")
    assert {
        k: strategy[k]
        for k in ("GrowthType", "GrowthFactor", "DeploymentDurationInMinutes", "FinalBakeTimeInMinutes")
    } == {
        "GrowthType": "LINEAR",
        "GrowthFactor": 50,
        "DeploymentDurationInMinutes": 2,
        "FinalBakeTimeInMinutes": 5,
    }
    _, deployment = only(raw, "AWS::AppConfig::Deployment")
    assert deployment["DeploymentStrategyId"] == {"Ref": strategy_id}


def test_both_readers_may_read_the_one_profile_and_nothing_else_of_appconfig(templates):
    raw = templates[STACK]
    appconfig = [s for s in statements_of(raw) if any(a.startswith("appconfig:") for a in s["Action"])]
    expected = {
        "Action": ["appconfig:GetLatestConfiguration", "appconfig:StartConfigurationSession"],
        "Effect": "Allow",
        "Resource": profile_arn(raw),
    }
    assert appconfig == [expected, expected]
    checkout_role = properties_of(raw, "AWS::Lambda::Function")[function_id(raw, "api.handler")]["Role"][
        "Fn::GetAtt"
    ][0]
    assert expected in statements_of(raw, checkout_role)
    validator_role = properties_of(raw, "AWS::Lambda::Function")[function_id(raw, "validator.handler")][
        "Role"
    ]["Fn::GetAtt"][0]
    assert expected not in statements_of(raw, validator_role), (
        "the validator is given the content; it reads nothing"
    )


def test_the_function_caches_the_flags_and_the_state_machine_reads_them_through_the_sdk(templates):
    raw = templates[STACK]
    env = properties_of(raw, "AWS::Lambda::Function")[function_id(raw, "api.handler")]["Environment"][
        "Variables"
    ]
    assert (env["FLAGS_MAX_AGE_SECONDS"], env["KNOWN_TIERS"]) == ("60", "free,pro,enterprise")
    _, machine = only(raw, "AWS::StepFunctions::StateMachine")
    text = "".join(
        part if isinstance(part, str) else "<ref>" for part in machine["DefinitionString"]["Fn::Join"][1]
    )
    assert ":states:::aws-sdk:appconfigdata:startConfigurationSession" in text
    assert ":states:::aws-sdk:appconfigdata:getLatestConfiguration" in text
    assert "States.StringToJson($.Configuration)" in text
    assert ":lambda:" not in text, "no function between the state machine and AppConfig"


def test_contradictory_settings_fail_at_synth_and_props_reach_the_resources():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Contract")
    with pytest.raises(ValueError, match="flags_max_age must be from 1 s to 5 minutes"):
        FeatureFlags(stack, "TooLong", flags_max_age=Duration.minutes(10))
    with pytest.raises(ValueError, match="tiers must be non-empty names without commas"):
        FeatureFlags(stack, "Commas", tiers=("a,b",))
    with pytest.raises(ValueError, match=r"api_function_props.*handler"):
        FeatureFlags(stack, "Handler", api_function_props={"handler": "other.handler"})
    flags = FeatureFlags(stack, "Mine", tiers=("basic", "plus"), flags_max_age=Duration.seconds(15))
    raw = Template.from_stack(stack).to_json()
    env = properties_of(raw, "AWS::Lambda::Function")[stack.get_logical_id(flags.function.node.default_child)]
    assert env["Environment"]["Variables"]["FLAGS_MAX_AGE_SECONDS"] == "15"
    assert env["Environment"]["Variables"]["KNOWN_TIERS"] == "basic,plus"
