"""Feature flags, as deployed: behaviour changes by deploying a configuration version through the
AppConfig API (CreateHostedConfigurationVersion, StartDeployment), never the stack. The stack's
strategy serves the new version to half of the sessions after one minute and to all after two,
then bakes five minutes; the checkout function sees it once its 60 s cache of the flags expires,
the fulfilment state machine (a new session per execution) at once. A version the Lambda validator
refuses is never deployed, and a kill switch deployed all at once shows the function's cache age.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from botocore.exceptions import ClientError

from patterns.feature_flags import INITIAL_FLAGS
from scenarios import Show

MAX_AGE = 60
USERS = [f"user-{n}" for n in range(20)]
EXECUTIONS = 10


def flags(new_checkout: dict[str, Any], express: bool) -> dict[str, Any]:
    return {
        **INITIAL_FLAGS,
        "values": {"new_checkout": new_checkout, "express_shipping": {"enabled": express}},
    }


def run(show: Show) -> None:
    cloud = show.cloud
    api, sfn, control = cloud.api(), cloud.client("stepfunctions"), cloud.client("appconfig")
    ids = {
        "ApplicationId": cloud.outputs["ApplicationId"],
        "EnvironmentId": cloud.outputs["EnvironmentId"],
        "ConfigurationProfileId": cloud.outputs["ConfigurationProfileId"],
    }

    def checkout(user: str, tier: str) -> str:
        return api.get(f"/checkout?user={user}&tier={tier}").json()["checkout"]

    def shipping(count: int = 1) -> list[str]:
        arns = [
            sfn.start_execution(
                stateMachineArn=cloud.outputs["StateMachineArn"], input=json.dumps({"order_id": f"o-{n}"})
            )["executionArn"]
            for n in range(count)
        ]
        cloud.advance(0)  # run the executions now: drain would also move time through the rollout
        return [json.loads(sfn.describe_execution(executionArn=arn)["output"])["shipping"] for arn in arns]

    def deploy(content: dict[str, Any], strategy: str | None = None) -> dict[str, Any]:
        version = control.create_hosted_configuration_version(
            ApplicationId=ids["ApplicationId"],
            ConfigurationProfileId=ids["ConfigurationProfileId"],
            Content=json.dumps(content).encode(),
            ContentType="application/json",
        )["VersionNumber"]
        return control.start_deployment(
            **ids,
            DeploymentStrategyId=strategy or cloud.outputs["DeploymentStrategyId"],
            ConfigurationVersion=str(version),
        )

    def state(number: int) -> tuple[str, float]:
        found = control.get_deployment(
            ApplicationId=ids["ApplicationId"], EnvironmentId=ids["EnvironmentId"], DeploymentNumber=number
        )
        return found["State"], found["PercentageComplete"]

    show.equal(
        "the template's flags: the new checkout for enterprise callers only",
        [checkout("ada", tier) for tier in ("enterprise", "pro", "free")],
        ["v2", "v1", "v1"],
    )
    bad = api.get("/checkout?user=ada&tier=gold")
    show.equal(
        "an unknown tier is a 400 naming the field", (bad.status, bad.json()["message"][:5]), (400, "tier:")
    )
    show.equal("the state machine reads express_shipping (off): standard", shipping(), ["standard"])

    rollout = {"enabled": True, "tiers": ["pro", "enterprise"], "rollout_percent": 25}
    started = deploy(flags(rollout, express=True))
    number = started["DeploymentNumber"]
    show.equal("StartDeployment of version 2: deploying, 0%", state(number), ("DEPLOYING", 0))
    cloud.advance(59)
    show.equal(
        "before the first step (59 s): the old flags everywhere",
        (checkout("ada", "pro"), shipping()),
        ("v1", ["standard"]),
    )
    cloud.advance(1)
    half = shipping(EXECUTIONS)
    show.equal("after one minute: 50% of the sessions", state(number), ("DEPLOYING", 50))
    show.that(
        "each execution is a new session: some already ship express, some not yet",
        0 < half.count("express") < EXECUTIONS,
        half,
    )
    cloud.advance(60 + MAX_AGE)
    show.equal("after two minutes all sessions have it, and bake begins", state(number), ("BAKING", 100))
    show.equal("a pro caller now gets the new checkout", checkout("ada", "pro"), "v2")
    show.equal(
        "free callers: exactly the 25% rollout, by each user's stable bucket",
        [user for user in USERS if checkout(user, "free") == "v2"],
        [user for user in USERS if zlib.crc32(user.encode()) % 100 < 25],
    )
    show.equal("and every execution ships express", shipping(3), ["express"] * 3)
    try:
        deploy(flags(rollout, express=False))
        conflict = ""
    except ClientError as error:
        conflict = error.response["Error"]["Code"]
    show.equal("while it bakes, another deployment is refused", conflict, "ConflictException")
    cloud.advance(300)
    show.equal("after five minutes of bake: complete", state(number), ("COMPLETE", 100))

    try:
        deploy(flags({"enabled": True, "tiers": ["gold"], "rollout_percent": 0}, express=True))
        refused = {}
    except ClientError as error:
        refused = error.response
    show.equal(
        "a version naming an unknown tier is refused by the Lambda validator at StartDeployment",
        (refused.get("Error", {}).get("Code"), refused.get("Reason")),
        ("BadRequestException", "InvalidConfiguration"),
    )
    try:
        deploy(flags({"enabled": True, "tiers": [], "rollout_percent": 150}, express=True))
        schema = ""
    except ClientError as error:
        schema = error.response["Error"]["Message"]
    show.that(
        "a percentage above 100 is refused by AppConfig's flag schema", "above the maximum" in schema, schema
    )
    show.equal("the deployed version stays live", checkout("ada", "pro"), "v2")

    cloud.advance(MAX_AGE + 1)
    checkout("ada", "pro")  # the function fetches the flags now, and keeps them 60 s
    kill = deploy(
        flags({"enabled": False, "tiers": [], "rollout_percent": 0}, express=True), "AppConfig.AllAtOnce"
    )
    show.equal(
        "a kill switch deployed all at once is served at once", state(kill["DeploymentNumber"])[1], 100
    )
    show.equal("the state machine, a new session, sees it at once", shipping(), ["express"])
    cloud.advance(MAX_AGE)
    show.equal("the function keeps its cached flags for their 60 s max age", checkout("ada", "pro"), "v2")
    cloud.advance(1)
    show.equal("then reads the kill switch: the old checkout", checkout("ada", "pro"), "v1")
