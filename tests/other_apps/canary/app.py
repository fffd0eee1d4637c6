"""An order handler released through a `live` alias: SQS and the REST API both call the alias, so
a canary (a second version taking a share of the traffic) reaches every caller."""

import os

from aws_cdk import App, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class CanaryOrdersStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)

        orders = dynamodb.Table(
            self,
            "Orders",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            removal_policy=RemovalPolicy.DESTROY,
        )
        handler = lambda_.Function(
            self,
            "OrderHandler",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="orders.main",
            code=lambda_.Code.from_asset(os.path.join(os.path.dirname(__file__), "lambda")),
            timeout=Duration.seconds(10),
            environment={"TABLE_NAME": orders.table_name, "RELEASE": "1.0"},
        )
        orders.grant_write_data(handler)

        live = lambda_.Alias(self, "LiveAlias", alias_name="live", version=handler.current_version)

        queue = sqs.Queue(self, "OrderQueue", visibility_timeout=Duration.seconds(60))
        live.add_event_source(event_sources.SqsEventSource(queue, batch_size=1))

        apigw.LambdaRestApi(self, "OrdersApi", handler=live)


def build(app: App) -> None:
    CanaryOrdersStack(app, "CanaryOrdersStack")
