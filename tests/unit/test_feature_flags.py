"""The feature_flags row's handlers: AppConfig's served flags as Powertools rules, the checkout
answer for each tier and rollout bucket (AppConfig Data stubbed: moto has no data plane), its
safe default when the flags cannot be read, and the Lambda validator's rules."""

from __future__ import annotations

import base64
import io
import json
import zlib

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from tests.events import api_event

pytestmark = pytest.mark.unit

ENV = {
    "APPCONFIG_APPLICATION": "app1",
    "APPCONFIG_ENVIRONMENT": "env1",
    "APPCONFIG_PROFILE": "prof1",
    "FLAGS_MAX_AGE_SECONDS": "60",
    "KNOWN_TIERS": "free,pro,enterprise",
    "AWS_DEFAULT_REGION": "us-east-1",
}
SERVED = {
    "new_checkout": {"enabled": True, "tiers": ["enterprise"], "rollout_percent": 25},
    "express_shipping": {"enabled": True},
    "dark_mode": {"enabled": False},
}


def test_served_flags_become_powertools_rules(load_handler):
    flags = load_handler("feature_flags", "flags", **ENV)

    rules = flags.as_rules(
        {
            **SERVED,
            "only_pro": {"enabled": True, "tiers": ["pro"]},
            "off": {"enabled": False, "tiers": ["pro"]},
        }
    )

    assert rules["express_shipping"] == {"default": True}
    assert rules["dark_mode"] == {"default": False}
    assert rules["off"] == {"default": False}
    assert rules["only_pro"]["rules"]["listed tiers"]["conditions"] == [
        {"action": "KEY_IN_VALUE", "key": "tier", "value": ["pro"]}
    ]
    assert rules["new_checkout"]["default"] is False
    assert rules["new_checkout"]["rules"]["25% of callers"]["conditions"][0]["value"] == {
        "BASE": 100,
        "START": 0,
        "END": 24,
    }


@pytest.fixture
def api(load_handler):
    module = load_handler("feature_flags", "api", **ENV)
    stub = Stubber(module.store._conf_store.client)
    stub.activate()
    yield module, stub
    stub.deactivate()


def serve(stub, content: dict | None, error: str | None = None) -> None:
    stub.add_response(
        "start_configuration_session",
        {"InitialConfigurationToken": "t0"},
        {
            "ApplicationIdentifier": "app1",
            "EnvironmentIdentifier": "env1",
            "ConfigurationProfileIdentifier": "prof1",
        },
    )
    if error:
        stub.add_client_error("get_latest_configuration", error, http_status_code=400)
        return
    body = json.dumps(content).encode()
    stub.add_response(
        "get_latest_configuration",
        {"NextPollConfigurationToken": "t1", "Configuration": StreamingBody(io.BytesIO(body), len(body))},
        {"ConfigurationToken": "t0"},
    )


def checkout(module, lambda_context, **query) -> tuple[int, dict]:
    answer = module.handler(api_event("GET", "/checkout", query=query), lambda_context)
    return answer["statusCode"], json.loads(answer["body"])


def test_the_answer_follows_the_tier_and_the_rollout_from_one_cached_fetch(api, lambda_context):
    module, stub = api
    serve(stub, SERVED)
    users = [f"u{n}" for n in range(12)]
    in_rollout = [u for u in users if zlib.crc32(u.encode()) % 100 < 25]

    assert checkout(module, lambda_context, user="ada", tier="enterprise") == (
        200,
        {
            "user": "ada",
            "tier": "enterprise",
            "checkout": "v2",
            "features": ["express_shipping", "new_checkout"],
            "flags": "appconfig",
        },
    )
    free = [u for u in users if checkout(module, lambda_context, user=u, tier="free")[1]["checkout"] == "v2"]

    assert free == in_rollout and 0 < len(free) < len(users)
    anonymous = checkout(module, lambda_context)[1]
    assert (anonymous["user"], anonymous["tier"], anonymous["checkout"]) == (None, "free", "v1")
    stub.assert_no_pending_responses()  # one session, one fetch: the rest came from the 60 s cache


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"user": "a b", "tier": "pro"}, "user:"),
        ({"user": "", "tier": "pro"}, "user:"),
        ({"user": "ada", "tier": "gold"}, "tier: one of"),
    ],
)
def test_bad_input_is_a_400_before_any_flag_is_read(api, lambda_context, query, message):
    module, stub = api
    status, body = checkout(module, lambda_context, **query)
    assert status == 400 and body["message"].startswith(message)
    stub.assert_no_pending_responses()


def test_unreadable_flags_mean_every_flag_off(api, lambda_context, emitted_metrics):
    module, stub = api
    serve(stub, None, error="BadRequestException")

    status, body = checkout(module, lambda_context, user="ada", tier="enterprise")

    assert (status, body["checkout"], body["features"], body["flags"]) == (200, "v1", [], "unavailable")
    assert emitted_metrics().get("FlagsUnavailable") == 1


def stored(values: dict) -> dict:
    return {
        "event": {
            "content": base64.b64encode(json.dumps({"version": "1", "values": values}).encode()).decode()
        }
    }


def test_the_validator_passes_a_sound_version_and_names_each_problem(load_handler, lambda_context):
    validator = load_handler("feature_flags", "validator", **ENV)
    sound = {
        "new_checkout": {"enabled": True, "tiers": ["pro"], "rollout_percent": 10},
        "x": {"enabled": False},
    }
    assert validator.handler(stored(sound)["event"], lambda_context) is None

    bad = {
        "a": {"enabled": True, "tiers": ["pro", "gold"], "rollout_percent": 0},
        "b": {"enabled": True, "tiers": [], "rollout_percent": 2.5},
        "c": {"enabled": True, "tiers": [], "rollout_percent": 0},
        "d": {"enabled": False, "tiers": [], "rollout_percent": 0},
    }
    with pytest.raises(validator.InvalidFlags) as refused:
        validator.handler(stored(bad)["event"], lambda_context)
    assert str(refused.value).split("; ") == [
        "a.tiers: gold is not a tier (enterprise, free, pro)",
        "b.rollout_percent: 2.5 is not a whole number",
        "c: enabled, but no tier is listed and rollout_percent is 0, so it reaches nobody",
    ]
    with pytest.raises(validator.InvalidFlags, match="content: not base64-encoded JSON"):
        validator.handler({"content": "!!"}, lambda_context)
    with pytest.raises(validator.InvalidFlags, match="content: not a JSON object"):
        validator.handler({"content": base64.b64encode(b"[]").decode()}, lambda_context)


def test_the_validator_passes_a_flag_on_for_everyone_and_refuses_one_targeted_at_nobody(
    load_handler, lambda_context
):
    validator = load_handler("feature_flags", "validator", **ENV)
    everyone = {"express_shipping": {"enabled": True}, "pro_only": {"enabled": True, "tiers": ["pro"]}}
    assert validator.handler(stored(everyone)["event"], lambda_context) is None

    nobody = {"no_tier": {"enabled": True, "tiers": []}, "no_share": {"enabled": True, "rollout_percent": 0}}
    with pytest.raises(validator.InvalidFlags) as refused:
        validator.handler(stored(nobody)["event"], lambda_context)
    assert str(refused.value).split("; ") == [
        f"{name}: enabled, but no tier is listed and rollout_percent is 0, so it reaches nobody"
        for name in nobody
    ]
