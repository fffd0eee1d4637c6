"""A function in a VPC with no NAT, writing to a table through a DynamoDB gateway endpoint; the same
stack without the endpoint as a second stack."""

from pathlib import Path

from aws_cdk import App, CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from constructs import Construct


class VpcWriterStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, gateway_endpoint: bool = True, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)

        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                )
            ],
        )
        if gateway_endpoint:
            vpc.add_gateway_endpoint("DynamoDbEndpoint", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)

        table = dynamodb.Table(
            self,
            "Notes",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            removal_policy=RemovalPolicy.DESTROY,
        )

        writer = lambda_.Function(
            self,
            "Writer",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(Path(__file__).parent / "writer")),
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            environment={"TABLE_NAME": table.table_name},
        )
        table.grant_write_data(writer)

        CfnOutput(self, "TableName", value=table.table_name)
        CfnOutput(self, "FunctionName", value=writer.function_name)


def build(app: App) -> None:
    VpcWriterStack(app, "VpcEndpointWriter")
    VpcWriterStack(app, "VpcEndpointWriterNoEndpoint", gateway_endpoint=False)
