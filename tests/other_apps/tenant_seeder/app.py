"""A tenant catalogue as people write one with plain CDK: a table seeded by an AwsCustomResource,
tenants onboarded by a custom_resources.Provider whose check waits for them to become ACTIVE, and a
report function whose role is the AWS managed AWSLambdaExecute."""

from pathlib import Path

from aws_cdk import App, CfnOutput, CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr

HANDLERS = str(Path(__file__).parent / "handlers")


class TenantSeederStack(Stack):
    def __init__(self, scope, construct_id, **kwargs):
        super().__init__(scope, construct_id, **kwargs)

        table = dynamodb.Table(
            self,
            "Tenants",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            removal_policy=RemovalPolicy.DESTROY,
        )

        seed = cr.AwsCustomResource(
            self,
            "SeedDefaults",
            on_create=cr.AwsSdkCall(
                service="DynamoDB",
                action="putItem",
                parameters={
                    "TableName": table.table_name,
                    "Item": {"id": {"S": "defaults"}, "plan": {"S": "free"}, "seats": {"N": "5"}},
                    "ReturnConsumedCapacity": "TOTAL",
                },
                physical_resource_id=cr.PhysicalResourceId.from_response("ConsumedCapacity.TableName"),
            ),
            on_delete=cr.AwsSdkCall(
                service="DynamoDB",
                action="deleteItem",
                parameters={"TableName": table.table_name, "Key": {"id": {"S": "defaults"}}},
            ),
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=[table.table_arn]),
        )

        on_event = lambda_.Function(
            self,
            "OnboardTenant",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="tenant.on_event",
            code=lambda_.Code.from_asset(HANDLERS),
            environment={"TABLE_NAME": table.table_name},
        )
        is_complete = lambda_.Function(
            self,
            "TenantReady",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="tenant.is_complete",
            code=lambda_.Code.from_asset(HANDLERS),
            environment={"TABLE_NAME": table.table_name},
        )
        table.grant_read_write_data(on_event)
        table.grant_read_write_data(is_complete)
        provider = cr.Provider(
            self,
            "TenantProvider",
            on_event_handler=on_event,
            is_complete_handler=is_complete,
            query_interval=Duration.seconds(20),
            total_timeout=Duration.minutes(10),
        )
        acme = CustomResource(
            self,
            "AcmeTenant",
            service_token=provider.service_token,
            resource_type="Custom::Tenant",
            properties={"TenantId": "acme", "Plan": "pro"},
        )
        acme.node.add_dependency(seed)

        reports = s3.Bucket(self, "Reports", removal_policy=RemovalPolicy.DESTROY)
        report_role = iam.Role(
            self,
            "ReportRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AWSLambdaExecute")],
        )
        report = lambda_.Function(
            self,
            "Report",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="report.handler",
            code=lambda_.Code.from_asset(HANDLERS),
            role=report_role,
            environment={"BUCKET": reports.bucket_name, "TABLE_NAME": table.table_name},
        )

        CfnOutput(self, "TableName", value=table.table_name)
        CfnOutput(self, "SeedId", value=seed.get_response_field("ConsumedCapacity.TableName"))
        CfnOutput(self, "TenantId", value=acme.ref)
        CfnOutput(self, "TenantStatus", value=acme.get_att_string("Status"))
        CfnOutput(self, "BucketName", value=reports.bucket_name)
        CfnOutput(self, "ReportFunction", value=report.function_name)


def build(app: App) -> None:
    TenantSeederStack(app, "TenantSeederStack")
