"""Every AWS service the local cloud runs, one package each."""

import importlib

MODULES = (
    "apigateway.provision",
    "appconfig.provision",
    "cdk.provision",
    "cloudfront.provision",
    "dynamodb.provision",
    "events.observe",
    "events.provision",
    "firehose.observe",
    "firehose.provision",
    "iam.provision",
    "kinesis.provision",
    "kms.provision",
    "lambda_.provision",
    "lambda_.stream_origins",
    "logs.observe",
    "logs.provision",
    "logs.subscription_filters",
    "s3.observe",
    "s3.provision",
    "secretsmanager.provision",
    "sns.observe",
    "sns.provision",
    "sqs.observe",
    "sqs.provision",
    "stepfunctions.provision",
    "wafv2.provision",
)


def load_all() -> None:
    for module in MODULES:
        importlib.import_module(f"{__name__}.{module}")
