"""Feature flags offline, as deployed (the catalog's "must show" is played by scenarios/feature_flags.py
in tests/e2e/test_scenarios.py): bad input is a 400 naming the field; a version the Lambda validator
refuses is never deployed, so both readers keep the live flags; and each reader may read this
profile only, in this environment.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from patterns.feature_flags import INITIAL_FLAGS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    with LocalCloud(load_stack(cloud_assembly.directory, "FeatureFlagsStack"), start=FIXED_START) as started:
        yield started


def ids(cloud) -> dict[str, str]:
    return {
        "ApplicationId": cloud.outputs["ApplicationId"],
        "EnvironmentId": cloud.outputs["EnvironmentId"],
        "ConfigurationProfileId": cloud.outputs["ConfigurationProfileId"],
    }


def shipping(cloud) -> str:
    sfn = cloud.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=cloud.outputs["StateMachineArn"], input='{"order_id": "o-1"}')[
        "executionArn"
    ]
    cloud.advance(0)
    return json.loads(sfn.describe_execution(executionArn=arn)["output"])["shipping"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("user=&tier=pro", "user"),
        ("user=a%20b&tier=pro", "user"),
        ("user=ada&tier=", "tier"),
        ("user=ada&tier=gold", "tier"),
        ("user=ada&tier=PRO", "tier"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(cloud, query, field):
    answer = cloud.api().get(f"/checkout?{query}")

    assert answer.status == 400
    assert answer.json()["message"].startswith(f"{field}:")


@pytest.mark.parametrize(
    ("new_checkout", "problem"),
    [
        (
            {"enabled": True, "tiers": ["enterprise", "gold"], "rollout_percent": 0},
            "new_checkout.tiers: gold",
        ),
        ({"enabled": True, "tiers": [], "rollout_percent": 12.5}, "12.5 is not a whole number"),
        ({"enabled": True, "tiers": [], "rollout_percent": 0}, "reaches nobody"),
    ],
)
def test_a_version_the_validator_refuses_is_never_deployed(cloud, new_checkout, problem):
    control = cloud.client("appconfig")
    live = cloud.appconfig.served(*ids(cloud).values())
    content = {
        **INITIAL_FLAGS,
        "values": {"new_checkout": new_checkout, "express_shipping": {"enabled": True}},
    }
    version = control.create_hosted_configuration_version(
        ApplicationId=cloud.outputs["ApplicationId"],
        ConfigurationProfileId=cloud.outputs["ConfigurationProfileId"],
        Content=json.dumps(content).encode(),
        ContentType="application/json",
    )["VersionNumber"]

    with pytest.raises(ClientError) as refused:
        control.start_deployment(
            **ids(cloud), DeploymentStrategyId="AppConfig.AllAtOnce", ConfigurationVersion=str(version)
        )

    error = refused.value.response
    assert (error["Error"]["Code"], error["Reason"]) == ("BadRequestException", "InvalidConfiguration")
    [detail] = error["Details"]["InvalidConfiguration"]
    assert detail["Type"] == "LAMBDA" and problem in detail["Reason"]
    assert cloud.appconfig.served(*ids(cloud).values()) is live
    cloud.advance(61)
    assert cloud.api().get("/checkout?user=ada&tier=enterprise").json()["checkout"] == "v2"
    assert cloud.api().get("/checkout?user=ada&tier=pro").json()["checkout"] == "v1"
    assert shipping(cloud) == "standard"


def test_each_reader_may_read_this_profile_only(cloud):
    app, env, _ = cloud.appconfig.resolve(*ids(cloud).values())
    other = cloud.appconfig.add_profile(app.id, {"Name": "other", "LocationUri": "hosted"})
    cloud.appconfig.deploy(app.id, env.id, other.id, {"secret": True}, strategy="AppConfig.AllAtOnce")
    roles = {
        "function": cloud.function("Pattern/Checkout").role_arn,
        "state machine": cloud.client("stepfunctions").describe_state_machine(
            stateMachineArn=cloud.outputs["StateMachineArn"]
        )["roleArn"],
    }
    for reader, role in roles.items():
        data = cloud.client_as(role, "appconfigdata", reader.replace(" ", "-"))
        own = data.start_configuration_session(
            ApplicationIdentifier=app.id,
            EnvironmentIdentifier=env.id,
            ConfigurationProfileIdentifier=ids(cloud)["ConfigurationProfileId"],
        )
        assert own["InitialConfigurationToken"], reader
        with pytest.raises(ClientError) as denied:
            data.start_configuration_session(
                ApplicationIdentifier=app.id,
                EnvironmentIdentifier=env.id,
                ConfigurationProfileIdentifier=other.id,
            )
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException", reader


def test_a_version_without_the_shipping_flag_ships_standard_not_a_failed_order(cloud):
    """A flag absent from the served version is off: the Choice must not fail every order on a
    missing path (Step Functions' States.Runtime), it must take the safe default."""
    content = {**INITIAL_FLAGS, "values": {"new_checkout": INITIAL_FLAGS["values"]["new_checkout"]}}
    content["flags"] = {"new_checkout": INITIAL_FLAGS["flags"]["new_checkout"]}
    app, env, profile = cloud.appconfig.resolve(*ids(cloud).values())
    cloud.advance(15 * 60)  # past the bake of any earlier test's deployment to this environment
    cloud.appconfig.deploy(app.id, env.id, profile.id, content, strategy="AppConfig.AllAtOnce")
    cloud.advance(1)

    assert shipping(cloud) == "standard"
