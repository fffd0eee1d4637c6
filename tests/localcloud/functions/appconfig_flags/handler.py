"""Answers with Powertools' feature flags from AppConfig, and with a native feature-flag profile.

``premium`` comes from a freeform profile in Powertools' own schema (through ``AppConfigStore``);
``banner`` from an ``AWS.AppConfig.FeatureFlags`` profile, in AppConfig's retrieval form.
"""

import os

from aws_lambda_powertools.utilities.feature_flags import AppConfigStore, FeatureFlags
from aws_lambda_powertools.utilities.parameters import AppConfigProvider

MAX_AGE = int(os.environ["MAX_AGE"])
store = AppConfigStore(
    environment=os.environ["ENVIRONMENT"],
    application=os.environ["APPLICATION"],
    name=os.environ["FLAGS_PROFILE"],
    max_age=MAX_AGE,
)
flags = FeatureFlags(store=store)
native = AppConfigProvider(environment=os.environ["ENVIRONMENT"], application=os.environ["APPLICATION"])


def handler(event, context):
    answer = {
        "premium": flags.evaluate(name="premium", context={"tier": event.get("tier", "free")}, default=False)
    }
    if event.get("native"):
        answer["native"] = native.get(os.environ["NATIVE_PROFILE"], transform="json", max_age=MAX_AGE)
    return answer
