"""An orders API defined by an OpenAPI file, as many teams write one: the file beside the stack,
the function's ARN put into it at synth time, a policy letting in only the office's addresses, and
a custom domain with a certificate imported by ARN."""

import json
from pathlib import Path

from aws_cdk import App, Aws, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as _lambda

HERE = Path(__file__).parent
OFFICE_CIDRS = ["127.0.0.1/32", "198.51.100.0/24"]
DOMAIN_NAME = "orders.example.com"
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"


class OrdersApiStack(Stack):
    def __init__(self, scope, construct_id, **kwargs):
        super().__init__(scope, construct_id, **kwargs)

        table = dynamodb.Table(
            self,
            "OrdersTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        )
        orders_fn = _lambda.Function(
            self,
            "OrdersFunction",
            runtime=_lambda.Runtime.PYTHON_3_12,
            handler="index.handler",
            code=_lambda.Code.from_asset(str(HERE / "orders")),
            environment={"TABLE_NAME": table.table_name},
        )
        table.grant_read_write_data(orders_fn)

        uri = f"arn:aws:apigateway:{Aws.REGION}:lambda:path/2015-03-31/functions/{orders_fn.function_arn}/invocations"
        spec = json.loads((HERE / "openapi.json").read_text().replace("ORDERS_FUNCTION_URI", uri))

        api = apigateway.SpecRestApi(
            self,
            "OrdersApi",
            api_definition=apigateway.ApiDefinition.from_inline(spec),
            deploy_options=apigateway.StageOptions(stage_name="v1"),
            policy=iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        principals=[iam.AnyPrincipal()],
                        actions=["execute-api:Invoke"],
                        resources=["execute-api:/*"],
                    ),
                    iam.PolicyStatement(
                        effect=iam.Effect.DENY,
                        principals=[iam.AnyPrincipal()],
                        actions=["execute-api:Invoke"],
                        resources=["execute-api:/*"],
                        conditions={"NotIpAddress": {"aws:SourceIp": OFFICE_CIDRS}},
                    ),
                ]
            ),
        )
        orders_fn.add_permission(
            "ApiInvoke",
            principal=iam.ServicePrincipal("apigateway.amazonaws.com"),
            source_arn=api.arn_for_execute_api(),
        )

        domain = apigateway.DomainName(
            self,
            "CustomDomain",
            domain_name=DOMAIN_NAME,
            certificate=acm.Certificate.from_certificate_arn(self, "Cert", CERTIFICATE_ARN),
            endpoint_type=apigateway.EndpointType.REGIONAL,
        )
        domain.add_base_path_mapping(api, base_path="shop", stage=api.deployment_stage)


def build(app: App) -> None:
    OrdersApiStack(app, "RestSpecOrdersStack")
