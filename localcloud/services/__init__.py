"""The AWS services the local cloud runs: the one list the kernel is given.

Adding a service is a package here with a ``SERVICE`` (see :mod:`localcloud.core.service`) and one
line below; nothing registers itself on import.
"""

from localcloud.services import (
    apigateway,
    appconfig,
    cdk,
    cloudformation,
    cloudfront,
    cloudwatch,
    cognito,
    dynamodb,
    ec2,
    events,
    firehose,
    iam,
    kinesis,
    kms,
    lambda_,
    logs,
    s3,
    secretsmanager,
    sns,
    sqs,
    ssm,
    stepfunctions,
    wafv2,
)

SERVICES = (
    apigateway.SERVICE,
    appconfig.SERVICE,
    cdk.SERVICE,
    cloudformation.SERVICE,
    cloudfront.SERVICE,
    cloudwatch.SERVICE,
    cognito.SERVICE,
    dynamodb.SERVICE,
    ec2.SERVICE,
    events.SERVICE,
    firehose.SERVICE,
    iam.SERVICE,
    kinesis.SERVICE,
    kms.SERVICE,
    lambda_.SERVICE,
    logs.SERVICE,
    s3.SERVICE,
    secretsmanager.SERVICE,
    sns.SERVICE,
    sqs.SERVICE,
    ssm.SERVICE,
    stepfunctions.SERVICE,
    wafv2.SERVICE,
)
